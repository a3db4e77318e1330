package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "gatehouse/internal/db" // the sqlite3 driver
)

// TestMigrateUpgradesAnEarlierRelease runs the binary's `gatehouse migrate`
// twice on a copy of a SQLite database made by the release before features
// were data: the first run turns the contents' enum values into features,
// the second finds nothing to do and changes nothing.
func TestMigrateUpgradesAnEarlierRelease(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "db", "testdata", "release-1", "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	m := baseEnv(nil)
	var runs [][]string
	for range 2 {
		r := runBinary(t, filepath.Dir(path), m, nil, "migrate", "--db", path)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "schema is up to date" {
			t.Fatalf("migrate: exit %d, said %q (stderr %s)", r.code, r.stdout, r.stderr)
		}
		runs = append(runs, contentFeatures(t, path))
	}
	want := []string{
		"Cloud sync|cloud_sync|Cloud sync|SWITCH|<nil>",
		"Moe gatherer|moe_gatherer|Moe gatherer|SWITCH|<nil>",
		"Moe gatherer|moe_gatherer|Moe gatherer|SWITCH|<nil>",
	}
	if !slices.Equal(runs[0], want) {
		t.Fatalf("after the upgrade, contents and their features:\n%q\nwant\n%q", runs[0], want)
	}
	if !slices.Equal(runs[1], runs[0]) {
		t.Fatalf("a second migrate changed the contents:\n%q\n%q", runs[1], runs[0])
	}
}

// contentFeatures lists each package content with its feature:
// "content name|key|feature name|kind|limit", sorted.
func contentFeatures(t *testing.T, path string) []string {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var cols int
	if err := d.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('package_contents') WHERE name = 'value'`).Scan(&cols); err != nil || cols != 0 {
		t.Fatalf("package_contents.value is still there (%d, %v)", cols, err)
	}
	rows, err := d.Query(`SELECT c.name, f.key, f.name, f.kind, c."limit" FROM package_contents c JOIN features f ON f.id = c.feature_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, key, fname, kind string
		var limit sql.NullInt64
		if err := rows.Scan(&name, &key, &fname, &kind, &limit); err != nil {
			t.Fatal(err)
		}
		l := "<nil>"
		if limit.Valid {
			l = "set"
		}
		out = append(out, strings.Join([]string{name, key, fname, kind, l}, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
