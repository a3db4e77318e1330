package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Limits of a persisted query.
const (
	PersistedQueryMaxLen     = 64 * 1024
	PersistedQueryNameMaxLen = 200
)

// PersistedQuery is a GraphQL document registered at deploy time
// (`gatehouse queries add`), known to every replica by its SHA-256. With
// [graphql] persisted_only, only these are run. It is internal: no
// GraphQL type, and only the server (as the system) reads or writes it.
type PersistedQuery struct{ ent.Schema }

// Fields of the PersistedQuery.
func (PersistedQuery) Fields() []ent.Field {
	return []ent.Field{
		// hash is the lowercase hex SHA-256 of the document's exact text,
		// as Apollo's persisted queries compute it.
		field.String("hash").
			Unique().
			Immutable().
			NotEmpty().
			MaxLen(64),
		field.Text("query").
			Immutable().
			NotEmpty().
			MaxLen(PersistedQueryMaxLen),
		// name is the document's operation names, for listing.
		field.String("name").
			Default("").
			MaxLen(PersistedQueryNameMaxLen),
		field.Time("created_at").
			Default(now).
			Immutable(),
	}
}

// Policy of the PersistedQuery: only internal code, by explicit decision.
func (PersistedQuery) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Annotations of the PersistedQuery.
func (PersistedQuery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("persisted_queries"),
		entgql.Skip(entgql.SkipAll),
	}
}
