package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/user"
	"gatehouse/internal/access"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

// textByID is the visible text of the element with the HTML id ("" when
// there is none).
func (p *page) textByID(id string) string {
	p.t.Helper()
	es := findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(es) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(textOf(es[0])), " ")
}

// assignTo makes a user named name and assigns them the package from start
// for days.
func assignTo(t *testing.T, s *apptest.Server, ctx context.Context, name string, pkgID int, start time.Time, days int) *ent.UserPackage {
	t.Helper()
	u := s.CreateUser(name, userPW, user.RoleUSER)
	up, err := s.App.Service.AssignPackage(ctx, service.AssignPackageInput{UserID: u.ID, PackageID: pkgID, StartsAt: &start, Days: &days})
	if err != nil {
		t.Fatalf("assign to %s: %v", name, err)
	}
	return up
}

// TestSuspendAndResume: an admin suspends an assignment from its page,
// with or without a reason, and resumes it; the badge, the reason and the
// time of suspension show on its page, in the list and on the user's page.
func TestSuspendAndResume(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	svc := s.App.Service
	reason := "chargeback #4411 <b>"
	cases := []struct {
		name      string
		user      string
		suspended bool   // suspended (through the service) before the request
		action    string // suspend or resume
		form      url.Values
		status    int    // of the POST: 303 is followed
		flash     string // after a 303
		state     string // the badge afterwards
		reason    string // the reason shown afterwards ("" when not suspended)
		fieldErr  string // the error beside the reason field
	}{
		{"suspend with a reason", "sam", false, "suspend", url.Values{"reason": {reason}},
			http.StatusSeeOther, "Suspended sam · Gold: it grants nothing until resumed.", "SUSPENDED", reason, ""},
		{"suspend without a reason", "sid", false, "suspend", url.Values{"reason": {"  "}},
			http.StatusSeeOther, "Suspended sid · Gold", "SUSPENDED", "none given", ""},
		{"reason too long", "rob", false, "suspend", url.Values{"reason": {strings.Repeat("é", 501)}},
			http.StatusUnprocessableEntity, "", "ACTIVE", "", "500"},
		{"resume", "ria", true, "resume", url.Values{},
			http.StatusSeeOther, "Resumed ria · Gold.", "ACTIVE", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := signIn(t, s, "root", adminPW)
			up := assignTo(t, s, ctx, tc.user, w.pkg.ID, svc.Now().Add(-time.Hour), 30)
			if tc.suspended {
				if _, err := svc.SuspendUserPackage(ctx, up.ID, &reason); err != nil {
					t.Fatal(err)
				}
				b.get("/admin/user-packages/"+itoa(up.ID)).wantText("SUSPENDED", reason, "Resume")
			}
			href := "/admin/user-packages/" + itoa(up.ID)
			p := b.post(href+"/"+tc.action, tc.form)
			if tc.status == http.StatusSeeOther {
				p.wantRedirect(href)
				p = b.follow(p).wantStatus(http.StatusOK).wantFlash(tc.flash)
			} else {
				p.wantStatus(tc.status)
			}
			if got := p.textByID("user-package-state"); got != tc.state {
				t.Fatalf("state badge %q, want %q", got, tc.state)
			}
			if got := p.textByID("user-package-suspend-reason"); got != tc.reason {
				t.Fatalf("reason shown %q, want %q", got, tc.reason)
			}
			if tc.fieldErr != "" {
				p.wantFieldError("reason", tc.fieldErr).wantValue("reason", tc.form.Get("reason"))
			}
			saved, err := s.App.DB.Ent.UserPackage.Get(ctx, up.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (saved.SuspendedAt != nil) != (tc.state == "SUSPENDED") {
				t.Fatalf("stored suspendedAt %v with state %s", saved.SuspendedAt, tc.state)
			}
			if tc.state == "SUSPENDED" {
				if p.textByID("user-package-suspended-at") == "" {
					t.Fatal("the time of suspension is not shown")
				}
				// The list and the user's page agree.
				b.get("/admin/user-packages?status=SUSPENDED&q="+tc.user).wantText(tc.user, "SUSPENDED")
				if tc.reason != "none given" {
					b.get("/admin/user-packages?q=" + tc.user).wantText(tc.reason)
				}
			}
			b.get("/admin/users/" + itoa(up.UserID)).wantStatus(http.StatusOK).wantText(tc.state)
		})
	}
	t.Run("an assignment that does not exist", func(t *testing.T) {
		b := signIn(t, s, "root", adminPW)
		b.post("/admin/user-packages/999999/suspend", url.Values{"reason": {"x"}}).wantStatus(http.StatusNotFound)
		b.post("/admin/user-packages/999999/resume", nil).wantStatus(http.StatusNotFound)
	})
}

