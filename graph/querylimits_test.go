package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"gatehouse/graph"
	"gatehouse/internal/apptest"
)

// wantRefused fails unless r's first error has code and a message holding
// part, and no data came back.
func wantRefused(t *testing.T, r *apptest.Response, code, part string) {
	t.Helper()
	wantCode(t, r, code)
	if !strings.Contains(r.Errors[0].Message, part) {
		t.Fatalf("message %q does not say %q", r.Errors[0].Message, part)
	}
	if d := strings.TrimSpace(string(r.Data)); d != "" && d != "null" {
		t.Fatalf("refused query answered data %s", d)
	}
}

// TestQueryCostIsBoundedByItsText sends queries whose fragments, aliases
// or repeated fields would cost far more than their size; each is refused
// by the limits on expanded fields, fragment spreads and introspection.
func TestQueryCostIsBoundedByItsText(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	for _, a := range attacks() {
		t.Run(a.name, func(t *testing.T) {
			r := w.Do(admin, a.query, nil)
			wantRefused(t, r, a.code, a.message)
			if len(r.Errors) > graph.MaxValidationErrors {
				t.Fatalf("%d errors in one answer", len(r.Errors))
			}
		})
	}
	t.Run("refused anonymously too", func(t *testing.T) {
		wantRefused(t, w.Do("", fanOut(26), nil), tooMany, fieldsMsg)
	})
	t.Run("an unused fragment counts", func(t *testing.T) {
		q := "{me{id}} fragment X on User{...F0}" + strings.TrimPrefix(fanOut(30), "{me{...F0}}")
		wantRefused(t, w.Do(admin, q, nil), tooMany, fieldsMsg)
	})
	t.Run("a fragment cycle is a validation error", func(t *testing.T) {
		r := w.Do(admin, `{me{...A}} fragment A on User{id ...B} fragment B on User{id ...A}`, nil)
		wantCode(t, r, "GRAPHQL_VALIDATION_FAILED")
	})
	t.Run("legitimate queries pass", func(t *testing.T) {
		mustData(t, w.Do(admin, introspectionQuery, nil))
		mustData(t, w.Do(admin, `{users(first:100){totalCount edges{node{id username packages{id expiresAt active package{id name contents{id name limit feature{key}}}} sessions{id active}}}}}`, nil))
		mustData(t, w.Do(admin, fanOut(6), nil))
		mustData(t, w.Do(admin, "{me{"+repeat(250, func(int) string { return "id " })+"}}", nil))
	})
}

// TestOneIntrospectionFieldPerRequest: __schema and __type answer the
// whole schema, so a request holds at most one of them.
func TestOneIntrospectionFieldPerRequest(t *testing.T) {
	w := newWorld(t, nil)
	for _, tc := range []struct{ name, query string }{
		{"two aliased __schema", `{a:__schema{queryType{name}} b:__schema{queryType{name}}}`},
		{"__schema and __type", `{__schema{queryType{name}} __type(name:"User"){name}}`},
		{"two __type", `{a:__type(name:"User"){name} b:__type(name:"Package"){name}}`},
		{"through fragments", `{...A ...B} fragment A on Query{a:__schema{queryType{name}}} fragment B on Query{... on Query{b:__type(name:"User"){name}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, w.Do("", tc.query, nil), "BAD_USER_INPUT", introspectionMsg)
		})
	}
	t.Run("one is answered", func(t *testing.T) {
		mustData(t, w.Do("", `{__schema{queryType{name}}}`, nil))
		mustData(t, w.Do("", `{__type(name:"User"){name} __typename}`, nil))
		// The same field twice under one name is answered once.
		mustData(t, w.Do("", `{...A ...A __schema{queryType{name}}} fragment A on Query{__schema{queryType{name}}}`, nil))
	})
}

// TestOnePasswordCheckPerRequest: a request holds at most one field that
// checks a password, so aliases cannot multiply bcrypt work or sessions.
func TestOnePasswordCheckPerRequest(t *testing.T) {
	w := newWorld(t, nil)
	alice := w.tokenFor("alice", alicePW)
	counts := func() (sessions, throttles int) {
		return w.App.DB.Ent.UserSession.Query().CountX(sys()), w.App.DB.Ent.LoginThrottle.Query().CountX(sys())
	}
	login := func(alias, pw string) string {
		return fmt.Sprintf(`%s: login(input:{username:"alice",password:%q}){token} `, alias, pw)
	}
	for _, tc := range []struct {
		name, token, query string
	}{
		{"two aliased logins", "", "mutation{" + login("a", alicePW) + login("b", alicePW) + "}"},
		{"twenty aliased logins", "", "mutation{" + repeat(20, func(i int) string { return login(fmt.Sprintf("a%d", i), "guess") }) + "}"},
		{"logins through fragments", "", "mutation{...L ... on Mutation{" + login("b", "guess") + "}} fragment L on Mutation{" + login("a", alicePW) + "}"},
		{"login and changePassword", alice, "mutation{" + login("a", alicePW) + ` b: changePassword(currentPassword:"guess", newPassword:"another-password")}`},
		{"two changePassword", alice, `mutation{a: changePassword(currentPassword:"guess", newPassword:"another-password") b: changePassword(currentPassword:"guess2", newPassword:"another-password")}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s0, f0 := counts()
			wantRefused(t, w.Do(tc.token, tc.query, nil), "BAD_USER_INPUT", "at most one field that checks a password")
			if s1, f1 := counts(); s1 != s0 || f1 != f0 {
				t.Fatalf("refused request changed sessions %d→%d, throttle rows %d→%d", s0, s1, f0, f1)
			}
		})
	}
	t.Run("one login signs in", func(t *testing.T) {
		r := w.Do("", `mutation{...L} fragment L on Mutation{`+login("a", alicePW)+`}`, nil)
		mustData(t, r)
		// The same login spread twice under one name runs once.
		s0, _ := counts()
		mustData(t, w.Do("", `mutation{...L ...L} fragment L on Mutation{`+login("a", alicePW)+`}`, nil))
		if s1, _ := counts(); s1 != s0+1 {
			t.Fatalf("one login made %d sessions", s1-s0)
		}
	})
	t.Run("other mutations may be many", func(t *testing.T) {
		mustData(t, w.Do(alice, `mutation{a:refreshSession{id} b:refreshSession{id}}`, nil))
	})
}

