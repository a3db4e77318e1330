package graph_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/ent/user"
	acc "gatehouse/internal/access"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
)

// meQuery is the W1 selection: everything a client reads about its user.
const meQuery = `{me{username role packages{expiresAt state package{name contents{name limit feature{key}}}} sessions{id active expiresAt} activeFeatures{key limit expiresAt}}}`

// seedMe gives username three packages of three contents each (a LIMIT
// feature among them) and three sessions, and returns one of its tokens.
func seedMe(t testing.TB, s *apptest.Server, username, pw string) string {
	t.Helper()
	svc := s.App.Service
	u := s.CreateUser(username, pw, user.RoleUSER)
	limit := func(n int) *int { return &n }
	contents := [][]*service.PackageContentInput{
		{{Name: "g", FeatureKey: "moe_gatherer"}, {Name: "s", FeatureKey: "cloud_sync"}, {Name: "p", FeatureKey: "projects", Limit: limit(5)}},
		{{Name: "a", FeatureKey: "auto_gather"}, {Name: "ps", FeatureKey: "priority_support"}, {Name: "p", FeatureKey: "projects", Limit: limit(10)}},
		{{Name: "g", FeatureKey: "moe_gatherer"}, {Name: "a", FeatureKey: "auto_gather"}, {Name: "s", FeatureKey: "cloud_sync"}},
	}
	for i, c := range contents {
		p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: username + "-P" + strconv.Itoa(i), Days: 10 * (i + 1), Contents: c})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID}); err != nil {
			t.Fatal(err)
		}
	}
	var tok string
	for range 3 {
		tok = s.Login(username, pw)
	}
	return tok
}

// BenchmarkMe measures W1: a user reading their packages with contents,
// sessions and active features over HTTP with a bearer token.
func BenchmarkMe(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	tok := seedMe(b, s, "alice", alicePW)
	body, _ := json.Marshal(map[string]any{"query": meQuery})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		post(b, s.URL, tok, body)
	}
}

// BenchmarkFloorMe is the floor W1 is compared with: a hand-written
// net/http + database/sql handler answering the same selection over the
// same database in four statements.
func BenchmarkFloorMe(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	tok := seedMe(b, s, "alice", alicePW)
	f := &floor{db: s.App.DB.SQL, pg: s.App.DB.Driver == "postgres"}
	ts := httptest.NewServer(http.HandlerFunc(f.me))
	b.Cleanup(ts.Close)
	body, _ := json.Marshal(map[string]any{"query": meQuery})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		postTo(b, ts.URL, tok, body)
	}
}

// BenchmarkFloorCheckAccess is the floor of BenchmarkCheckAccess.
func BenchmarkFloorCheckAccess(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	tok := seedMe(b, s, "alice", alicePW)
	f := &floor{db: s.App.DB.SQL, pg: s.App.DB.Driver == "postgres"}
	ts := httptest.NewServer(http.HandlerFunc(f.checkAccess))
	b.Cleanup(ts.Close)
	body, _ := json.Marshal(map[string]any{"query": `{checkAccess(feature: "moe_gatherer"){granted code expiresAt}}`})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		postTo(b, ts.URL, tok, body)
	}
}

// reportCPU reports the CPU time the process (server and client) spent
// per operation, from now until the returned function is called: a
// figure less disturbed than ns/op by other work on the machine.
func reportCPU(b *testing.B) func() {
	start, g0 := cpuTime(), goroutinesCreated()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(goroutinesCreated()-g0)/float64(b.N), "goroutines/op")
	}
}

