package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Limits on a user package's fields.
const SuspendReasonMaxLen = 500

// UserPackage assigns a package to a user from starts_at until expires_at,
// and on until grace_ends_at (expires_at plus the package's grace days).
// Whether it grants the package at a time is decided in internal/access.
type UserPackage struct{ ent.Schema }

// Mixin of the UserPackage.
func (UserPackage) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the UserPackage.
func (UserPackage) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.Int("package_id"),
		field.Time("starts_at").
			Annotations(entgql.OrderField("STARTS_AT")),
		field.Time("expires_at").
			Annotations(entgql.OrderField("EXPIRES_AT")),
		// grace_ends_at is expires_at plus the package's grace days,
		// kept so that list filters compare plain columns. It is written
		// together with expires_at (the hook below refuses one without
		// the other) and rewritten when the package's grace days change.
		// NULL (a row written by an older release) reads as expires_at.
		field.Time("grace_ends_at").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		// A suspended assignment grants nothing until it is resumed; its
		// dates keep running.
		field.Time("suspended_at").
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
		field.String("suspend_reason").
			Optional().
			Nillable().
			MaxLen(SuspendReasonMaxLen).
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Edges of the UserPackage.
func (UserPackage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("packages").
			Field("user_id").
			Unique().
			Required(),
		edge.From("package", Pkg.Type).
			Ref("user_packages").
			Field("package_id").
			Unique().
			Required(),
	}
}

// Indexes of the UserPackage.
func (UserPackage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "package_id"),
		index.Fields("package_id"),
		index.Fields("expires_at"),
		index.Fields("grace_ends_at"),
	}
}

// Hooks of the UserPackage.
func (UserPackage) Hooks() []ent.Hook {
	return []ent.Hook{checkPeriod("starts_at", "expires_at"), together("expires_at", "grace_ends_at")}
}

// Policy of the UserPackage: users read their own assignments.
func (UserPackage) Policy() ent.Policy { return ownerPolicy(columnIs("user_id")) }

// Annotations of the UserPackage.
func (UserPackage) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("userPackages").Directives(adminOnly()),
	}
}
