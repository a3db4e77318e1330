package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// refuseWrites makes the database refuse writes for real and returns the
// undo: SQLite's connection becomes read-only (the in-memory test database
// has one connection); PostgreSQL refuses updates of sessions the way a
// full disk does (SQLSTATE 53100).
func refuseWrites(t *testing.T, d *db.DB) (undo func()) {
	t.Helper()
	ctx := context.Background()
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := d.SQL.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	if d.Driver == db.Postgres {
		exec(`CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`,
			`CREATE TRIGGER refuse_write BEFORE INSERT OR UPDATE OR DELETE ON user_sessions FOR EACH ROW EXECUTE FUNCTION refuse_write()`)
		return func() { exec(`DROP TRIGGER refuse_write ON user_sessions`, `DROP FUNCTION refuse_write()`) }
	}
	if n := d.SQL.Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("the SQLite test database has %d connections; query_only would not reach them all", n)
	}
	exec(`PRAGMA query_only = 1`)
	return func() { exec(`PRAGMA query_only = 0`) }
}

// TestFailedTouchStillServes: when the session's last-seen time cannot be
// written, a request with a good token is still answered as its user; the
// failure is logged once a minute at most, without the token.
func TestFailedTouchStillServes(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("alice", "alice-password", user.RoleUSER)
	tok := s.Login("alice", "alice-password")
	ctx := viewer.System(context.Background())
	c := s.App.DB.Ent
	// The session was last used an hour ago: this request is due to touch it.
	hourAgo := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	c.UserSession.Update().SetLastSeenAt(hourAgo).ExecX(ctx)

	undo := refuseWrites(t, s.App.DB)
	const me = `{ me { username } }`
	for i := range 3 {
		r := s.Do(tok, me, nil)
		if r.Status != 200 || len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"alice"`) {
			t.Fatalf("request %d while writes fail: status %d, data %s, errors %+v", i+1, r.Status, r.Data, r.Errors)
		}
	}
	logs := s.Logs.String()
	if n := strings.Count(logs, "could not record the use of a session"); n != 1 {
		t.Fatalf("%d log lines about the failed touch, want 1 (once a minute at most):\n%s", n, logs)
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, strings.TrimPrefix(tok, "gate_")) {
		t.Fatal("the log holds the token")
	}
	if sess := c.UserSession.Query().OnlyX(ctx); !sess.LastSeenAt.Equal(hourAgo) {
		t.Fatalf("last seen %v: the write was supposed to fail", sess.LastSeenAt)
	}

	// Writes work again: the next request records the use.
	undo()
	s.MustDo(tok, me, nil)
	if sess := c.UserSession.Query().OnlyX(ctx); !sess.LastSeenAt.After(hourAgo) {
		t.Fatalf("last seen %v after writes came back, want it recorded", sess.LastSeenAt)
	}
}

// TestUnreadableSessionIs503: a session that cannot be read at all is the
// one case a token answers 503.
func TestUnreadableSessionIs503(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("alice", "alice-password", user.RoleUSER)
	tok := s.Login("alice", "alice-password")
	s.App.DB.Close()
	r := s.Do(tok, `{ me { username } }`, nil)
	if r.Status != 503 || r.Code() != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("token with the database gone: status %d, errors %+v", r.Status, r.Errors)
	}
}
