package schema

import (
	"regexp"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Limits on a feature's fields.
const (
	FeatureNameMaxLen        = 100
	FeatureDescriptionMaxLen = 1000
)

// FeatureKeyPattern is what a feature key looks like: lower-case letters,
// digits and underscores, starting with a letter, 2 to 63 characters. Clients
// ask checkAccess by key, so a key never changes once made.
var FeatureKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)

// Feature is something a package can grant, defined by admins at run time:
// a SWITCH (on or off) or a LIMIT (a number, given per package content).
type Feature struct{ ent.Schema }

// Mixin of the Feature.
func (Feature) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Feature.
func (Feature) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").
			Match(FeatureKeyPattern).
			Unique().
			Immutable().
			Annotations(entgql.OrderField("KEY")),
		field.String("name").
			NotEmpty().
			MaxLen(FeatureNameMaxLen).
			Annotations(entgql.OrderField("NAME")),
		field.String("description").
			Default("").
			MaxLen(FeatureDescriptionMaxLen),
		field.Enum("kind").
			Values("SWITCH", "LIMIT").
			Immutable().
			Annotations(entgql.Type("FeatureKind"), entgql.OrderField("KIND")),
	}
}

// Edges of the Feature. Deleting a feature that a package content still
// uses is refused: the database keeps the foreign key (NO ACTION).
func (Feature) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("contents", PackageContent.Type).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Policy of the Feature: users read the features of packages they hold.
func (Feature) Policy() ent.Policy { return ownerPolicy(featureOfHeldPackage) }

// Annotations of the Feature.
func (Feature) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("features").Directives(adminOnly()),
	}
}
