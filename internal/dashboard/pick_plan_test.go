package dashboard

import (
	"context"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"gatehouse/ent"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// recorder is an ent driver that remembers the queries it passes on.
type recorder struct {
	dialect.Driver
	queries []recorded
}

type recorded struct {
	query string
	args  []any
}

func (r *recorder) Query(ctx context.Context, query string, args, v any) error {
	as, _ := args.([]any)
	r.queries = append(r.queries, recorded{query, as})
	return r.Driver.Query(ctx, query, args, v)
}

// TestUserPickPlans: the user picker's prefix search is a range of the
// unique index on username_fold, and its substring search walks that
// index alone (covering: ids only), in order, with no sort: both stop at
// the limit.
func TestUserPickPlans(t *testing.T) {
	d := testdb.Open(t)
	ctx := viewer.System(context.Background())
	rec := &recorder{Driver: d.EntDriver()}
	c := ent.NewClient(ent.Driver(rec))
	prefix, substr := userPickQueries(c, "Member1", true, pickOpts{})
	if _, err := prefix.Limit(pickLimit + 1).All(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := substr.Limit(pickLimit + 1).IDs(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rec.queries) != 2 {
		t.Fatalf("recorded %d queries", len(rec.queries))
	}
	plan := func(q recorded) string {
		t.Helper()
		explain := "EXPLAIN QUERY PLAN "
		if d.Driver == db.Postgres {
			explain = "EXPLAIN "
		}
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if d.Driver == db.Postgres {
			// An empty table is cheapest to scan: ask whether the index
			// can serve the query at all.
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, "RESET enable_seqscan")
		}
		rows, err := conn.QueryContext(ctx, explain+q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if s, ok := vals[len(vals)-1].(string); ok {
				lines = append(lines, s)
			} else if b, ok := vals[len(vals)-1].([]byte); ok {
				lines = append(lines, string(b))
			}
		}
		return strings.Join(lines, "\n")
	}
	pp, sp := plan(rec.queries[0]), plan(rec.queries[1])
	t.Logf("prefix: %s\n  plan: %s", rec.queries[0].query, pp)
	t.Logf("substring: %s\n  plan: %s", rec.queries[1].query, sp)
	if d.Driver == db.Postgres {
		// (On a table this small the planner sorts the range's rows; on
		// a large one it reads the range in index order up to the limit.)
		if !strings.Contains(pp, "Index Cond: (((username_fold)::text >=") || !strings.Contains(pp, "users_username_fold_key") {
			t.Fatalf("prefix search does not use the username_fold index:\n%s", pp)
		}
		return
	}
	if !strings.Contains(pp, "SEARCH users USING INDEX") || !strings.Contains(pp, "username_fold>? AND username_fold<?") ||
		strings.Contains(pp, "TEMP B-TREE") {
		t.Fatalf("prefix search does not use a range of the username_fold index:\n%s", pp)
	}
	if !strings.Contains(sp, "USING COVERING INDEX") || strings.Contains(sp, "TEMP B-TREE") {
		t.Fatalf("substring search does not walk the username_fold index alone, in order:\n%s", sp)
	}
}
