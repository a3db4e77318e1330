package service_test

import (
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
)

// AssignPackage answers with the assignment as stored, whether it made
// one or extended the one the user held, and the answer's edges load.
func TestAssignPackageAnswersWhatIsStored(t *testing.T) {
	f := newFixture(t)
	admin := as(f.user("admin", user.RoleADMIN))
	u := f.user("alice", user.RoleUSER)
	p, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: "gold", Days: 30, GraceDays: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	same := func(t *testing.T, got *ent.UserPackage) {
		t.Helper()
		stored, err := f.db.Ent.UserPackage.Get(f.sys, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			got, want time.Time
		}{
			{"createdAt", got.CreatedAt, stored.CreatedAt},
			{"updatedAt", got.UpdatedAt, stored.UpdatedAt},
			{"startsAt", got.StartsAt, stored.StartsAt},
			{"expiresAt", got.ExpiresAt, stored.ExpiresAt},
			{"graceEndsAt", got.GraceEndsAt, stored.GraceEndsAt},
		} {
			if !c.got.Equal(c.want) {
				t.Errorf("%s: answered %v, stored %v", c.name, c.got, c.want)
			}
		}
		if got.UserID != stored.UserID || got.PackageID != stored.PackageID {
			t.Errorf("answered user %d package %d, stored %d %d", got.UserID, got.PackageID, stored.UserID, stored.PackageID)
		}
		if (got.SuspendedAt == nil) != (stored.SuspendedAt == nil) || (got.SuspendReason == nil) != (stored.SuspendReason == nil) {
			t.Errorf("suspension: answered %v %v, stored %v %v", got.SuspendedAt, got.SuspendReason, stored.SuspendedAt, stored.SuspendReason)
		}
		if pkg, err := got.QueryPackage().Only(admin); err != nil || pkg.ID != p.ID {
			t.Errorf("package edge: %v, %v", pkg, err)
		}
	}

	first, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	same(t, first)
	if d := first.ExpiresAt.Sub(first.StartsAt); d != 30*service.Day {
		t.Fatalf("a new assignment lasts %v, want 30 days", d)
	}
	why := "chargeback"
	if _, err := f.svc.SuspendUserPackage(admin, first.ID, &why); err != nil {
		t.Fatal(err)
	}

	ext, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, Days: ptr(2)})
	if err != nil {
		t.Fatal(err)
	}
	if ext.ID != first.ID {
		t.Fatalf("extending made assignment %d, want %d extended", ext.ID, first.ID)
	}
	same(t, ext)
	if want := first.ExpiresAt.Add(2 * service.Day); !ext.ExpiresAt.Equal(want) {
		t.Fatalf("extended to %v, want %v", ext.ExpiresAt, want)
	}
	if want := ext.ExpiresAt.Add(3 * service.Day); !ext.GraceEndsAt.Equal(want) {
		t.Fatalf("grace ends %v, want %v", ext.GraceEndsAt, want)
	}
	if ext.SuspendedAt == nil || ext.SuspendReason == nil || *ext.SuspendReason != why {
		t.Fatalf("extending lost the suspension: %v %v", ext.SuspendedAt, ext.SuspendReason)
	}
}

// A missing user or package is NOT_FOUND on its field, the user first.
func TestAssignPackageNotFound(t *testing.T) {
	f := newFixture(t)
	admin := as(f.user("admin", user.RoleADMIN))
	u := f.user("alice", user.RoleUSER)
	p := f.pkg("gold", 30)
	for _, c := range []struct {
		name         string
		userID, pkID int
		field        string
	}{
		{"user", u.ID + 1000, p.ID, "userID"},
		{"package", u.ID, p.ID + 1000, "packageID"},
		{"both", u.ID + 1000, p.ID + 1000, "userID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.AssignPackage(admin, service.AssignPackageInput{UserID: c.userID, PackageID: c.pkID})
			wantCode(t, admin, err, apperr.NotFound, c.field)
		})
	}
}

func ptr[T any](v T) *T { return &v }
