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
	pb, err := startPocketBase(ctx, root, t.TempDir(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pb.stop()
	pbS := server{name: "pocketbase", url: pb.child.url}

	if err := sameW2Page(gh.url, data.AdminToken, pbS.url, pb.token, false); err != nil {
		t.Fatal(err)
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
	err = sameW2Page(gh.url, data.AdminToken, pbS.url, pb.token, false)
	if err == nil || !strings.Contains(err.Error(), "user 1 of the page") || !strings.Contains(err.Error(), `"renamed"`) {
		t.Fatalf("a user renamed in PocketBase only: got %v", err)
	}
	rename(second.Username)
	if err := sameW2Page(gh.url, data.AdminToken, pbS.url, pb.token, false); err != nil {
		t.Fatalf("renamed back: %v", err)
	}

	// W5 writes (with so few users, to users of the page too, in
	// PocketBase only: the comparisons come first).
	for _, a := range []attackSpec{
		{workload: "W2", srv: pbS, tr: pbW2Targets(pbS, pb.token), conns: 2, duration: 300 * time.Millisecond},
		{workload: "W5", srv: pbS, tr: pbW5Targets(pbS, data, pb.token), conns: 2, duration: 300 * time.Millisecond},
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
