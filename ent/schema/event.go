package schema

import (
	"context"
	"errors"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"gatehouse/internal/events/change"
	"gatehouse/internal/events/mark"
)

// Limits of an event's texts.
const (
	EventTypeMaxLen      = 64
	EventActorNameMaxLen = 64
	EventRequestIDMaxLen = 128
)

// Event records one change (or sign-in attempt): who did what to which
// object, when, from where. Events are written only by internal/events, in
// the transaction of their change, and never changed; only pruning old
// ones deletes them. Users get deleted and events stay, so the actor is
// kept by id and name, without a foreign key.
type Event struct{ ent.Schema }

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		// Events are numbered in the order they are recorded, so the id
		// orders them by time: ordering by AT is ordering by id, which
		// needs no index of its own.
		field.Int("id").
			Immutable().
			Annotations(entgql.OrderField("AT")),
		field.Time("at").
			Default(now).
			Immutable(),
		field.String("type").
			NotEmpty().
			MaxLen(EventTypeMaxLen).
			Immutable(),
		field.Int("actor_id").
			Optional().
			Nillable().
			Immutable().
			Annotations(entgql.Type("ID")),
		field.String("actor_name").
			Default("").
			MaxLen(EventActorNameMaxLen).
			Immutable(),
		field.Enum("actor_kind").
			Values("USER", "ADMIN", "CLI", "SYSTEM").
			Immutable(),
		field.String("subject_type").
			Default("").
			MaxLen(EventTypeMaxLen).
			Immutable(),
		field.Int("subject_id").
			Optional().
			Nillable().
			Immutable().
			Annotations(entgql.Type("ID")),
		field.JSON("changes", map[string]change.Change{}).
			Optional().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("request_id").
			Default("").
			MaxLen(EventRequestIDMaxLen).
			Immutable(),
		field.String("ip").
			Default("").
			MaxLen(SessionIPMaxLen).
			Immutable(),
	}
}

// Indexes of the Event: none that ent makes. Every change writes an
// event, and every index costs every change a page written at its commit:
// the log as a whole is read newest first by id, and filters on actor,
// type and time read it in that order without an index (an actor's recent
// actions are found as soon as they are read; one who acted rarely in a
// long log is a read of all of it). An object's history has an index of
// its own, made by internal/db: on PostgreSQL an index of this table by
// subject, on SQLite a table filled in the background, off the changes'
// path (internal/db/eventsubjects.go).
func (Event) Indexes() []ent.Index {
	return nil
}

// errEventsImmutable refuses any write to events but recording and pruning.
var errEventsImmutable = errors.New("events are written only by the event log and never changed")

// Hooks of the Event. They hold even for a context allowed past the
// privacy rules: no event is created through ent (internal/events'
// recording inserts them with its own statement), none is updated, and
// only the event log's pruning deletes them.
func (Event) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				switch {
				case m.Op().Is(ent.OpDelete|ent.OpDeleteOne) && mark.Pruning(ctx):
				default:
					return nil, privacy.Denyf("%w", errEventsImmutable)
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}

// Policy of the Event: admins (and the server itself, by explicit
// decision) read; writes are the hook's to allow.
func (Event) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			privacy.ContextQueryMutationRule(func(ctx context.Context) error {
				if mark.Pruning(ctx) {
					return privacy.Allow
				}
				return privacy.Skip
			}),
			privacy.AlwaysDenyRule(),
		},
	}
}

// Annotations of the Event.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Annotation{Table: "events"},
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
