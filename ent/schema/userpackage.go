package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// UserPackage assigns a package to a user from starts_at until expires_at.
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
	}
}

// Hooks of the UserPackage.
func (UserPackage) Hooks() []ent.Hook {
	return []ent.Hook{checkPeriod("starts_at", "expires_at")}
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
