package dashboard_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/service"
)

// The generic resource, once per entity: every list pages by seek, sorts
// both ways, filters, exports CSV and runs bulk actions the same way. A
// case makes rows named zq00, zq01, … (sorting by sort in that order);
// every third of them (zq00, zq03, …) matches filter, and action changes
// a row so that state tells.
type resourceCase struct {
	name, path, plural string
	sort               string
	filter             url.Values
	action, done       string
	// make adds the rows zq00 … and returns their ids in that order.
	make func(t *testing.T, s *apptest.Server, w *world, n int) []int
	// state is what action changes of row id ("gone" once deleted).
	state func(t *testing.T, s *apptest.Server, id int) string
	// fails, when set, makes rows of which action refuses one, and
	// returns them with the reason the page gives.
	fails func(t *testing.T, s *apptest.Server, w *world) (ids []int, why string)
	// form, when set, is added to every action's form (the days of an
	// extension).
	form url.Values
	// more are checks of this entity's own actions, run after the
	// shared ones on rows of their own (not matching "zq").
	more []resourceCheck
}

// resourceCheck is one entity's own check, a subtest of its case.
type resourceCheck struct {
	name string
	run  func(t *testing.T, s *apptest.Server, w *world, b *browser)
}

// zq is the name of made row i.
func zq(i int) string { return fmt.Sprintf("zq%02d", i) }

