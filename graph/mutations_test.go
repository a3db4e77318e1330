package graph_test

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/usersession"
)

func TestUserMutations(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	create := `mutation($in:CreateUserInput!){createUser(input:$in){id username role disabled}}`

	t.Run("create returns the new user with its id", func(t *testing.T) {
		r := w.Do(admin, create, map[string]any{"in": map[string]any{"username": "Zed", "password": "zed-password", "role": "ADMIN"}})
		mustData(t, r)
		var d struct {
			CreateUser struct{ ID, Username, Role string }
		}
		r.Decode(t, &d)
		if d.CreateUser.ID == "" || d.CreateUser.Username != "Zed" || d.CreateUser.Role != "ADMIN" {
			t.Fatalf("got %+v", d.CreateUser)
		}
	})

	bad := []struct {
		name, username, password, code, field string
	}{
		{"username taken, other case", "ALICE", "long-enough", "CONFLICT", "username"},
		{"username with spaces", "al ice", "long-enough", "BAD_USER_INPUT", "username"},
		{"username too short", "ab", "long-enough", "BAD_USER_INPUT", "username"},
		{"username too long", strings.Repeat("a", 65), "long-enough", "BAD_USER_INPUT", "username"},
		{"password too short", "newbie", "seven77", "BAD_USER_INPUT", "password"},
		{"password over 72 bytes", "newbie", strings.Repeat("p", 73), "BAD_USER_INPUT", "password"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Do(admin, create, map[string]any{"in": map[string]any{"username": tt.username, "password": tt.password}})
			wantCode(t, r, tt.code)
			if field(r) != tt.field {
				t.Fatalf("field %q, want %q", field(r), tt.field)
			}
			for _, leak := range []string{"constraint", "UNIQUE", "sql", "ent:", "username_fold"} {
				if strings.Contains(r.Errors[0].Message, leak) {
					t.Fatalf("error text leaks %q: %s", leak, r.Errors[0].Message)
				}
			}
		})
	}

	t.Run("bad role value", func(t *testing.T) {
		r := w.Do(admin, create, map[string]any{"in": map[string]any{"username": "newbie", "password": "long-enough", "role": "ROOT"}})
		wantCode(t, r, "BAD_USER_INPUT")
	})

	t.Run("new password revokes the user's sessions", func(t *testing.T) {
		tok := w.tokenFor("alice", alicePW)
		r := w.Do(admin, `mutation($id:ID!){updateUser(id:$id,input:{password:"a-new-password"}){id}}`, map[string]any{"id": id(w.alice.ID)})
		mustData(t, r)
		wantCode(t, w.Do(tok, `{me{id}}`, nil), "UNAUTHENTICATED")
		w.tokenFor("alice", "a-new-password")
	})

	t.Run("disabling revokes sessions and stops sign-in", func(t *testing.T) {
		tok := w.tokenFor("bob", bobPW)
		mustData(t, w.Do(admin, `mutation($id:ID!){updateUser(id:$id,input:{disabled:true}){disabled}}`, map[string]any{"id": id(w.bob.ID)}))
		wantCode(t, w.Do(tok, `{me{id}}`, nil), "UNAUTHENTICATED")
		wantCode(t, w.Do("", `mutation{login(input:{username:"bob",password:"bob-password"}){token}}`, nil), "UNAUTHENTICATED")
		n := w.App.DB.Ent.UserSession.Query().Where(usersession.UserID(w.bob.ID), usersession.RevokedAtIsNil()).CountX(sys())
		if n != 0 {
			t.Fatalf("%d sessions of a disabled user left active", n)
		}
		mustData(t, w.Do(admin, `mutation($id:ID!){updateUser(id:$id,input:{disabled:false}){disabled}}`, map[string]any{"id": id(w.bob.ID)}))
	})

	t.Run("the last admin cannot be demoted, disabled or deleted", func(t *testing.T) {
		w2 := newWorld(t, nil)
		tok := w2.tokenFor("root", adminPW)
		for _, q := range []string{
			`mutation($id:ID!){updateUser(id:$id,input:{role:USER}){id}}`,
			`mutation($id:ID!){updateUser(id:$id,input:{disabled:true}){id}}`,
			`mutation($id:ID!){deleteUser(id:$id)}`,
		} {
			wantCode(t, w2.Do(tok, q, map[string]any{"id": id(w2.admin.ID)}), "CONFLICT")
		}
	})

	t.Run("missing and malformed ids", func(t *testing.T) {
		wantCode(t, w.Do(admin, `mutation{updateUser(id:"8589999999",input:{disabled:true}){id}}`, nil), "NOT_FOUND")
		wantCode(t, w.Do(admin, `mutation{deleteUser(id:"8589999999")}`, nil), "NOT_FOUND")
		wantCode(t, w.Do(admin, `mutation{deleteUser(id:"not-an-id")}`, nil), "BAD_USER_INPUT")
		wantCode(t, w.Do(admin, `{node(id:"99999999999999"){id}}`, nil), "NOT_FOUND")
	})

	t.Run("delete removes the user's assignments and sessions", func(t *testing.T) {
		u := w.CreateUser("gone", "gone-password", "USER")
		w.tokenFor("gone", "gone-password")
		mustData(t, w.Do(admin, `mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u,packageID:$p}){id}}`, map[string]any{"u": id(u.ID), "p": id(w.pro.ID)}))
		r := w.Do(admin, `mutation($id:ID!){deleteUser(id:$id)}`, map[string]any{"id": id(u.ID)})
		mustData(t, r)
		if !strings.Contains(string(r.Data), id(u.ID)) {
			t.Fatalf("deleteUser answered %s", r.Data)
		}
		var d struct{ UserPackages, UserSessions struct{ TotalCount int } }
		w.MustDo(admin, `query($id:ID!){userPackages(where:{userID:$id}){totalCount} userSessions(where:{userID:$id}){totalCount}}`, map[string]any{"id": id(u.ID)}).Decode(t, &d)
		if d.UserPackages.TotalCount != 0 || d.UserSessions.TotalCount != 0 {
			t.Fatalf("left behind: %+v", d)
		}
	})
}

