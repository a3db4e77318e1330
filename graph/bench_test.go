package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

// post sends one GraphQL request and fails on a non-200 answer.
func post(b *testing.B, url, token string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("status %d", res.StatusCode)
	}
}

// BenchmarkCheckAccess measures the call client apps make most: one
// checkAccess over HTTP with a bearer token.
func BenchmarkCheckAccess(b *testing.B) {
	s := apptest.Start(b, nil, app.Options{})
	seedFeatures(b, s.App.Service)
	u := s.CreateUser("alice", "alice-password", user.RoleUSER)
	p, err := s.App.Service.CreatePackage(sys(), service.CreatePackageInput{Name: "Pro", Days: 30,
		Contents: []*service.PackageContentInput{{Name: "g", FeatureKey: "moe_gatherer"}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.App.Service.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: p.ID}); err != nil {
		b.Fatal(err)
	}
	tok := s.Login("alice", "alice-password")
	body, _ := json.Marshal(map[string]any{"query": `{checkAccess(feature: "moe_gatherer"){granted code expiresAt}}`})
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		post(b, s.URL, tok, body)
	}
}

// BenchmarkUsersPage measures an admin reading a page of 100 users with
// their packages, contents and sessions (the admin list page), over the
// data set of the comparison run: 1,000 users, 20 packages of 3 contents,
// 2,000 assignments and 3,000 sessions, in a SQLite file (or PostgreSQL).
// Besides time and allocations it reports the SQL statements and the
// process CPU time per page (the in-process client's share included).
func BenchmarkUsersPage(b *testing.B) {
	w := newListWorld(b, 1000, [2]int{2, 3})
	body, _ := json.Marshal(map[string]any{"query": usersPageQuery, "variables": map[string]any{"n": 100}})
	post(b, w.s.URL, w.token, body) // the session's first touch
	b.ReportAllocs()
	before, cpu0 := w.stmts.Load(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		post(b, w.s.URL, w.token, body)
	}
	b.StopTimer()
	b.ReportMetric(float64(w.stmts.Load()-before)/float64(b.N), "stmts/op")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkUsersPageConcurrent sends the admin list page from 8 clients
// at once and reports the peak resident memory while doing so (VmHWM,
// reset before the run) and the process CPU time per page.
func BenchmarkUsersPageConcurrent(b *testing.B) {
	w := newListWorld(b, 1000, [2]int{2, 3})
	body, _ := json.Marshal(map[string]any{"query": usersPageQuery, "variables": map[string]any{"n": 100}})
	post(b, w.s.URL, w.token, body)
	b.ReportAllocs()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS(b)
	cpu0 := processCPU()
	b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, w.s.URL, w.token, body)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
}

// BenchmarkUsersPageDeep reads a page of 100 users deep inside a large
// list (GATEHOUSE_BENCH_USERS users, 20,000 unless set; the figure
// is 1000000), through the cursor of the page before it, for each order
// an admin page offers, and reports the statements per page.
func BenchmarkUsersPageDeep(b *testing.B) {
	n := 20000
	if v := os.Getenv("GATEHOUSE_BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("GATEHOUSE_BENCH_USERS=%q: want a number of at least 1000", v)
		}
	}
	w := newListWorld(b, n, [2]int{1, 1})
	for _, order := range userOrders() {
		b.Run(orderName(order), func(b *testing.B) {
			after := w.cursorAt(b, order, n*3/4)
			body, _ := json.Marshal(map[string]any{"query": usersPageQuery, "variables": map[string]any{"n": 100, "after": after, "order": order}})
			post(b, w.s.URL, w.token, body)
			b.ReportAllocs()
			before, cpu0 := w.stmts.Load(), processCPU()
			b.ResetTimer()
			for b.Loop() {
				post(b, w.s.URL, w.token, body)
			}
			b.StopTimer()
			b.ReportMetric(float64(w.stmts.Load()-before)/float64(b.N), "stmts/op")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak resident size of the process to
// its current size (Linux: writing 5 to /proc/self/clear_refs).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// peakRSS is the peak resident size of the process in bytes (VmHWM).
func peakRSS(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Skip("no VmHWM in /proc/self/status")
	return 0
}
