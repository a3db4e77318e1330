package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Limits on what a client tells about itself.
const (
	SessionIPMaxLen        = 64
	SessionUserAgentMaxLen = 512
)

// UserSession is a signed-in API session. Only the SHA-256 of its token is
// stored; the token itself is shown once.
type UserSession struct{ ent.Schema }

// Fields of the UserSession.
func (UserSession) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.String("token_hash").
			Unique().
			Immutable().
			NotEmpty().
			Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("created_at").
			Default(now).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("last_seen_at").
			Default(now).
			Annotations(entgql.OrderField("LAST_SEEN_AT")),
		// expires_at slides forward with use, never past max_expires_at.
		field.Time("expires_at").
			Annotations(entgql.OrderField("EXPIRES_AT")),
		// max_expires_at is the absolute cap; an admin setting the expiry
		// sets both.
		field.Time("max_expires_at"),
		field.Time("revoked_at").
			Optional().
			Nillable(),
		field.String("ip").
			Default("").
			MaxLen(SessionIPMaxLen),
		field.String("user_agent").
			Default("").
			MaxLen(SessionUserAgentMaxLen),
	}
}

// Edges of the UserSession.
func (UserSession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().
			Required(),
	}
}

// Indexes of the UserSession.
func (UserSession) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id"),
		index.Fields("expires_at"),
	}
}

// Hooks of the UserSession.
func (UserSession) Hooks() []ent.Hook {
	return []ent.Hook{checkPeriod("created_at", "expires_at")}
}

// Policy of the UserSession: users read their own sessions.
func (UserSession) Policy() ent.Policy { return ownerPolicy(columnIs("user_id")) }

// Annotations of the UserSession.
func (UserSession) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("userSessions").Directives(adminOnly()),
	}
}