type pkgAnswer struct {
	ID       string
	Name     string
	Days     int
	Contents []contentAnswer
}

type contentAnswer struct {
	ID, Name string
	Limit    *int
	Feature  struct{ Key string }
}

func TestPackageMutations(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	create := `mutation($in:CreatePackageInput!){createPackage(input:$in){id name days contents{id name limit feature{key}}}}`
	contents := []map[string]any{{"name": "One", "featureKey": "moe_gatherer"}, {"name": "Two", "featureKey": "cloud_sync"}}

	r := w.Do(admin, create, map[string]any{"in": map[string]any{"name": "Team", "days": 10, "contents": contents}})
	mustData(t, r)
	var d struct{ CreatePackage pkgAnswer }
	r.Decode(t, &d)
	p := d.CreatePackage
	sort.Slice(p.Contents, func(i, j int) bool { return p.Contents[i].Name < p.Contents[j].Name })
	if p.ID == "" || len(p.Contents) != 2 || p.Contents[0].Feature.Key != "moe_gatherer" || p.Contents[0].Limit != nil || p.Contents[1].Name != "Two" {
		t.Fatalf("nested create: %+v", p)
	}

	bad := []struct {
		name  string
		in    map[string]any
		code  string
		field string
	}{
		{"zero days", map[string]any{"name": "A", "days": 0}, "BAD_USER_INPUT", "days"},
		{"negative days", map[string]any{"name": "A", "days": -3}, "BAD_USER_INPUT", "days"},
		{"empty name", map[string]any{"name": "  ", "days": 1}, "BAD_USER_INPUT", "name"},
		{"name too long", map[string]any{"name": strings.Repeat("n", 101), "days": 1}, "BAD_USER_INPUT", "name"},
		{"detail too long", map[string]any{"name": "A", "detail": strings.Repeat("d", 2001), "days": 1}, "BAD_USER_INPUT", "detail"},
		{"duplicate name", map[string]any{"name": "Team", "days": 1}, "CONFLICT", "name"},
		{"a value twice", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "cloud_sync"}, {"name": "y", "featureKey": "cloud_sync"}}}, "BAD_USER_INPUT", "contents.1.featureKey"},
		{"no feature key", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "value": "TELEPORT"}}}, "BAD_USER_INPUT", ""},
		{"unknown feature", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "teleport"}}}, "NOT_FOUND", "contents.0.featureKey"},
		{"a bad feature key", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "Teleport!"}}}, "BAD_USER_INPUT", "contents.0.featureKey"},
		{"a LIMIT feature without a limit", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "projects"}}}, "BAD_USER_INPUT", "contents.0.limit"},
		{"a negative limit", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "projects", "limit": -1}}}, "BAD_USER_INPUT", "contents.0.limit"},
		{"a SWITCH feature with a limit", map[string]any{"name": "B", "days": 1, "contents": []map[string]any{{"name": "x", "featureKey": "cloud_sync", "limit": 3}}}, "BAD_USER_INPUT", "contents.0.limit"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Do(admin, create, map[string]any{"in": tt.in})
			wantCode(t, r, tt.code)
			if tt.field != "" && field(r) != tt.field {
				t.Fatalf("field %q, want %q (%s)", field(r), tt.field, r.Errors[0].Message)
			}
		})
	}

	update := `mutation($id:ID!,$in:UpdatePackageInput!){updatePackage(id:$id,input:$in){id name days contents{id name limit feature{key}}}}`
	t.Run("contents given replace the old ones", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": p.ID, "in": map[string]any{"days": 12, "contents": []map[string]any{{"name": "Three", "featureKey": "priority_support"}}}})
		mustData(t, r)
		var d struct{ UpdatePackage pkgAnswer }
		r.Decode(t, &d)
		if d.UpdatePackage.Days != 12 || len(d.UpdatePackage.Contents) != 1 || d.UpdatePackage.Contents[0].Feature.Key != "priority_support" {
			t.Fatalf("replace: %+v", d.UpdatePackage)
		}
	})
	t.Run("contents not given stay", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": p.ID, "in": map[string]any{"name": "Team+"}})
		var d struct{ UpdatePackage pkgAnswer }
		r.Decode(t, &d)
		if d.UpdatePackage.Name != "Team+" || len(d.UpdatePackage.Contents) != 1 {
			t.Fatalf("keep: %+v", d.UpdatePackage)
		}
	})
	t.Run("a failed update changes nothing", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": p.ID, "in": map[string]any{"name": "Pro", "contents": []map[string]any{{"name": "x", "featureKey": "moe_gatherer"}}}})
		wantCode(t, r, "CONFLICT")
		var d struct{ Node pkgAnswer }
		w.MustDo(admin, `query($id:ID!){node(id:$id){... on Package{name contents{feature{key}}}}}`, map[string]any{"id": p.ID}).Decode(t, &d)
		if d.Node.Name != "Team+" || len(d.Node.Contents) != 1 || d.Node.Contents[0].Feature.Key != "priority_support" {
			t.Fatalf("half an update landed: %+v", d.Node)
		}
	})

	t.Run("package contents", func(t *testing.T) {
		r := w.Do(admin, `mutation($p:ID!){createPackageContent(input:{packageID:$p,name:"Sync",featureKey: "cloud_sync"}){id package{name}}}`, map[string]any{"p": p.ID})
		mustData(t, r)
		var d struct{ CreatePackageContent struct{ ID string } }
		r.Decode(t, &d)
		r = w.Do(admin, `mutation($p:ID!){createPackageContent(input:{packageID:$p,name:"Again",featureKey: "cloud_sync"}){id}}`, map[string]any{"p": p.ID})
		wantCode(t, r, "CONFLICT")
		if field(r) != "featureKey" {
			t.Fatalf("a feature twice in a package: field %q, want featureKey", field(r))
		}
		wantCode(t, w.Do(admin, `mutation{createPackageContent(input:{packageID:"4294999999",name:"x",featureKey: "cloud_sync"}){id}}`, nil), "NOT_FOUND")
		mustData(t, w.Do(admin, `mutation($id:ID!){updatePackageContent(id:$id,input:{name:"Cloud sync",featureKey: "auto_gather"}){name feature{key}}}`, map[string]any{"id": d.CreatePackageContent.ID}))
		mustData(t, w.Do(admin, `mutation($id:ID!){deletePackageContent(id:$id)}`, map[string]any{"id": d.CreatePackageContent.ID}))
		wantCode(t, w.Do(admin, `mutation($id:ID!){deletePackageContent(id:$id)}`, map[string]any{"id": d.CreatePackageContent.ID}), "NOT_FOUND")
	})

	t.Run("a package still assigned cannot be deleted", func(t *testing.T) {
		wantCode(t, w.Do(admin, `mutation($id:ID!){deletePackage(id:$id)}`, map[string]any{"id": id(w.pro.ID)}), "CONFLICT")
	})
	t.Run("deleting a package deletes its contents", func(t *testing.T) {
		mustData(t, w.Do(admin, `mutation($id:ID!){deletePackage(id:$id)}`, map[string]any{"id": p.ID}))
		var d struct{ PackageContents struct{ TotalCount int } }
		w.MustDo(admin, `query($id:ID!){packageContents(where:{packageID:$id}){totalCount}}`, map[string]any{"id": p.ID}).Decode(t, &d)
		if d.PackageContents.TotalCount != 0 {
			t.Fatalf("%d contents left", d.PackageContents.TotalCount)
		}
	})
}

