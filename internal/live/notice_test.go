package live_test

import (
	"encoding/json"
	"testing"

	"gatehouse/internal/live"
)

// TestSplit: a notice of many ids goes out as several payloads, each
// under the limit, that together carry every id once, each with the
// types.
func TestSplit(t *testing.T) {
	t.Parallel()
	n := &live.Notice{Types: []string{"package_content.updated"}}
	for i := range 3000 {
		n.Users = append(n.Users, 1<<40+i)
		n.Packages = append(n.Packages, i)
	}
	payloads := n.Split(live.MaxPayload)
	if len(payloads) < 2 {
		t.Fatalf("%d payloads", len(payloads))
	}
	users, pkgs := map[int]int{}, map[int]int{}
	for _, p := range payloads {
		if len(p) > live.MaxPayload {
			t.Fatalf("payload of %d bytes", len(p))
		}
		var got live.Notice
		if err := json.Unmarshal(p, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Types) != 1 {
			t.Fatalf("types %v", got.Types)
		}
		for _, u := range got.Users {
			users[u]++
		}
		for _, p := range got.Packages {
			pkgs[p]++
		}
	}
	if len(users) != 3000 || len(pkgs) != 3000 {
		t.Fatalf("%d users, %d packages", len(users), len(pkgs))
	}
	for _, m := range []map[int]int{users, pkgs} {
		for id, c := range m {
			if c != 1 {
				t.Fatalf("id %d told %d times", id, c)
			}
		}
	}
}
