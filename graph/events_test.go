package graph_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gatehouse/internal/config"
)

// apiEvent is an event as the API answers it.
type apiEvent struct {
	ID          string
	At          string
	Type        string
	ActorID     *string
	ActorName   string
	ActorKind   string
	SubjectType string
	SubjectID   *string
	RequestID   string
	IP          string
	Changes     []struct {
		Field    string
		From, To *string
	}
}

const eventFields = `id at type actorID actorName actorKind subjectType subjectID requestID ip changes { field from to }`

// newestEvents reads the n newest events as the admin, oldest of them first.
func (w *world) newestEvents(n int) []apiEvent {
	w.t.Helper()
	r := w.MustDo(w.tokens["root"], `query($n: Int) { events(first: $n) { edges { node { `+eventFields+` } } } }`, map[string]any{"n": n})
	var d struct {
		Events struct{ Edges []struct{ Node apiEvent } }
	}
	r.Decode(w.t, &d)
	out := make([]apiEvent, len(d.Events.Edges))
	for i, e := range d.Events.Edges {
		out[len(out)-1-i] = e.Node
	}
	return out
}

func (e apiEvent) change(field string) (from, to string, ok bool) {
	for _, c := range e.Changes {
		if c.Field == field {
			s := func(p *string) string {
				if p == nil {
					return "null"
				}
				return *p
			}
			return s(c.From), s(c.To), true
		}
	}
	return "", "", false
}

// wantEvent is what an event must say; changes maps a field to its JSON
// from and to ("null" for none); fields not named may also have changed
// unless only is set.
type wantEvent struct {
	typ, kind, actor, subjectType string
	subject                       func() int
	changes                       map[string][2]string
	only                          bool
}

func ref(p *int) func() int { return func() int { return *p } }