// goroutinesCreated counts the goroutines the process has started: each
// costs a request a wake-up of an idle thread more often than not.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFloorNothing is the cost of the benchmarks' HTTP round trip
// itself (client and server, no database): subtract it from the others'
// cpu-µs/op for the server's work alone.
func BenchmarkFloorNothing(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Query string }
		_ = json.NewDecoder(r.Body).Decode(&p)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"__typename":"Query"}}`))
	}))
	b.Cleanup(ts.Close)
	body, _ := json.Marshal(map[string]any{"query": meQuery})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		postTo(b, ts.URL, "gate_x", body)
	}
}

// postTo is post to a handler mounted at the root.
func postTo(b *testing.B, url, token string, body []byte) {
	post(b, strings.TrimSuffix(url, "/"), token, body)
}

// floor is a minimal hand-written server over Gatehouse's tables.
type floor struct {
	db *sql.DB
	pg bool
}

func (f *floor) q(query string) string {
	if !f.pg {
		return query
	}
	n := 0
	var sb strings.Builder
	for _, r := range query {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// viewer reads the session of the request's token joined with its user.
func (f *floor) viewer(r *http.Request) (uid int, username, role string, ok bool) {
	var (
		sid                int
		exp                time.Time
		revoked            sql.NullTime
		disabled           bool
		_, tok, _          = strings.Cut(r.Header.Get("Authorization"), " ")
		ctx                = r.Context()
		q                  = `SELECT s.id, s.expires_at, s.revoked_at, u.id, u.username, u.role, u.disabled FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`
		err                = f.db.QueryRowContext(ctx, f.q(q), auth.HashToken(tok)).Scan(&sid, &exp, &revoked, &uid, &username, &role, &disabled)
		now                = time.Now()
		active, notRevoked = now.Before(exp), !revoked.Valid
	)
	if err != nil || !active || !notRevoked || disabled {
		return 0, "", "", false
	}
	return uid, username, role, true
}

type floorUP struct {
	up        acc.Assignment
	ExpiresAt time.Time `json:"expiresAt"`
	State     string    `json:"state"`
	Package   struct {
		id       int
		Name     string           `json:"name"`
		Contents []*floorContents `json:"contents"`
	} `json:"package"`
}

type floorContents struct {
	Name    string `json:"name"`
	Limit   *int   `json:"limit"`
	Feature struct {
		Key string `json:"key"`
	} `json:"feature"`
}

func (f *floor) me(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var p struct{ Query string }
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	uid, username, role, ok := f.viewer(r)
	if !ok {
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	now := time.Now()
	rows, err := f.db.QueryContext(ctx, f.q(`SELECT p.id, p.name, up.starts_at, up.expires_at, up.grace_ends_at, up.suspended_at FROM user_packages up JOIN packages p ON p.id = up.package_id WHERE up.user_id = ? ORDER BY up.id`), uid)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	ups := []*floorUP{}
	byPkg := map[int][]*floorUP{}
	for rows.Next() {
		var (
			up        floorUP
			grace     sql.NullTime
			suspended sql.NullTime
		)
		if err := rows.Scan(&up.Package.id, &up.Package.Name, &up.up.StartsAt, &up.ExpiresAt, &grace, &suspended); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		up.up.ExpiresAt = up.ExpiresAt
		up.up.GraceEndsAt = up.ExpiresAt
		if grace.Valid {
			up.up.GraceEndsAt = grace.Time
		}
		up.up.Suspended = suspended.Valid
		up.State = string(acc.StateOf(up.up, now))
		up.Package.Contents = []*floorContents{}
		ups = append(ups, &up)
		byPkg[up.Package.id] = append(byPkg[up.Package.id], &up)
	}
	rows.Close()
	type feat struct {
		Key       string     `json:"key"`
		Limit     *int       `json:"limit"`
		ExpiresAt *time.Time `json:"expiresAt"`
		with      []acc.Assignment
	}
	feats := map[string]*feat{}
	rows, err = f.db.QueryContext(ctx, f.q(`SELECT pc.package_id, pc.name, pc."limit", f.key FROM package_contents pc JOIN features f ON f.id = pc.feature_id WHERE pc.package_id IN (SELECT package_id FROM user_packages WHERE user_id = ?) ORDER BY pc.id`), uid)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	for rows.Next() {
		var (
			pid   int
			c     floorContents
			limit sql.NullInt64
		)
		if err := rows.Scan(&pid, &c.Name, &limit, &c.Feature.Key); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if limit.Valid {
			n := int(limit.Int64)
			c.Limit = &n
		}
		ft := feats[c.Feature.Key]
		if ft == nil {
			ft = &feat{Key: c.Feature.Key}
			feats[c.Feature.Key] = ft
		}
		for _, up := range byPkg[pid] {
			up.Package.Contents = append(up.Package.Contents, &c)
			a := up.up
			a.Limit = c.Limit
			ft.with = append(ft.with, a)
		}
	}
	rows.Close()
	type sess struct {
		ID        string    `json:"id"`
		Active    bool      `json:"active"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	sessions := []sess{}
	rows, err = f.db.QueryContext(ctx, f.q(`SELECT id, expires_at, revoked_at FROM user_sessions WHERE user_id = ? ORDER BY id`), uid)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	for rows.Next() {
		var (
			id      int
			s       sess
			revoked sql.NullTime
		)
		if err := rows.Scan(&id, &s.ExpiresAt, &revoked); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.ID = strconv.Itoa(id)
		s.Active = !revoked.Valid && now.Before(s.ExpiresAt)
		sessions = append(sessions, s)
	}
	rows.Close()
	active := []*feat{}
	for _, ft := range feats {
		c := acc.Decide(true, ft.with, now)
		if !c.Granted {
			continue
		}
		ft.Limit = c.Limit
		ft.ExpiresAt = c.ExpiresAt
		if c.Code == acc.CodeInGrace {
			ft.ExpiresAt = c.GraceUntil
		}
		active = append(active, ft)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"me": map[string]any{
		"username": username, "role": role, "packages": ups, "sessions": sessions, "activeFeatures": active,
	}}})
}

func (f *floor) checkAccess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var p struct{ Query string }
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	uid, _, _, ok := f.viewer(r)
	if !ok {
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	const key = "moe_gatherer" // the floor does not parse GraphQL
	var fid int
	if err := f.db.QueryRowContext(ctx, f.q(`SELECT id FROM features WHERE key = ?`), key).Scan(&fid); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	rows, err := f.db.QueryContext(ctx, f.q(`SELECT up.starts_at, up.expires_at, up.grace_ends_at, up.suspended_at, pc.id, pc."limit" FROM user_packages up LEFT JOIN package_contents pc ON pc.package_id = up.package_id AND pc.feature_id = ? WHERE up.user_id = ?`), fid, uid)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer rows.Close()
	var (
		holds bool
		with  []acc.Assignment
	)
	for rows.Next() {
		var (
			a                acc.Assignment
			grace, suspended sql.NullTime
			cid, limit       sql.NullInt64
		)
		if err := rows.Scan(&a.StartsAt, &a.ExpiresAt, &grace, &suspended, &cid, &limit); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		holds = true
		if !cid.Valid {
			continue
		}
		a.GraceEndsAt = a.ExpiresAt
		if grace.Valid {
			a.GraceEndsAt = grace.Time
		}
		a.Suspended = suspended.Valid
		if limit.Valid {
			n := int(limit.Int64)
			a.Limit = &n
		}
		with = append(with, a)
	}
	c := acc.Decide(holds, with, time.Now())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"checkAccess": map[string]any{
		"granted": c.Granted, "code": c.Code, "expiresAt": c.ExpiresAt,
	}}})
}