// TestUserPackageStateFilter: the list's state filter (SQL, through
// access.StateAt) keeps exactly the rows whose badge (Go, through
// access.StateOf) names that state.
func TestUserPackageStateFilter(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	svc := s.App.Service
	grace := 10
	gp, err := svc.CreatePackage(ctx, service.CreatePackageInput{Name: "Graceful", Days: 30, GraceDays: &grace})
	if err != nil {
		t.Fatal(err)
	}
	now := svc.Now()
	day := 24 * time.Hour
	why := "fraud check"
	rows := []struct {
		user    string
		pkg     int
		start   time.Time
		suspend bool
		want    access.State
	}{
		{"act", w.pkg.ID, now.Add(-day), false, access.StateActive},
		{"later", w.pkg.ID, now.Add(5 * day), false, access.StateNotStarted},
		{"lapsed", gp.ID, now.Add(-32 * day), false, access.StateInGrace},              // expired 2 days ago, 10 days' grace
		{"held", w.pkg.ID, now.Add(-day), true, access.StateSuspended},                 // would be active
		{"heldgrace", gp.ID, now.Add(-32 * day), true, access.StateSuspended},          // would be in grace
		{"over", w.pkg.ID, now.Add(-32 * day), false, access.StateExpired},             // no grace
		{"pastgrace", gp.ID, now.Add(-60 * day), false, access.StateExpired},           // grace over
		{"heldover", w.pkg.ID, now.Add(-60 * day), true, access.StateExpired},          // suspended, long expired
		{"heldpast", gp.ID, now.Add(-60 * day), true, access.StateExpired},             // suspended, grace over
		{"graceedge", gp.ID, now.Add(-40*day + time.Hour), false, access.StateInGrace}, // grace ends in an hour
	}
	want := map[access.State][]string{access.StateActive: {"alice"}}
	for _, r := range rows {
		up := assignTo(t, s, ctx, r.user, r.pkg, r.start, 30)
		if r.suspend {
			if _, err := svc.SuspendUserPackage(ctx, up.ID, &why); err != nil {
				t.Fatal(err)
			}
		}
		want[r.want] = append(want[r.want], r.user)
	}
	all := []string{}
	for _, names := range want {
		all = append(all, names...)
	}
	b := signIn(t, s, "root", adminPW)
	check := func(t *testing.T, status string, users []string, label string) {
		p := b.get("/admin/user-packages?size=100&status=" + status).wantStatus(http.StatusOK)
		if p.value("status") != status {
			t.Fatalf("filter shows %q, want %q", p.value("status"), status)
		}
		var got []string
		for _, tr := range findAll(p.doc, func(n *html.Node) bool { return n.Data == "tr" }) {
			cells := findAll(tr, func(n *html.Node) bool { v, _ := attr(n, "data-label"); return v == "User" || v == "State" })
			if len(cells) != 2 {
				continue
			}
			name := strings.TrimSpace(textOf(cells[0]))
			badge := findAll(cells[1], func(n *html.Node) bool { return hasClass(n, "badge") })
			if len(badge) != 1 {
				t.Fatalf("row %s has %d badges", name, len(badge))
			}
			if state := strings.TrimSpace(textOf(badge[0])); label != "" && state != label {
				t.Fatalf("row %s is listed under %s but its badge says %s", name, status, state)
			}
			got = append(got, name)
		}
		sort.Strings(got)
		sort.Strings(users)
		if strings.Join(got, ",") != strings.Join(users, ",") {
			t.Fatalf("status=%s lists %v, want %v", status, got, users)
		}
	}
	for _, st := range []access.State{access.StateActive, access.StateNotStarted, access.StateInGrace, access.StateSuspended, access.StateExpired} {
		t.Run(string(st), func(t *testing.T) {
			b.t = t
			check(t, string(st), append([]string(nil), want[st]...), strings.ReplaceAll(string(st), "_", " "))
		})
	}
	t.Run("any state", func(t *testing.T) {
		b.t = t
		check(t, "", all, "")
	})
	t.Run("unknown state is ignored", func(t *testing.T) {
		b.t = t
		check(t, "", all, "")
		p := b.get("/admin/user-packages?size=100&status=upcoming").wantStatus(http.StatusOK)
		if p.value("status") != "" {
			t.Fatalf("unknown state kept: %q", p.value("status"))
		}
	})
	t.Run("every state is offered", func(t *testing.T) {
		b.t = t
		p := b.get("/admin/user-packages").wantStatus(http.StatusOK)
		opts := findAll(p.control("status"), func(n *html.Node) bool { return n.Data == "option" })
		var got []string
		for _, o := range opts {
			v, _ := attr(o, "value")
			got = append(got, v)
		}
		if strings.Join(got, ",") != ",ACTIVE,NOT_STARTED,IN_GRACE,SUSPENDED,EXPIRED" {
			t.Fatalf("state filter offers %v", got)
		}
	})
	t.Run("overview counts", func(t *testing.T) {
		b.t = t
		b.get("/admin/").wantStatus(http.StatusOK).
			wantText("11 User packages", "2 active · 2 in grace · 2 suspended")
	})
}

