package graph_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

type upState struct {
	ID            string
	State         string
	Active        bool
	SuspendedAt   *time.Time
	SuspendReason *string
	ExpiresAt     time.Time
}

const upFields = `id state active suspendedAt suspendReason expiresAt`

type accessAnswer struct {
	Granted    bool
	Code       string
	ExpiresAt  *time.Time
	StartsAt   *time.Time
	GraceUntil *time.Time
}

// accessWorld adds to a world a user (with a token) holding one package of
// the given grace days, granting PRIORITY_SUPPORT, assigned from start to
// expiry (days from now).
type accessWorld struct {
	*world
	admin, token string
	pkg          *ent.Pkg
	up           *ent.UserPackage
}

func newAccessWorld(t *testing.T, graceDays, start, expiry int) *accessWorld {
	t.Helper()
	w := newWorld(t, nil)
	a := &accessWorld{world: w, admin: w.tokenFor("root", adminPW)}
	svc := w.App.Service
	carol := w.CreateUser("carol", "carol-password", "USER")
	var err error
	a.pkg, err = svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Support", Days: 30, GraceDays: &graceDays, Contents: []*service.PackageContentInput{
		{Name: "Support", FeatureKey: "priority_support"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if a.up, err = svc.AssignPackage(sys(), service.AssignPackageInput{UserID: carol.ID, PackageID: a.pkg.ID}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	s, e := now.Add(days(start)), now.Add(days(expiry))
	if a.up, err = svc.UpdateUserPackage(sys(), a.up.ID, service.UpdateUserPackageInput{StartsAt: &s, ExpiresAt: &e}); err != nil {
		t.Fatal(err)
	}
	a.token = w.tokenFor("carol", "carol-password")
	return a
}

func (a *accessWorld) check(t *testing.T) accessAnswer {
	t.Helper()
	var d struct{ CheckAccess accessAnswer }
	a.MustDo(a.token, `{checkAccess(feature: "priority_support"){granted code expiresAt startsAt graceUntil}}`, nil).Decode(t, &d)
	return d.CheckAccess
}

func (a *accessWorld) state(t *testing.T) upState {
	t.Helper()
	var d struct{ Me struct{ Packages []upState } }
	a.MustDo(a.token, `{me{packages{`+upFields+`}}}`, nil).Decode(t, &d)
	if len(d.Me.Packages) != 1 {
		t.Fatalf("%d packages", len(d.Me.Packages))
	}
	return d.Me.Packages[0]
}

func (a *accessWorld) features(t *testing.T) []string {
	t.Helper()
	var d struct {
		Me struct{ ActiveFeatures []struct{ Key string } }
	}
	a.MustDo(a.token, `{me{activeFeatures{key}}}`, nil).Decode(t, &d)
	var out []string
	for _, f := range d.Me.ActiveFeatures {
		out = append(out, f.Key)
	}
	return out
}

func (a *accessWorld) suspend(t *testing.T, token string, reason any) *upState {
	t.Helper()
	r := a.Do(token, `mutation($id:ID!,$r:String){suspendUserPackage(id:$id,reason:$r){`+upFields+`}}`, map[string]any{"id": id(a.up.ID), "r": reason})
	if len(r.Errors) > 0 {
		return nil
	}
	var d struct{ SuspendUserPackage upState }
	r.Decode(t, &d)
	return &d.SuspendUserPackage
}

func TestUserPackageState(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		grace, start, expiry int
		state                string
		active               bool
		code                 string
	}{
		{"active", 0, -1, 10, "ACTIVE", true, "GRANTED"},
		{"not started", 0, 2, 10, "NOT_STARTED", false, "NOT_STARTED"},
		{"in grace", 5, -10, -2, "IN_GRACE", true, "IN_GRACE"},
		{"expired after its grace", 1, -10, -2, "EXPIRED", false, "EXPIRED"},
		{"expired without grace", 0, -10, -2, "EXPIRED", false, "EXPIRED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAccessWorld(t, tt.grace, tt.start, tt.expiry)
			s := a.state(t)
			if s.State != tt.state || s.Active != tt.active {
				t.Fatalf("state %s active %v, want %s %v", s.State, s.Active, tt.state, tt.active)
			}
			c := a.check(t)
			if c.Code != tt.code || c.Granted != tt.active {
				t.Fatalf("checkAccess %s granted %v, want %s %v", c.Code, c.Granted, tt.code, tt.active)
			}
			if f := a.features(t); (len(f) == 1) != tt.active {
				t.Fatalf("active features %v", f)
			}
			if tt.code == "IN_GRACE" {
				if c.GraceUntil == nil || !c.GraceUntil.Equal(a.up.ExpiresAt.Add(days(tt.grace))) {
					t.Fatalf("graceUntil %v, want %v", c.GraceUntil, a.up.ExpiresAt.Add(days(tt.grace)))
				}
			} else if c.GraceUntil != nil {
				t.Fatalf("graceUntil %v with code %s", c.GraceUntil, c.Code)
			}
		})
	}
	t.Run("changing the grace days moves the state", func(t *testing.T) {
		a := newAccessWorld(t, 0, -10, -2)
		setGrace := func(days int) {
			mustData(t, a.Do(a.admin, `mutation($id:ID!,$g:Int){updatePackage(id:$id,input:{graceDays:$g}){graceDays}}`, map[string]any{"id": id(a.pkg.ID), "g": days}))
		}
		setGrace(5)
		if s := a.state(t); s.State != "IN_GRACE" {
			t.Fatalf("state %s after 5 grace days", s.State)
		}
		setGrace(0)
		if s := a.state(t); s.State != "EXPIRED" {
			t.Fatalf("state %s after 0 grace days", s.State)
		}
	})
}

