package graph_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/testdb"
)

// stmtLog records the SQL statements a server's ent client runs.
type stmtLog struct {
	mu   sync.Mutex
	list []string
}

func (l *stmtLog) add(_ context.Context, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, fmt.Sprint(v...))
}

// mark returns a function that returns the statements run since mark.
func (l *stmtLog) mark() func() []string {
	l.mu.Lock()
	from := len(l.list)
	l.mu.Unlock()
	return func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return append([]string(nil), l.list[from:]...)
	}
}

// loggingServer starts a server whose ent client logs every statement.
func loggingServer(t *testing.T) (*apptest.Server, *stmtLog) {
	t.Helper()
	d := testdb.Open(t)
	l := &stmtLog{}
	name := dialect.SQLite
	if d.Driver == "postgres" {
		name = dialect.Postgres
	}
	d.Ent = ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(name, d.SQL), l.add)))
	return apptest.StartOn(t, d, nil, app.Options{}), l
}

// TestMeStatements counts the SQL statements of one `me` request with the
// fullest selection, session lookup included.
func TestMeStatements(t *testing.T) {
	s, l := loggingServer(t)
	seedFeatures(t, s.App.Service)
	tok := seedMe(t, s, "alice", alicePW)
	s.MustDo(tok, meQuery, nil) // warm: the session touch
	since := l.mark()
	s.MustDo(tok, meQuery, nil)
	for _, q := range since() {
		t.Log(q)
	}
	me := len(since())
	since = l.mark()
	s.MustDo(tok, `{checkAccess(feature: "moe_gatherer"){granted code expiresAt}}`, nil)
	for _, q := range since() {
		t.Log(q)
	}
	t.Logf("me: %d statements, checkAccess: %d", me, len(since()))
}
