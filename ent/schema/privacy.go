package schema

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

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

// ownRows lets a signed-in user read only the rows that where(userID) keeps.
type ownRows func(userID int) func(*sql.Selector)

// EvalQuery narrows the query to the viewer's rows.
func (f ownRows) EvalQuery(ctx context.Context, q ent.Query) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return privacy.Denyf("no viewer")
	}
	wq, ok := q.(interface{ WhereP(...func(*sql.Selector)) })
	if !ok {
		return privacy.Denyf("query %T cannot be filtered", q)
	}
	wq.WhereP(f(v.UserID))
	return privacy.Allow
}

// ownerPolicy is the policy of an entity whose rows users may read when
// where(userID) keeps them; only admins mutate.
func ownerPolicy(where ownRows) ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			where,
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
	return func(userID int) func(*sql.Selector) {
		return func(s *sql.Selector) {
			s.Where(sql.EQ(s.C(column), userID))
		}
	}
}

// heldPackage keeps rows whose column names a package the viewer holds (an
// assignment exists, active or not).
func heldPackage(column string) ownRows {
	return func(userID int) func(*sql.Selector) {
		return func(s *sql.Selector) {
			t := sql.Table("user_packages")
			held := sql.Dialect(s.Dialect()).
				Select(t.C("package_id")).
				From(t).
				Where(sql.EQ(t.C("user_id"), userID))
			s.Where(sql.In(s.C(column), held))
		}
	}
}
