package dashboard

import (
	"context"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"

	"gatehouse/internal/db"
)

// sqliteSessions is the dashboard's session store on SQLite: sessions are
// found through the database's readers, and written on its writer in the
// write turn that every other write of the process takes.
type sqliteSessions struct {
	db    *db.DB
	read  *sqlite3store.SQLite3Store
	write *sqlite3store.SQLite3Store
}

var _ scs.CtxStore = (*sqliteSessions)(nil)

func newSQLiteSessions(d *db.DB) *sqliteSessions {
	// No cleanup goroutine: expired rows are swept at sign-in
	// (pruneSessions), not by a goroutine that would outlive the database.
	return &sqliteSessions{
		db:    d,
		read:  sqlite3store.NewWithCleanupInterval(d.Read, 0),
		write: sqlite3store.NewWithCleanupInterval(d.SQL, 0),
	}
}

func (s *sqliteSessions) FindCtx(_ context.Context, token string) ([]byte, bool, error) {
	return s.read.Find(token)
}

func (s *sqliteSessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	release, err := s.db.WriteTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.write.Commit(token, b, expiry)
}

func (s *sqliteSessions) DeleteCtx(ctx context.Context, token string) error {
	release, err := s.db.WriteTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.write.Delete(token)
}

func (s *sqliteSessions) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *sqliteSessions) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *sqliteSessions) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
