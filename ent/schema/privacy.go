package schema

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/entql"
	"entgo.io/ent/privacy"

	genprivacy "gatehouse/ent/privacy"
	"gatehouse/internal/viewer"
)

// Authorization backstop. Every query and mutation of every entity passes
// through one of the policies below, whatever path led to it (a top-level
// field, an edge, node(id:), a dashboard page):
//
//   - an admin viewer may read and change everything;
//   - a user viewer reads only rows that belong to them, filtered in SQL;
//   - nobody else reads anything, and only admins change anything.
//
// Operations that must run without a viewer or beyond the viewer's rights
// (signing in, touching a session, a user changing their own password) are
// written once in internal/ and opt in explicitly with
// privacy.DecisionContext(ctx, privacy.Allow).

// allowAdmin allows anything an admin viewer does.
func allowAdmin() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsAdmin() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// ownRows lets a signed-in user read only the rows that keep(userID) keeps.
type ownRows func(userID int) entql.P

// EvalQuery narrows the query to the viewer's rows, in SQL.
func (keep ownRows) EvalQuery(ctx context.Context, q ent.Query) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return privacy.Denyf("no viewer")
	}
	return genprivacy.FilterFunc(func(_ context.Context, f genprivacy.Filter) error {
		f.Where(keep(v.UserID))
		return privacy.Allow
	}).EvalQuery(ctx, q)
}

// ownerPolicy is the policy of an entity whose rows users may read when
// keep(userID) keeps them; only admins mutate.
func ownerPolicy(keep ownRows) ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			keep,
			privacy.AlwaysDenyRule(),
		},
		Mutation: privacy.MutationPolicy{
			allowAdmin(),
			privacy.AlwaysDenyRule(),
		},
	}
}

// columnIs keeps rows whose column equals the viewer's id.
func columnIs(column string) ownRows {
	return func(userID int) entql.P { return entql.FieldEQ(column, userID) }
}

// heldPackage keeps packages the viewer holds (an assignment exists,
// active or not).
func heldPackage(userID int) entql.P {
	return entql.HasEdgeWith("user_packages", entql.FieldEQ("user_id", userID))
}

// contentOfHeldPackage keeps the contents of packages the viewer holds.
func contentOfHeldPackage(userID int) entql.P {
	return entql.HasEdgeWith("package", heldPackage(userID))
}

// featureOfHeldPackage keeps the features granted by packages the viewer
// holds.
func featureOfHeldPackage(userID int) entql.P {
	return entql.HasEdgeWith("contents", contentOfHeldPackage(userID))
}
