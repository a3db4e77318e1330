package service_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/service"
)

// TestActiveFeaturesOfMatchesSQL holds the Go form of ActiveFeatures (over
// every assignment, read with its tree) to the SQL form (which keeps only
// the granting assignments in SQL) at moments that put the assignments in
// every state: active, in grace, suspended, not started and expired, with
// LIMIT features granted by several assignments at different limits.
func TestActiveFeaturesOfMatchesSQL(t *testing.T) {
	f := newFixture(t)
	for _, in := range []service.CreateFeatureInput{
		{Key: "sw_a", Name: "A", Kind: feature.KindSWITCH},
		{Key: "sw_b", Name: "B", Kind: feature.KindSWITCH},
		{Key: "lim", Name: "L", Kind: feature.KindLIMIT},
		{Key: "lim2", Name: "L2", Kind: feature.KindLIMIT},
	} {
		if _, err := f.svc.CreateFeature(f.sys, in); err != nil {
			t.Fatal(err)
		}
	}
	n := func(v int) *int { return &v }
	now := f.fixedClock()
	day := 24 * time.Hour
	at := func(d int) *time.Time { t := now.Add(time.Duration(d) * day); return &t }
	u := f.user("alice", user.RoleUSER)
	other := f.user("bob", user.RoleUSER)
	type assign struct {
		grace, days, starts int
		suspend             bool
		contents            []*service.PackageContentInput
	}
	for i, a := range []assign{
		{days: 10, contents: []*service.PackageContentInput{{Name: "a", FeatureKey: "sw_a"}, {Name: "l", FeatureKey: "lim", Limit: n(5)}}},
		{grace: 7, days: 10, starts: -14, contents: []*service.PackageContentInput{{Name: "l", FeatureKey: "lim", Limit: n(50)}, {Name: "b", FeatureKey: "sw_b"}, {Name: "l2", FeatureKey: "lim2", Limit: n(0)}}},
		{grace: 3, days: 20, starts: -2, suspend: true, contents: []*service.PackageContentInput{{Name: "b", FeatureKey: "sw_b"}, {Name: "l2", FeatureKey: "lim2", Limit: n(9)}}},
		{days: 10, starts: 4, contents: []*service.PackageContentInput{{Name: "a", FeatureKey: "sw_a"}, {Name: "l", FeatureKey: "lim", Limit: n(7)}}},
		{grace: 2, days: 5, starts: -30, contents: []*service.PackageContentInput{{Name: "a", FeatureKey: "sw_a"}, {Name: "l2", FeatureKey: "lim2", Limit: n(3)}}},
		{days: 3, starts: -1, contents: []*service.PackageContentInput{{Name: "l2", FeatureKey: "lim2", Limit: n(1)}}},
	} {
		p, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: fmt.Sprintf("P%d", i), Days: a.days, GraceDays: &a.grace, Contents: a.contents})
		if err != nil {
			t.Fatal(err)
		}
		for _, holder := range []*ent.User{u, other} {
			up, err := f.svc.AssignPackage(f.sys, service.AssignPackageInput{UserID: holder.ID, PackageID: p.ID, StartsAt: at(a.starts), Days: &a.days})
			if err != nil {
				t.Fatal(err)
			}
			if a.suspend && holder == u {
				if _, err := f.svc.SuspendUserPackage(f.sys, up.ID, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	ups := f.db.Ent.UserPackage.Query().Where(userpackage.UserID(u.ID)).
		WithPackage(func(q *ent.PkgQuery) {
			q.WithContents(func(q *ent.PackageContentQuery) { q.WithFeature() })
		}).AllX(f.sys)
	granted := 0
	for d := -3; d <= 40; d++ {
		for _, h := range []time.Duration{0, 12 * time.Hour} {
			moment := now.Add(time.Duration(d)*day + h)
			f.svc.SetClock(func() time.Time { return moment })
			sqlForm, err := f.svc.ActiveFeatures(as(u), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			goForm := service.ActiveFeaturesOf(ups, moment)
			if !reflect.DeepEqual(sqlForm, goForm) {
				t.Fatalf("day %d%+v: SQL form %+v, Go form %+v", d, h, sqlForm, goForm)
			}
			granted += len(goForm)
		}
	}
	if granted == 0 {
		t.Fatal("no moment granted anything: the comparison proves nothing")
	}
}