// filterAt sends a users query as the admin with where as a variable.
func filterAt(w *world, admin string, where any) *apptest.Response {
	return w.Do(admin, `query($w:UserWhereInput){users(where:$w){totalCount}}`, map[string]any{"w": where})
}

// TestFilterSizeIsLimited: an oversized where filter is the client's
// mistake (BAD_USER_INPUT on field where), refused before any SQL runs, on
// every connection field.
func TestFilterSizeIsLimited(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	nested := func(n int) any {
		var m any = map[string]any{"idGT": 0}
		for i := 0; i < n; i++ {
			m = map[string]any{"not": m}
		}
		return m
	}
	list := func(key string, n int, item func(i int) any) any {
		l := make([]any, n)
		for i := range l {
			l[i] = item(i)
		}
		return map[string]any{key: l}
	}
	tooBig := []struct {
		name  string
		where any
		part  string
	}{
		{"nested 1000 deep", nested(1000), "levels deep"},
		{"nested 11 deep", nested(11), "levels deep"},
		{"or of 1000", list("or", 1000, func(int) any { return map[string]any{"username": "x"} }), "items"},
		{"idIn of 70000", list("idIn", 70000, func(i int) any { return i }), "items"},
		{"usernameIn of 101", list("usernameIn", 101, func(i int) any { return fmt.Sprint("u", i) }), "items"},
		{"many conditions", list("or", 100, func(i int) any {
			return map[string]any{"usernameIn": []string{"a", "b", "c"}, "idGT": i}
		}), "conditions"},
	}
	for _, tc := range tooBig {
		t.Run(tc.name, func(t *testing.T) {
			r := filterAt(w, admin, tc.where)
			wantRefused(t, r, "BAD_USER_INPUT", tc.part)
			if f := field(r); f != "where" {
				t.Fatalf("field %q, want where", f)
			}
		})
	}
	t.Run("refused before any SQL", func(t *testing.T) {
		s, n := countingServer(t)
		s.CreateUser("root", adminPW, "ADMIN")
		tok := s.Login("root", adminPW)
		cost := func(query string, vars map[string]any) int64 {
			before := n.Load()
			s.Do(tok, query, vars)
			return n.Load() - before
		}
		cost(`{__typename}`, nil) // warm: the session's last-seen time
		none := cost(`{__typename}`, nil)
		if c := cost(`query($w:UserWhereInput){users(where:$w){totalCount}}`, map[string]any{"w": nested(50)}); c != none {
			t.Fatalf("an oversized filter cost %d statements, a request that reads nothing %d", c, none)
		}
	})
	t.Run("inline filter", func(t *testing.T) {
		q := `{users(where:{or:[` + repeat(101, func(i int) string { return fmt.Sprintf(`{id:%d}`, i) }) + `]}){totalCount}}`
		wantRefused(t, w.Do(admin, q, nil), "BAD_USER_INPUT", "items")
	})
	t.Run("every connection", func(t *testing.T) {
		for _, c := range []string{"users:UserWhereInput", "packages:PackageWhereInput", "packageContents:PackageContentWhereInput",
			"userPackages:UserPackageWhereInput", "userSessions:UserSessionWhereInput"} {
			name, typ, _ := strings.Cut(c, ":")
			q := fmt.Sprintf(`query($w:%s){%s(where:$w){totalCount}}`, typ, name)
			r := w.Do(admin, q, map[string]any{"w": nested(50)})
			wantRefused(t, r, "BAD_USER_INPUT", "levels deep")
		}
	})
	t.Run("filters within the limits work", func(t *testing.T) {
		for _, where := range []any{
			nested(9),
			list("or", 100, func(i int) any { return map[string]any{"username": fmt.Sprint("u", i)} }),
			list("idIn", 100, func(i int) any { return i }),
			map[string]any{"and": []any{map[string]any{"hasPackagesWith": []any{map[string]any{"hasPackageWith": []any{map[string]any{"name": "Pro"}}}}}}},
		} {
			r := filterAt(w, admin, where)
			mustData(t, r)
		}
		var d struct{ Users struct{ TotalCount int } }
		filterAt(w, admin, map[string]any{"hasPackagesWith": []any{map[string]any{"hasPackageWith": []any{map[string]any{"name": "Pro"}}}}}).Decode(t, &d)
		if d.Users.TotalCount != 1 {
			t.Fatalf("holders of Pro: %d, want 1", d.Users.TotalCount)
		}
	})
}
