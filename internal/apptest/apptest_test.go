package apptest

import (
	"testing"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
)

func TestStartServesSignIn(t *testing.T) {
	s := Start(t, nil, app.Options{})
	s.CreateUser("alice", "alice-password", user.RoleUSER)
	tok := s.Login("Alice", "alice-password")
	var d struct{ Me struct{ Username string } }
	s.MustDo(tok, `{me{username}}`, nil).Decode(t, &d)
	if d.Me.Username != "alice" {
		t.Fatalf("me = %q, want alice", d.Me.Username)
	}
}