type upAnswer struct {
	ID        string
	StartsAt  time.Time
	ExpiresAt time.Time
	Active    bool
}

func TestAssignments(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	assign := `mutation($in:AssignPackageInput!){assignPackage(input:$in){id startsAt expiresAt active}}`
	do := func(t *testing.T, in map[string]any) upAnswer {
		t.Helper()
		r := w.Do(admin, assign, map[string]any{"in": in})
		mustData(t, r)
		var d struct{ AssignPackage upAnswer }
		r.Decode(t, &d)
		return d.AssignPackage
	}
	carol := w.CreateUser("carol", "carol-password", "USER")

	first := do(t, map[string]any{"userID": id(carol.ID), "packageID": id(w.pro.ID)})
	if got := first.ExpiresAt.Sub(first.StartsAt); got != days(30) || !first.Active {
		t.Fatalf("default assignment lasts %v (active %v), want the package's 30 days", got, first.Active)
	}
	if d := time.Since(first.StartsAt); d < 0 || d > time.Minute {
		t.Fatalf("default start %v is not now", first.StartsAt)
	}

	again := do(t, map[string]any{"userID": id(carol.ID), "packageID": id(w.pro.ID), "days": 5})
	if again.ID != first.ID || !again.ExpiresAt.Equal(first.ExpiresAt.Add(days(5))) {
		t.Fatalf("re-assigning did not extend: %+v after %+v", again, first)
	}

	future := time.Now().UTC().Add(days(10)).Truncate(time.Second)
	later := do(t, map[string]any{"userID": id(carol.ID), "packageID": id(w.basic.ID), "startsAt": future.Format(time.RFC3339)})
	if !later.StartsAt.Equal(future) || !later.ExpiresAt.Equal(future.Add(days(7))) || later.Active {
		t.Fatalf("future assignment: %+v", later)
	}

	update := `mutation($id:ID!,$in:UpdateUserPackageInput!){updateUserPackage(id:$id,input:$in){id startsAt expiresAt active}}`
	t.Run("extend by days", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": again.ID, "in": map[string]any{"extendDays": 3}})
		mustData(t, r)
		var d struct{ UpdateUserPackage upAnswer }
		r.Decode(t, &d)
		if !d.UpdateUserPackage.ExpiresAt.Equal(again.ExpiresAt.Add(days(3))) {
			t.Fatalf("extended to %v", d.UpdateUserPackage.ExpiresAt)
		}
	})
	t.Run("an expired assignment extends from now, and re-assigning starts anew", func(t *testing.T) {
		past := time.Now().UTC().Add(-days(40)).Truncate(time.Second)
		r := w.Do(admin, update, map[string]any{"id": again.ID, "in": map[string]any{"startsAt": past.Format(time.RFC3339), "expiresAt": past.Add(days(1)).Format(time.RFC3339)}})
		mustData(t, r)
		fresh := do(t, map[string]any{"userID": id(carol.ID), "packageID": id(w.pro.ID)})
		if fresh.ID == again.ID || !fresh.Active {
			t.Fatalf("re-assigning an expired package extended the old row: %+v", fresh)
		}
		r = w.Do(admin, update, map[string]any{"id": again.ID, "in": map[string]any{"extendDays": 2}})
		var d struct{ UpdateUserPackage upAnswer }
		r.Decode(t, &d)
		if got := time.Until(d.UpdateUserPackage.ExpiresAt); got < days(2)-time.Minute || got > days(2) {
			t.Fatalf("extension of an expired assignment ends in %v, want 2 days from now", got)
		}
	})
	bad := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
		field string
	}{
		{"zero days", assign, map[string]any{"in": map[string]any{"userID": id(carol.ID), "packageID": id(w.pro.ID), "days": 0}}, "BAD_USER_INPUT", "days"},
		{"unknown user", assign, map[string]any{"in": map[string]any{"userID": "8589999999", "packageID": id(w.pro.ID)}}, "NOT_FOUND", "userID"},
		{"unknown package", assign, map[string]any{"in": map[string]any{"userID": id(carol.ID), "packageID": "4294999999"}}, "NOT_FOUND", "packageID"},
		{"expiry before start", update, map[string]any{"id": later.ID, "in": map[string]any{"expiresAt": future.Add(-time.Hour).Format(time.RFC3339)}}, "BAD_USER_INPUT", "expiresAt"},
		{"both expiry and extension", update, map[string]any{"id": later.ID, "in": map[string]any{"expiresAt": future.Add(days(90)).Format(time.RFC3339), "extendDays": 1}}, "BAD_USER_INPUT", "extendDays"},
		{"missing assignment", update, map[string]any{"id": "12884999999", "in": map[string]any{"extendDays": 1}}, "NOT_FOUND", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Do(admin, tt.query, tt.vars)
			wantCode(t, r, tt.code)
			if tt.field != "" && field(r) != tt.field {
				t.Fatalf("field %q, want %q", field(r), tt.field)
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		mustData(t, w.Do(admin, `mutation($id:ID!){deleteUserPackage(id:$id)}`, map[string]any{"id": later.ID}))
		wantCode(t, w.Do(admin, `mutation($id:ID!){deleteUserPackage(id:$id)}`, map[string]any{"id": later.ID}), "NOT_FOUND")
	})
}

