package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// isPicker reports whether the page has a picker for the field name.
func (p *page) isPicker(name string) bool {
	if p.doc == nil {
		return false
	}
	return len(findAll(p.doc, func(n *html.Node) bool {
		v, _ := attr(n, "name")
		return n.Data == "input" && v == name+".q"
	})) > 0
}

// picked is the value a picker chose: its hidden field, or its checked
// radio button after a search.
func (p *page) picked(name string) string {
	p.t.Helper()
	for _, n := range findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == name }) {
		t, _ := attr(n, "type")
		_, checked := attr(n, "checked")
		if t == "hidden" || (t == "radio" && checked) {
			v, _ := attr(n, "value")
			return v
		}
	}
	return ""
}

// matches are the labels of a picker's radio buttons after a search.
func (p *page) matches(name string) []string {
	p.t.Helper()
	var out []string
	for _, n := range findAll(p.doc, func(n *html.Node) bool {
		v, _ := attr(n, "name")
		t, _ := attr(n, "type")
		return n.Data == "input" && t == "radio" && v == name
	}) {
		l, _ := attr(n, "data-label")
		out = append(out, l)
	}
	return out
}

// radio is the value of the picker's radio button labelled label.
func (p *page) radio(name, label string) string {
	p.t.Helper()
	for _, n := range findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == name }) {
		if l, _ := attr(n, "data-label"); l == label {
			v, _ := attr(n, "value")
			return v
		}
	}
	p.t.Fatalf("no match %q for %s among %v", label, name, p.matches(name))
	return ""
}

type pickMatch struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Days  int    `json:"days"`
	Kind  string `json:"kind"`
}

type pickAnswer struct {
	Query   string      `json:"query"`
	Matches []pickMatch `json:"matches"`
	More    bool        `json:"more"`
}

// pickJSON asks the picker endpoint and decodes its answer.
func pickJSON(t *testing.T, b *browser, path string) pickAnswer {
	t.Helper()
	p := b.get(path).wantStatus(http.StatusOK)
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: content type %q", path, ct)
	}
	var a pickAnswer
	if err := json.Unmarshal([]byte(p.Body), &a); err != nil {
		t.Fatalf("%s: %v in %s", path, err, p.Body)
	}
	return a
}

func labels(ms []pickMatch) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Label
	}
	return out
}

// addUsers inserts n users named prefix0000001… with one SQL statement
// (their password hash is no hash: they never sign in).
func addUsers(t testing.TB, s *apptest.Server, prefix string, n int) {
	t.Helper()
	q := `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO users (created_at, updated_at, username, username_fold, password_hash, role, disabled, session_epoch)
SELECT '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', ? || printf('%07d', i), lower(?) || printf('%07d', i), 'x', 'USER', false, 0 FROM n`
	args := []any{n, prefix, prefix}
	if s.App.DB.Driver == db.Postgres {
		q = `INSERT INTO users (created_at, updated_at, username, username_fold, password_hash, role, disabled, session_epoch)
SELECT now(), now(), $1 || lpad(i::text, 7, '0'), lower($1) || lpad(i::text, 7, '0'), 'x', 'USER', false, 0 FROM generate_series(1, $2::int) AS i`
		args = []any{prefix, n}
	}
	if _, err := s.App.DB.SQL.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("insert %d users: %v", n, err)
	}
}

