package db

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"

	"gatehouse/ent/event"
	"gatehouse/ent/migrate"
)

// The event log's ids on SQLite. ent declares every SQLite table's id
// AUTOINCREMENT, which makes each insert read and rewrite the table's row
// in sqlite_sequence: one more page for every change's COMMIT, since every
// change writes an event. So Migrate rebuilds the events table without
// it, once, and the event log numbers its rows itself, one past the
// greatest of the newest id, the table's row in sqlite_sequence (which
// SQLite keeps but no longer updates, and which the rebuild and the
// pruning of the newest events raise) and the start of the events' id
// range. An id is therefore never handed out twice, even once every event
// has been pruned, and ids stay in the range ent's node ids expect.

// eventsTable is the event log's table.
const eventsTable = event.Table

// NextEventIDSQLite is the SQL expression of the next event id on SQLite,
// as above. Reading the newest id is a seek to the table's last page,
// which the insert writes anyway; sqlite_sequence is one page, only read.
var NextEventIDSQLite = fmt.Sprintf("max(coalesce((SELECT max(`id`) FROM `%[1]s`), 0), "+
	"coalesce((SELECT max(`seq`) FROM sqlite_sequence WHERE `name` = '%[1]s'), 0), %[2]d) + 1",
	eventsTable, *migrate.EventsTable.Annotation.IncrementStart)

// RaiseEventIDFloorSQLite are the statements that raise the floor of
// event ids on SQLite to their one argument, the greatest id about to be
// deleted (adding the floor should it be missing).
var RaiseEventIDFloorSQLite = []string{
	"UPDATE sqlite_sequence SET `seq` = ?1 WHERE `name` = '" + eventsTable + "' AND `seq` < ?1",
	"INSERT INTO sqlite_sequence (`name`, `seq`) SELECT '" + eventsTable + "', ?1 " +
		"WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE `name` = '" + eventsTable + "')",
}

var (
	autoincrement = regexp.MustCompile(`(?i)\s+AUTOINCREMENT\b`)
	createEvents  = regexp.MustCompile("^(?i:CREATE\\s+TABLE)\\s+(`events`|\"events\"|events)\\s*\\(")
)

// rebuildEventsWithoutAutoincrement rebuilds the SQLite events table
// without AUTOINCREMENT (keeping its rows, indexes and id floor), unless
// it has none already. It follows SQLite's procedure for table changes
// ALTER TABLE cannot make: foreign keys off, a new table filled from the
// old, the old dropped, the new renamed, indexes made again, one
// transaction.
func (d *DB) rebuildEventsWithoutAutoincrement(ctx context.Context) (err error) {
	if d.Driver == Postgres {
		return nil
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ddl, err := tableDDL(ctx, conn, eventsTable)
	if err != nil || !autoincrement.MatchString(ddl) {
		return err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	defer func() {
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil && err == nil {
			err = ferr
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	// Read again in the transaction: another process may have rebuilt it.
	if ddl, err = tableDDL(ctx, tx, eventsTable); err != nil || !autoincrement.MatchString(ddl) {
		return err
	}
	if !createEvents.MatchString(ddl) {
		return fmt.Errorf("unexpected definition of the events table: %q", ddl)
	}
	const rebuilt = "events_rebuilt"
	newDDL := createEvents.ReplaceAllString(autoincrement.ReplaceAllString(ddl, ""), "CREATE TABLE "+rebuilt+" (")
	var seq sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM sqlite_sequence WHERE name = ?`, eventsTable).Scan(&seq); err != nil {
		return err
	}
	indexes, err := tableIndexes(ctx, tx, eventsTable)
	if err != nil {
		return err
	}
	stmts := []string{
		newDDL,
		`INSERT INTO ` + rebuilt + ` SELECT * FROM ` + eventsTable,
		`DROP TABLE ` + eventsTable,
		`ALTER TABLE ` + rebuilt + ` RENAME TO ` + eventsTable,
	}
	stmts = append(stmts, indexes...)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if seq.Valid {
		// Dropping the table dropped its row: keep the floor.
		if _, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, eventsTable, seq.Int64); err != nil {
			return err
		}
	}
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	broken := rows.Next()
	if err := rows.Close(); err != nil {
		return err
	}
	if broken {
		return fmt.Errorf("rebuilding %s broke a foreign key", eventsTable)
	}
	return tx.Commit()
}

// tableDDL is the CREATE TABLE statement of a SQLite table ("" if none).
func tableDDL(ctx context.Context, q queryer, table string) (string, error) {
	var ddl string
	err := q.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&ddl)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return ddl, err
}

// tableIndexes are the CREATE INDEX statements of a SQLite table's
// indexes (not those its constraints make).
func tableIndexes(ctx context.Context, q rowsQueryer, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
}

// rowsQueryer is a database or a transaction, for queries of many rows.
type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryStrings is the one text column of a query's rows.
func queryStrings(ctx context.Context, q rowsQueryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
