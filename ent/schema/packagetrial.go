package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PackageTrial records that a user was given a trial package, so that the
// trial is given only once: the record outlives the assignment. It goes
// with the user or the package when either is deleted. It is internal: not
// part of the API, and no viewer may read or change it.
type PackageTrial struct{ ent.Schema }

// Fields of the PackageTrial.
func (PackageTrial) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable(),
		field.Int("package_id").Immutable(),
		field.Time("created_at").
			Default(now).
			Immutable(),
	}
}

// Edges of the PackageTrial.
func (PackageTrial) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("trials").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
		edge.From("package", Pkg.Type).
			Ref("trials").
			Field("package_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the PackageTrial: one trial per user and package.
func (PackageTrial) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "package_id").Unique(),
		index.Fields("package_id"),
	}
}

// Policy of the PackageTrial: only internal code, by explicit decision.
func (PackageTrial) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Annotations of the PackageTrial.
func (PackageTrial) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
