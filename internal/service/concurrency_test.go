package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
)

// parallelCalls is how many calls race in the tests below: more than the
// test pool's connections on PostgreSQL, so some also queue for one.
const parallelCalls = 8

// Parallel assignments of one package to one user make one assignment
// extended by every call's days: none is lost, none duplicated.
func TestAssignPackageParallel(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := f.user("admin", user.RoleADMIN)
	t.Run("new assignment", func(t *testing.T) {
		u, p := f.user("alice", user.RoleUSER), f.pkg("gold", 30)
		assignAll(t, f, as(admin), u, p, parallelCalls)
		checkAssignment(t, f, u, p, now.Add(parallelCalls*30*service.Day))
	})
	t.Run("existing assignment", func(t *testing.T) {
		u, p := f.user("bob", user.RoleUSER), f.pkg("silver", 30)
		assignAll(t, f, as(admin), u, p, 1)
		assignAll(t, f, as(admin), u, p, parallelCalls)
		checkAssignment(t, f, u, p, now.Add((1+parallelCalls)*30*service.Day))
	})
	t.Run("with extendDays", func(t *testing.T) {
		u, p := f.user("carol", user.RoleUSER), f.pkg("bronze", 30)
		up := assignAll(t, f, as(admin), u, p, 1)
		ten := 10
		calls := make([]func() error, 0, 2*parallelCalls)
		for range parallelCalls {
			calls = append(calls,
				func() error {
					_, err := f.svc.AssignPackage(as(admin), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
					return err
				},
				func() error {
					_, err := f.svc.UpdateUserPackage(as(admin), up.ID, service.UpdateUserPackageInput{ExtendDays: &ten})
					return err
				})
		}
		for i, err := range parallel(calls...) {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		checkAssignment(t, f, u, p, now.Add((30+parallelCalls*(30+10))*service.Day))
	})
}

// Parallel extensions of one assignment add up.
func TestUpdateUserPackageExtendParallel(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := f.user("admin", user.RoleADMIN)
	u := f.user("alice", user.RoleUSER)
	p := f.pkg("gold", 30)
	up := assignAll(t, f, as(admin), u, p, 1)
	seven := 7
	calls := make([]func() error, parallelCalls)
	for i := range calls {
		calls[i] = func() error {
			_, err := f.svc.UpdateUserPackage(as(admin), up.ID, service.UpdateUserPackageInput{ExtendDays: &seven})
			return err
		}
	}
	for i, err := range parallel(calls...) {
		if err != nil {
			t.Fatalf("extend %d: %v", i, err)
		}
	}
	checkAssignment(t, f, u, p, now.Add((30+parallelCalls*7)*service.Day))
}

// assignAll assigns p to u n times at once and returns one of the results.
func assignAll(t *testing.T, f *fixture, ctx context.Context, u *ent.User, p *ent.Pkg, n int) *ent.UserPackage {
	t.Helper()
	ups := make([]*ent.UserPackage, n)
	calls := make([]func() error, n)
	for i := range calls {
		calls[i] = func() (err error) {
			ups[i], err = f.svc.AssignPackage(ctx, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
			return err
		}
	}
	for i, err := range parallel(calls...) {
		if err != nil {
			t.Fatalf("assign %d: %v", i, err)
		}
	}
	return ups[0]
}

// checkAssignment wants exactly one assignment of p to u, expiring at exp.
func checkAssignment(t *testing.T, f *fixture, u *ent.User, p *ent.Pkg, exp time.Time) {
	t.Helper()
	ups, err := f.db.Ent.UserPackage.Query().
		Where(userpackage.UserID(u.ID), userpackage.PackageID(p.ID)).
		All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 {
		t.Fatalf("%d assignments, want 1", len(ups))
	}
	if got := ups[0].ExpiresAt; !got.Equal(exp) {
		t.Errorf("expires at %s (+%s), want %s (+%s)", got, got.Sub(ups[0].StartsAt), exp, exp.Sub(ups[0].StartsAt))
	}
}

// adminAction is one way an admin removes another admin.
type adminAction struct {
	name string
	do   func(s *service.Service, ctx context.Context, id int) error
}

var adminActions = []adminAction{
	{"demote", func(s *service.Service, ctx context.Context, id int) error {
		r := user.RoleUSER
		_, err := s.UpdateUser(ctx, id, service.UpdateUserInput{Role: &r})
		return err
	}},
	{"disable", func(s *service.Service, ctx context.Context, id int) error {
		yes := true
		_, err := s.UpdateUser(ctx, id, service.UpdateUserInput{Disabled: &yes})
		return err
	}},
	{"delete", func(s *service.Service, ctx context.Context, id int) error {
		_, err := s.DeleteUser(ctx, id)
		return err
	}},
}

// The only two enabled admins removing each other at the same moment: one
// succeeds, the other gets CONFLICT, and one enabled admin is left.
func TestLastAdminParallel(t *testing.T) {
	const rounds = 4
	f := newFixture(t)
	for _, a := range adminActions {
		for _, b := range adminActions {
			name := a.name + " vs " + b.name
			t.Run(name, func(t *testing.T) {
				f.t = t
				for round := range rounds {
					x := f.user(fmt.Sprintf("%s-%s-x%d", a.name, b.name, round), user.RoleADMIN)
					y := f.user(fmt.Sprintf("%s-%s-y%d", a.name, b.name, round), user.RoleADMIN)
					// Only x and y are enabled admins.
					if err := f.db.Ent.User.Update().
						Where(user.RoleEQ(user.RoleADMIN), user.Disabled(false), user.IDNotIn(x.ID, y.ID)).
						SetDisabled(true).Exec(f.sys); err != nil {
						t.Fatal(err)
					}
					errs := parallel(
						func() error { return a.do(f.svc, as(x), y.ID) },
						func() error { return b.do(f.svc, as(y), x.ID) },
					)
					codes := []apperr.Code{code(as(x), errs[0]), code(as(y), errs[1])}
					if !(codes[0] == "" && codes[1] == apperr.Conflict) && !(codes[0] == apperr.Conflict && codes[1] == "") {
						t.Fatalf("round %d: results %q (%v), want one success and one CONFLICT", round, codes, errs)
					}
					n, err := f.db.Ent.User.Query().Where(user.RoleEQ(user.RoleADMIN), user.Disabled(false)).Count(f.sys)
					if err != nil {
						t.Fatal(err)
					}
					if n != 1 {
						t.Fatalf("round %d: %d enabled admins left, want 1", round, n)
					}
				}
			})
		}
	}
}
