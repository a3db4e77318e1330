package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/packagetrial"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
)

func (f *fixture) trialPkg(name string, days int) *ent.Pkg {
	f.t.Helper()
	yes := true
	p, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: name, Days: days, Trial: &yes})
	if err != nil {
		f.t.Fatalf("create package %s: %v", name, err)
	}
	return p
}

func (f *fixture) trials(u *ent.User, p *ent.Pkg) int {
	f.t.Helper()
	n, err := f.db.Ent.PackageTrial.Query().Where(packagetrial.UserID(u.ID), packagetrial.PackageID(p.ID)).Count(f.sys)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// wantCode fails unless err is answered with code (and field, if given).
func wantCode(t *testing.T, ctx context.Context, err error, want apperr.Code, field string) {
	t.Helper()
	e := service.Classify(ctx, err)
	if e == nil || e.Code != want || (field != "" && e.Field != field) {
		t.Fatalf("error %v (%+v), want %s on field %q", err, e, want, field)
	}
}

func TestTrialGivenOnce(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := as(f.user("admin", user.RoleADMIN))
	assign := func(u *ent.User, p *ent.Pkg) (*ent.UserPackage, error) {
		return f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
	}
	t.Run("extending an active trial", func(t *testing.T) {
		f.t = t
		u, p := f.user("ext", user.RoleUSER), f.trialPkg("trial-ext", 7)
		if _, err := assign(u, p); err != nil {
			t.Fatal(err)
		}
		up, err := assign(u, p)
		if err != nil {
			t.Fatalf("extending the active trial: %v", err)
		}
		if want := now.Add(14 * service.Day); !up.ExpiresAt.Equal(want) {
			t.Fatalf("expires %v, want %v", up.ExpiresAt, want)
		}
		if n := f.trials(u, p); n != 1 {
			t.Fatalf("%d trial records, want 1", n)
		}
	})
	t.Run("again after it expired", func(t *testing.T) {
		f.t = t
		u, p := f.user("expired", user.RoleUSER), f.trialPkg("trial-expired", 7)
		start := now.Add(-30 * service.Day)
		if _, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, StartsAt: &start}); err != nil {
			t.Fatal(err)
		}
		_, err := assign(u, p)
		wantCode(t, admin, err, apperr.Conflict, "packageID")
	})
	t.Run("again after the assignment was deleted", func(t *testing.T) {
		f.t = t
		u, p := f.user("deleted", user.RoleUSER), f.trialPkg("trial-deleted", 7)
		up, err := assign(u, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteUserPackage(admin, up.ID); err != nil {
			t.Fatal(err)
		}
		_, err = assign(u, p)
		wantCode(t, admin, err, apperr.Conflict, "packageID")
		if n, _ := f.db.Ent.UserPackage.Query().Where(userpackage.UserID(u.ID)).Count(f.sys); n != 0 {
			t.Fatalf("%d assignments after the refusal", n)
		}
	})
	t.Run("held before the package became a trial", func(t *testing.T) {
		f.t = t
		u, p := f.user("before", user.RoleUSER), f.pkg("became-trial", 7)
		start := now.Add(-30 * service.Day)
		if _, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, StartsAt: &start}); err != nil {
			t.Fatal(err)
		}
		yes := true
		if _, err := f.svc.UpdatePackage(admin, p.ID, service.UpdatePackageInput{Trial: &yes}); err != nil {
			t.Fatal(err)
		}
		_, err := assign(u, p)
		wantCode(t, admin, err, apperr.Conflict, "packageID")
	})
	t.Run("each user has their own", func(t *testing.T) {
		f.t = t
		a, b, p := f.user("own-a", user.RoleUSER), f.user("own-b", user.RoleUSER), f.trialPkg("trial-own", 7)
		for _, u := range []*ent.User{a, b} {
			if _, err := assign(u, p); err != nil {
				t.Fatalf("%s: %v", u.Username, err)
			}
		}
	})
	t.Run("not a trial: assigned again after it expired", func(t *testing.T) {
		f.t = t
		u, p := f.user("plain", user.RoleUSER), f.pkg("plain", 7)
		start := now.Add(-30 * service.Day)
		if _, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, StartsAt: &start}); err != nil {
			t.Fatal(err)
		}
		if _, err := assign(u, p); err != nil {
			t.Fatal(err)
		}
		if n := f.trials(u, p); n != 0 {
			t.Fatalf("%d trial records for a package that is no trial", n)
		}
	})
	t.Run("the record goes with the user and the package", func(t *testing.T) {
		f.t = t
		u, p := f.user("gone", user.RoleUSER), f.trialPkg("trial-gone", 7)
		if _, err := assign(u, p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteUser(admin, u.ID); err != nil {
			t.Fatal(err)
		}
		if n := f.trials(u, p); n != 0 {
			t.Fatalf("%d trial records of a deleted user", n)
		}
		v := f.user("gone-too", user.RoleUSER)
		up, err := assign(v, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteUserPackage(admin, up.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DeletePackage(admin, p.ID); err != nil {
			t.Fatalf("deleting a package whose trial was given: %v", err)
		}
		if n := f.trials(v, p); n != 0 {
			t.Fatalf("%d trial records of a deleted package", n)
		}
	})
}

// Parallel assignments of a trial to one user give one trial: one call
// makes the assignment and the others extend it. Once the assignment is
// deleted, every parallel call is refused.
func TestTrialParallel(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := as(f.user("admin", user.RoleADMIN))
	u, p := f.user("alice", user.RoleUSER), f.trialPkg("trial", 7)
	up := assignAll(t, f, admin, u, p, parallelCalls)
	checkAssignment(t, f, u, p, now.Add(parallelCalls*7*service.Day))
	if n := f.trials(u, p); n != 1 {
		t.Fatalf("%d trial records, want 1", n)
	}
	if _, err := f.svc.DeleteUserPackage(admin, up.ID); err != nil {
		t.Fatal(err)
	}
	calls := make([]func() error, parallelCalls)
	for i := range calls {
		calls[i] = func() error {
			_, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
			return err
		}
	}
	for i, err := range parallel(calls...) {
		if c := code(admin, err); c != apperr.Conflict {
			t.Fatalf("call %d after the trial: %q (%v), want CONFLICT", i, c, err)
		}
	}
	if n, _ := f.db.Ent.UserPackage.Query().Where(userpackage.UserID(u.ID)).Count(f.sys); n != 0 {
		t.Fatalf("%d assignments after the refusals", n)
	}
}

// The grace end is the expiry plus the package's grace days, after every
// write of either.
func TestGraceEndsFollow(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := as(f.user("admin", user.RoleADMIN))
	three := 3
	p, err := f.svc.CreatePackage(admin, service.CreatePackageInput{Name: "graceful", Days: 10, GraceDays: &three})
	if err != nil {
		t.Fatal(err)
	}
	other := f.pkg("other", 10)
	check := func(t *testing.T, id, graceDays int) {
		t.Helper()
		up := f.db.Ent.UserPackage.GetX(f.sys, id)
		if want := up.ExpiresAt.Add(time.Duration(graceDays) * service.Day); !up.GraceEndsAt.Equal(want) {
			t.Fatalf("grace ends %v, want %v (expires %v + %d days)", up.GraceEndsAt, want, up.ExpiresAt, graceDays)
		}
	}
	a, b := f.user("a", user.RoleUSER), f.user("b", user.RoleUSER)
	upA, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: a.ID, PackageID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	upB, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: b.ID, PackageID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	upO, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: a.ID, PackageID: other.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("assign", func(t *testing.T) { check(t, upA.ID, 3); check(t, upO.ID, 0) })
	t.Run("extend by assigning", func(t *testing.T) {
		if _, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: a.ID, PackageID: p.ID}); err != nil {
			t.Fatal(err)
		}
		check(t, upA.ID, 3)
	})
	t.Run("extendDays", func(t *testing.T) {
		five := 5
		if _, err := f.svc.UpdateUserPackage(admin, upA.ID, service.UpdateUserPackageInput{ExtendDays: &five}); err != nil {
			t.Fatal(err)
		}
		check(t, upA.ID, 3)
	})
	t.Run("expiresAt", func(t *testing.T) {
		exp := now.Add(2 * service.Day)
		if _, err := f.svc.UpdateUserPackage(admin, upB.ID, service.UpdateUserPackageInput{ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
		check(t, upB.ID, 3)
	})
	t.Run("the package's grace days", func(t *testing.T) {
		nine := 9
		if _, err := f.svc.UpdatePackage(admin, p.ID, service.UpdatePackageInput{GraceDays: &nine}); err != nil {
			t.Fatal(err)
		}
		check(t, upA.ID, 9)
		check(t, upB.ID, 9)
		check(t, upO.ID, 0)
	})
	t.Run("expires_at is never written alone", func(t *testing.T) {
		err := f.db.Ent.UserPackage.UpdateOneID(upA.ID).SetExpiresAt(now.Add(service.Day)).Exec(f.sys)
		if err == nil {
			t.Fatal("expires_at was written without grace_ends_at")
		}
		check(t, upA.ID, 9)
	})
	t.Run("graceDays out of range", func(t *testing.T) {
		for _, days := range []int{-1, 366} {
			_, err := f.svc.CreatePackage(admin, service.CreatePackageInput{Name: "bad", Days: 1, GraceDays: &days})
			wantCode(t, admin, err, apperr.BadUserInput, "graceDays")
			_, err = f.svc.UpdatePackage(admin, p.ID, service.UpdatePackageInput{GraceDays: &days})
			wantCode(t, admin, err, apperr.BadUserInput, "graceDays")
			// The schema refuses it too.
			err = f.db.Ent.Pkg.UpdateOneID(p.ID).SetGraceDays(days).Exec(f.sys)
			wantCode(t, admin, err, apperr.BadUserInput, "graceDays")
		}
	})
}

func TestSuspendResume(t *testing.T) {
	f := newFixture(t)
	now := f.fixedClock()
	admin := as(f.user("admin", user.RoleADMIN))
	u := f.user("alice", user.RoleUSER)
	up, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: f.pkg("gold", 30).ID})
	if err != nil {
		t.Fatal(err)
	}
	state := func(up *ent.UserPackage) access.State { return service.UserPackageState(up, now) }
	why := "chargeback"
	t.Run("suspend", func(t *testing.T) {
		got, err := f.svc.SuspendUserPackage(admin, up.ID, &why)
		if err != nil {
			t.Fatal(err)
		}
		if got.SuspendedAt == nil || !got.SuspendedAt.Equal(now) || got.SuspendReason == nil || *got.SuspendReason != why {
			t.Fatalf("suspended at %v for %v", got.SuspendedAt, got.SuspendReason)
		}
		if s := state(got); s != access.StateSuspended {
			t.Fatalf("state %s", s)
		}
		if !got.ExpiresAt.Equal(up.ExpiresAt) || !got.StartsAt.Equal(up.StartsAt) {
			t.Fatal("suspending moved the dates")
		}
	})
	t.Run("suspend again replaces the reason", func(t *testing.T) {
		f.svc.SetClock(func() time.Time { return now.Add(time.Hour) })
		defer f.svc.SetClock(func() time.Time { return now })
		other := "  fraud review "
		got, err := f.svc.SuspendUserPackage(admin, up.ID, &other)
		if err != nil {
			t.Fatal(err)
		}
		if !got.SuspendedAt.Equal(now) || *got.SuspendReason != "fraud review" {
			t.Fatalf("suspended at %v for %q", got.SuspendedAt, *got.SuspendReason)
		}
		got, err = f.svc.SuspendUserPackage(admin, up.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.SuspendReason != nil {
			t.Fatalf("reason %q after suspending without one", *got.SuspendReason)
		}
	})
	t.Run("reason too long", func(t *testing.T) {
		long := strings.Repeat("é", 501)
		_, err := f.svc.SuspendUserPackage(admin, up.ID, &long)
		wantCode(t, admin, err, apperr.BadUserInput, "reason")
	})
	t.Run("resume", func(t *testing.T) {
		got, err := f.svc.ResumeUserPackage(admin, up.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SuspendedAt != nil || got.SuspendReason != nil || state(got) != access.StateActive {
			t.Fatalf("after resuming: %v %v %s", got.SuspendedAt, got.SuspendReason, state(got))
		}
		again, err := f.svc.ResumeUserPackage(admin, up.ID)
		if err != nil || again.SuspendedAt != nil {
			t.Fatalf("resuming one not suspended: %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := f.svc.SuspendUserPackage(admin, up.ID+1000, nil)
		wantCode(t, admin, err, apperr.NotFound, "id")
		_, err = f.svc.ResumeUserPackage(admin, up.ID+1000)
		wantCode(t, admin, err, apperr.NotFound, "id")
	})
	t.Run("users may not", func(t *testing.T) {
		_, err := f.svc.SuspendUserPackage(as(u), up.ID, nil)
		if c := code(as(u), err); c != apperr.Forbidden && c != apperr.NotFound {
			t.Fatalf("a user suspending their own assignment: %q (%v)", c, err)
		}
	})
}

// Changes of a package's grace days racing extensions of its assignments
// leave every grace end at the expiry plus the package's final grace days.
func TestGraceDaysParallel(t *testing.T) {
	f := newFixture(t)
	f.fixedClock()
	admin := as(f.user("admin", user.RoleADMIN))
	p := f.pkg("gold", 30)
	// Enough assignments that rewriting them takes a while.
	var ups []*ent.UserPackage
	for i := range 40 {
		up, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: f.user(fmt.Sprint("u", i), user.RoleUSER).ID, PackageID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, up)
	}
	one := 1
	var calls []func() error
	for i := range parallelCalls {
		days := i + 1
		calls = append(calls,
			func() error {
				_, err := f.svc.UpdatePackage(admin, p.ID, service.UpdatePackageInput{GraceDays: &days})
				return err
			},
			func() error {
				_, err := f.svc.UpdateUserPackage(admin, ups[i%len(ups)].ID, service.UpdateUserPackageInput{ExtendDays: &one})
				return err
			})
	}
	for i, err := range parallel(calls...) {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	grace := f.db.Ent.Pkg.GetX(f.sys, p.ID).GraceDays
	for i, old := range ups {
		up := f.db.Ent.UserPackage.GetX(f.sys, old.ID)
		exp := old.ExpiresAt
		if i < parallelCalls {
			exp = exp.Add(service.Day)
		}
		if !up.ExpiresAt.Equal(exp) {
			t.Errorf("assignment %d: expires %v, want %v (an extension was lost)", up.ID, up.ExpiresAt, exp)
		}
		if want := up.ExpiresAt.Add(time.Duration(grace) * service.Day); !up.GraceEndsAt.Equal(want) {
			t.Errorf("assignment %d: grace ends %v, want %v (expires %v, grace %d days)", up.ID, up.GraceEndsAt, want, up.ExpiresAt, grace)
		}
	}
}