func TestCheckAccess(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	w.CreateUser("carol", "carol-password", "USER")
	carol := w.tokenFor("carol", "carol-password")
	check := func(tok, feature string) (code string, granted bool) {
		t.Helper()
		var d struct {
			CheckAccess struct {
				Granted bool
				Code    string
			}
		}
		w.MustDo(tok, `query($f:String!){checkAccess(feature:$f){granted code expiresAt startsAt}}`, map[string]any{"f": feature}).Decode(t, &d)
		return d.CheckAccess.Code, d.CheckAccess.Granted
	}
	if c, g := check(carol, "moe_gatherer"); c != "NO_PACKAGE" || g {
		t.Fatalf("no package: %s %v", c, g)
	}
	alice := w.tokenFor("alice", alicePW)
	if c, g := check(alice, "moe_gatherer"); c != "GRANTED" || !g {
		t.Fatalf("granted: %s %v", c, g)
	}
	if c, g := check(alice, "priority_support"); c != "FEATURE_MISSING" || g {
		t.Fatalf("missing: %s %v", c, g)
	}
	future := time.Now().UTC().Add(days(3)).Format(time.RFC3339)
	mustData(t, w.Do(admin, `mutation($u:ID!,$p:ID!,$s:Time){assignPackage(input:{userID:$u,packageID:$p,startsAt:$s}){id}}`,
		map[string]any{"u": id(w.alice.ID), "p": id(w.basic.ID), "s": future}))
	if c, g := check(alice, "auto_gather"); c != "NOT_STARTED" || g {
		t.Fatalf("not started: %s %v", c, g)
	}
	past := time.Now().UTC().Add(-days(60))
	mustData(t, w.Do(admin, `mutation($id:ID!,$s:Time,$e:Time){updateUserPackage(id:$id,input:{startsAt:$s,expiresAt:$e}){id}}`,
		map[string]any{"id": id(w.aliceUP.ID), "s": past.Format(time.RFC3339), "e": past.Add(days(30)).Format(time.RFC3339)}))
	if c, g := check(alice, "moe_gatherer"); c != "EXPIRED" || g {
		t.Fatalf("expired: %s %v", c, g)
	}
	var d struct {
		Me struct{ ActiveFeatures []struct{ Key string } }
	}
	w.MustDo(alice, `{me{activeFeatures{key}}}`, nil).Decode(t, &d)
	if len(d.Me.ActiveFeatures) != 0 {
		t.Fatalf("active features of expired/unstarted packages: %v", d.Me.ActiveFeatures)
	}
	if c, g := check(alice, "teleport"); c != "UNKNOWN_FEATURE" || g {
		t.Fatalf("unknown feature: %s %v", c, g)
	}
}

