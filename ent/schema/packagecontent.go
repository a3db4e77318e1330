package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PackageContentNameMaxLen is the longest content name accepted.
const PackageContentNameMaxLen = 100

// PackageContent is one feature a package grants.
type PackageContent struct{ ent.Schema }

// Mixin of the PackageContent.
func (PackageContent) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the PackageContent.
func (PackageContent) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty().
			MaxLen(PackageContentNameMaxLen).
			Annotations(entgql.OrderField("NAME")),
		field.Int("package_id"),
		field.Int("feature_id"),
		// The amount granted of a LIMIT feature (required, at least 0);
		// a SWITCH feature has none.
		field.Int("limit").
			Optional().
			Nillable().
			Min(0),
	}
}

// Edges of the PackageContent.
func (PackageContent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("package", Pkg.Type).
			Ref("contents").
			Field("package_id").
			Unique().
			Required(),
		edge.From("feature", Feature.Type).
			Ref("contents").
			Field("feature_id").
			Unique().
			Required(),
	}
}

// Indexes of the PackageContent: a package grants a feature once.
func (PackageContent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("package_id", "feature_id").Unique(),
		index.Fields("feature_id"),
	}
}

// Policy of the PackageContent: users read the contents of packages they hold.
func (PackageContent) Policy() ent.Policy { return ownerPolicy(contentOfHeldPackage) }

// Annotations of the PackageContent.
func (PackageContent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("packageContents").Directives(adminOnly()),
	}
}
