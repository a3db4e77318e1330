package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/feature"
	"gatehouse/ent/joblease"
	"gatehouse/ent/migrate"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/internal/access"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/dashboard"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/jobs"
	"gatehouse/internal/testdb"
	"gatehouse/internal/timedevents"
	"gatehouse/internal/viewer"
)

// fixtureInfo is what testdata/release-*/fixture.json says about the
// database a release made (see make-fixture.sh there).
type fixtureInfo struct {
	Admin           string            `json:"admin"`
	AdminPassword   string            `json:"admin_password"`
	UserPassword    string            `json:"user_password"`
	APITokens       map[string]string `json:"api_tokens"`
	DashboardCookie string            `json:"dashboard_cookie"`
	// SigningSecret opens the release's signing keys (from release 2 on).
	SigningSecret string `json:"signing_secret"`
}

// TestUpgradeFromEarlierReleases opens each database an earlier release
// made (testdata/release-*), migrates it with today's code and checks that
// nothing was lost: every row of every table keeps its values, the schema
// is current, the old admin signs in with the old password, old API tokens
// and the old dashboard session still work.
func TestUpgradeFromEarlierReleases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "release-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no release fixtures: %v", err)
	}
	for _, dir := range dirs {
		var info map[string]fixtureInfo
		raw, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir)+"/sqlite", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatehouse.db")
			copyFile(t, filepath.Join(dir, "gatehouse.db"), path)
			raw, err := sql.Open("sqlite3", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, raw, db.SQLite, nil)
			old := oldContentValues(t, raw, db.SQLite, before)
			raw.Close()
			d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			checkUpgrade(t, d, before, old, info["sqlite"])
		})
		t.Run(filepath.Base(dir)+"/postgres", func(t *testing.T) {
			if !testdb.Postgres() {
				t.Skip("set " + testdb.EnvPostgres + " to upgrade the PostgreSQL fixture")
			}
			dump, err := os.ReadFile(filepath.Join(dir, "postgres.sql"))
			if err != nil {
				t.Fatal(err)
			}
			opts := testdb.Options(t)
			raw, err := sql.Open("pgx", opts.DSN)
			if err != nil {
				t.Fatal(err)
			}
			// The dump is plain SQL for psql: leave out its meta-commands.
			var script strings.Builder
			for line := range strings.Lines(string(dump)) {
				if !strings.HasPrefix(line, `\`) {
					script.WriteString(line)
				}
			}
			if _, err := raw.ExecContext(context.Background(), script.String()); err != nil {
				t.Fatalf("load the dump: %v", err)
			}
			raw.Close()
			// A new pool: the dump changed its connection's search_path.
			raw, err = sql.Open("pgx", opts.DSN)
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, raw, db.Postgres, nil)
			old := oldContentValues(t, raw, db.Postgres, before)
			raw.Close()
			d, err := db.Open(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			checkUpgrade(t, d, before, old, info["postgres"])
		})
	}
}

// oldContent is a package content as a release before features kept it:
// its feature an enum value.
type oldContent struct {
	packageID int
	value     string
}

// oldContentValues reads the contents of a database from before features
// (nil for a later one) and leaves package_contents.value out of before:
// the upgrade turns it into feature_id, checked on its own.
func oldContentValues(t *testing.T, raw *sql.DB, driver string, before map[string]tableRows) map[int]oldContent {
	t.Helper()
	pc := before["package_contents"]
	if !slices.Contains(pc.cols, "value") {
		return nil
	}
	rows, err := raw.Query(`SELECT id, package_id, value FROM package_contents`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]oldContent{}
	for rows.Next() {
		var id int
		var c oldContent
		if err := rows.Scan(&id, &c.packageID, &c.value); err != nil {
			t.Fatal(err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	cols := slices.DeleteFunc(slices.Clone(pc.cols), func(c string) bool { return c == "value" })
	maps.Copy(before, snapshot(t, raw, driver, map[string]tableRows{"package_contents": {cols: cols}}))
	return out
}

func checkUpgrade(t *testing.T, d *db.DB, before tables, old map[int]oldContent, info fixtureInfo) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"users", "packages", "package_contents", "user_packages", "user_sessions", "login_throttles", "sessions"} {
		if _, ok := before[name]; !ok {
			t.Errorf("the fixture has no table %s", name)
		}
	}
	for name, rows := range before {
		if len(rows.rows) == 0 {
			t.Errorf("the fixture's table %s is empty: it proves nothing", name)
		}
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("after migrating: %v", err)
	}
	// Every row of every table is still there with the values it had.
	after := snapshot(t, d.SQL, d.Driver, before)
	for name, b := range before {
		a := after[name]
		if !slices.Equal(a.rows, b.rows) {
			t.Errorf("table %s changed in the upgrade:\nbefore %q\nafter  %q", name, b.rows, a.rows)
		}
	}
	// Each order of the users list has its index, the one it replaced is gone.
	idx := indexNames(t, d, "users")
	for _, want := range []string{"user_role_id", "user_username_id", "user_created_at_id", "user_updated_at_id", "user_disabled_id", "user_last_login_at_id"} {
		if !slices.Contains(idx, want) {
			t.Errorf("after the upgrade users has no index %s: %q", want, idx)
		}
	}
	if slices.Contains(idx, "user_role") {
		t.Errorf("the upgrade kept the replaced index user_role: %q", idx)
	}
	// The event log's table is there with its one index, by subject, on
	// PostgreSQL, and none on SQLite, which indexes it by subject in a
	// table of its own (release 2's index by actor is gone).
	evIdx := slices.DeleteFunc(indexNames(t, d, "events"), func(n string) bool { return n == "events_pkey" })
	want := []string{db.EventSubjectIndex}
	if d.Driver == db.SQLite {
		want = nil
	}
	if !slices.Equal(evIdx, want) {
		t.Errorf("after the upgrade events has the indexes %q, want %q", evIdx, want)
	}
	if !before.has("events", "id") {
		if n, err := d.Ent.Event.Query().Count(viewer.System(ctx)); err != nil || n != 0 {
			t.Errorf("events after the upgrade: %d, %v", n, err)
		}
	}
	checkEventIDs(t, d)
	// The new columns are there, at their starting values (a column the
	// release had already is compared with the rest of its table).
	sys := viewer.System(ctx)
	users := d.Ent.User.Query().AllX(sys)
	for _, u := range users {
		if !before.has("users", "session_epoch") && u.SessionEpoch != 0 {
			t.Errorf("user %s starts with session epoch %d, want 0", u.Username, u.SessionEpoch)
		}
		if !before.has("users", "time_zone") && u.TimeZone != "" {
			t.Errorf("user %s starts with time zone %q, want \"\" (UTC)", u.Username, u.TimeZone)
		}
	}
	checkTimeZones(t, d, users)

	// Old packages are no trials and have no grace; old assignments end
	// their grace at their expiry, are not suspended, and every state's
	// SQL form agrees with StateOf about them.
	for _, p := range d.Ent.Pkg.Query().AllX(sys) {
		if before.has("packages", "grace_days") {
			break
		}
		if p.Trial || p.GraceDays != 0 {
			t.Errorf("package %s upgraded to trial %v, grace days %d", p.Name, p.Trial, p.GraceDays)
		}
	}
	ups := d.Ent.UserPackage.Query().Order(userpackage.ByID()).AllX(sys)
	if len(ups) == 0 {
		t.Fatal("the fixture has no assignments")
	}
	var moments []time.Time
	for _, up := range ups {
		if !before.has("user_packages", "grace_ends_at") && (!up.GraceEndsAt.Equal(up.ExpiresAt) || up.SuspendedAt != nil || up.SuspendReason != nil) {
			t.Errorf("assignment %d upgraded to grace end %v (expires %v), suspended %v", up.ID, up.GraceEndsAt, up.ExpiresAt, up.SuspendedAt)
		}
		moments = append(moments, up.StartsAt, up.ExpiresAt, up.ExpiresAt.Add(-time.Second))
	}
	states := map[access.State]bool{}
	for _, now := range moments {
		for _, st := range access.States() {
			var want []int
			for _, up := range ups {
				if access.StateOf(access.FromUserPackage(up), now) == st {
					want = append(want, up.ID)
					states[st] = true
				}
			}
			got := d.Ent.UserPackage.Query().Where(access.StateAt(st, now)).Order(userpackage.ByID()).IDsX(sys)
			if !slices.Equal(got, want) {
				t.Errorf("at %v the upgraded assignments in state %s: SQL %v, StateOf %v", now, st, got, want)
			}
		}
	}
	for _, st := range []access.State{access.StateActive, access.StateNotStarted, access.StateExpired} {
		if !states[st] {
			t.Errorf("no upgraded assignment was ever %s", st)
		}
	}
	checkContentFeatures(t, d, old)
	checkWebhookEndpoints(t, d, before)
	checkWebhookDeliveries(t, d, before)
	checkJobLeases(t, d, before)
	checkTimedEventKeys(t, d, before)

	// Migrating again changes nothing (once the events written since are
	// indexed by subject, as a migration does first).
	if _, err := d.IndexEventSubjects(ctx); err != nil {
		t.Fatal(err)
	}
	once := snapshot(t, d.SQL, d.Driver, nil)
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	for name, rows := range snapshot(t, d.SQL, d.Driver, nil) {
		if !slices.Equal(rows.rows, once[name].rows) {
			t.Errorf("a second migration changed %s", name)
		}
	}

	// Serve it, on the clock of the moment the fixture was made (its
	// sessions would have expired by now).
	last := d.Ent.UserSession.Query().Order(usersession.ByCreatedAt()).AllX(sys)
	if len(last) == 0 {
		t.Fatal("the fixture has no API sessions")
	}
	madeAt := last[len(last)-1].CreatedAt.Add(time.Minute)
	s := apptest.StartOn(t, d, func(c *config.Config) {
		if info.SigningSecret != "" {
			c.Signing.Secret = info.SigningSecret
		}
	}, app.Options{Dashboard: apptest.Dashboard})
	s.App.Auth.SetClock(func() time.Time { return madeAt })
	s.App.Service.SetClock(func() time.Time { return madeAt })

	me := func(tok string) string {
		r := s.MustDo(tok, `{ me { username } }`, nil)
		var v struct{ Me struct{ Username string } }
		r.Decode(t, &v)
		return v.Me.Username
	}
	if got := me(s.Login(info.Admin, info.AdminPassword)); got != info.Admin {
		t.Fatalf("the old admin signed in as %q", got)
	}
	for name, tok := range info.APITokens {
		if got := me(tok); got != name {
			t.Errorf("%s's old API token is now %q's", name, got)
		}
	}
	// The release's signing key, sealed with its secret, still signs.
	if info.SigningSecret != "" {
		s.MustDo(info.APITokens["alice"], `{ entitlementToken { token } }`, nil)
	}

	// Each user's checks of the old values' features answer what the old
	// contents grant; a value no content used is no feature.
	if old != nil {
		for name, tok := range info.APITokens {
			u := d.Ent.User.Query().Where(user.Username(name)).OnlyX(sys)
			for _, value := range []string{"MOE_GATHERER", "CLOUD_SYNC", "AUTO_GATHER"} {
				want := oldAccess(sys, t, d, u.ID, old, value, madeAt)
				r := s.MustDo(tok, `query($f:String!){ checkAccess(feature:$f) { feature granted code expiresAt limit } }`, map[string]any{"f": strings.ToLower(value)})
				var v struct {
					CheckAccess struct {
						Feature   string
						Granted   bool
						Code      string
						ExpiresAt *time.Time
						Limit     *int
					}
				}
				r.Decode(t, &v)
				got := v.CheckAccess
				if got.Feature != strings.ToLower(value) || got.Granted != want.Granted || got.Code != string(want.Code) ||
					(got.ExpiresAt == nil) != (want.ExpiresAt == nil) || (got.ExpiresAt != nil && !got.ExpiresAt.Equal(*want.ExpiresAt)) || got.Limit != nil {
					t.Errorf("%s's checkAccess(%s) after the upgrade: %+v, want %+v", name, strings.ToLower(value), got, want)
				}
			}
		}
	}

	// The old dashboard session (its row pushed past its expiry, which
	// has passed since the fixture was made) opens the dashboard.
	push := `UPDATE sessions SET expiry = julianday('now') + 1`
	if d.Driver == db.Postgres {
		push = `UPDATE sessions SET expiry = now() + interval '1 day'`
	}
	if _, err := d.SQL.ExecContext(ctx, push); err != nil {
		t.Fatal(err)
	}
	dash := func() int {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/admin/users", nil)
		req.AddCookie(&http.Cookie{Name: dashboard.CookieName, Value: info.DashboardCookie})
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := dash(); code != http.StatusOK {
		t.Fatalf("the old dashboard session: status %d, want 200", code)
	}
	// It ends like a new one when the admin's sessions end.
	s.MustDo(s.Login(info.Admin, info.AdminPassword), `mutation{logoutEverywhere}`, nil)
	if code := dash(); code != http.StatusSeeOther {
		t.Fatalf("the old dashboard session after logoutEverywhere: status %d, want a redirect to sign in", code)
	}

	// The old failure counts still count: mallory had 3 of 5
	// (and so had this address, which these guesses lock).
	guess := func() string {
		return s.Do("", `mutation{login(input:{username:"mallory",password:"still-not-it"}){token}}`, nil).Code()
	}
	for i := range 2 {
		if c := guess(); c != "UNAUTHENTICATED" {
			t.Fatalf("mallory's guess %d after the upgrade: %s", 4+i, c)
		}
	}
	if c := guess(); c != "RATE_LIMITED" {
		t.Fatalf("mallory's sixth guess: %s, want RATE_LIMITED (the old failures were lost)", c)
	}

}

// tables is a snapshot of a database: its tables by name.
type tables map[string]tableRows

// has reports whether the snapshot's table has the column.
func (ts tables) has(table, column string) bool {
	return slices.Contains(ts[table].cols, column)
}

// checkTimeZones: an upgraded user takes a time zone, which reads back,
// and the schema refuses a name that is no IANA zone.
func checkTimeZones(t *testing.T, d *db.DB, users []*ent.User) {
	t.Helper()
	sys := viewer.System(context.Background())
	u := users[0]
	if err := d.Ent.User.UpdateOneID(u.ID).SetTimeZone("Europe/Berlin").Exec(sys); err != nil {
		t.Fatalf("set the time zone of upgraded user %s: %v", u.Username, err)
	}
	if got := d.Ent.User.GetX(sys, u.ID).TimeZone; got != "Europe/Berlin" {
		t.Errorf("the time zone reads back as %q", got)
	}
	if err := d.Ent.User.UpdateOneID(u.ID).SetTimeZone("Mars/Olympus_Mons").Exec(sys); err == nil {
		t.Error("an unknown time zone was stored")
	}
	d.Ent.User.UpdateOneID(u.ID).SetTimeZone(u.TimeZone).ExecX(sys)
}

// tableRows is a table's columns and its rows, each row its values
// printed and joined, sorted.
type tableRows struct {
	cols []string
	rows []string
}

// snapshot reads every table (only the columns of only, when given).
func snapshot(t *testing.T, sdb *sql.DB, driver string, only map[string]tableRows) map[string]tableRows {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if driver == db.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`
	}
	names := testdb.Strings(t, sdb, q)
	out := map[string]tableRows{}
	for _, name := range names {
		var cols []string
		if only != nil {
			o, ok := only[name]
			if !ok {
				continue
			}
			cols = o.cols
		} else if driver == db.Postgres {
			cols = testdb.Strings(t, sdb, `SELECT column_name FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, name)
		} else {
			cols = testdb.Strings(t, sdb, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, name)
		}
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = `"` + c + `"`
		}
		rows, err := sdb.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM "`+name+`"`)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		tr := tableRows{cols: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				if b, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", b)
				}
				parts[i] = fmt.Sprint(v)
			}
			tr.rows = append(tr.rows, strings.Join(parts, " | "))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(tr.rows)
		out[name] = tr
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkContentFeatures checks what the upgrade made of the old contents:
// each has the SWITCH feature of its value, without a limit; there is one
// feature per value in use; a package still holds each feature once.
func checkContentFeatures(t *testing.T, d *db.DB, old map[int]oldContent) {
	t.Helper()
	if old == nil {
		return
	}
	sys := viewer.System(context.Background())
	contents := d.Ent.PackageContent.Query().WithFeature().AllX(sys)
	if len(contents) != len(old) {
		t.Fatalf("%d package contents after the upgrade, %d before", len(contents), len(old))
	}
	values := map[string]bool{}
	for _, c := range contents {
		o, ok := old[c.ID]
		if !ok {
			t.Errorf("package content %d is new", c.ID)
			continue
		}
		values[o.value] = true
		f := c.Edges.Feature
		if f == nil || f.Key != strings.ToLower(o.value) || f.Kind != feature.KindSWITCH || c.Limit != nil || c.PackageID != o.packageID {
			t.Errorf("package content %d (%s) upgraded to feature %+v, limit %v, package %d", c.ID, o.value, f, c.Limit, c.PackageID)
		}
	}
	features := d.Ent.Feature.Query().AllX(sys)
	if len(features) != len(values) {
		t.Errorf("%d features after the upgrade, want one per value in use (%d)", len(features), len(values))
	}
	for _, f := range features {
		if f.Name == "" || f.Description != "" || !values[strings.ToUpper(f.Key)] {
			t.Errorf("feature %+v after the upgrade", f)
		}
	}
	if f := d.Ent.Feature.Query().Where(feature.Key("moe_gatherer")).OnlyX(sys); f.Name != "Moe gatherer" {
		t.Errorf("MOE_GATHERER became a feature named %q, want \"Moe gatherer\"", f.Name)
	}
	// The old unique (package, value) holds as (package, feature), in the
	// database itself.
	c := contents[0]
	err := d.Ent.PackageContent.Create().SetPackageID(c.PackageID).SetFeatureID(c.FeatureID).SetName("again").Exec(sys)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unique") {
		t.Errorf("a second content of the same feature in package %d: %v, want a unique violation", c.PackageID, err)
	}
	if n := d.Ent.PackageContent.Query().Where(packagecontent.PackageID(c.PackageID), packagecontent.FeatureID(c.FeatureID)).CountX(sys); n != 1 {
		t.Errorf("package %d holds its feature %d times", c.PackageID, n)
	}
}

// oldAccess is what the old release answered for a check of value by the
// user at now: its decision over the assignments of packages whose old
// contents held value.
func oldAccess(ctx context.Context, t *testing.T, d *db.DB, userID int, old map[int]oldContent, value string, now time.Time) access.Check {
	t.Helper()
	holds := map[int]bool{}
	for _, c := range old {
		if c.value == value {
			holds[c.packageID] = true
		}
	}
	ups := d.Ent.UserPackage.Query().Where(userpackage.UserID(userID)).AllX(ctx)
	var with []access.Assignment
	for _, up := range ups {
		if holds[up.PackageID] {
			with = append(with, access.FromUserPackage(up))
		}
	}
	if len(holds) == 0 {
		return access.Check{Code: access.CodeUnknownFeature}
	}
	return access.Decide(len(ups) > 0, with, now)
}

// indexNames lists the names of the indexes of a table.
func indexNames(t *testing.T, d *db.DB, table string) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`
	if d.Driver == db.Postgres {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1`
	}
	return testdb.Strings(t, d.SQL, q, table)
}

// checkWebhookEndpoints: the upgrade made the webhook endpoints' table,
// empty, and an endpoint saved in it reads back with its secret and gets
// an id in its type's range (node(id:) finds types by range).
func checkWebhookEndpoints(t *testing.T, d *db.DB, before tables) {
	t.Helper()
	sys := viewer.System(context.Background())
	after := snapshot(t, d.SQL, d.Driver, nil)
	if _, ok := after["webhook_endpoints"]; !ok {
		t.Fatal("after the upgrade there is no table webhook_endpoints")
	}
	if n := d.Ent.WebhookEndpoint.Query().CountX(sys); n != len(before["webhook_endpoints"].rows) {
		t.Fatalf("after the upgrade there are %d webhook endpoints, %d before", n, len(before["webhook_endpoints"].rows))
	}
	ep := d.Ent.WebhookEndpoint.Create().SetURL("https://hooks.example.com/in").SetSecret("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0").SetEventTypes([]string{"user.*"}).SaveX(sys)
	got := d.Ent.WebhookEndpoint.GetX(sys, ep.ID)
	if got.Secret != ep.Secret || !slices.Equal(got.EventTypes, []string{"user.*"}) || !got.Enabled {
		t.Fatalf("the endpoint read back as %+v", got)
	}
	if typ, err := d.Ent.Noder(sys, ep.ID); err != nil {
		t.Fatalf("node(id:) of the endpoint: %v", err)
	} else if _, ok := typ.(*ent.WebhookEndpoint); !ok {
		t.Fatalf("node(id:) of the endpoint is a %T", typ)
	}
	d.Ent.WebhookEndpoint.DeleteOneID(ep.ID).ExecX(sys)
}

// checkWebhookDeliveries: the upgrade made the webhook outbox's table,
// empty, with its indexes; a delivery saved in it reads back, gets an id
// in its type's range, and goes when its endpoint is deleted.
func checkWebhookDeliveries(t *testing.T, d *db.DB, before tables) {
	t.Helper()
	sys := viewer.System(context.Background())
	idx := indexNames(t, d, "webhook_deliveries")
	for _, want := range []string{"webhookdelivery_status_next_attempt_at", "webhookdelivery_endpoint_id_created_at"} {
		if !slices.Contains(idx, want) {
			t.Errorf("after the upgrade webhook_deliveries has no index %s: %q", want, idx)
		}
	}
	had := len(before["webhook_deliveries"].rows)
	if n := d.Ent.WebhookDelivery.Query().CountX(sys); n != had {
		t.Fatalf("after the upgrade there are %d webhook deliveries, %d before", n, had)
	}
	ep := d.Ent.WebhookEndpoint.Create().SetURL("https://hooks.example.com/in").SetSecret("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0").SaveX(sys)
	now := time.Now().UTC().Truncate(time.Microsecond)
	x := d.Ent.WebhookDelivery.Create().SetEndpointID(ep.ID).SetEventType("user.created").
		SetBody([]byte(`{"type":"user.created"}`)).SetWebhookID("msg_upgrade").SetNextAttemptAt(now).SaveX(sys)
	got := d.Ent.WebhookDelivery.GetX(sys, x.ID)
	if string(got.Body) != `{"type":"user.created"}` || got.Status != webhookdelivery.StatusPENDING || !got.NextAttemptAt.Equal(now) || got.EndpointID != ep.ID {
		t.Fatalf("the delivery read back as %+v", got)
	}
	if start := *migrate.WebhookDeliveriesTable.Annotation.IncrementStart; x.ID>>32 != start>>32 {
		t.Errorf("delivery id %d is not in its type's range (from %d)", x.ID, start)
	}
	d.Ent.WebhookEndpoint.DeleteOneID(ep.ID).ExecX(sys)
	if n := d.Ent.WebhookDelivery.Query().CountX(sys); n != had {
		t.Fatalf("deleting the endpoint left %d deliveries (%d before it)", n, had)
	}
}

// checkJobLeases checks the table of background jobs' leases, new in the
// upgrade: it exists, empty, with its columns and the unique name, and a
// job runs under a lease in it and releases it.
func checkJobLeases(t *testing.T, d *db.DB, before map[string]tableRows) {
	t.Helper()
	if _, ok := before["job_leases"]; ok {
		return // the release had it already: the snapshots compare it
	}
	ctx := context.Background()
	if _, err := d.SQL.ExecContext(ctx, `SELECT id, name, holder, expires_at, acquired_at FROM job_leases WHERE 1 = 0`); err != nil {
		t.Fatalf("after the upgrade, job_leases: %v", err)
	}
	if !slices.Contains(indexNames(t, d, "job_leases"), "job_leases_name_key") && !slices.ContainsFunc(indexNames(t, d, "job_leases"), func(n string) bool {
		return strings.HasPrefix(n, "sqlite_autoindex_job_leases")
	}) {
		t.Errorf("after the upgrade job_leases has no unique index on name: %q", indexNames(t, d, "job_leases"))
	}
	sys := viewer.System(ctx)
	if n := d.Ent.JobLease.Query().CountX(sys); n != 0 {
		t.Fatalf("the upgrade made %d job leases", n)
	}
	r := jobs.New(d, jobs.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ran := make(chan struct{}, 1)
	r.Register("upgrade.check", time.Hour, func(context.Context) error {
		ran <- struct{}{}
		return nil
	})
	r.Start(ctx)
	select {
	case <-ran:
	case <-time.After(time.Minute):
		t.Fatal("a job never ran on the upgraded database")
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := r.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	l := d.Ent.JobLease.Query().Where(joblease.Name("upgrade.check")).OnlyX(sys)
	if l.Holder != r.Holder() || l.ExpiresAt.After(time.Now()) {
		t.Errorf("the job's lease after it stopped: %+v", l)
	}
	if _, err := d.SQL.ExecContext(ctx, `DELETE FROM job_leases`); err != nil {
		t.Fatal(err)
	}
}

// checkEventIDs checks that the event log numbers on after the upgrade: on
// SQLite its table lost AUTOINCREMENT (which cost every change a page)
// and kept its id floor, and on both databases a new event's id comes
// after every earlier one, in the events' id range.
func checkEventIDs(t *testing.T, d *db.DB) {
	t.Helper()
	ctx := context.Background()
	var last sql.NullInt64
	if err := d.SQL.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if d.Driver == db.SQLite {
		var ddl string
		if err := d.SQL.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToUpper(ddl), "AUTOINCREMENT") {
			t.Errorf("after the upgrade the events table is still AUTOINCREMENT: %s", ddl)
		}
		var floor int64
		if err := d.SQL.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'events'`).Scan(&floor); err != nil {
			t.Fatalf("after the upgrade the events' id floor is gone: %v", err)
		}
		if last.Valid && floor < last.Int64 {
			t.Errorf("after the upgrade the events' id floor is %d, below the newest id %d", floor, last.Int64)
		}
		// The migration indexed every event by subject.
		var through, indexed, about int64
		if err := d.SQL.QueryRowContext(ctx, `SELECT (SELECT through FROM event_subjects_state), (SELECT count(*) FROM event_subjects), `+
			`(SELECT count(*) FROM events WHERE subject_id IS NOT NULL)`).Scan(&through, &indexed, &about); err != nil {
			t.Fatal(err)
		}
		if through != last.Int64 || indexed != about {
			t.Errorf("after the upgrade the index by subject holds %d entries through event %d; the log has %d events about an object, the newest %d",
				indexed, through, about, last.Int64)
		}
	}
	// Each object's events, as its history finds them, are all the log
	// holds about it: the upgrade indexed the release's events.
	sys := viewer.System(ctx)
	var subjects []int
	if err := d.Ent.Event.Query().Where(event.SubjectIDNotNil()).Unique(true).Select(event.FieldSubjectID).Scan(sys, &subjects); err != nil {
		t.Fatal(err)
	}
	for _, id := range subjects {
		want := testdb.Strings(t, d.SQL, `SELECT id FROM events WHERE subject_id = $1 ORDER BY id`, id)
		got, err := d.Ent.Event.Query().Where(events.OfSubject(id)).Order(event.ByID()).IDs(sys)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "["+strings.Join(want, " ")+"]" {
			t.Errorf("after the upgrade the events of object %d are %v, want %v", id, got, want)
		}
	}
	start := int64(*migrate.EventsTable.Annotation.IncrementStart)
	if err := events.New(nil).RecordAlone(viewer.System(ctx), d.Ent, events.Entry{Type: "user.updated", SubjectType: events.SubjectUser}); err != nil {
		t.Fatal(err)
	}
	var next int64
	if err := d.SQL.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next <= last.Int64 || next < start || next >= start+1<<32 {
		t.Errorf("the first event after the upgrade has id %d; the newest before had %d, the events' range starts at %d", next, last.Int64, start)
	}
}

// checkTimedEventKeys checks the keys of the time-based events, new in the
// upgrade: the table exists, empty; the time-based events of the upgraded
// assignments are written once each (a second run, by a new job, writes
// none); its primary key refuses a second key. It removes what it wrote.
func checkTimedEventKeys(t *testing.T, d *db.DB, before map[string]tableRows) {
	t.Helper()
	if _, ok := before[db.TimedEventKeysTable]; ok {
		return // the release had it already: the snapshots compare it
	}
	ctx := context.Background()
	sys := viewer.System(ctx)
	var n int
	if err := d.SQL.QueryRowContext(ctx, `SELECT count(*) FROM timed_event_keys`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after the upgrade, timed_event_keys: %d rows, %v", n, err)
	}
	ups := d.Ent.UserPackage.Query().AllX(sys)
	first, last := ups[0].StartsAt, ups[0].GraceEndsAt
	for _, up := range ups {
		if up.StartsAt.Before(first) {
			first = up.StartsAt
		}
		if up.GraceEndsAt.After(last) {
			last = up.GraceEndsAt
		}
	}
	now := last.Add(time.Second)
	o := timedevents.Options{Lead: time.Hour, Lookback: now.Sub(first) + time.Hour, Now: func() time.Time { return now }}
	written, err := timedevents.New(d, events.New(nil), o).Run(ctx)
	if err != nil || written != 3*len(ups) {
		t.Fatalf("the time-based events of %d upgraded assignments: %d written (%v), want started, expired and grace ended of each", len(ups), written, err)
	}
	if again, err := timedevents.New(d, events.New(nil), o).Run(ctx); err != nil || again != 0 {
		t.Errorf("a second run wrote %d more (%v)", again, err)
	}
	var typ string
	var id int
	var moment time.Time
	if err := d.SQL.QueryRowContext(ctx, `SELECT type, user_package_id, moment FROM timed_event_keys LIMIT 1`).Scan(&typ, &id, &moment); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO timed_event_keys (type, user_package_id, moment, event_id) VALUES ($1, $2, $3, 0)`
	if d.Driver != db.Postgres {
		insert = strings.ReplaceAll(insert, "$", "?")
	}
	if _, err := d.SQL.ExecContext(ctx, insert, typ, id, moment); err == nil {
		t.Error("timed_event_keys took a key twice")
	}
	for _, q := range []string{`DELETE FROM timed_event_keys`, `DELETE FROM events`} {
		if _, err := d.SQL.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// A database without the time-based events' keys is not current (a server
// told not to migrate refuses it), and migrating makes them.
func TestCheckSchemaWantsTheTimedEventKeys(t *testing.T) {
	d := testdb.Open(t)
	ctx := context.Background()
	if _, err := d.SQL.ExecContext(ctx, "DROP TABLE "+db.TimedEventKeysTable); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("a database without timed_event_keys is reported as current")
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("after migrating again: %v", err)
	}
}