func TestIssuedSessions(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	r := w.Do(admin, `mutation($u:ID!){issueSession(input:{userID:$u,label:"build server"}){token session{id userAgent} user{username}}}`, map[string]any{"u": id(w.alice.ID)})
	mustData(t, r)
	var d struct {
		IssueSession struct {
			Token   string
			Session struct{ ID, UserAgent string }
			User    struct{ Username string }
		}
	}
	r.Decode(t, &d)
	if d.IssueSession.User.Username != "alice" || d.IssueSession.Session.UserAgent != "build server" {
		t.Fatalf("issued: %+v", d.IssueSession)
	}
	var me struct{ Me struct{ Username string } }
	w.MustDo(d.IssueSession.Token, `{me{username}}`, nil).Decode(t, &me)
	if me.Me.Username != "alice" {
		t.Fatalf("issued token signs in as %q", me.Me.Username)
	}
	mustData(t, w.Do(admin, `mutation($id:ID!){revokeSession(id:$id){active}}`, map[string]any{"id": d.IssueSession.Session.ID}))
	wantCode(t, w.Do(d.IssueSession.Token, `{me{username}}`, nil), "UNAUTHENTICATED")
	mustData(t, w.Do(admin, `mutation($id:ID!){deleteUserSession(id:$id)}`, map[string]any{"id": d.IssueSession.Session.ID}))
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	wantCode(t, w.Do(admin, `mutation($u:ID!,$e:Time){issueSession(input:{userID:$u,expiresAt:$e}){token}}`, map[string]any{"u": id(w.alice.ID), "e": past}), "BAD_USER_INPUT")
}

