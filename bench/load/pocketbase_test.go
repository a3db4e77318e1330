package main

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envPocketBase runs TestPocketBaseAnswersAsGatehouse, which builds
// bench/pocketbase (a download of PocketBase's modules, and of a Go
// toolchain when the local one is older than its go.mod, on first use).
const envPocketBase = "GATEHOUSE_BENCH_POCKETBASE"

// TestPocketBaseAnswersAsGatehouse builds and seeds the comparator from a
// small data set, checks that its W2 page holds the same users,
// assignments, packages, contents, features and sessions as Gatehouse's
// (and that the check notices a user renamed), and runs a little of W2
// and W5 against it without an error.
func TestPocketBaseAnswersAsGatehouse(t *testing.T) {
	if os.Getenv(envPocketBase) != "1" {
		t.Skip("set " + envPocketBase + "=1 to build PocketBase and compare it with Gatehouse")
	}
	ctx := context.Background()
	driver, dsn, data := benchDB(t)
	gh, err := startInProcess(ctx, driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.close()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := startPocketBase(ctx, root, t.TempDir(), driver, dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pb.stop()
	pbS := server{name: "pocketbase", url: pb.child.url}

	// The page, with every field and with W2's fields only.
	if err := sameW2Page(gh.url, data.AdminToken, pb, false); err != nil {
		t.Fatal(err)
	}
	withFields := *pb
	withFields.w2Path = pbW2Path(true)
	if err := sameW2Page(gh.url, data.AdminToken, &withFields, false); err != nil {
		t.Fatalf("with fields: %v", err)
	}

	// A difference is told apart: rename the page's second user in
	// PocketBase only, then back.
	g, err := post(gh.url, data.AdminToken, queryW2, map[string]any{"after": nil})
	if err != nil {
		t.Fatal(err)
	}
	page, err := gatehouseW2Page(g)
	if err != nil || len(page.Users) < 2 {
		t.Fatalf("Gatehouse's page: %v (%d users)", err, len(page.Users))
	}
	second := page.Users[1]
	rename := func(name string) {
		t.Helper()
		id, err := strconv.Atoi(second.ID)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPatch, pbS.url+"/api/collections/app_users/records/"+pbID('u', id),
			strings.NewReader(`{"username":"`+name+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = pbHeader(pb.token)
		if _, err := do(req); err != nil {
			t.Fatal(err)
		}
	}
	rename("renamed")
	err = sameW2Page(gh.url, data.AdminToken, pb, false)
	if err == nil || !strings.Contains(err.Error(), "user 1 of the page") || !strings.Contains(err.Error(), `"renamed"`) {
		t.Fatalf("a user renamed in PocketBase only: got %v", err)
	}
	rename(second.Username)
	if err := sameW2Page(gh.url, data.AdminToken, pb, false); err != nil {
		t.Fatalf("renamed back: %v", err)
	}

	// W5 writes (with so few users, to users of the page too, in
	// PocketBase only: the comparisons come first).
	for _, a := range []attackSpec{
		{workload: "W2", srv: pbS, tr: pbW2Targets(pbS, pb), conns: 2, duration: 300 * time.Millisecond},
		{workload: "W5", srv: pbS, tr: pbW5Targets(pbS, data, pb), conns: 2, duration: 300 * time.Millisecond},
	} {
		got := run(ctx, a)
		if got.Requests == 0 || got.Errors > 0 {
			t.Errorf("%s against PocketBase: %d requests, %d errors (%s)", a.workload, got.Requests, got.Errors, got.FirstError)
		}
	}
}

// TestPocketBaseW2PageReduces checks, without PocketBase, how its answer
// to W2 is read: ids back to Gatehouse's, `active` computed as Gatehouse
// computes it, a limit of 0 as none.
func TestPocketBaseW2PageReduces(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	answer := `{"page":1,"perPage":100,"totalItems":7,"totalPages":1,"items":[{"id":"u00000000000042","username":"ann","expand":{
		"user_packages_via_user":[
			{"id":"a00000000000001","starts":"2026-11-01 00:00:00.000Z","expires":"2026-12-01 00:00:00.000Z","grace_ends":"2026-12-03 00:00:00.000Z","suspended":"",
			 "expand":{"package":{"id":"p00000000000007","name":"Gold","expand":{"package_contents_via_package":[
				{"id":"c00000000000003","limit":0,"expand":{"feature":{"key":"moe_gatherer"}}},
				{"id":"c00000000000004","limit":20,"expand":{"feature":{"key":"slots"}}}]}}}},
			{"id":"a00000000000002","starts":"2026-10-01 00:00:00.000Z","expires":"2026-11-26 00:00:00.000Z","grace_ends":"2026-11-28 00:00:00.000Z","suspended":"",
			 "expand":{"package":{"id":"p00000000000008","name":"Grace"}}},
			{"id":"a00000000000003","starts":"2026-11-01 00:00:00.000Z","expires":"2026-12-01 00:00:00.000Z","grace_ends":"","suspended":"2026-11-20 00:00:00.000Z",
			 "expand":{"package":{"id":"p00000000000009","name":"Held"}}},
			{"id":"a00000000000004","starts":"2026-12-01 00:00:00.000Z","expires":"2026-12-31 00:00:00.000Z","grace_ends":"","suspended":"",
			 "expand":{"package":{"id":"p00000000000010","name":"Later"}}}],
		"user_sessions_via_user":[
			{"id":"s00000000000005","expires":"2026-11-28 00:00:00.000Z","max_expires":"2026-12-20 00:00:00.000Z","revoked":""},
			{"id":"s00000000000006","expires":"2026-11-28 00:00:00.000Z","max_expires":"2026-12-20 00:00:00.000Z","revoked":"2026-11-27 00:00:00.000Z"},
			{"id":"s00000000000007","expires":"2026-11-26 00:00:00.000Z","max_expires":"2026-12-20 00:00:00.000Z","revoked":""}]}}]}`
	p, err := pocketBaseW2Page([]byte(answer), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 7 || len(p.Users) != 1 {
		t.Fatalf("total %d, %d users", p.Total, len(p.Users))
	}
	u := p.Users[0]
	if u.ID != "42" || u.Username != "ann" || len(u.Packages) != 4 || len(u.Sessions) != 3 {
		t.Fatalf("user %+v", u)
	}
	for i, want := range []struct {
		id, pkg string
		active  bool
	}{{"1", "7", true}, {"2", "8", true}, {"3", "9", false}, {"4", "10", false}} {
		a := u.Packages[i]
		if a.ID != want.id || a.Package.ID != want.pkg || a.Active != want.active {
			t.Errorf("assignment %d: id %s package %s active %v, want %s %s %v", i, a.ID, a.Package.ID, a.Active, want.id, want.pkg, want.active)
		}
	}
	if a := u.Packages[0]; a.Expires != time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix() || len(a.Package.Contents) != 2 ||
		a.Package.Contents[0].Limit != nil || a.Package.Contents[0].Feature != "moe_gatherer" ||
		a.Package.Contents[1].Limit == nil || *a.Package.Contents[1].Limit != 20 || a.Package.Contents[1].ID != "4" {
		t.Errorf("first assignment %+v", a)
	}
	for i, want := range []bool{true, false, false} {
		if u.Sessions[i].Active != want {
			t.Errorf("session %s: active %v, want %v", u.Sessions[i].ID, u.Sessions[i].Active, want)
		}
	}
}

// TestTargetsAgainstPocketBase checks the targets a run reports with and
// without PocketBase: ratios per round against it, else PocketBase's
// writes/s from another machine for information only.
func TestTargetsAgainstPocketBase(t *testing.T) {
	samples := []Sample{
		{Workload: "W2", System: "gatehouse", Round: 1, CPUPerReq: 10_000},
		{Workload: "W2", System: "pocketbase", Round: 1, CPUPerReq: 100_000},
		{Workload: "W2", System: "gatehouse", Round: 2, CPUPerReq: 30_000},
		{Workload: "W2", System: "pocketbase", Round: 2, CPUPerReq: 100_000},
		{Workload: "W5", System: "gatehouse", Round: 1, RPS: 900},
		{Workload: "W5", System: "pocketbase", Round: 1, RPS: 1000},
		{Workload: "W5", System: "gatehouse", Round: 2, RPS: 1300},
		{Workload: "W5", System: "pocketbase", Round: 2, RPS: 1000},
	}
	target := func(r *Results, prefix string) (Target, bool) {
		for _, x := range r.Targets {
			if strings.HasPrefix(x.Name, prefix) {
				return x, true
			}
		}
		return Target{}, false
	}
	r := &Results{DB: "sqlite", Samples: samples}
	r.summarize()
	w2, ok := target(r, "W2 CPU per page, Gatehouse ÷ PocketBase")
	if !ok || w2.Value != 0.2 || !w2.Pass {
		t.Errorf("W2 against PocketBase: %+v (found %v), want 0.2, met", w2, ok)
	}
	w5, ok := target(r, "W5 writes/s, Gatehouse ÷ PocketBase")
	if !ok || w5.Value != 1.1 || !w5.Pass {
		t.Errorf("W5 against PocketBase: %+v (found %v), want 1.1, met", w5, ok)
	}
	if x, ok := target(r, "W5 writes/s (PocketBase's 2,340"); ok {
		t.Errorf("the figure from another machine is shown beside the run's own: %+v", x)
	}

	var alone []Sample
	for _, s := range samples {
		if s.System == "gatehouse" {
			alone = append(alone, s)
		}
	}
	r = &Results{DB: "sqlite", Samples: alone}
	r.summarize()
	if x, ok := target(r, "W2 CPU per page, Gatehouse ÷ PocketBase"); ok {
		t.Errorf("a ratio without PocketBase: %+v", x)
	}
	if x, ok := target(r, "W5 writes/s (PocketBase's 2,340"); !ok || !x.Info || x.Value != 1100 {
		t.Errorf("without PocketBase, its 2,340 writes/s: %+v (found %v), want for information, value 1100", x, ok)
	}
}
