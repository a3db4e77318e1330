package graph_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

const usersByLoginQuery = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor, $order: UserOrder) {
  users(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { username lastLoginAt } }
  }
}`

type usersByLoginPage struct {
	Users struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Node struct {
				Username    string
				LastLoginAt *time.Time
			}
		}
	}
}

// TestUsersByLastLoginPageThroughNeverSignedIn: the users list ordered by
// LAST_LOGIN_AT, both ways, read forwards and backwards in pages of every
// size, shows every user once and in the order of one page holding them
// all, across the users who never signed in (no login time) and users who
// share one.
func TestUsersByLastLoginPageThroughNeverSignedIn(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("root", adminPW, user.RoleADMIN)
	at := func(minute int) *time.Time {
		v := time.Date(2026, 3, 4, 5, minute, 0, 0, time.UTC)
		return &v
	}
	// Created in this order, so ids and login times disagree.
	for i, login := range []*time.Time{nil, at(30), nil, at(10), at(10), nil, at(50), nil, at(0), at(10)} {
		u := s.CreateUser(fmt.Sprintf("user%d", i), "password-"+fmt.Sprint(i), user.RoleUSER)
		if login != nil {
			s.App.DB.Ent.User.UpdateOneID(u.ID).SetLastLoginAt(*login).ExecX(sys())
		}
	}
	token := s.Login("root", adminPW) // root signs in now: the latest login
	const total = 11

	read := func(t *testing.T, vars map[string]any) usersByLoginPage {
		t.Helper()
		var p usersByLoginPage
		s.MustDo(token, usersByLoginQuery, vars).Decode(t, &p)
		if p.Users.TotalCount != total {
			t.Fatalf("%v: totalCount %d, want %d", vars, p.Users.TotalCount, total)
		}
		return p
	}
	names := func(p usersByLoginPage) []string {
		var out []string
		for _, e := range p.Users.Edges {
			out = append(out, e.Node.Username)
		}
		return out
	}

	for _, dir := range []string{"ASC", "DESC"} {
		t.Run(dir, func(t *testing.T) {
			order := map[string]any{"field": "LAST_LOGIN_AT", "direction": dir}
			whole := read(t, map[string]any{"first": 100, "order": order})
			want := names(whole)
			if len(want) != total {
				t.Fatalf("one page holds %d users, want %d", len(want), total)
			}
			// The order is by login time (the database places the users who
			// never signed in together, first or last), then by id.
			var times []time.Time
			for _, e := range whole.Users.Edges {
				if e.Node.LastLoginAt != nil {
					times = append(times, *e.Node.LastLoginAt)
				}
			}
			sorted := slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			if dir == "DESC" {
				sorted = slices.IsSortedFunc(times, func(a, b time.Time) int { return b.Compare(a) })
			}
			if !sorted || len(times) != 7 {
				t.Fatalf("one page is not in login order: %v", want)
			}
			for size := 1; size <= 4; size++ {
				t.Run(fmt.Sprintf("forwards by %d", size), func(t *testing.T) {
					var got []string
					var after *string
					for range total + 1 {
						p := read(t, map[string]any{"first": size, "after": after, "order": order})
						if p.Users.PageInfo.HasPreviousPage != (after != nil) {
							t.Fatalf("after %v: hasPreviousPage %v", after, p.Users.PageInfo.HasPreviousPage)
						}
						got = append(got, names(p)...)
						if !p.Users.PageInfo.HasNextPage {
							break
						}
						after = p.Users.PageInfo.EndCursor
					}
					if !slices.Equal(got, want) {
						t.Fatalf("pages forwards show\n%v\nwant\n%v", got, want)
					}
				})
				t.Run(fmt.Sprintf("backwards by %d", size), func(t *testing.T) {
					var got []string
					var before *string
					for range total + 1 {
						p := read(t, map[string]any{"last": size, "before": before, "order": order})
						if p.Users.PageInfo.HasNextPage != (before != nil) {
							t.Fatalf("before %v: hasNextPage %v", before, p.Users.PageInfo.HasNextPage)
						}
						got = append(names(p), got...)
						if !p.Users.PageInfo.HasPreviousPage {
							break
						}
						before = p.Users.PageInfo.StartCursor
					}
					if !slices.Equal(got, want) {
						t.Fatalf("pages backwards show\n%v\nwant\n%v", got, want)
					}
				})
			}
		})
	}
}
