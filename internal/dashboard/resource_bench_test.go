package dashboard_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
)

// benchUsers is how many users BenchmarkUserList1M's database holds.
const benchUsers = 1_000_000

// BenchmarkUserList1M measures the users list on a SQLite file database
// of a million users: the first page of 100, a page from the middle (the
// cursor of the 500,000th user by username), a search, and the CSV export
// of every user (its peak heap is reported: it must not grow with the
// rows). Filling the database takes a few seconds; it runs only when
// -bench asks for it.
func BenchmarkUserList1M(b *testing.B) {
	ctx := context.Background()
	d, err := db.Open(ctx, db.Options{Driver: db.SQLite, DSN: filepath.Join(b.TempDir(), "gatehouse.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := d.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	insertUsers(b, d, "bench", benchUsers)
	if _, err := d.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d users in %v", benchUsers, time.Since(start).Round(time.Millisecond))
	s := apptest.StartOn(b, d, nil, app.Options{Dashboard: apptest.Dashboard})
	s.CreateUser("root", adminPW, user.RoleADMIN)
	c := benchClient(b, s.URL)

	// The 500,000th user by username, and its cursor (id~value).
	mid := "bench0500000"
	u, err := s.App.DB.Ent.User.Query().Where(user.Username(mid)).Only(sys())
	if err != nil {
		b.Fatal(err)
	}
	deep := "/admin/users?size=100&after=" + url.QueryEscape(strconv.Itoa(u.ID)+"~"+u.UsernameFold)

	// The page queries as the list runs them (the cursor's column bounded
	// from the cursor, see seek.where), without the columns ent selects.
	explain(b, d, "first page", `SELECT id, username_fold FROM users ORDER BY username_fold, id LIMIT 101`)
	explain(b, d, "deep page", `SELECT id, username_fold FROM users WHERE username_fold >= ? AND (username_fold > ? OR (username_fold = ? AND id > ?)) ORDER BY username_fold, id LIMIT 101`,
		u.UsernameFold, u.UsernameFold, u.UsernameFold, u.ID)
	explain(b, d, "deep page by last sign-in (a nullable column, NULLs last)", `SELECT id FROM users WHERE (last_login_at >= ? AND (last_login_at > ? OR (last_login_at = ? AND id > ?))) OR last_login_at IS NULL ORDER BY last_login_at NULLS LAST, id LIMIT 101`,
		u.CreatedAt, u.CreatedAt, u.CreatedAt, u.ID)
	explain(b, d, "count", `SELECT id FROM users LIMIT 10001`)

	page := func(b *testing.B, path, want string) {
		b.ReportAllocs()
		for b.Loop() {
			body := c.get(b, path)
			if !strings.Contains(body, want) {
				b.Fatalf("%s does not show %q", path, want)
			}
		}
	}
	b.Run("first page", func(b *testing.B) { page(b, "/admin/users?size=100", "bench0000100") })
	b.Run("deep page", func(b *testing.B) { page(b, deep, "bench0500100") })
	b.Run("search", func(b *testing.B) { page(b, "/admin/users?size=100&q=bench0999999", "1 user") })
	b.Run("export", func(b *testing.B) {
		b.ReportAllocs()
		var peak atomic.Uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			var ms runtime.MemStats
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		})
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for b.Loop() {
			if n := c.lines(b, "/admin/users.csv"); n != benchUsers+2 {
				b.Fatalf("export: %d lines", n)
			}
		}
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-before-MB")
		b.ReportMetric(float64(peak.Load())/(1<<20), "heap-peak-MB")
	})
}

// explain logs SQLite's plan of a query.
func explain(b *testing.B, d *db.DB, name, q string, args ...any) {
	b.Helper()
	rows, err := d.SQL.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, detail)
	}
	b.Logf("plan of the %s: %s", name, strings.Join(plan, "; "))
}

// benchClient is a signed-in admin's HTTP client.
type benchHTTP struct {
	base string
	c    *http.Client
}

func benchClient(b *testing.B, base string) *benchHTTP {
	b.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &benchHTTP{base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/login",
		strings.NewReader(url.Values{"username": {"root"}, "password": {adminPW}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := h.c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", res.StatusCode)
	}
	return h
}

func (h *benchHTTP) open(b *testing.B, path string) *http.Response {
	b.Helper()
	res, err := h.c.Get(h.base + path)
	if err != nil {
		b.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		b.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	return res
}

func (h *benchHTTP) get(b *testing.B, path string) string {
	b.Helper()
	res := h.open(b, path)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatal(err)
	}
	return string(body)
}

// lines counts the lines of an answer as it streams in.
func (h *benchHTTP) lines(b *testing.B, path string) int {
	b.Helper()
	res := h.open(b, path)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	n := 0
	for sc.Scan() {
		n++
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
