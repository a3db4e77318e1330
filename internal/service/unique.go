package service

import (
	"errors"
	"slices"
	"strings"

	"entgo.io/ent/dialect/sql/schema"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"gatehouse/ent/migrate"
	entschema "gatehouse/ent/schema"
)

// A unique violation is answered CONFLICT naming the API field at fault.
// The field comes from ent's schema (migrate.Tables), so every unique
// column and unique index, including one added later, has one:
//
//   - a unique column is its own field (username_fold, the folded copy of
//     username, is username);
//   - a unique index over several columns is its last column that is not a
//     foreign key, or its last column when all are
//     (package_trials(user_id, package_id) is package_id;
//     package_contents(package_id, feature_id) is feature_id, which the
//     API calls featureKey: see conflictAPIFields).
//
// The databases report a violation differently: SQLite by its columns
// ("UNIQUE constraint failed: package_contents.package_id,
// package_contents.feature_id"), PostgreSQL by the constraint's name, which ent
// gives a unique column as <table>_<column>_key and an index as declared.

// uniqueKey is one unique constraint of the schema.
type uniqueKey struct {
	table   string
	columns []string
	// name is the constraint's name on PostgreSQL.
	name string
}

// conflictField is what a client is told about a violation of one
// unique constraint.
type conflictField struct {
	field   string
	message string
}

// conflictMessages words conflicts on some columns ("table.column") more
// helpfully than the default; the others are "is already taken".
var conflictMessages = map[string]string{
	"packages.name":               "a package with this name already exists",
	"package_contents.feature_id": "the package already grants this feature",
	"package_trials.package_id":   "this trial package was already given to the user; a trial is given once",
}

const defaultConflictMessage = "is already taken"

// conflictAPIFields names the API field of columns the API does not spell
// as the column: a content's feature is given by its key.
var conflictAPIFields = map[string]string{
	"package_contents.feature_id": "featureKey",
}

// uniqueKeys lists the unique constraints of tables, unique columns first.
func uniqueKeys(tables []*schema.Table) []uniqueKey {
	var out []uniqueKey
	for _, t := range tables {
		for _, c := range t.Columns {
			if c.Unique && !slices.Contains(t.PrimaryKey, c) {
				out = append(out, uniqueKey{table: t.Name, columns: []string{c.Name}, name: t.Name + "_" + c.Name + "_key"})
			}
		}
		for _, idx := range t.Indexes {
			if !idx.Unique {
				continue
			}
			k := uniqueKey{table: t.Name, name: idx.Name}
			for _, c := range idx.Columns {
				k.columns = append(k.columns, c.Name)
			}
			out = append(out, k)
		}
	}
	return out
}

// fieldOf is the API field a unique constraint of table t is on.
func fieldOf(t *schema.Table, columns []string) conflictField {
	col := columns[len(columns)-1]
	for i := len(columns) - 1; i >= 0; i-- {
		if !isForeignKey(t, columns[i]) {
			col = columns[i]
			break
		}
	}
	if base, ok := strings.CutSuffix(col, "_fold"); ok && hasColumn(t, base) {
		col = base
	}
	msg, ok := conflictMessages[t.Name+"."+col]
	if !ok {
		msg = defaultConflictMessage
	}
	field, ok := conflictAPIFields[t.Name+"."+col]
	if !ok {
		field = entschema.APIField(col)
	}
	return conflictField{field: field, message: msg}
}

func isForeignKey(t *schema.Table, column string) bool {
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			if c.Name == column {
				return true
			}
		}
	}
	return false
}

func hasColumn(t *schema.Table, column string) bool {
	return slices.ContainsFunc(t.Columns, func(c *schema.Column) bool { return c.Name == column })
}

// conflicts maps what the databases report to the field: SQLite's column
// list ("table.a, table.b") and PostgreSQL's constraint name.
type conflicts struct {
	byColumns map[string]conflictField
	byName    map[string]conflictField
}

func newConflicts(tables []*schema.Table) conflicts {
	c := conflicts{byColumns: map[string]conflictField{}, byName: map[string]conflictField{}}
	byName := map[string]*schema.Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	for _, k := range uniqueKeys(tables) {
		f := fieldOf(byName[k.table], k.columns)
		c.byColumns[sqliteColumns(k.table, k.columns)] = f
		c.byName[k.name] = f
	}
	return c
}

// sqliteColumns spells columns as SQLite's unique violation does.
func sqliteColumns(table string, columns []string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = table + "." + c
	}
	return strings.Join(parts, ", ")
}

var schemaConflicts = newConflicts(migrate.Tables)

// PostgreSQL's SQLSTATEs for the violations read here.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// uniqueViolation reports whether err is a unique violation, with the
// field it is on (nil when the constraint is not in the schema).
func uniqueViolation(err error) (*conflictField, bool) {
	var f conflictField
	var found bool
	var pgErr *pgconn.PgError
	var liteErr sqlite3.Error
	switch {
	case errors.As(err, &pgErr):
		if pgErr.Code != pgUniqueViolation {
			return nil, false
		}
		f, found = schemaConflicts.byName[pgErr.ConstraintName]
	case errors.As(err, &liteErr):
		if liteErr.ExtendedCode != sqlite3.ErrConstraintUnique {
			return nil, false
		}
		// "UNIQUE constraint failed: t.a, t.b" or "…: index 'name'".
		_, what, _ := strings.Cut(liteErr.Error(), "UNIQUE constraint failed: ")
		if name, ok := strings.CutPrefix(what, "index '"); ok {
			f, found = schemaConflicts.byName[strings.TrimSuffix(name, "'")]
		} else {
			f, found = schemaConflicts.byColumns[what]
		}
	default:
		return nil, false
	}
	if !found {
		return nil, true
	}
	return &f, true
}

// foreignKeyViolation reports whether err is a foreign-key violation.
func foreignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	var liteErr sqlite3.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == pgForeignKeyViolation
	case errors.As(err, &liteErr):
		return liteErr.ExtendedCode == sqlite3.ErrConstraintForeignKey
	}
	return false
}