func TestLookupsByIDAndName(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	var d struct {
		ByName struct{ ID string }       `json:"byName"`
		ByID   struct{ Username string } `json:"byID"`
		Pkg    struct{ Name string }     `json:"pkg"`
	}
	w.MustDo(admin, `query($id:ID!,$p:ID!){byName:user(username:"ALICE"){id} byID:user(id:$id){username} pkg:package(id:$p){name}}`,
		map[string]any{"id": id(w.alice.ID), "p": id(w.pro.ID)}).Decode(t, &d)
	if d.ByName.ID != id(w.alice.ID) || d.ByID.Username != "alice" || d.Pkg.Name != "Pro" {
		t.Fatalf("look-ups: %+v", d)
	}
	wantCode(t, w.Do(admin, `{user(username:"nobody"){id}}`, nil), "NOT_FOUND")
	wantCode(t, w.Do(admin, `{package(name:"Nothing"){id}}`, nil), "NOT_FOUND")
	wantCode(t, w.Do(admin, `{user{id}}`, nil), "BAD_USER_INPUT")
	wantCode(t, w.Do(admin, `query($id:ID!){user(id:$id,username:"alice"){id}}`, map[string]any{"id": id(w.alice.ID)}), "BAD_USER_INPUT")
}

// A login's answer is read as the user who just signed in: one request
// signs in and reads their packages, contents, sessions and features,
// which an anonymous caller could not read.
func TestLoginAnswerReadsAsTheNewUser(t *testing.T) {
	w := newWorld(t, nil)
	r := w.Do("", `mutation{login(input:{username:"alice",password:"alice-password"}){
		session{id}
		user{username packages{package{name contents{feature{key}}}} sessions{id} activeFeatures{key}}}}`, nil)
	mustData(t, r)
	var d struct {
		Login struct {
			Session struct{ ID string }
			User    struct {
				Username string
				Packages []struct {
					Package struct {
						Name     string
						Contents []struct{ Feature struct{ Key string } }
					}
				}
				Sessions       []struct{ ID string }
				ActiveFeatures []struct{ Key string }
			}
		}
	}
	r.Decode(t, &d)
	u := d.Login.User
	if u.Username != "alice" || len(u.Packages) != 1 || u.Packages[0].Package.Name != "Pro" {
		t.Fatalf("login answer: %+v", u)
	}
	var keys []string
	for _, c := range u.Packages[0].Package.Contents {
		keys = append(keys, c.Feature.Key)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"cloud_sync", "moe_gatherer"}) {
		t.Fatalf("contents of alice's package in the login answer: %v", keys)
	}
	if !slices.ContainsFunc(u.Sessions, func(s struct{ ID string }) bool { return s.ID == d.Login.Session.ID }) {
		t.Fatalf("the new session %s is not among alice's sessions %v", d.Login.Session.ID, u.Sessions)
	}
	if len(u.ActiveFeatures) != 2 {
		t.Fatalf("active features in the login answer: %v", u.ActiveFeatures)
	}
	// Outside a login's answer the caller stays anonymous.
	wantCode(t, w.Do("", `{me{username}}`, nil), "UNAUTHENTICATED")
}