// dropUserOrderIndexes drops the indexes of the users table that serve
// the users list's orders (role, created_at, …): no query of the pickers
// uses them (TestUserPickPlans checks the plans on the full schema), and
// keeping them up to date triples the time a million inserts take.
func dropUserOrderIndexes(t testing.TB, s *apptest.Server) {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL AND name NOT LIKE '%username%'`
	if s.App.DB.Driver == db.Postgres {
		q = `SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND indexname NOT LIKE '%username%' AND indexname NOT LIKE '%pkey'`
	}
	for _, name := range testdb.Strings(t, s.App.DB.SQL, q) {
		if _, err := s.App.DB.SQL.ExecContext(context.Background(), `DROP INDEX "`+name+`"`); err != nil {
			t.Fatalf("drop index %s: %v", name, err)
		}
	}
}

func mustUserID(t *testing.T, s *apptest.Server, name string) int {
	t.Helper()
	u, err := s.App.DB.Ent.User.Query().Where(user.Username(name)).Only(sys())
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u.ID
}

// TestPickEndpoint: GET /admin/pick/{kind} answers admins only, at most
// 20 matches, names starting with the search before names containing it.
func TestPickEndpoint(t *testing.T) {
	s := start(t, nil)
	w := seed(t, s)
	for _, n := range []string{"Alicia", "malice", "xalice", "al_pha", "bob"} {
		s.CreateUser(n, userPW, user.RoleUSER)
	}
	disabled := s.CreateUser("alina", userPW, user.RoleUSER)
	if _, err := s.App.DB.Ent.User.UpdateOneID(disabled.ID).SetDisabled(true).Save(sys()); err != nil {
		t.Fatal(err)
	}
	b := signIn(t, s, "root", adminPW)

	t.Run("sign-in required", func(t *testing.T) {
		p := newBrowser(t, s.URL).get("/admin/pick/users?q=ali")
		p.wantRedirect("/admin/login")
		if strings.Contains(p.Body, "alice") {
			t.Fatalf("answered without sign-in: %s", p.Body)
		}
	})
	t.Run("prefix before substring, case-insensitive", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/users?q=ALI")
		got := strings.Join(labels(a.Matches), ",")
		if want := "alice,Alicia,alina (disabled),malice,xalice"; got != want {
			t.Fatalf("matches %s, want %s", got, want)
		}
		if a.More || a.Query != "ALI" || a.Matches[0].ID != itoa(w.user.ID) {
			t.Fatalf("answer %+v", a)
		}
	})
	t.Run("enabled users only", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/users?q=ali&enabled=true")
		if got := strings.Join(labels(a.Matches), ","); got != "alice,Alicia,malice,xalice" {
			t.Fatalf("matches %s", got)
		}
	})
	t.Run("wildcards are plain characters", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/users?q=_")
		if got := strings.Join(labels(a.Matches), ","); got != "al_pha" {
			t.Fatalf("matches %s", got)
		}
		if a := pickJSON(t, b, "/admin/pick/users?q=%25"); len(a.Matches) != 0 {
			t.Fatalf("%% matched %v", labels(a.Matches))
		}
	})
	t.Run("at most 20, and says there are more", func(t *testing.T) {
		addUsers(t, s, "zz", 25)
		a := pickJSON(t, b, "/admin/pick/users?q=zz")
		if len(a.Matches) != 20 || !a.More || a.Matches[0].Label != "zz0000001" || a.Matches[19].Label != "zz0000020" {
			t.Fatalf("answer %d matches, more %v: %v", len(a.Matches), a.More, labels(a.Matches))
		}
		a = pickJSON(t, b, "/admin/pick/users?q=zz000002")
		if len(a.Matches) != 6 || a.More {
			t.Fatalf("answer %d matches, more %v", len(a.Matches), a.More)
		}
	})
	t.Run("empty search: the first 20 by name", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/users?q=")
		if len(a.Matches) != 20 || !a.More || a.Matches[0].Label != "al_pha" || a.Matches[1].Label != "alice" {
			t.Fatalf("answer %v", labels(a.Matches))
		}
	})
	t.Run("search of at most 100 characters", func(t *testing.T) {
		pickJSON(t, b, "/admin/pick/users?q="+strings.Repeat("é", 100))
		p := b.get("/admin/pick/users?q=" + strings.Repeat("a", 101)).wantStatus(http.StatusBadRequest)
		if !strings.Contains(p.Body, "at most 100 characters") {
			t.Fatalf("body %s", p.Body)
		}
	})
	t.Run("packages with their days", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/packages?q=old")
		if len(a.Matches) != 1 || a.Matches[0].ID != itoa(w.pkg.ID) || a.Matches[0].Days != 30 || a.Matches[0].Label != "Gold (30 days)" {
			t.Fatalf("answer %+v", a)
		}
	})
	t.Run("features by key or name, with their kind", func(t *testing.T) {
		a := pickJSON(t, b, "/admin/pick/features?q=pro")
		// "Projects" and "projects" start with it; "Priority support" does
		// not contain it.
		if len(a.Matches) != 1 || a.Matches[0].ID != "projects" || a.Matches[0].Kind != "LIMIT" {
			t.Fatalf("answer %+v", a)
		}
		a = pickJSON(t, b, "/admin/pick/features?q=sync")
		if len(a.Matches) != 1 || a.Matches[0].ID != "cloud_sync" || a.Matches[0].Kind != "SWITCH" {
			t.Fatalf("answer %+v", a)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		b.get("/admin/pick/sessions?q=a").wantStatus(http.StatusNotFound)
	})
}

// TestPickerWithoutScript: the no-script search-and-choose step, through
// real HTTP: Find shows the matches as radio buttons and keeps every other
// field; choosing one and sending the form assigns the package.
func TestPickerWithoutScript(t *testing.T) {
	s := start(t, nil)
	w := seed(t, s)
	for _, n := range []string{"Alicia", "malice", "bob"} {
		s.CreateUser(n, userPW, user.RoleUSER)
	}
	b := signIn(t, s, "root", adminPW)
	pid := itoa(w.pkg.ID)

	t.Run("find, choose, assign", func(t *testing.T) {
		np := b.get("/admin/user-packages/new").wantStatus(http.StatusOK)
		if np.picked("userID") != "" || !np.isPicker("packageID") {
			t.Fatalf("new form: user %q", np.picked("userID"))
		}
		form := url.Values{
			"userID": {""}, "userID.q": {"ali"}, "userID.shown": {""},
			"packageID": {pid}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"},
			"days": {"7"}, "startsAt": {"2030-01-02T03:04"}, "find": {"userID"},
		}
		p := b.post("/admin/user-packages/new", form).wantStatus(http.StatusOK)
		if got := strings.Join(p.matches("userID"), ","); got != "alice,Alicia,malice" {
			t.Fatalf("matches %s", got)
		}
		p.wantText("3 users matching “ali”").wantValue("days", "7").wantValue("startsAt", "2030-01-02T03:04").
			wantValue("packageID", pid).wantValue("userID.q", "ali")
		if n, _ := s.App.DB.Ent.UserPackage.Query().Count(sys()); n != 1 {
			t.Fatalf("Find changed something: %d assignments", n)
		}
		form.Del("find")
		form.Set("userID", p.radio("userID", "Alicia"))
		form.Set("userID.shown", "ali")
		form.Set("action", "save")
		b.post("/admin/user-packages/new", form).wantRedirect("/admin/user-packages/")
		n, err := s.App.DB.Ent.UserPackage.Query().Where(userpackage.UserID(mustUserID(t, s, "Alicia"))).Count(sys())
		if err != nil || n != 1 {
			t.Fatalf("Alicia's assignments: %d, %v", n, err)
		}
	})
	t.Run("a typed full name is chosen without Find", func(t *testing.T) {
		p := b.post("/admin/user-packages/new", url.Values{
			"userID": {""}, "userID.q": {"BOB"}, "userID.shown": {""},
			"packageID": {""}, "packageID.q": {"gol"}, "packageID.shown": {""}, "action": {"save"},
		})
		// "gol" is not a full name: the package asks to choose, the user
		// is chosen.
		p.wantStatus(http.StatusUnprocessableEntity).wantFieldError("packageID", "choose a package among the matches")
		if p.picked("userID") != itoa(mustUserID(t, s, "bob")) || p.value("userID.q") != "bob" {
			t.Fatalf("user chosen %q, box %q", p.picked("userID"), p.value("userID.q"))
		}
		if got := p.matches("packageID"); len(got) != 1 || got[0] != "Gold (30 days)" {
			t.Fatalf("package matches %v", got)
		}
	})
	t.Run("a search edited after choosing is searched again", func(t *testing.T) {
		p := b.post("/admin/user-packages/new", url.Values{
			"userID": {itoa(w.user.ID)}, "userID.q": {"mal"}, "userID.shown": {"alice"},
			"packageID": {pid}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"}, "action": {"save"},
		}).wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("userID", "choose a user among the matches")
		if got := p.matches("userID"); len(got) != 1 || got[0] != "malice" || p.picked("userID") != "" {
			t.Fatalf("matches %v, chosen %q", got, p.picked("userID"))
		}
	})
	t.Run("an emptied search chooses nobody", func(t *testing.T) {
		b.post("/admin/user-packages/new", url.Values{
			"userID": {itoa(w.user.ID)}, "userID.q": {""}, "userID.shown": {"alice"},
			"packageID": {pid}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"}, "action": {"save"},
		}).wantStatus(http.StatusUnprocessableEntity).wantFieldError("userID", "choose a user")
	})
	t.Run("more than 20 matches: refine your search", func(t *testing.T) {
		addUsers(t, s, "crowd", 30)
		p := b.post("/admin/sessions/new", url.Values{
			"userID": {""}, "userID.q": {"crowd"}, "userID.shown": {""}, "label": {"ci"}, "find": {"userID"},
		}).wantStatus(http.StatusOK)
		if got := p.matches("userID"); len(got) != 20 || got[0] != "crowd0000001" {
			t.Fatalf("matches %v", got)
		}
		p.wantText("The first 20 users matching “crowd”", "refine your search").wantValue("label", "ci")
	})
	t.Run("content form: package and feature", func(t *testing.T) {
		p := b.post("/admin/package-contents/new", url.Values{
			"packageID": {pid}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"},
			"name": {"Projects"}, "featureKey": {""}, "featureKey.q": {"proj"}, "featureKey.shown": {""}, "limit": {"5"},
			"find": {"featureKey"},
		}).wantStatus(http.StatusOK)
		p.wantValue("name", "Projects").wantValue("limit", "5").wantValue("packageID", pid)
		form := url.Values{
			"packageID": {pid}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"},
			"name": {"Projects"}, "featureKey": {p.radio("featureKey", "Projects (projects) · limit")},
			"featureKey.q": {"proj"}, "featureKey.shown": {"proj"}, "limit": {"5"},
		}
		b.post("/admin/package-contents/new", form).wantRedirect("/admin/package-contents/")
	})
}

// TestPickerPrefilledBeyondTheFirstThousand: ?userID= chooses any user,
// however far down the list by name.
func TestPickerPrefilledBeyondTheFirstThousand(t *testing.T) {
	s := start(t, nil)
	seed(t, s)
	addUsers(t, s, "zulu", 1500)
	last := mustUserID(t, s, "zulu0001500")
	b := signIn(t, s, "root", adminPW)
	for _, path := range []string{"/admin/user-packages/new", "/admin/sessions/new"} {
		t.Run(path, func(t *testing.T) {
			p := b.get(path + "?userID=" + itoa(last)).wantStatus(http.StatusOK)
			if p.picked("userID") != itoa(last) || p.value("userID.q") != "zulu0001500" {
				t.Fatalf("chosen %q, box %q", p.picked("userID"), p.value("userID.q"))
			}
			p.wantText("Chosen: zulu0001500")
		})
	}
}

// TestPickerMillionUsers: with 1,000,000 users, the last one by name is
// one search away (the endpoint answers it first for its exact name), and
// the package is assigned to it.
func TestPickerMillionUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts a million users")
	}
	s := start(t, nil)
	w := seed(t, s)
	began := time.Now()
	dropUserOrderIndexes(t, s)
	addUsers(t, s, "member", 1_000_000)
	t.Logf("inserted 1,000,000 users in %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	b := signIn(t, s, "root", adminPW)
	const lastName = "member1000000"
	a := pickJSON(t, b, "/admin/pick/users?q="+lastName)
	if len(a.Matches) == 0 || a.Matches[0].Label != lastName {
		t.Fatalf("search for %s answered %v", lastName, labels(a.Matches))
	}
	t.Logf("searched in %v", time.Since(began).Round(time.Millisecond))
	id := a.Matches[0].ID
	b.post("/admin/user-packages/new", url.Values{
		"userID": {id}, "userID.q": {a.Matches[0].Label}, "userID.shown": {a.Matches[0].Label},
		"packageID": {itoa(w.pkg.ID)}, "packageID.q": {"Gold (30 days)"}, "packageID.shown": {"Gold (30 days)"},
		"action": {"save"},
	}).wantRedirect("/admin/user-packages/")
	up, err := s.App.DB.Ent.UserPackage.Query().Where(userpackage.HasUserWith(user.Username(lastName))).WithUser().Only(sys())
	if err != nil || fmt.Sprint(up.UserID) != id {
		t.Fatalf("assignment of %s: %v", lastName, err)
	}
}

// TestPickerListFilter: the user and package filters of the lists are
// pickers too, and work without script.
func TestPickerListFilter(t *testing.T) {
	s := start(t, nil)
	w := seed(t, s)
	s.CreateUser("malice", userPW, user.RoleUSER)
	b := signIn(t, s, "root", adminPW)
	alice := itoa(w.user.ID)

	t.Run("Find shows the matches", func(t *testing.T) {
		p := b.get("/admin/user-packages?userID=&userID.q=ali&userID.shown=&find=userID").wantStatus(http.StatusOK)
		if got := strings.Join(p.matches("userID"), ","); got != "alice,malice" {
			t.Fatalf("matches %s", got)
		}
	})
	t.Run("a full name filters", func(t *testing.T) {
		p := b.get("/admin/user-packages?userID=&userID.q=ALICE&userID.shown=").wantStatus(http.StatusOK)
		p.wantText("1 user package", "Chosen: alice")
		if p.picked("userID") != alice {
			t.Fatalf("filter %q", p.picked("userID"))
		}
		// The list's own links keep the filter by value.
		if l := p.link("Clear"); l != "/admin/user-packages" {
			t.Fatalf("clear link %q", l)
		}
		b.get("/admin/sessions?userID="+alice).wantStatus(http.StatusOK).wantText("Chosen: alice", "1 session")
	})
	t.Run("an emptied box clears the filter", func(t *testing.T) {
		p := b.get("/admin/user-packages?userID=" + alice + "&userID.q=&userID.shown=alice").wantStatus(http.StatusOK)
		if p.picked("userID") != "" {
			t.Fatalf("filter %q", p.picked("userID"))
		}
		p.wantText("Any user.")
	})
	t.Run("package filter of contents", func(t *testing.T) {
		b.get("/admin/package-contents?packageID="+itoa(w.pkg.ID)).wantStatus(http.StatusOK).
			wantText("Chosen: Gold (30 days)", "2 package contents")
	})
}
