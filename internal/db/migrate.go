package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations of replicas starting at once.
const migrationLockKey = 7_146_201_583

// Migrate brings the schema up to date: ent's tables, the dashboard's
// session table and the readiness check's write probe. On PostgreSQL it
// holds an advisory lock meanwhile, so replicas starting together migrate
// one after the other.
func (d *DB) Migrate(ctx context.Context) error {
	if d.Driver == Postgres {
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey) //nolint:errcheck
	}
	if err := d.upgradeContentValues(ctx); err != nil {
		return fmt.Errorf("migrate package contents to features: %w", err)
	}
	if err := createSchema(ctx, d); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	if err := d.checkUpgraded(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range retiredIndexes {
		if _, err := d.SQL.ExecContext(ctx, "DROP INDEX IF EXISTS "+d.quote(name)); err != nil {
			return fmt.Errorf("migrate: drop the retired index %s: %w", name, err)
		}
	}
	for _, stmt := range eventSubjectsDDL(d.Driver) {
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate the events' index by subject: %w", err)
		}
	}
	if err := d.rebuildEventsWithoutAutoincrement(ctx); err != nil {
		return fmt.Errorf("migrate: rebuild the event log's table: %w", err)
	}
	// Index the events so far now, not in the background's first
	// seconds (a release before this index has a log to index).
	if _, err := d.IndexEventSubjects(ctx); err != nil {
		return fmt.Errorf("migrate: index the events by subject: %w", err)
	}
	for _, stmt := range dataMigrations {
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate data: %w", err)
		}
	}
	for _, stmt := range sessionTableDDL(d.Driver) {
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate dashboard sessions: %w", err)
		}
	}
	for _, stmt := range writeProbeDDL() {
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate the write probe: %w", err)
		}
	}
	for _, stmt := range TimedEventKeysDDL(d.Driver) {
		if _, err := d.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate the time-based events' keys: %w", err)
		}
	}
	return nil
}

// TimedEventKeysTable holds one row per time-based event written (its
// type, its assignment and the date it is about), in the event's own
// transaction: its primary key is what makes each such event happen once
// (internal/timedevents).
const TimedEventKeysTable = "timed_event_keys"

// TimedEventKeysDDL creates the time-based events' keys. moment has the
// type of user_packages' times, so that it compares equal to them.
func TimedEventKeysDDL(driver string) []string {
	ts := "DATETIME"
	if driver == Postgres {
		ts = "TIMESTAMPTZ"
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + TimedEventKeysTable + ` (type TEXT NOT NULL, user_package_id BIGINT NOT NULL, moment ` + ts +
			` NOT NULL, event_id BIGINT NOT NULL, PRIMARY KEY (type, user_package_id, moment))`,
		`CREATE INDEX IF NOT EXISTS timed_event_keys_moment_idx ON ` + TimedEventKeysTable + ` (moment)`,
	}
}

// retiredIndexes were made by earlier releases and are replaced by others
// in the schema. ent's migration adds indexes but, on PostgreSQL, does not
// drop those the schema no longer has; these are dropped by name.
var retiredIndexes = []string{
	"user_role", // replaced by user_role_id (role, id), which serves the same lookups
	// The event log's first indexes: each cost every change a page. The
	// log is read newest first by id; event_subject_type_subject_id (whose
	// entries end with the id) replaces the last.
	"event_at",
	"event_type_at",
	"event_actor_id_at",
	"event_subject_type_subject_id_at",
	// Its index by actor, of release 2: filtering by actor reads the log
	// newest first, as filtering by type or time does (see the schema).
	"event_actor_id",
}

// dataMigrations fill new columns of rows written by earlier releases,
// after ent has added the columns. Each is idempotent (it touches only rows
// not yet filled) and plain SQL that SQLite and PostgreSQL read alike.
var dataMigrations = []string{
	// An assignment's grace ends at its expiry plus its package's grace
	// days; packages from before grace days have none.
	`UPDATE user_packages SET grace_ends_at = expires_at WHERE grace_ends_at IS NULL`,
}

// writeProbeDDL is the one-row table CheckWrites rewrites (the same on
// both databases).
func writeProbeDDL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + writeProbeTable + ` (id INTEGER PRIMARY KEY, written_at BIGINT NOT NULL)`,
		`INSERT INTO ` + writeProbeTable + ` (id, written_at) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
	}
}

// sessionTableDDL is the table the dashboard's scs session store expects.
func sessionTableDDL(driver string) []string {
	if driver == Postgres {
		return []string{
			`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
		}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
	}
}

// CheckSchema reports an error unless the schema is current, for a server
// told not to migrate: it must not serve an old schema.
func (d *DB) CheckSchema(ctx context.Context) error {
	var buf strings.Builder
	if err := d.Ent.Schema.WriteTo(ctx, &buf); err != nil {
		return fmt.Errorf("inspect schema: %w", err)
	}
	pending := strings.TrimSpace(buf.String())
	// WriteTo prints the statements a migration would run, between a
	// BEGIN and a COMMIT when there are any.
	if strings.Contains(pending, "CREATE ") || strings.Contains(pending, "ALTER ") {
		return errors.New("the database schema is not current: run `gatehouse migrate` first")
	}
	// The dashboard's session table and the write probe are not ent's:
	// check they exist too.
	tables := []string{"sessions", writeProbeTable, TimedEventKeysTable}
	if d.Driver != Postgres {
		tables = append(tables, EventSubjectsTable, EventSubjectsStateTable)
	}
	for _, table := range tables {
		if _, err := d.SQL.ExecContext(ctx, "SELECT 1 FROM "+table+" WHERE 1 = 0"); err != nil {
			return errors.New("the database schema is not current: run `gatehouse migrate` first")
		}
	}
	return nil
}

// schemaMu serialises ent's schema migrations within the process: they set
// up ent's table descriptions (ent/migrate.Tables, shared by every client)
// as they run, so two databases migrated at once (tests open many) would
// write the same maps together.
var schemaMu sync.Mutex

func createSchema(ctx context.Context, d *DB) error {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	return d.Ent.Schema.Create(ctx)
}