// TestPackageTrialAndGrace: the package form saves "trial" and "grace
// days", checks grace days (0–365) beside the field and shows the form
// again with what was typed.
func TestPackageTrialAndGrace(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	form := func(name, grace, trial string) url.Values {
		v := url.Values{"name": {name}, "days": {"14"}, "detail": {""}, "graceDays": {grace}, "trial": {"false"}, "action": {"save"}}
		if trial == "true" {
			v["trial"] = []string{"false", "true"}
		}
		return v
	}
	cases := []struct {
		name     string
		form     url.Values
		status   int
		fieldErr string // beside graceDays
		trial    bool
		grace    int
	}{
		{"trial with three days' grace", form("Taster", "3", "true"), http.StatusSeeOther, "", true, 3},
		{"no trial, no grace", form("Plain", "0", "false"), http.StatusSeeOther, "", false, 0},
		{"a year's grace", form("Patient", "365", "false"), http.StatusSeeOther, "", false, 365},
		{"grace days 400", form("Tolerant", "400", "true"), http.StatusUnprocessableEntity, "365", false, 0},
		{"grace days negative", form("Strict", "-1", "false"), http.StatusUnprocessableEntity, "365", false, 0},
		{"grace days not a number", form("Vague", "a week", "true"), http.StatusUnprocessableEntity, "must be a whole number", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := signIn(t, s, "root", adminPW)
			p := b.post("/admin/packages/new", tc.form)
			name := tc.form.Get("name")
			if tc.status != http.StatusSeeOther {
				p.wantStatus(tc.status).wantFieldError("graceDays", tc.fieldErr).
					wantValue("graceDays", tc.form.Get("graceDays")).wantValue("name", name).
					wantValue("trial", strings.Join(tc.form["trial"][len(tc.form["trial"])-1:], "")).
					wantValue("days", "14")
				if n, _ := c.Pkg.Query().Where(pkg.Name(name)).Count(ctx); n != 0 {
					t.Fatal("saved despite the error")
				}
				return
			}
			p.wantRedirect("/admin/packages/")
			d := b.follow(p).wantStatus(http.StatusOK).wantFlash("Package " + name + " created")
			saved, err := c.Pkg.Query().Where(pkg.Name(name)).Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if saved.Trial != tc.trial || saved.GraceDays != tc.grace {
				t.Fatalf("saved trial=%v graceDays=%d, want %v, %d", saved.Trial, saved.GraceDays, tc.trial, tc.grace)
			}
			if got := d.textByID("package-grace-days"); !strings.HasPrefix(got, itoa(tc.grace)) {
				t.Fatalf("grace days shown %q", got)
			}
			if got := d.textByID("package-trial"); strings.Contains(got, "trial") != tc.trial {
				t.Fatalf("trial shown %q", got)
			}
			// The edit form shows them; the list too.
			b.get("/admin/packages/"+itoa(saved.ID)+"/edit").wantValue("graceDays", itoa(tc.grace)).
				wantValue("trial", map[bool]string{true: "true", false: "false"}[tc.trial])
			b.get("/admin/packages?q=" + name).wantText(name)
		})
	}
	t.Run("edit changes both", func(t *testing.T) {
		b := signIn(t, s, "root", adminPW)
		g, tr := 7, true
		p, err := s.App.Service.CreatePackage(ctx, service.CreatePackageInput{Name: "Trial week", Days: 7, GraceDays: &g, Trial: &tr})
		if err != nil {
			t.Fatal(err)
		}
		b.get("/admin/packages/"+itoa(p.ID)+"/edit").wantValue("graceDays", "7").wantValue("trial", "true")
		b.post("/admin/packages/"+itoa(p.ID)+"/edit", form("Trial week", "400", "false")).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("graceDays", "365").
			wantValue("graceDays", "400").wantValue("trial", "false")
		r := b.post("/admin/packages/"+itoa(p.ID)+"/edit", form("Trial week", "0", "false")).wantRedirect("/admin/packages/" + itoa(p.ID))
		b.follow(r).wantFlash("Package Trial week saved.")
		saved, _ := c.Pkg.Get(ctx, p.ID)
		if saved.Trial || saved.GraceDays != 0 {
			t.Fatalf("saved trial=%v graceDays=%d", saved.Trial, saved.GraceDays)
		}
	})
}

