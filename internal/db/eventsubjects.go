package db

import (
	"context"
	"database/sql"
	"time"
)

// The event log's index by subject on SQLite. An index of the events
// table by subject would cost every change a page of its own in its
// COMMIT: its entry lands wherever the subject's earlier entries are,
// a page no other change in the COMMIT shares. So on SQLite the events
// are indexed by subject in the background instead, in batches: the
// index (event_subjects) holds every event up to a mark (its state row's
// "through"), and an object's events are those the index lists plus those
// after the mark (a few seconds' worth at most, read by id). Nothing is
// lost to a crash: the index and its mark are written in one transaction,
// and whatever is after the mark is found either way. PostgreSQL, where
// an index entry costs a change far less, keeps the plain index
// (event_subject_type_subject_id).

// EventSubjectsTable and EventSubjectsStateTable are the SQLite index of
// events by subject and its mark.
const (
	EventSubjectsTable      = "event_subjects"
	EventSubjectsStateTable = "event_subjects_state"
	// EventSubjectIndex is the index of events by subject on PostgreSQL
	// (on SQLite, that of earlier releases, dropped by Migrate).
	EventSubjectIndex = "event_subject_type_subject_id"
)

// eventSubjectsEvery is how often the background indexes new events.
const eventSubjectsEvery = time.Second

// eventSubjectsBatch is the most events one transaction of the indexing
// takes, so that it never holds the writer long.
const eventSubjectsBatch = 5000

// eventSubjectsDDL creates the index by subject of events in the
// database's dialect.
func eventSubjectsDDL(driver string) []string {
	if driver == Postgres {
		return []string{`CREATE INDEX IF NOT EXISTS ` + EventSubjectIndex + ` ON ` + eventsTable + ` (subject_type, subject_id)`}
	}
	return []string{
		`DROP INDEX IF EXISTS ` + EventSubjectIndex,
		`CREATE TABLE IF NOT EXISTS ` + EventSubjectsTable + ` (subject_id INTEGER NOT NULL, event_id INTEGER NOT NULL, ` +
			`PRIMARY KEY (subject_id, event_id)) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + EventSubjectsStateTable + ` (id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL)`,
		`INSERT INTO ` + EventSubjectsStateTable + ` (id, through) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
	}
}

// EventsOfSubjectSQLite is the SQL condition, for a query of the events
// table on SQLite, that keeps the events whose subject is the object
// whose id is its two arguments (the same value twice): those the index
// lists and those after its mark. idColumn is the queried table's id
// column.
func EventsOfSubjectSQLite(idColumn string) string {
	return idColumn + ` IN (SELECT event_id FROM ` + EventSubjectsTable + ` WHERE subject_id = ? ` +
		`UNION ALL SELECT id FROM ` + eventsTable + ` WHERE id > (SELECT through FROM ` + EventSubjectsStateTable + `) AND subject_id = ?)`
}

// IndexEventSubjects indexes by subject the events recorded since the
// last time, in transactions of at most a batch each, and returns how many
// events it went past. It does nothing on PostgreSQL.
func (d *DB) IndexEventSubjects(ctx context.Context) (int, error) {
	if d.Driver == Postgres {
		return 0, nil
	}
	total := 0
	for {
		n, err := d.indexEventSubjectsBatch(ctx)
		total += n
		if err != nil || n < eventSubjectsBatch {
			return total, err
		}
	}
}

func (d *DB) indexEventSubjectsBatch(ctx context.Context) (int, error) {
	release, err := d.WriteTurn(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck
	var through int64
	if err := tx.QueryRowContext(ctx, `SELECT through FROM `+EventSubjectsStateTable+` WHERE id = 1`).Scan(&through); err != nil {
		return 0, err
	}
	var upTo sql.NullInt64
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT max(id), count(*) FROM (SELECT id FROM `+eventsTable+` WHERE id > ? ORDER BY id LIMIT ?)`,
		through, eventSubjectsBatch).Scan(&upTo, &n); err != nil {
		return 0, err
	}
	if !upTo.Valid {
		return 0, nil
	}
	for _, s := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO ` + EventSubjectsTable + ` (subject_id, event_id) SELECT subject_id, id FROM ` + eventsTable +
			` WHERE id > ? AND id <= ? AND subject_id IS NOT NULL ORDER BY subject_id, id ON CONFLICT DO NOTHING`, []any{through, upTo.Int64}},
		{`UPDATE ` + EventSubjectsStateTable + ` SET through = ? WHERE id = 1`, []any{upTo.Int64}},
	} {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

// startSubjectIndexer runs d.IndexEventSubjects every interval until
// closed. Its errors (no such table before the migration, a busy
// database) only mean "later": what it has not indexed is found anyway.
func startSubjectIndexer(d *DB, interval time.Duration) *every {
	return runEvery(interval, func(ctx context.Context) { _, _ = d.IndexEventSubjects(ctx) })
}
