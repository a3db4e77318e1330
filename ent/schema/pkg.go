package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Limits on a package's fields.
const (
	PackageNameMaxLen   = 100
	PackageDetailMaxLen = 2000
	// PackageMaxDays is about a hundred years.
	PackageMaxDays = 36500
	// PackageMaxGraceDays bounds the grace period after an assignment
	// expires: a year.
	PackageMaxGraceDays = 365
)

// Pkg is a package: a bundle of contents (features) granted for a number of
// days. Go cannot name a type "package", so the schema is Pkg while the API,
// the dashboard and the table call it Package / packages.
type Pkg struct{ ent.Schema }

// Mixin of the Pkg.
func (Pkg) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Pkg.
func (Pkg) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty().
			MaxLen(PackageNameMaxLen).
			Unique().
			Annotations(entgql.OrderField("NAME")),
		field.String("detail").
			Default("").
			MaxLen(PackageDetailMaxLen),
		field.Int("days").
			Range(1, PackageMaxDays).
			Annotations(entgql.OrderField("DAYS")),
		// A trial is given to each user once (see PackageTrial).
		field.Bool("trial").
			Default(false),
		// An assignment still grants the package this many days after it
		// expires (state IN_GRACE). Assignments keep the end of their
		// grace period in grace_ends_at, rewritten when this changes.
		field.Int("grace_days").
			Default(0).
			Range(0, PackageMaxGraceDays).
			Annotations(entgql.OrderField("GRACE_DAYS")),
	}
}

// Edges of the Pkg.
func (Pkg) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("contents", PackageContent.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		// Deleting a package that is still assigned is refused: the
		// database keeps the foreign key (NO ACTION) as the last word.
		edge.To("user_packages", UserPackage.Type).
			Annotations(entgql.Directives(adminOnly())),
		// The record of who had this package's trial goes with the
		// package: a new package is a new offer.
		edge.To("trials", PackageTrial.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
	}
}

// Policy of the Pkg: users read the packages they hold.
func (Pkg) Policy() ent.Policy { return ownerPolicy(heldPackage) }

// Annotations of the Pkg.
func (Pkg) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("packages"),
		entgql.Type("Package"),
		entgql.RelayConnection(),
		entgql.QueryField("packages").Directives(adminOnly()),
	}
}