// Every change made through the API writes its event, with who made it,
// about what, and the fields that changed (secrets redacted); refused
// sign-ins write theirs too.
func TestEventsOfEveryChange(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Throttle.MaxFailures = 2 })
	w.tokens = map[string]string{"root": w.Login("root", adminPW), "alice": w.Login("alice", alicePW)}
	var carol, feat, pkgID, content, up, sess int
	alice, admin := w.alice.ID, w.admin.ID
	steps := []struct {
		name, who, query string
		vars             func() map[string]any
		capture          func(map[string]any)
		want             []wantEvent
		wantErr          bool
	}{
		{name: "create user", who: "root", query: `mutation { createUser(input: {username: "carol", password: "carol-password"}) { id } }`,
			capture: func(m map[string]any) { carol = atoi(t, m["createUser"].(map[string]any)["id"]) },
			want: []wantEvent{{typ: "user.created", kind: "ADMIN", actor: "root", subjectType: "user", subject: ref(&carol),
				changes: map[string][2]string{"username": {"null", `"carol"`}, "password": {"null", `"[redacted]"`}, "role": {"null", `"USER"`}}}}},
		{name: "update user", who: "root", query: `mutation($id: ID!) { updateUser(id: $id, input: {username: "carol2", disabled: true}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": carol} },
			want: []wantEvent{{typ: "user.updated", kind: "ADMIN", actor: "root", subjectType: "user", subject: ref(&carol), only: true,
				changes: map[string][2]string{"username": {`"carol"`, `"carol2"`}, "disabled": {"false", "true"}}}}},
		{name: "set password", who: "root", query: `mutation($id: ID!) { updateUser(id: $id, input: {password: "carol-password-2"}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": carol} },
			want: []wantEvent{{typ: "user.password_changed", kind: "ADMIN", actor: "root", subjectType: "user", subject: ref(&carol), only: true,
				changes: map[string][2]string{"password": {`"[redacted]"`, `"[redacted]"`}}}}},
		{name: "create feature", who: "root", query: `mutation { createFeature(input: {key: "exports", name: "Exports", kind: SWITCH}) { id } }`,
			capture: func(m map[string]any) { feat = atoi(t, m["createFeature"].(map[string]any)["id"]) },
			want:    []wantEvent{{typ: "feature.created", kind: "ADMIN", actor: "root", subjectType: "feature", subject: ref(&feat), changes: map[string][2]string{"key": {"null", `"exports"`}}}}},
		{name: "update feature", who: "root", query: `mutation($id: ID!) { updateFeature(id: $id, input: {name: "Exports+"}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": feat} },
			want: []wantEvent{{typ: "feature.updated", kind: "ADMIN", actor: "root", subjectType: "feature", subject: ref(&feat), only: true, changes: map[string][2]string{"name": {`"Exports"`, `"Exports+"`}}}}},
		{name: "create package", who: "root", query: `mutation { createPackage(input: {name: "Team", days: 10}) { id } }`,
			capture: func(m map[string]any) { pkgID = atoi(t, m["createPackage"].(map[string]any)["id"]) },
			want:    []wantEvent{{typ: "package.created", kind: "ADMIN", actor: "root", subjectType: "package", subject: ref(&pkgID), changes: map[string][2]string{"days": {"null", "10"}}}}},
		{name: "update package", who: "root", query: `mutation($id: ID!) { updatePackage(id: $id, input: {days: 20}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": pkgID} },
			want: []wantEvent{{typ: "package.updated", kind: "ADMIN", actor: "root", subjectType: "package", subject: ref(&pkgID), only: true, changes: map[string][2]string{"days": {"10", "20"}}}}},
		{name: "create content", who: "root", query: `mutation($p: ID!) { createPackageContent(input: {packageID: $p, name: "Ex", featureKey: "exports"}) { id } }`,
			vars:    func() map[string]any { return map[string]any{"p": pkgID} },
			capture: func(m map[string]any) { content = atoi(t, m["createPackageContent"].(map[string]any)["id"]) },
			want:    []wantEvent{{typ: "package_content.created", kind: "ADMIN", actor: "root", subjectType: "package_content", subject: ref(&content), changes: map[string][2]string{"name": {"null", `"Ex"`}}}}},
		{name: "update content", who: "root", query: `mutation($id: ID!) { updatePackageContent(id: $id, input: {name: "Export"}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": content} },
			want: []wantEvent{{typ: "package_content.updated", kind: "ADMIN", actor: "root", subjectType: "package_content", subject: ref(&content), only: true, changes: map[string][2]string{"name": {`"Ex"`, `"Export"`}}}}},
		{name: "delete content", who: "root", query: `mutation($id: ID!) { deletePackageContent(id: $id) }`,
			vars: func() map[string]any { return map[string]any{"id": content} },
			want: []wantEvent{{typ: "package_content.deleted", kind: "ADMIN", actor: "root", subjectType: "package_content", subject: ref(&content), changes: map[string][2]string{"name": {`"Export"`, "null"}}}}},
		{name: "assign", who: "root", query: `mutation($u: ID!, $p: ID!) { assignPackage(input: {userID: $u, packageID: $p}) { id } }`,
			vars:    func() map[string]any { return map[string]any{"u": carol, "p": pkgID} },
			capture: func(m map[string]any) { up = atoi(t, m["assignPackage"].(map[string]any)["id"]) },
			want:    []wantEvent{{typ: "user_package.assigned", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"userID": {"null", "0"}}}}},
		{name: "assign again extends", who: "root", query: `mutation($u: ID!, $p: ID!) { assignPackage(input: {userID: $u, packageID: $p, days: 1}) { id } }`,
			vars: func() map[string]any { return map[string]any{"u": carol, "p": pkgID} },
			want: []wantEvent{{typ: "user_package.extended", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"expiresAt": {"", ""}}}}},
		{name: "extend days", who: "root", query: `mutation($id: ID!) { updateUserPackage(id: $id, input: {extendDays: 2}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": up} },
			want: []wantEvent{{typ: "user_package.extended", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"expiresAt": {"", ""}}}}},
		{name: "set expiry", who: "root", query: `mutation($id: ID!) { updateUserPackage(id: $id, input: {expiresAt: "2999-01-01T00:00:00Z"}) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": up} },
			want: []wantEvent{{typ: "user_package.updated", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"expiresAt": {"", `"2999-01-01T00:00:00Z"`}}}}},
		{name: "suspend", who: "root", query: `mutation($id: ID!) { suspendUserPackage(id: $id, reason: "unpaid") { id } }`,
			vars: func() map[string]any { return map[string]any{"id": up} },
			want: []wantEvent{{typ: "user_package.suspended", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"suspendReason": {"null", `"unpaid"`}}}}},
		{name: "resume", who: "root", query: `mutation($id: ID!) { resumeUserPackage(id: $id) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": up} },
			want: []wantEvent{{typ: "user_package.resumed", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up), changes: map[string][2]string{"suspendReason": {`"unpaid"`, "null"}}}}},
		{name: "delete assignment", who: "root", query: `mutation($id: ID!) { deleteUserPackage(id: $id) }`,
			vars: func() map[string]any { return map[string]any{"id": up} },
			want: []wantEvent{{typ: "user_package.deleted", kind: "ADMIN", actor: "root", subjectType: "user_package", subject: ref(&up)}}},
		{name: "delete package", who: "root", query: `mutation($id: ID!) { deletePackage(id: $id) }`,
			vars: func() map[string]any { return map[string]any{"id": pkgID} },
			want: []wantEvent{{typ: "package.deleted", kind: "ADMIN", actor: "root", subjectType: "package", subject: ref(&pkgID), changes: map[string][2]string{"name": {`"Team"`, "null"}}}}},
		{name: "delete feature", who: "root", query: `mutation($id: ID!) { deleteFeature(id: $id) }`,
			vars: func() map[string]any { return map[string]any{"id": feat} },
			want: []wantEvent{{typ: "feature.deleted", kind: "ADMIN", actor: "root", subjectType: "feature", subject: ref(&feat)}}},
		{name: "issue session", who: "root", query: `mutation($u: ID!) { issueSession(input: {userID: $u, label: "ci"}) { token session { id } } }`,
			vars: func() map[string]any { return map[string]any{"u": alice} },
			capture: func(m map[string]any) {
				sess = atoi(t, m["issueSession"].(map[string]any)["session"].(map[string]any)["id"])
			},
			want: []wantEvent{{typ: "session.issued", kind: "ADMIN", actor: "root", subjectType: "session", subject: ref(&sess),
				changes: map[string][2]string{"token": {"null", `"[redacted]"`}}}}},
		{name: "revoke session", who: "root", query: `mutation($id: ID!) { revokeSession(id: $id) { id } }`,
			vars: func() map[string]any { return map[string]any{"id": sess} },
			want: []wantEvent{{typ: "session.revoked", kind: "ADMIN", actor: "root", subjectType: "session", subject: ref(&sess)}}},
		{name: "user changes own password", who: "alice", query: `mutation { changePassword(currentPassword: "alice-password", newPassword: "alice-password-2") }`,
			want: []wantEvent{{typ: "user.password_changed", kind: "USER", actor: "alice", subjectType: "user", subject: ref(&alice), only: true,
				changes: map[string][2]string{"password": {`"[redacted]"`, `"[redacted]"`}}}}},
		{name: "login", query: `mutation { login(input: {username: "alice", password: "alice-password-2"}) { token } }`,
			want: []wantEvent{
				{typ: "login.succeeded", kind: "USER", actor: "alice", subjectType: "user", subject: ref(&alice)},
				{typ: "session.issued", kind: "USER", actor: "alice", subjectType: "session"},
			}},
		{name: "failed login", query: `mutation { login(input: {username: "alice", password: "wrong-password"}) { token } }`, wantErr: true,
			want: []wantEvent{{typ: "login.failed", kind: "USER", subjectType: "user", subject: ref(&alice), only: true}}},
		{name: "failed login, unknown user", query: `mutation { login(input: {username: "nobody", password: "wrong-password"}) { token } }`, wantErr: true,
			want: []wantEvent{{typ: "login.failed", kind: "USER", subjectType: "user", only: true}}},
		{name: "throttled login", query: `mutation { login(input: {username: "alice", password: "wrong-password"}) { token } }`, wantErr: true,
			want: []wantEvent{{typ: "login.throttled", kind: "USER", subjectType: "user", only: true}}},
		// Refusals of one username from one address are recorded once a
		// minute, not once per request.
		{name: "throttled login again", query: `mutation { login(input: {username: "alice", password: "wrong-password"}) { token } }`, wantErr: true},
		{name: "delete user", who: "root", query: `mutation($id: ID!) { deleteUser(id: $id) }`,
			vars: func() map[string]any { return map[string]any{"id": carol} },
			want: []wantEvent{{typ: "user.deleted", kind: "ADMIN", actor: "root", subjectType: "user", subject: ref(&carol), changes: map[string][2]string{"username": {`"carol2"`, "null"}}}}},
	}
	for _, st := range steps {
		var vars map[string]any
		if st.vars != nil {
			vars = st.vars()
		}
		before := w.newestEvents(1)
		r := w.Do(w.tokens[st.who], st.query, vars)
		if (len(r.Errors) > 0) != st.wantErr {
			t.Fatalf("%s: errors %+v", st.name, r.Errors)
		}
		if st.capture != nil {
			var m map[string]any
			r.Decode(t, &m)
			st.capture(m)
		}
		got := w.newestEvents(len(st.want) + 1)
		if len(got) != len(st.want)+1 || got[0].ID != before[0].ID {
			t.Fatalf("%s: want %d new events, got %+v", st.name, len(st.want), got)
		}
		for i, want := range st.want {
			e := got[i+1]
			checkEvent(t, st.name, e, want, map[string]int{"root": admin, "alice": alice})
		}
	}
}

func atoi(t *testing.T, v any) int {
	t.Helper()
	n, err := strconv.Atoi(v.(string))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkEvent(t *testing.T, step string, e apiEvent, want wantEvent, users map[string]int) {
	t.Helper()
	if e.Type != want.typ || e.ActorKind != want.kind || e.SubjectType != want.subjectType {
		t.Fatalf("%s: got %s by %s about %s, want %s by %s about %s", step, e.Type, e.ActorKind, e.SubjectType, want.typ, want.kind, want.subjectType)
	}
	if want.actor != "" {
		if e.ActorID == nil || *e.ActorID != strconv.Itoa(users[want.actor]) || e.ActorName != want.actor {
			t.Errorf("%s: actor %v %q, want %s", step, e.ActorID, e.ActorName, want.actor)
		}
	} else if e.ActorID != nil {
		t.Errorf("%s: actor %v, want none", step, *e.ActorID)
	}
	if want.subject != nil && (e.SubjectID == nil || *e.SubjectID != strconv.Itoa(want.subject())) {
		t.Errorf("%s: subject %v, want %d", step, e.SubjectID, want.subject())
	}
	if e.RequestID == "" || e.IP != "127.0.0.1" {
		t.Errorf("%s: request id %q, ip %q", step, e.RequestID, e.IP)
	}
	for f, fromTo := range want.changes {
		from, to, ok := e.change(f)
		switch {
		case !ok:
			t.Errorf("%s: no change of %s in %+v", step, f, e.Changes)
		case fromTo[0] != "" && from != fromTo[0], fromTo[1] != "" && to != fromTo[1] && fromTo[1] != "0":
			t.Errorf("%s: %s changed %s → %s, want %s → %s", step, f, from, to, fromTo[0], fromTo[1])
		case from == to && from != `"[redacted]"`:
			t.Errorf("%s: %s listed unchanged (%s)", step, f, from)
		}
	}
	if want.only && len(e.Changes) != len(want.changes) {
		t.Errorf("%s: changes %+v, want only %v", step, e.Changes, want.changes)
	}
	// No secret's value ever shows.
	raw, _ := json.Marshal(e)
	for _, secret := range []string{"$2a$", "password-", "wrong-password"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("%s: event shows a secret: %s", step, raw)
		}
	}
}

// Only admins read the event log: a user is FORBIDDEN, also by node(id:).
func TestEventsAdminsOnly(t *testing.T) {
	w := newWorld(t, nil)
	tok := w.Login("alice", alicePW)
	r := w.Do(tok, `{ events { totalCount } }`, nil)
	if r.Code() != "FORBIDDEN" {
		t.Fatalf("user reading events: %+v", r.Errors)
	}
	if r := w.Do("", `{ events { totalCount } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous reading events: %+v", r.Errors)
	}
	w.tokens = map[string]string{"root": w.Login("root", adminPW)}
	ev := w.newestEvents(1)[0]
	r = w.Do(tok, `query($id: ID!) { node(id: $id) { id ... on Event { type } } }`, map[string]any{"id": ev.ID})
	if strings.Contains(string(r.Data), ev.Type) {
		t.Fatalf("user read event by node(id:): %s", r.Data)
	}
}

// The filters, the order and the pages of events.
func TestEventsFiltersOrderPages(t *testing.T) {
	w := newWorld(t, nil)
	w.tokens = map[string]string{"root": w.Login("root", adminPW)}
	q := func(vars map[string]any) (types []string, total int, end string, next bool) {
		t.Helper()
		r := w.MustDo(w.tokens["root"], `query($w: EventWhereInput, $o: EventOrder, $after: Cursor, $first: Int) {
			events(first: $first, after: $after, where: $w, orderBy: $o) { totalCount pageInfo { endCursor hasNextPage } edges { node { type at } } } }`, vars)
		var d struct {
			Events struct {
				TotalCount int
				PageInfo   struct {
					EndCursor   string
					HasNextPage bool
				}
				Edges []struct{ Node struct{ Type, At string } }
			}
		}
		r.Decode(t, &d)
		for _, e := range d.Events.Edges {
			types = append(types, e.Node.Type)
		}
		return types, d.Events.TotalCount, d.Events.PageInfo.EndCursor, d.Events.PageInfo.HasNextPage
	}
	all, total, _, _ := q(map[string]any{"first": 100})
	// newWorld: 3 users, 5 features, 2 packages, 2 assignments (by the
	// system); then root's sign-in.
	if total != 14 || len(all) != 14 {
		t.Fatalf("total %d: %v", total, all)
	}
	if all[0] != "session.issued" || all[1] != "login.succeeded" || all[len(all)-1] != "user.created" {
		t.Fatalf("not newest first: %v", all)
	}
	asc, _, _, _ := q(map[string]any{"first": 100, "o": map[string]any{"field": "AT", "direction": "ASC"}})
	if !slices.Equal(asc, reversed(all)) {
		t.Fatalf("ascending %v, descending %v", asc, all)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"type": "user.created"}}); n != 3 || len(got) != 3 {
		t.Fatalf("type filter: %v", got)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"typeIn": []string{"package.created", "feature.created"}}}); n != 7 {
		t.Fatalf("typeIn filter: %v", got)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"actorID": w.admin.ID}}); n != 2 {
		t.Fatalf("actor filter: %v", got)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"subjectType": "user_package", "subjectID": w.aliceUP.ID}}); n != 1 || got[0] != "user_package.assigned" {
		t.Fatalf("subject filter: %v", got)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"since": "2999-01-01T00:00:00Z"}}); n != 0 {
		t.Fatalf("since filter: %v", got)
	}
	if got, n, _, _ := q(map[string]any{"w": map[string]any{"until": "2999-01-01T00:00:00Z"}}); n != 14 {
		t.Fatalf("until filter: %v", got)
	}
	// Pages of 5 give every event once, in order.
	var paged []string
	var after any
	for {
		got, _, end, next := q(map[string]any{"first": 5, "after": after})
		paged = append(paged, got...)
		if !next {
			break
		}
		after = end
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("pages %v, all %v", paged, all)
	}
	if r := w.Do(w.tokens["root"], `{ events(first: 101) { totalCount } }`, nil); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("first: 101: %+v", r.Errors)
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
