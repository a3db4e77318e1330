package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// Timestamp is t as the database keeps it: UTC, to the microsecond (the
// finest PostgreSQL stores), so a time reads back equal to what was written.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Now is the current time as a Timestamp: the clock every default uses.
func Now() time.Time { return Timestamp(time.Now()) }

func now() time.Time { return Now() }

// TimeMixin adds created/updated times to a schema.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(now).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.Time("updated_at").
			Default(now).
			UpdateDefault(now).
			Annotations(entgql.OrderField("UPDATED_AT"), entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}
