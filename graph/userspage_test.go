package graph_test

import (
	"strconv"
	"testing"

	"gatehouse/ent"
	"gatehouse/ent/user"
)

// usersPage is the answer to usersPageQuery.
type usersPage struct {
	Users struct {
		TotalCount int
		PageInfo   struct {
			EndCursor   string
			HasNextPage bool
		}
		Edges []struct {
			Cursor string
			Node   struct {
				ID       string
				Username string
				Packages []struct {
					ID      string
					Active  bool
					Package struct {
						ID       string
						Name     string
						Contents []struct {
							ID      string
							Limit   *int
							Feature struct{ Key string }
						}
					}
				}
				Sessions []struct {
					ID     string
					Active bool
				}
			}
		}
	}
}

// TestDeepPageOfUsersCostsTheStatementsOfTheFirst reads the admin list page
// (users with packages, contents and sessions) at the start of 2,000 users
// and three quarters in, through a cursor, in each order the list offers:
// both pages cost the same SQL statements, and each holds the users the
// order puts there with everything under them.
func TestDeepPageOfUsersCostsTheStatementsOfTheFirst(t *testing.T) {
	const users, deep = 2000, 1500
	w := newListWorld(t, users, [2]int{1, 1})
	ctx := sys()
	total := users + 1 // and root
	// Everything the page shows, by user id, read with ent.
	want := map[int]*ent.User{}
	for _, u := range w.s.App.DB.Ent.User.Query().
		WithPackages(func(q *ent.UserPackageQuery) {
			q.WithPackage(func(q *ent.PkgQuery) {
				q.WithContents(func(q *ent.PackageContentQuery) { q.WithFeature() })
			})
		}).
		WithSessions().AllX(ctx) {
		want[u.ID] = u
	}
	read := func(t *testing.T, vars map[string]any) (usersPage, int64) {
		t.Helper()
		w.s.Do(w.token, usersPageQuery, vars) // the session's touch, if due, happens here
		before := w.stmts.Load()
		r := w.s.Do(w.token, usersPageQuery, vars)
		n := w.stmts.Load() - before
		if len(r.Errors) > 0 {
			t.Fatalf("page %v: %+v", vars, r.Errors)
		}
		var p usersPage
		r.Decode(t, &p)
		return p, n
	}
	check := func(t *testing.T, p usersPage, order map[string]any, from int) {
		t.Helper()
		if p.Users.TotalCount != total {
			t.Errorf("totalCount %d, want %d", p.Users.TotalCount, total)
		}
		if len(p.Users.Edges) != 100 || !p.Users.PageInfo.HasNextPage {
			t.Fatalf("%d users on the page, hasNextPage %v; want 100 and more", len(p.Users.Edges), p.Users.PageInfo.HasNextPage)
		}
		ordered := w.orderedUsers(order).Offset(from).Limit(100).AllX(ctx)
		for i, e := range p.Users.Edges {
			n := e.Node
			if n.ID != strconv.Itoa(ordered[i].ID) {
				t.Fatalf("user %d of the page is %s, want %d", from+i, n.ID, ordered[i].ID)
			}
			if c := cursorOf(t, order, ordered[i]); e.Cursor != c {
				t.Fatalf("user %d's cursor %q, want %q", from+i, e.Cursor, c)
			}
			u := want[ordered[i].ID]
			if n.Username != u.Username || len(n.Packages) != len(u.Edges.Packages) || len(n.Sessions) != len(u.Edges.Sessions) {
				t.Fatalf("user %s: %+v, want %s with %d packages, %d sessions", n.ID, n, u.Username, len(u.Edges.Packages), len(u.Edges.Sessions))
			}
			for j, up := range n.Packages {
				wup := u.Edges.Packages[j]
				pkg := wup.Edges.Package
				if up.ID != strconv.Itoa(wup.ID) || up.Package.Name != pkg.Name || len(up.Package.Contents) != len(pkg.Edges.Contents) {
					t.Fatalf("user %s's assignment %+v, want %d of %s", n.ID, up, wup.ID, pkg.Name)
				}
				for k, c := range up.Package.Contents {
					wc := pkg.Edges.Contents[k]
					if c.ID != strconv.Itoa(wc.ID) || c.Feature.Key != wc.Edges.Feature.Key || (c.Limit == nil) != (wc.Limit == nil) {
						t.Fatalf("content %+v, want %d granting %s", c, wc.ID, wc.Edges.Feature.Key)
					}
				}
			}
			for j, s := range n.Sessions {
				if s.ID != strconv.Itoa(u.Edges.Sessions[j].ID) {
					t.Fatalf("user %s's session %s, want %d", n.ID, s.ID, u.Edges.Sessions[j].ID)
				}
			}
		}
	}
	for _, order := range userOrders() {
		t.Run(orderName(order), func(t *testing.T) {
			first, n1 := read(t, map[string]any{"n": 100, "order": order})
			check(t, first, order, 0)
			after := w.cursorAt(t, order, deep-1)
			page, n2 := read(t, map[string]any{"n": 100, "order": order, "after": after})
			check(t, page, order, deep)
			if n1 != n2 {
				t.Errorf("the first page cost %d statements, the page after %d users %d", n1, deep, n2)
			}
			if n1 > 9 {
				t.Errorf("a page cost %d statements", n1)
			}
			t.Logf("%d statements for the first page and for the page after %d users", n1, deep)
		})
	}
	t.Run("users may not list users", func(t *testing.T) {
		w.s.CreateUser("alice", alicePW, user.RoleUSER)
		r := w.s.Do(w.s.Login("alice", alicePW), usersPageQuery, map[string]any{"n": 100})
		wantCode(t, r, "FORBIDDEN")
		if string(r.Data) != "null" && string(r.Data) != "" {
			t.Fatalf("a user's list answered %s", r.Data)
		}
	})
}
