package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/user"
	"gatehouse/internal/viewer"
)

// Signing in to the dashboard and changing things there are recorded as
// the admin's; a refused sign-in is recorded without its password.
func TestDashboardChangesAreRecorded(t *testing.T) {
	s := start(t, nil)
	root := s.CreateUser("root", "root-password", user.RoleADMIN)
	sys := viewer.System(context.Background())
	newest := func() *ent.Event {
		t.Helper()
		e, err := s.App.DB.Ent.Event.Query().Order(ent.Desc(event.FieldID)).First(sys)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	bad := newBrowser(t, s.URL)
	bad.post("/admin/login", url.Values{"username": {"root"}, "password": {"guess-password"}}).wantStatus(http.StatusUnauthorized)
	if e := newest(); e.Type != "login.failed" || e.ActorID != nil || e.ActorName != "root" || e.SubjectID == nil || *e.SubjectID != root.ID || len(e.Changes) != 0 {
		t.Fatalf("refused sign-in: %+v", e)
	}
	alice := s.CreateUser("alice", "alice-password", user.RoleUSER)
	bad.post("/admin/login", url.Values{"username": {"alice"}, "password": {"alice-password"}}).wantStatus(http.StatusUnauthorized)
	if e := newest(); e.Type != "login.failed" || e.ActorID != nil || e.ActorName != "alice" || e.SubjectID == nil || *e.SubjectID != alice.ID {
		t.Fatalf("a user's sign-in to the dashboard: %+v", e)
	}
	b := signIn(t, s, "root", "root-password")
	if e := newest(); e.Type != "login.succeeded" || e.ActorKind != event.ActorKindADMIN || e.ActorID == nil || *e.ActorID != root.ID || e.IP != "127.0.0.1" || e.RequestID == "" {
		t.Fatalf("sign-in: %+v", e)
	}
	b.post("/admin/features/new", url.Values{"key": {"seats"}, "name": {"Seats"}, "kind": {"LIMIT"}, "description": {""}}).wantRedirect("/admin/features/")
	if e := newest(); e.Type != "feature.created" || e.ActorKind != event.ActorKindADMIN || *e.ActorID != root.ID || e.ActorName != "root" || e.Changes["key"].To != "seats" {
		t.Fatalf("feature created in the dashboard: %+v", e)
	}
}