// TestUserPageStates: a user's page shows each assignment's state and the
// features granted now, merged over the assignments by the access rules:
// one row per feature with its limit (the highest among the assignments
// that grant it), and those granted only by assignments in grace marked.
func TestUserPageStates(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	svc := s.App.Service
	grace := 10
	gp, err := svc.CreatePackage(ctx, service.CreatePackageInput{
		Name: "Lapsed", Days: 30, GraceDays: &grace,
		Contents: []*service.PackageContentInput{
			{Name: "Auto", FeatureKey: "auto_gather"},
			{Name: "Sync", FeatureKey: "cloud_sync"},
			{Name: "Many projects", FeatureKey: "projects", Limit: intp(20)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := svc.CreatePackage(ctx, service.CreatePackageInput{
		Name: "Starter", Days: 30,
		Contents: []*service.PackageContentInput{{Name: "Few projects", FeatureKey: "projects", Limit: intp(5)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	start, days := svc.Now().Add(-32*24*time.Hour), 30
	up, err := svc.AssignPackage(ctx, service.AssignPackageInput{UserID: w.user.ID, PackageID: gp.ID, StartsAt: &start, Days: &days})
	if err != nil {
		t.Fatal(err)
	}
	starter, err := svc.AssignPackage(ctx, service.AssignPackageInput{UserID: w.user.ID, PackageID: sp.ID})
	if err != nil {
		t.Fatal(err)
	}
	b := signIn(t, s, "root", adminPW)
	// feature key → the words its row must show ("" = no row).
	type row = map[string][]string
	cases := []struct {
		name     string
		suspend  []int // assignments suspended first
		states   []string
		features row
	}{
		{"active and in grace", nil, []string{"ACTIVE", "IN GRACE"}, row{
			"moe_gatherer": {"Moe gatherer", "active"},
			"cloud_sync":   {"Cloud sync", "active"},
			"auto_gather":  {"Auto gather", "in grace"},
			"projects":     {"Projects", "5", "active"},
		}},
		{"the active ones suspended", []int{w.assignment.ID, starter.ID}, []string{"SUSPENDED", "IN GRACE"}, row{
			"moe_gatherer": nil,
			"cloud_sync":   {"Cloud sync", "in grace"},
			"auto_gather":  {"Auto gather", "in grace"},
			"projects":     {"Projects", "20", "in grace"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			for _, id := range []int{w.assignment.ID, up.ID, starter.ID} {
				if _, err := svc.ResumeUserPackage(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range tc.suspend {
				if _, err := svc.SuspendUserPackage(ctx, id, nil); err != nil {
					t.Fatal(err)
				}
			}
			p := b.get("/admin/users/" + itoa(w.user.ID)).wantStatus(http.StatusOK).wantText(tc.states...)
			rows := map[string]string{}
			for _, tr := range findAll(p.doc, func(n *html.Node) bool { _, ok := attr(n, "data-feature"); return ok && n.Data == "tr" }) {
				k, _ := attr(tr, "data-feature")
				rows[k] = strings.Join(strings.Fields(textOf(tr)), " ")
			}
			want := 0
			for key, words := range tc.features {
				got, ok := rows[key]
				if words == nil {
					if ok {
						t.Fatalf("feature %s shown: %q", key, got)
					}
					continue
				}
				want++
				if !ok {
					t.Fatalf("feature %s not shown; rows %q", key, rows)
				}
				for _, w := range append(words, key) {
					if !strings.Contains(got, w) {
						t.Fatalf("feature %s row %q does not say %q", key, got, w)
					}
				}
				if inGrace := strings.Contains(got, "in grace"); inGrace != slices.Contains(words, "in grace") {
					t.Fatalf("feature %s row %q: in grace marked wrongly", key, got)
				}
			}
			if len(rows) != want {
				t.Fatalf("rows %q, want %d", rows, want)
			}
		})
	}
}

// TestTrialGivenOnce: assigning a trial package to a user who has held it,
// even if that assignment was deleted, shows the refusal beside the
// package field and keeps the choices.
func TestTrialGivenOnce(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	yes := true
	tp, err := s.App.Service.CreatePackage(ctx, service.CreatePackageInput{Name: "Taster", Days: 7, Trial: &yes})
	if err != nil {
		t.Fatal(err)
	}
	b := signIn(t, s, "root", adminPW)
	form := url.Values{"userID": {itoa(w.user.ID)}, "packageID": {itoa(tp.ID)}, "days": {"7"}, "action": {"save"}}
	p := b.post("/admin/user-packages/new", form).wantRedirect("/admin/user-packages/")
	loc := p.Header.Get("Location")
	b.follow(p).wantFlash("Package assigned until").wantText("alice · Taster", "ACTIVE")
	b.post(loc+"/delete", nil).wantRedirect("/admin/user-packages")
	b.post("/admin/user-packages/new", form).wantStatus(http.StatusUnprocessableEntity).
		wantFieldError("packageID", "trial").wantValue("packageID", itoa(tp.ID)).wantValue("userID", itoa(w.user.ID))
}