func TestSuspendResume(t *testing.T) {
	t.Run("suspended grants nothing until resumed", func(t *testing.T) {
		a := newAccessWorld(t, 0, -1, 10)
		s := a.suspend(t, a.admin, "payment disputed")
		if s == nil || s.State != "SUSPENDED" || s.Active || s.SuspendedAt == nil || s.SuspendReason == nil || *s.SuspendReason != "payment disputed" {
			t.Fatalf("after suspending: %+v", s)
		}
		if !s.ExpiresAt.Equal(a.up.ExpiresAt) {
			t.Fatalf("suspending moved the expiry to %v", s.ExpiresAt)
		}
		if c := a.check(t); c.Code != "SUSPENDED" || c.Granted {
			t.Fatalf("checkAccess while suspended: %+v", c)
		}
		if f := a.features(t); len(f) != 0 {
			t.Fatalf("active features while suspended: %v", f)
		}
		again := a.suspend(t, a.admin, "under review")
		if again == nil || !again.SuspendedAt.Equal(*s.SuspendedAt) || *again.SuspendReason != "under review" {
			t.Fatalf("suspending again: %+v", again)
		}
		var d struct{ ResumeUserPackage upState }
		a.MustDo(a.admin, `mutation($id:ID!){resumeUserPackage(id:$id){`+upFields+`}}`, map[string]any{"id": id(a.up.ID)}).Decode(t, &d)
		if r := d.ResumeUserPackage; r.State != "ACTIVE" || !r.Active || r.SuspendedAt != nil || r.SuspendReason != nil {
			t.Fatalf("after resuming: %+v", r)
		}
		if c := a.check(t); c.Code != "GRANTED" {
			t.Fatalf("checkAccess after resuming: %+v", c)
		}
		a.MustDo(a.admin, `mutation($id:ID!){resumeUserPackage(id:$id){id}}`, map[string]any{"id": id(a.up.ID)})
	})
	t.Run("suspended in grace", func(t *testing.T) {
		a := newAccessWorld(t, 5, -10, -2)
		if s := a.suspend(t, a.admin, nil); s == nil || s.State != "SUSPENDED" || s.SuspendReason != nil {
			t.Fatalf("after suspending: %+v", s)
		}
		if c := a.check(t); c.Code != "SUSPENDED" || c.Granted {
			t.Fatalf("checkAccess: %+v", c)
		}
	})
	t.Run("admins only", func(t *testing.T) {
		a := newAccessWorld(t, 0, -1, 10)
		wantCode(t, a.Do(a.token, `mutation($id:ID!){suspendUserPackage(id:$id){id}}`, map[string]any{"id": id(a.up.ID)}), "FORBIDDEN")
		wantCode(t, a.Do(a.token, `mutation($id:ID!){resumeUserPackage(id:$id){id}}`, map[string]any{"id": id(a.up.ID)}), "FORBIDDEN")
		if s := a.state(t); s.State != "ACTIVE" {
			t.Fatalf("state %s after a user's attempt", s.State)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		a := newAccessWorld(t, 0, -1, 10)
		r := a.Do(a.admin, `mutation($id:ID!,$r:String){suspendUserPackage(id:$id,reason:$r){id}}`, map[string]any{"id": id(a.up.ID), "r": strings.Repeat("x", 501)})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "reason" {
			t.Fatalf("field %q", field(r))
		}
		for _, m := range []string{"suspendUserPackage", "resumeUserPackage"} {
			r := a.Do(a.admin, fmt.Sprintf(`mutation{%s(id:"12884999999"){id}}`, m), nil)
			wantCode(t, r, "NOT_FOUND")
		}
	})
}

func TestTrialOnce(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	carol := w.CreateUser("carol", "carol-password", "USER")
	var p struct{ CreatePackage struct{ ID string } }
	w.MustDo(admin, `mutation{createPackage(input:{name:"Try it",days:7,trial:true}){id trial graceDays}}`, nil).Decode(t, &p)
	assign := func() *apptest.Response {
		return w.Do(admin, `mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u,packageID:$p}){id expiresAt}}`,
			map[string]any{"u": id(carol.ID), "p": p.CreatePackage.ID})
	}
	var first, second struct{ AssignPackage upState }
	r := assign()
	mustData(t, r)
	r.Decode(t, &first)
	r = assign()
	mustData(t, r)
	r.Decode(t, &second)
	if second.AssignPackage.ID != first.AssignPackage.ID || !second.AssignPackage.ExpiresAt.Equal(first.AssignPackage.ExpiresAt.Add(days(7))) {
		t.Fatalf("extending the active trial: %+v after %+v", second, first)
	}
	mustData(t, w.Do(admin, `mutation($id:ID!){deleteUserPackage(id:$id)}`, map[string]any{"id": first.AssignPackage.ID}))
	r = assign()
	wantCode(t, r, "CONFLICT")
	if field(r) != "packageID" {
		t.Fatalf("field %q, want packageID", field(r))
	}
}

func TestGraceDaysValidation(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	for _, g := range []int{-1, 366} {
		r := w.Do(admin, `mutation($g:Int){createPackage(input:{name:"Graceful",days:7,graceDays:$g}){id}}`, map[string]any{"g": g})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "graceDays" {
			t.Fatalf("create with %d: field %q", g, field(r))
		}
		r = w.Do(admin, `mutation($id:ID!,$g:Int){updatePackage(id:$id,input:{graceDays:$g}){id}}`, map[string]any{"id": id(w.pro.ID), "g": g})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "graceDays" {
			t.Fatalf("update with %d: field %q", g, field(r))
		}
	}
	var d struct{ CreatePackage struct{ GraceDays int } }
	w.MustDo(admin, `mutation{createPackage(input:{name:"Graceful",days:7,graceDays:365}){graceDays}}`, nil).Decode(t, &d)
	if d.CreatePackage.GraceDays != 365 {
		t.Fatalf("graceDays %d", d.CreatePackage.GraceDays)
	}
}