var resourceCases = []resourceCase{
	{
		name: "users", path: "/admin/users", plural: "users", sort: "username",
		filter: url.Values{"role": {"ADMIN"}}, action: "disable", done: "Disabled",
		make: func(t *testing.T, s *apptest.Server, _ *world, n int) []int {
			var ids []int
			for i := range n {
				role := user.RoleUSER
				if i%3 == 0 {
					role = user.RoleADMIN
				}
				u, err := s.App.DB.Ent.User.Create().SetUsername(zq(i)).SetPasswordHash("x").SetRole(role).Save(sys())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, u.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			u, err := s.App.DB.Ent.User.Get(sys(), id)
			if err != nil {
				return "gone"
			}
			return strconv.FormatBool(u.Disabled)
		},
		fails: func(t *testing.T, s *apptest.Server, w *world) ([]int, string) {
			// The signed-in admin is not disabled by a bulk action.
			return []int{w.user.ID, w.admin.ID}, "your own account is not changed by bulk actions"
		},
	},
	{
		name: "features", path: "/admin/features", plural: "features", sort: "key",
		filter: url.Values{"kind": {"LIMIT"}}, action: "delete", done: "Deleted",
		make: func(t *testing.T, s *apptest.Server, _ *world, n int) []int {
			var ids []int
			for i := range n {
				kind := feature.KindSWITCH
				if i%3 == 0 {
					kind = feature.KindLIMIT
				}
				f, err := s.App.DB.Ent.Feature.Create().SetKey(zq(i)).SetName("Made " + zq(i)).SetKind(kind).Save(sys())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, f.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			if _, err := s.App.DB.Ent.Feature.Get(sys(), id); err != nil {
				return "gone"
			}
			return "here"
		},
		fails: func(t *testing.T, s *apptest.Server, w *world) ([]int, string) {
			// auto_gather is free, moe_gatherer still granted by Gold.
			free, err := s.App.DB.Ent.Feature.Query().Where(feature.Key("auto_gather")).OnlyID(sys())
			if err != nil {
				t.Fatal(err)
			}
			return []int{free, w.feature.ID}, "used by 1 package content"
		},
	},
	{
		name: "packages", path: "/admin/packages", plural: "packages", sort: "name",
		filter: url.Values{"feature": {"projects"}}, action: "delete", done: "Deleted",
		make: func(t *testing.T, s *apptest.Server, w *world, n int) []int {
			var ids []int
			for i := range n {
				in := service.CreatePackageInput{Name: zq(i), Days: 30}
				if i%3 == 0 {
					in.Contents = []*service.PackageContentInput{{Name: "Projects", FeatureKey: "projects", Limit: intp(3)}}
				}
				p, err := s.App.Service.CreatePackage(adminCtx(w.admin.ID), in)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, p.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			if _, err := s.App.DB.Ent.Pkg.Get(sys(), id); err != nil {
				return "gone"
			}
			return "here"
		},
		fails: func(t *testing.T, s *apptest.Server, w *world) ([]int, string) {
			// Gold is assigned to alice.
			free, err := s.App.Service.CreatePackage(adminCtx(w.admin.ID), service.CreatePackageInput{Name: "Unassigned", Days: 1})
			if err != nil {
				t.Fatal(err)
			}
			return []int{free.ID, w.pkg.ID}, "assigned"
		},
	},
	{
		name: "webhooks", path: "/admin/webhooks", plural: "webhook endpoints", sort: "url",
		filter: url.Values{"enabled": {"true"}}, action: "delete", done: "Deleted",
		make: func(t *testing.T, s *apptest.Server, _ *world, n int) []int {
			var ids []int
			for i := range n {
				ep, err := s.App.DB.Ent.WebhookEndpoint.Create().SetURL("https://" + zq(i) + ".example/hook").
					SetSecret("whsec_test").SetEnabled(i%3 == 0).Save(sys())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ep.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			ep, err := s.App.DB.Ent.WebhookEndpoint.Get(sys(), id)
			if err != nil {
				return "gone"
			}
			return strconv.FormatBool(ep.Enabled)
		},
	},
	{
		name: "contents", path: "/admin/package-contents", plural: "package contents", sort: "name",
		filter: url.Values{"feature": {"projects"}}, action: "delete", done: "Deleted",
		make: func(t *testing.T, s *apptest.Server, w *world, n int) []int {
			var ids []int
			for i := range n {
				// One package each: a package holds a feature once.
				in := &service.PackageContentInput{Name: zq(i), FeatureKey: "cloud_sync"}
				if i%3 == 0 {
					in = &service.PackageContentInput{Name: zq(i), FeatureKey: "projects", Limit: intp(i)}
				}
				p, err := s.App.Service.CreatePackage(adminCtx(w.admin.ID), service.CreatePackageInput{
					Name: fmt.Sprintf("Holder %02d", i), Days: 30, Contents: []*service.PackageContentInput{in}})
				if err != nil {
					t.Fatal(err)
				}
				id, err := p.QueryContents().OnlyID(sys())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			if _, err := s.App.DB.Ent.PackageContent.Get(sys(), id); err != nil {
				return "gone"
			}
			return "here"
		},
		more: []resourceCheck{{"bulk delete takes the feature from holders", contentsBulkDelete}},
	},
	{
		name: "user packages", path: "/admin/user-packages", plural: "user packages", sort: "created",
		filter: url.Values{"status": {"SUSPENDED"}}, action: "extend", done: "Extended",
		form: url.Values{"days": {"7"}},
		make: func(t *testing.T, s *apptest.Server, w *world, n int) []int {
			var ids []int
			base := s.App.Service.Now().Add(-time.Hour)
			for i := range n {
				p, err := s.App.Service.CreatePackage(adminCtx(w.admin.ID), service.CreatePackageInput{Name: zq(i), Days: 30})
				if err != nil {
					t.Fatal(err)
				}
				up, err := s.App.Service.AssignPackage(adminCtx(w.admin.ID), service.AssignPackageInput{UserID: w.user.ID, PackageID: p.ID})
				if err != nil {
					t.Fatal(err)
				}
				if i%3 == 0 {
					if _, err := s.App.Service.SuspendUserPackage(adminCtx(w.admin.ID), up.ID, nil); err != nil {
						t.Fatal(err)
					}
				}
				setCreated(t, s, "user_packages", up.ID, base.Add(time.Duration(i)*time.Minute))
				ids = append(ids, up.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			up, err := s.App.DB.Ent.UserPackage.Get(sys(), id)
			if err != nil {
				return "gone"
			}
			return up.ExpiresAt.UTC().Format(time.RFC3339Nano)
		},
		fails: func(t *testing.T, s *apptest.Server, w *world) ([]int, string) {
			// One that would expire after the year 9999 is not extended.
			far := s.CreateUser("far", userPW, user.RoleUSER)
			up, err := s.App.Service.AssignPackage(adminCtx(w.admin.ID), service.AssignPackageInput{UserID: far.ID, PackageID: w.pkg.ID})
			if err != nil {
				t.Fatal(err)
			}
			end := time.Date(9999, 12, 28, 0, 0, 0, 0, time.UTC)
			if err := s.App.DB.Ent.UserPackage.UpdateOneID(up.ID).SetExpiresAt(end).SetGraceEndsAt(end).Exec(sys()); err != nil {
				t.Fatal(err)
			}
			return []int{w.assignment.ID, up.ID}, "after the year 9999"
		},
		more: []resourceCheck{
			{"bulk extend moves each expiry by the days", userPackagesExtend},
			{"days out of range are refused", userPackagesBadDays},
			{"bulk suspend then resume", userPackagesSuspendResume},
		},
	},
	{
		name: "sessions", path: "/admin/sessions", plural: "sessions", sort: "created",
		filter: url.Values{"status": {"expired"}}, action: "revoke", done: "Revoked",
		make: func(t *testing.T, s *apptest.Server, w *world, n int) []int {
			var ids []int
			now := s.App.Service.Now()
			for i := range n {
				// A user each: a session's label is its user's name.
				u, err := s.App.DB.Ent.User.Create().SetUsername(zq(i)).SetPasswordHash("x").Save(sys())
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.App.Service.IssueSession(adminCtx(w.admin.ID), service.IssueSessionInput{UserID: u.ID}, auth.ClientInfo{IP: "192.0.2.9"})
				if err != nil {
					t.Fatal(err)
				}
				setCreated(t, s, "user_sessions", p.Session.ID, now.Add(time.Duration(i-60)*time.Minute))
				if i%3 == 0 {
					if err := s.App.DB.Ent.UserSession.UpdateOneID(p.Session.ID).SetExpiresAt(now.Add(-time.Minute)).Exec(sys()); err != nil {
						t.Fatal(err)
					}
				}
				ids = append(ids, p.Session.ID)
			}
			return ids
		},
		state: func(t *testing.T, s *apptest.Server, id int) string {
			se, err := s.App.DB.Ent.UserSession.Get(sys(), id)
			if err != nil {
				return "gone"
			}
			return strconv.FormatBool(se.RevokedAt != nil)
		},
		more: []resourceCheck{{"bulk revoke stops the tokens", sessionsBulkRevoke}},
	},
}

// plus is a copy of a with the values of b added.
func plus(a, b url.Values) url.Values {
	out := with(a)
	for k, vs := range b {
		out[k] = append(out[k], vs...)
	}
	return out
}

// setCreated sets when row id of table was created (ent keeps
// created_at to itself).
func setCreated(t *testing.T, s *apptest.Server, table string, id int, at time.Time) {
	t.Helper()
	q := "UPDATE " + table + " SET created_at = ? WHERE id = ?"
	if s.App.DB.Driver == db.Postgres {
		q = "UPDATE " + table + " SET created_at = $1 WHERE id = $2"
	}
	if err := s.App.DB.EntDriver().Exec(context.Background(), q, []any{at.UTC(), id}, nil); err != nil {
		t.Fatalf("set created_at of %s %d: %v", table, id, err)
	}
}

// rowIDs are the ids of a list page's rows, in order (their bulk boxes).
func rowIDs(t *testing.T, p *page) []int {
	t.Helper()
	var out []int
	for _, n := range findAll(p.doc, func(n *html.Node) bool {
		name, _ := attr(n, "name")
		typ, _ := attr(n, "type")
		return n.Data == "input" && name == "id" && typ == "checkbox"
	}) {
		v, _ := attr(n, "value")
		id, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("row id %q", v)
		}
		out = append(out, id)
	}
	return out
}

// with is q plus the pairs kv.
func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// reversed is a reversed copy of xs.
func reversed[T any](xs []T) []T {
	out := slices.Clone(xs)
	slices.Reverse(out)
	return out
}

// every3 are the ids of the rows that match a case's filter.
func every3(ids []int) []int {
	var out []int
	for i, id := range ids {
		if i%3 == 0 {
			out = append(out, id)
		}
	}
	return out
}

// readCSV checks an export's shape (every cell quoted, CRLF lines) and
// returns its records.
func readCSV(t *testing.T, p *page) [][]string {
	t.Helper()
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("export: Content-Type %q, status %d", ct, p.Status)
	}
	if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Fatalf("export: Content-Disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(p.Body, "\r\n"), "\r\n")
	if len(lines) != len(recs) {
		t.Fatalf("export: %d lines, %d records", len(lines), len(recs))
	}
	for i, rec := range recs {
		quoted := make([]string, len(rec))
		for j, f := range rec {
			quoted[j] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		if got := strings.Join(quoted, ","); got != lines[i] {
			t.Fatalf("export line %d is not every cell quoted: %q", i+1, lines[i])
		}
	}
	return recs
}

// csvIDs are the ids (first column) of an export's rows.
func csvIDs(t *testing.T, recs [][]string) []int {
	t.Helper()
	if len(recs) == 0 || recs[0][0] != "id" {
		t.Fatalf("export header %v", recs)
	}
	var out []int
	for _, r := range recs[1:] {
		id, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatalf("export id %q", r[0])
		}
		out = append(out, id)
	}
	return out
}

// TestResource runs the generic resource's list, export and bulk actions
// against each entity.
func TestResource(t *testing.T) {
	t.Parallel()
	for _, rc := range resourceCases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, nil)
			w := seed(t, s)
			b := signIn(t, s, "root", adminPW)
			const n = 25
			ids := rc.make(t, s, w, n)
			mine := url.Values{"q": {"zq"}, "sort": {rc.sort}, "size": {"10"}}
			list := func(q url.Values) *page { return b.get(rc.path + "?" + q.Encode()).wantStatus(http.StatusOK) }
			states := func() []string {
				out := make([]string, len(ids))
				for i, id := range ids {
					out[i] = rc.state(t, s, id)
				}
				return out
			}

			t.Run("seek paging forward and back", func(t *testing.T) {
				b.t = t
				p := list(mine).wantText(strconv.Itoa(n) + " " + rc.plural)
				var pages [][]int
				for {
					pages = append(pages, rowIDs(t, p))
					if len(p.links("Next →")) == 0 {
						break
					}
					p = b.get(p.link("Next →")).wantStatus(http.StatusOK)
				}
				if want := [][]int{ids[:10], ids[10:20], ids[20:]}; !slices.EqualFunc(pages, want, slices.Equal) {
					t.Fatalf("pages %v, want %v", pages, want)
				}
				for i := len(pages) - 2; i >= 0; i-- {
					p = b.get(p.link("← Previous")).wantStatus(http.StatusOK)
					if got := rowIDs(t, p); !slices.Equal(got, pages[i]) {
						t.Fatalf("back to page %d: %v, want %v", i+1, got, pages[i])
					}
				}
				if len(p.links("← Previous")) != 0 {
					t.Fatal("the first page links a previous one")
				}
				// A damaged cursor starts from the top.
				if got := rowIDs(t, list(with(mine, "after", "x~y"))); !slices.Equal(got, ids[:10]) {
					t.Fatalf("damaged cursor: %v", got)
				}
			})

			t.Run("sort both ways", func(t *testing.T) {
				b.t = t
				if got := rowIDs(t, list(with(mine, "dir", "asc"))); !slices.Equal(got, ids[:10]) {
					t.Fatalf("ascending %v", got)
				}
				desc := reversed(ids)
				p := list(with(mine, "dir", "desc"))
				if got := rowIDs(t, p); !slices.Equal(got, desc[:10]) {
					t.Fatalf("descending %v, want %v", got, desc[:10])
				}
				if got := rowIDs(t, b.get(p.link("Next →"))); !slices.Equal(got, desc[10:20]) {
					t.Fatalf("descending page 2 %v", got)
				}
				// An unknown sort keeps the default order.
				if got := rowIDs(t, list(with(mine, "sort", "nope"))); len(got) != 10 {
					t.Fatalf("unknown sort: %v", got)
				}
			})

			t.Run("filters narrow", func(t *testing.T) {
				b.t = t
				q := with(mine, "size", "100")
				for k, v := range rc.filter {
					q[k] = v
				}
				want := every3(ids)
				p := list(q).wantText(strconv.Itoa(len(want)) + " " + rc.plural)
				if got := rowIDs(t, p); !slices.Equal(got, want) {
					t.Fatalf("filtered %v, want %v", got, want)
				}
				if got := rowIDs(t, list(with(q, "q", "zq03"))); !slices.Equal(got, []int{ids[3]}) {
					t.Fatalf("filtered and searched %v", got)
				}
			})

			t.Run("CSV export", func(t *testing.T) {
				b.t = t
				recs := readCSV(t, b.get(rc.path+".csv?"+with(mine, "dir", "desc").Encode()).wantStatus(http.StatusOK))
				if got := csvIDs(t, recs); !slices.Equal(got, reversed(ids)) {
					t.Fatalf("export rows %v, want every made row in the list's order", got)
				}
				q := with(mine)
				for k, v := range rc.filter {
					q[k] = v
				}
				if got := csvIDs(t, readCSV(t, b.get(rc.path+".csv?"+q.Encode()))); !slices.Equal(got, every3(ids)) {
					t.Fatalf("filtered export %v", got)
				}
				// Without a search: every row.
				all := readCSV(t, b.get(rc.path+".csv"))
				if len(all)-1 < n {
					t.Fatalf("export of everything: %d rows", len(all)-1)
				}
			})

			t.Run("bulk on ticked rows", func(t *testing.T) {
				b.t = t
				before := states()
				picked := plus(url.Values{"action": {rc.action}, "id": {itoa(ids[1]), itoa(ids[2])}, "return": {rc.path + "?q=zq"}}, rc.form)
				b.post(rc.path+"/bulk", picked).wantStatus(http.StatusOK).
					wantText("will apply to 2 "+rc.plural, zq(1), zq(2))
				if got := states(); !slices.Equal(got, before) {
					t.Fatalf("the confirmation changed rows: %v → %v", before, got)
				}
				p := b.post(rc.path+"/bulk/apply", picked).wantRedirect(rc.path + "?q=zq")
				b.follow(p).wantFlash(rc.done + " 2 " + rc.plural + ".")
				after := states()
				for i := range ids {
					if changed := after[i] != before[i]; changed != (i == 1 || i == 2) {
						t.Fatalf("row %d: %s → %s", i, before[i], after[i])
					}
				}
			})

			t.Run("bulk on all matching the filter", func(t *testing.T) {
				b.t = t
				before := states()
				scope := url.Values{"q": {"zq"}}
				for k, v := range rc.filter {
					scope[k] = v
				}
				form := plus(url.Values{"action": {rc.action}, "all": {"true"}, "scope": {scope.Encode()}}, rc.form)
				want := 0
				for i := range ids {
					if i%3 == 0 {
						want++
					}
				}
				b.post(rc.path+"/bulk", form).wantStatus(http.StatusOK).
					wantText(fmt.Sprintf("will apply to %d %s (every one matching", want, rc.plural))
				b.follow(b.post(rc.path+"/bulk/apply", form).wantRedirect(rc.path)).
					wantFlash(fmt.Sprintf("%s %d %s.", rc.done, want, rc.plural))
				after := states()
				for i := range ids {
					if changed := after[i] != before[i]; changed != (i%3 == 0) {
						t.Fatalf("row %d: %s → %s", i, before[i], after[i])
					}
				}
			})

			t.Run("a failure on one row changes none", func(t *testing.T) {
				if rc.fails == nil {
					t.Skip("no row of " + rc.name + " refuses " + rc.action)
				}
				b.t = t
				rows, why := rc.fails(t, s, w)
				before := make([]string, len(rows))
				form := plus(url.Values{"action": {rc.action}}, rc.form)
				for i, id := range rows {
					before[i] = rc.state(t, s, id)
					form.Add("id", itoa(id))
				}
				p := b.post(rc.path+"/bulk/apply", form)
				if p.Status < 400 || p.Status >= 500 {
					t.Fatalf("status %d: %s", p.Status, p.text())
				}
				p.wantText("Nothing was changed", why)
				for i, id := range rows {
					if got := rc.state(t, s, id); got != before[i] {
						t.Fatalf("row %d changed: %s → %s", id, before[i], got)
					}
				}
			})

			t.Run("bad input is refused", func(t *testing.T) {
				b.t = t
				before := states()
				for _, c := range []struct {
					form url.Values
					want string
				}{
					{url.Values{"action": {"explode"}, "id": {itoa(ids[4])}}, "Choose an action"},
					{url.Values{"id": {itoa(ids[4])}}, "Choose an action"},
					{url.Values{"action": {rc.action}, "id": {"abc"}}, "could not be read"},
					{url.Values{"action": {rc.action}, "id": {"-3"}}, "could not be read"},
					{url.Values{"action": {rc.action}}, "Select at least one"},
					{url.Values{"action": {rc.action}, "id": {"99999999"}}, "exist any more"},
					{url.Values{"action": {rc.action}, "all": {"true"}, "scope": {"%zz"}}, "could not be read"},
					// A scope too long is refused, not dropped (which would
					// leave every row).
					{url.Values{"action": {rc.action}, "all": {"true"}, "scope": {"q=zq&q=" + strings.Repeat("x", 5000)}}, "could not be read"},
				} {
					for _, to := range []string{"/bulk", "/bulk/apply"} {
						b.post(rc.path+to, plus(c.form, rc.form)).wantStatus(http.StatusUnprocessableEntity).wantText(c.want)
					}
				}
				if got := states(); !slices.Equal(got, before) {
					t.Fatalf("bad input changed rows: %v → %v", before, got)
				}
			})

			for _, c := range rc.more {
				t.Run(c.name, func(t *testing.T) {
					b.t = t
					c.run(t, s, w, b)
				})
			}
		})
	}
}

// insertUsers adds n users named prefix0000001 … with raw SQL (fast:
// one statement); every user is a USER, enabled.
func insertUsers(t testing.TB, d *db.DB, prefix string, n int) {
	t.Helper()
	now := time.Now().UTC()
	var q string
	var args []any
	if d.Driver == db.Postgres {
		q = `INSERT INTO users (created_at, updated_at, username, username_fold, password_hash, role, disabled, session_epoch)
			SELECT $1, $1, $2 || lpad(i::text, 7, '0'), $2 || lpad(i::text, 7, '0'), 'x', 'USER', false, 0
			FROM generate_series(1, $3) AS i`
		args = []any{now, prefix, n}
	} else {
		q = `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			INSERT INTO users (created_at, updated_at, username, username_fold, password_hash, role, disabled, session_epoch)
			SELECT ?, ?, ? || printf('%07d', i), ? || printf('%07d', i), 'x', 'USER', false, 0 FROM seq`
		args = []any{n, now, now, prefix, prefix}
	}
	if err := d.EntDriver().Exec(context.Background(), q, args, nil); err != nil {
		t.Fatalf("insert %d users: %v", n, err)
	}
}

// TestResourceAtScale: more users than one bulk action may change, a large
// export, and the signed-in admin left out of bulk actions.
func TestResourceAtScale(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	insertUsers(t, s.App.DB, "bulk", 10_001)
	c := s.App.DB.Ent

	t.Run("the list counts up to the limit", func(t *testing.T) {
		b.t = t
		b.get("/admin/users").wantStatus(http.StatusOK).wantText("More than 10000 users")
		b.get("/admin/users?q=bulk000012").wantText("10 users")
	})

	t.Run("more than 10000 matching are refused", func(t *testing.T) {
		b.t = t
		for _, to := range []string{"/bulk", "/bulk/apply"} {
			b.post("/admin/users"+to, url.Values{"action": {"disable"}, "all": {"true"}, "scope": {"q=bulk"}}).
				wantStatus(http.StatusUnprocessableEntity).wantText("More than 10000 users match", "at most 10000")
		}
		if n, _ := c.User.Query().Where(user.Disabled(true)).Count(sys()); n != 0 {
			t.Fatalf("%d users disabled", n)
		}
		ids := make([]string, 10_001)
		for i := range ids {
			ids[i] = itoa(i + 1)
		}
		// So many ticked rows do not even make a form (Go reads at most
		// 10,000 fields).
		b.post("/admin/users/bulk/apply", url.Values{"action": {"disable"}, "id": ids}).
			wantStatus(http.StatusBadRequest).wantText("The form could not be read")
		if n, _ := c.User.Query().Where(user.Disabled(true)).Count(sys()); n != 0 {
			t.Fatalf("%d users disabled", n)
		}
		// Narrowed below the limit, it is done.
		b.follow(b.post("/admin/users/bulk/apply", url.Values{"action": {"disable"}, "all": {"true"}, "scope": {"q=bulk0001"}}).
			wantRedirect("/admin/users")).wantFlash("Disabled 1000 users.")
		if n, _ := c.User.Query().Where(user.Disabled(true)).Count(sys()); n != 1000 {
			t.Fatalf("%d users disabled", n)
		}
	})

	t.Run("a large export streams every row", func(t *testing.T) {
		b.t = t
		recs := readCSV(t, b.get("/admin/users.csv?q=bulk&sort=username&dir=desc").wantStatus(http.StatusOK))
		if len(recs) != 10_001+1 {
			t.Fatalf("%d lines", len(recs))
		}
		if recs[1][1] != "bulk0010001" || recs[len(recs)-1][1] != "bulk0000001" {
			t.Fatalf("first %v, last %v", recs[1], recs[len(recs)-1])
		}
		for i := 2; i < len(recs); i++ {
			if recs[i][1] >= recs[i-1][1] {
				t.Fatalf("line %d out of order: %s after %s", i+1, recs[i][1], recs[i-1][1])
			}
		}
	})

	t.Run("the signed-in admin is not disabled or deleted in bulk", func(t *testing.T) {
		b.t = t
		for _, action := range []string{"disable", "delete", "revoke-sessions"} {
			b.post("/admin/users/bulk/apply", url.Values{"action": {action}, "id": {itoa(w.user.ID), itoa(w.admin.ID)}}).
				wantStatus(http.StatusUnprocessableEntity).wantText("Nothing was changed", "your own account", "(user root)")
		}
		// Nor when chosen as "all matching".
		b.post("/admin/users/bulk/apply", url.Values{"action": {"delete"}, "all": {"true"}, "scope": {"role=ADMIN"}}).
			wantStatus(http.StatusUnprocessableEntity).wantText("your own account")
		for _, u := range []int{w.user.ID, w.admin.ID} {
			got, err := c.User.Get(sys(), u)
			if err != nil || got.Disabled {
				t.Fatalf("user %d: %+v, %v", u, got, err)
			}
		}
		b.get("/admin/").wantStatus(http.StatusOK)
	})
}

// TestResourceExportFormulas: a cell a spreadsheet would read as a
// formula is exported with a leading quote.
func TestResourceExportFormulas(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	if _, err := s.App.Service.CreatePackage(ctx, service.CreatePackageInput{Name: "=HYPERLINK(1)", Detail: strp("+1 day"), Days: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Service.CreateFeature(ctx, service.CreateFeatureInput{Key: "sum", Name: "@SUM(1)", Kind: feature.KindSWITCH}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.DB.Ent.WebhookEndpoint.Create().SetURL("https://f.example/").SetDescription(`-2+3 "quoted"`).
		SetSecret("whsec_test").Save(sys()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path, q, want string }{
		{"packages", "/admin/packages.csv", "q=HYPERLINK", `"'=HYPERLINK(1)","'+1 day"`},
		{"features", "/admin/features.csv", "q=sum", `"sum","'@SUM(1)","SWITCH"`},
		{"webhooks", "/admin/webhooks.csv", "q=f.example", `"https://f.example/","'-2+3 ""quoted""",`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.t = t
			p := b.get(c.path + "?" + c.q).wantStatus(http.StatusOK)
			recs := readCSV(t, p)
			if len(recs) != 2 || !strings.Contains(p.Body, c.want) {
				t.Fatalf("export %q lacks %s", p.Body, c.want)
			}
		})
	}
}

func strp(s string) *string { return &s }

// TestWebhookBulkEnable: endpoints are enabled and disabled in bulk; those
// already so are counted apart, and each change is in the activity log.
func TestWebhookBulkEnable(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	c := s.App.DB.Ent
	var ids []string
	for i, on := range []bool{true, true, false} {
		ep, err := c.WebhookEndpoint.Create().SetURL("https://" + zq(i) + ".example/").SetSecret("whsec_test").SetEnabled(on).Save(sys())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, itoa(ep.ID))
	}
	enabled := func() (out []bool) {
		for _, id := range ids {
			n, _ := strconv.Atoi(id)
			ep, err := c.WebhookEndpoint.Get(sys(), n)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ep.Enabled)
		}
		return out
	}
	b.post("/admin/webhooks/bulk", url.Values{"action": {"disable"}, "id": ids}).wantStatus(http.StatusOK).
		wantText("Disable will apply to 3 webhook endpoints", "sent no new events")
	b.follow(b.post("/admin/webhooks/bulk/apply", url.Values{"action": {"disable"}, "id": ids}).wantRedirect("/admin/webhooks")).
		wantFlash("Disabled 2 webhook endpoints. 1 was already so.")
	if got := enabled(); !slices.Equal(got, []bool{false, false, false}) {
		t.Fatalf("after disabling: %v", got)
	}
	b.follow(b.post("/admin/webhooks/bulk/apply", url.Values{"action": {"enable"}, "all": {"true"}, "scope": {"q=zq0"}}).
		wantRedirect("/admin/webhooks")).wantFlash("Enabled 3 webhook endpoints.")
	if got := enabled(); !slices.Equal(got, []bool{true, true, true}) {
		t.Fatalf("after enabling: %v", got)
	}
	b.get("/admin/activity?subjectType=webhook_endpoint&subjectID=" + ids[2]).wantText("webhook_endpoint.updated")
}

// granted asks the API, as the holder of token, whether it has feature.
func granted(t *testing.T, s *apptest.Server, token, feature string) bool {
	t.Helper()
	var d struct{ CheckAccess struct{ Granted bool } }
	s.MustDo(token, `query($f:String!){checkAccess(feature:$f){granted}}`, map[string]any{"f": feature}).Decode(t, &d)
	return d.CheckAccess.Granted
}

// contentsBulkDelete: Gold's two contents deleted in one step; alice, who
// holds Gold, loses both features.
func contentsBulkDelete(t *testing.T, s *apptest.Server, w *world, b *browser) {
	ids, err := w.pkg.QueryContents().IDs(sys())
	if err != nil || len(ids) != 2 {
		t.Fatalf("Gold's contents %v, %v", ids, err)
	}
	for _, f := range []string{"moe_gatherer", "cloud_sync"} {
		if !granted(t, s, w.sessionToken, f) {
			t.Fatalf("alice lacks %s before", f)
		}
	}
	form := url.Values{"action": {"delete"}, "id": {itoa(ids[0]), itoa(ids[1])}}
	b.post("/admin/package-contents/bulk", form).wantStatus(http.StatusOK).
		wantText("Delete will apply to 2 package contents", "Moe gatherer", "Cloud sync", "Holders of their packages lose these features at once")
	b.follow(b.post("/admin/package-contents/bulk/apply", form).wantRedirect("/admin/package-contents")).
		wantFlash("Deleted 2 package contents.")
	if n, _ := w.pkg.QueryContents().Count(sys()); n != 0 {
		t.Fatalf("Gold keeps %d contents", n)
	}
	for _, f := range []string{"moe_gatherer", "cloud_sync"} {
		if granted(t, s, w.sessionToken, f) {
			t.Fatalf("alice keeps %s", f)
		}
	}
}

// threeUserPackages assigns three new packages (named prefix a, b, c) to
// a new user named prefix, and returns the assignments' ids.
func threeUserPackages(t *testing.T, s *apptest.Server, w *world, prefix string) []string {
	t.Helper()
	u := s.CreateUser(prefix, userPW, user.RoleUSER)
	var ids []string
	for _, c := range []string{"a", "b", "c"} {
		p, err := s.App.Service.CreatePackage(adminCtx(w.admin.ID), service.CreatePackageInput{Name: prefix + c, Days: 30})
		if err != nil {
			t.Fatal(err)
		}
		up, err := s.App.Service.AssignPackage(adminCtx(w.admin.ID), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, itoa(up.ID))
	}
	return ids
}

// expiries are the expiries of the user packages ids.
func expiries(t *testing.T, s *apptest.Server, ids []string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, id := range ids {
		n, _ := strconv.Atoi(id)
		up, err := s.App.DB.Ent.UserPackage.Get(sys(), n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, up.ExpiresAt.UTC())
	}
	return out
}

func userPackagesExtend(t *testing.T, s *apptest.Server, w *world, b *browser) {
	ids := threeUserPackages(t, s, w, "ext")
	before := expiries(t, s, ids)
	form := url.Values{"action": {"extend"}, "days": {"12"}, "id": ids}
	b.post("/admin/user-packages/bulk", form).wantStatus(http.StatusOK).
		wantText("Extend will apply to 3 user packages", "Each is extended by 12 days", "exta", "extc")
	if got := expiries(t, s, ids); !slices.Equal(got, before) {
		t.Fatalf("the confirmation moved expiries: %v → %v", before, got)
	}
	b.follow(b.post("/admin/user-packages/bulk/apply", form).wantRedirect("/admin/user-packages")).
		wantFlash("Extended 3 user packages.")
	for i, got := range expiries(t, s, ids) {
		if want := before[i].AddDate(0, 0, 12); !got.Equal(want) {
			t.Fatalf("user package %s expires %v, want %v", ids[i], got, want)
		}
	}
}

func userPackagesBadDays(t *testing.T, s *apptest.Server, w *world, b *browser) {
	ids := threeUserPackages(t, s, w, "bad")
	before := expiries(t, s, ids)
	for _, days := range []string{"0", "36501", "x", "", "-1", "1.5"} {
		for _, to := range []string{"/bulk", "/bulk/apply"} {
			b.post("/admin/user-packages"+to, url.Values{"action": {"extend"}, "days": {days}, "id": ids}).
				wantStatus(http.StatusUnprocessableEntity).wantText("The number of days must be a whole number from 1 to 36500.")
		}
	}
	if got := expiries(t, s, ids); !slices.Equal(got, before) {
		t.Fatalf("refused days moved expiries: %v → %v", before, got)
	}
}

func userPackagesSuspendResume(t *testing.T, s *apptest.Server, w *world, b *browser) {
	ids := threeUserPackages(t, s, w, "sus")
	suspended := func() (out []bool) {
		for _, id := range ids {
			n, _ := strconv.Atoi(id)
			up, err := s.App.DB.Ent.UserPackage.Get(sys(), n)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, up.SuspendedAt != nil)
		}
		return out
	}
	apply := func(action string, ids []string, flash string) {
		t.Helper()
		b.follow(b.post("/admin/user-packages/bulk/apply", url.Values{"action": {action}, "id": ids}).
			wantRedirect("/admin/user-packages")).wantFlash(flash)
	}
	apply("suspend", ids[:1], "Suspended 1 user package.")
	b.post("/admin/user-packages/bulk", url.Values{"action": {"suspend"}, "id": ids}).wantStatus(http.StatusOK).
		wantText("Suspend will apply to 3 user packages", "grants nothing until resumed")
	apply("suspend", ids, "Suspended 2 user packages. 1 was already so.")
	if got := suspended(); !slices.Equal(got, []bool{true, true, true}) {
		t.Fatalf("after suspending: %v", got)
	}
	b.get("/admin/user-packages?q=sus&status=SUSPENDED").wantText("3 user packages")
	apply("resume", ids[1:], "Resumed 2 user packages.")
	apply("resume", ids, "Resumed 1 user package. 2 were already so.")
	if got := suspended(); !slices.Equal(got, []bool{false, false, false}) {
		t.Fatalf("after resuming: %v", got)
	}
	apply("resume", ids, "Resumed 0 user packages. 3 were already so.")
}

// sessionsBulkRevoke: alice's tokens keep working through the
// confirmation and stop at once when it is applied.
func sessionsBulkRevoke(t *testing.T, s *apptest.Server, w *world, b *browser) {
	toks := []string{w.sessionToken}
	ids := []string{itoa(w.session.ID)}
	for range 2 {
		p, err := s.App.Service.IssueSession(adminCtx(w.admin.ID), service.IssueSessionInput{UserID: w.user.ID}, auth.ClientInfo{IP: "192.0.2.8"})
		if err != nil {
			t.Fatal(err)
		}
		toks, ids = append(toks, p.Token), append(ids, itoa(p.Session.ID))
	}
	works := func() (out []bool) {
		for _, tok := range toks {
			r := s.Do(tok, `{me{username}}`, nil)
			if len(r.Errors) > 0 && r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("API: %+v", r.Errors)
			}
			out = append(out, len(r.Errors) == 0)
		}
		return out
	}
	if got := works(); !slices.Equal(got, []bool{true, true, true}) {
		t.Fatalf("before: %v", got)
	}
	b.follow(b.post("/admin/sessions/bulk/apply", url.Values{"action": {"revoke"}, "id": ids[2:]}).wantRedirect("/admin/sessions")).
		wantFlash("Revoked 1 session.")
	b.post("/admin/sessions/bulk", url.Values{"action": {"revoke"}, "id": ids}).wantStatus(http.StatusOK).
		wantText("Revoke will apply to 3 sessions", "of alice", "Their tokens stop working at once")
	if got := works(); !slices.Equal(got, []bool{true, true, false}) {
		t.Fatalf("after one revoke and a confirmation: %v", got)
	}
	b.follow(b.post("/admin/sessions/bulk/apply", url.Values{"action": {"revoke"}, "id": ids}).wantRedirect("/admin/sessions")).
		wantFlash("Revoked 2 sessions. 1 was already so.")
	if got := works(); !slices.Equal(got, []bool{false, false, false}) {
		t.Fatalf("after the bulk revoke: %v", got)
	}
}
