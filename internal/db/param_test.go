package db_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	sqlite3 "github.com/mattn/go-sqlite3"

	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// prepares counts how often SQLite prepares statements on the connections
// of the "sqlite3-prepares" driver: the authorizer is asked about the
// columns a statement reads each time SQLite compiles it, and only then.
var prepares atomic.Int64

func init() {
	sql.Register("sqlite3-prepares", &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		c.RegisterAuthorizer(func(op int, _, _, _ string) int {
			if op == sqlite3.SQLITE_READ {
				prepares.Add(1)
			}
			return sqlite3.SQLITE_OK
		})
		return nil
	}})
}

// sessionLookup is a statement shaped like the session lookup: a session
// by its token joined with its user.
func sessionLookup(d string, arg any) string {
	s, u := entsql.Table("sessions").As("s"), entsql.Table("users").As("u")
	q, _ := entsql.Dialect(d).Select(s.C("id"), u.C("name"), u.C("age")).
		From(s).Join(u).On(s.C("user_id"), u.C("id")).
		Where(entsql.EQ(s.C("token"), arg)).
		Query()
	return q
}

// A statement built with Param is prepared once and then served from the
// driver's statement cache, run after run with new arguments.
func TestParamKeepsStatementsPrepared(t *testing.T) {
	dsn, _, err := db.SQLiteDSN(":memory:", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := sql.Open("sqlite3-prepares", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER NOT NULL)`,
		`CREATE TABLE sessions (id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, user_id INTEGER NOT NULL REFERENCES users(id))`,
		`CREATE INDEX sessions_user_id ON sessions (user_id)`,
		`INSERT INTO users (id, name, age) VALUES (1, 'ann', 30), (2, 'bob', 40)`,
		`INSERT INTO sessions (token, user_id) VALUES ('t1', 1), ('t2', 2), ('t3', 1)`,
	} {
		if _, err := sdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	run := func(q string) int64 {
		t.Helper()
		before := prepares.Load()
		for i := range 20 {
			tok := []string{"t1", "t2", "t3", "none"}[i%4]
			var name string
			err := sdb.QueryRowContext(ctx, q, tok).Scan(new(int), &name, new(int))
			switch {
			case tok == "none" && err != sql.ErrNoRows:
				t.Fatalf("%s with %q: %v, want no rows", q, tok, err)
			case tok != "none" && err != nil:
				t.Fatalf("%s with %q: %v", q, tok, err)
			case tok != "none" && name != map[string]string{"t1": "ann", "t2": "bob", "t3": "ann"}[tok]:
				t.Fatalf("%s with %q: %q", q, tok, name)
			}
		}
		return prepares.Load() - before
	}
	withParam := sessionLookup(dialect.SQLite, db.Param(""))
	if !strings.Contains(withParam, "= +?") {
		t.Fatalf("Param on SQLite: %s, want = +?", withParam)
	}
	once := run(withParam)
	if once == 0 {
		t.Fatal("the authorizer counted nothing: the test cannot see prepares")
	}
	// Its columns are counted once: the first run prepared it.
	if again := run(withParam); again != 0 {
		t.Errorf("20 more runs of %s prepared it again (%d columns authorized, %d on the first 20 runs)", withParam, again, once)
	}
	// For the record: the plain placeholder is prepared again on most runs.
	t.Logf("20 runs with = ?: %d columns authorized; with = +?: %d", run(sessionLookup(dialect.SQLite, "")), once)
}

// Param answers as the plain placeholder does, for text, integers (also
// given as text: the column's affinity applies to both), times and NULL,
// on SQLite and on PostgreSQL; PostgreSQL gets the plain placeholder.
func TestParamMeansThePlainPlaceholder(t *testing.T) {
	if q := sessionLookup(dialect.Postgres, db.Param("")); !strings.HasSuffix(q, `"s"."token" = $1`) {
		t.Errorf("Param on PostgreSQL: %s", q)
	}
	d := testdb.Open(t)
	ctx := context.Background()
	if _, err := d.SQL.ExecContext(ctx, `CREATE TABLE param_t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER, at TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ins := `INSERT INTO param_t (id, name, n, at) VALUES (1, 'Ann', 5, ?), (2, 'ann', NULL, NULL), (3, '5', 50, NULL)`
	if d.Driver == db.Postgres {
		ins = strings.Replace(ins, "?", "$1", 1)
	}
	if _, err := d.SQL.ExecContext(ctx, ins, at); err != nil {
		t.Fatal(err)
	}
	drv := dialect.SQLite
	if d.Driver == db.Postgres {
		drv = dialect.Postgres
	}
	// Statements are built once with a placeholder value and run with v.
	ids := func(col string, placeholder, v any) []int {
		t.Helper()
		q, _ := entsql.Dialect(drv).Select("id").From(entsql.Table("param_t")).Where(entsql.EQ(col, placeholder)).OrderBy("id").Query()
		rows, err := d.SQL.QueryContext(ctx, q, v)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	cases := []struct {
		col string
		v   any
	}{
		{"name", "ann"}, {"name", "Ann"}, {"name", "nobody"}, {"n", 5}, {"n", int64(50)}, {"at", at}, {"n", nil},
	}
	if d.Driver != db.Postgres {
		// Text compared with an INTEGER column takes its affinity.
		cases = append(cases, struct {
			col string
			v   any
		}{"n", "5"})
	}
	for _, c := range cases {
		plain, with := ids(c.col, 0, c.v), ids(c.col, db.Param(0), c.v)
		if !slices.Equal(plain, with) {
			t.Errorf("%s = %v: plain placeholder %v, Param %v", c.col, c.v, plain, with)
		}
		if c.v != nil && c.v != "nobody" && len(with) == 0 {
			t.Errorf("%s = %v: no rows", c.col, c.v)
		}
	}
}
