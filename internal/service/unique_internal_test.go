package service

import (
	"context"
	"testing"

	"gatehouse/ent/migrate"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
)

// Every unique index the migrated database has (save primary keys) is
// known, by the name and the columns the database reports, with a field.
func TestEveryUniqueIndexHasField(t *testing.T) {
	d := testdb.Open(t)
	indexes := liveUniqueIndexes(t, d)
	if len(indexes) < len(uniqueKeys(migrate.Tables)) {
		t.Fatalf("found %d unique indexes in the database, the schema has %d", len(indexes), len(uniqueKeys(migrate.Tables)))
	}
	for _, idx := range indexes {
		byName, okName := schemaConflicts.byName[idx.name]
		byCols, okCols := schemaConflicts.byColumns[sqliteColumns(idx.table, idx.columns)]
		switch {
		case d.Driver == db.Postgres && !okName:
			t.Errorf("unique index %s on %s%v: no field for its name", idx.name, idx.table, idx.columns)
		case d.Driver == db.SQLite && !okCols:
			t.Errorf("unique index %s on %s%v: no field for its columns", idx.name, idx.table, idx.columns)
		case okName && byName.field == "", okCols && byCols.field == "":
			t.Errorf("unique index %s: empty field", idx.name)
		}
	}
	for _, k := range uniqueKeys(migrate.Tables) {
		if f := schemaConflicts.byName[k.name]; f.field == "" || f.message == "" {
			t.Errorf("unique %s%v: no field or message", k.table, k.columns)
		}
	}
}

// conflictMessages only words columns that have a unique constraint.
func TestConflictMessagesAreOnUniqueColumns(t *testing.T) {
	known := map[string]bool{}
	for _, k := range uniqueKeys(migrate.Tables) {
		for _, c := range k.columns {
			known[k.table+"."+c] = true
		}
	}
	for col := range conflictMessages {
		if !known[col] {
			t.Errorf("conflictMessages has %s, which is not in a unique constraint", col)
		}
	}
}

type liveIndex struct {
	table, name string
	columns     []string
}

// liveUniqueIndexes lists the unique indexes of the database's tables.
func liveUniqueIndexes(t *testing.T, d *db.DB) []liveIndex {
	t.Helper()
	ctx := context.Background()
	var out []liveIndex
	if d.Driver == db.Postgres {
		rows, err := d.SQL.QueryContext(ctx, `
			SELECT t.relname, c.relname, a.attname
			FROM pg_index i
			JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_class t ON t.oid = i.indrelid
			JOIN pg_namespace n ON n.oid = t.relnamespace
			JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
			JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
			WHERE n.nspname = current_schema() AND i.indisunique AND NOT i.indisprimary
			ORDER BY c.relname, k.ord`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var table, name, col string
			if err := rows.Scan(&table, &name, &col); err != nil {
				t.Fatal(err)
			}
			if n := len(out); n > 0 && out[n-1].name == name {
				out[n-1].columns = append(out[n-1].columns, col)
			} else {
				out = append(out, liveIndex{table: table, name: name, columns: []string{col}})
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tables := testdb.Strings(t, d.SQL, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	for _, table := range tables {
		rows, err := d.SQL.QueryContext(ctx, `SELECT name, "unique", origin FROM pragma_index_list(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var name, origin string
			var unique bool
			if err := rows.Scan(&name, &unique, &origin); err != nil {
				t.Fatal(err)
			}
			if unique && origin != "pk" {
				names = append(names, name)
			}
		}
		rows.Close()
		for _, name := range names {
			cols := testdb.Strings(t, d.SQL, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name)
			out = append(out, liveIndex{table: table, name: name, columns: cols})
		}
	}
	return out
}
