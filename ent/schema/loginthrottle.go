package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// LoginThrottle counts failed sign-ins for one key (a username or a client
// address). It lives in the database so every replica sees the same counts.
// It is internal: not part of the API, and no viewer may read or change it.
type LoginThrottle struct{ ent.Schema }

// Fields of the LoginThrottle.
func (LoginThrottle) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").
			Unique().
			NotEmpty().
			MaxLen(200),
		field.Int("failures").
			Default(0).
			NonNegative(),
		field.Time("window_started_at"),
		field.Time("locked_until").
			Optional().
			Nillable(),
	}
}

// Policy of the LoginThrottle: only internal code, by explicit decision.
func (LoginThrottle) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Annotations of the LoginThrottle.
func (LoginThrottle) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
