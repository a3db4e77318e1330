package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/ent/migrate"
)

// Before features were data, a package content named its feature with a
// fixed enum, package_contents.value (MOE_GATHERER, CLOUD_SYNC, …). Ent's
// migration alone cannot turn that into package_contents.feature_id: it
// would add a NOT NULL column to a table with rows and keep the old NOT
// NULL value column, which no insert fills any more. upgradeContentValues
// does it first, in one transaction:
//
//  1. create the features table as ent would (same columns, the same start
//     of its ids, the unique index on key), when it does not exist yet;
//  2. make each value in use a SWITCH feature whose key is the value in
//     lower case (MOE_GATHERER → moe_gatherer, named "Moe gatherer");
//  3. add package_contents.feature_id (nullable for now) and point every
//     content at its feature;
//  4. drop the unique index on (package_id, value) and the value column.
//
// Ent's migration then finishes the job the way it builds any schema
// (feature_id NOT NULL with its foreign key and indexes, the limit column)
// without being allowed to drop anything. upgradeContentValues does
// nothing on a database without package_contents.value (new, or already
// upgraded), so it runs at every start at no cost; checkContentFeatures
// then checks that no content was left without its feature.

// oldContentValueIndex is the unique index the old releases kept on
// (package_id, value).
const oldContentValueIndex = "packagecontent_package_id_value"

// FeatureKeyOfValue is the feature key an old content value becomes.
func FeatureKeyOfValue(value string) string { return strings.ToLower(value) }

// featureNameOfValue is the name the feature of an old content value gets:
// MOE_GATHERER → "Moe gatherer".
func featureNameOfValue(value string) string {
	s := strings.ReplaceAll(strings.ToLower(value), "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (d *DB) upgradeContentValues(ctx context.Context) error {
	has, err := d.hasColumn(ctx, d.SQL, "package_contents", "value")
	if err != nil || !has {
		return err
	}
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if err := d.contentValuesToFeatures(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (d *DB) contentValuesToFeatures(ctx context.Context, tx *sql.Tx) error {
	exists, err := d.hasTable(ctx, tx, "features")
	if err != nil {
		return err
	}
	if !exists {
		for _, stmt := range d.featuresTableDDL() {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create the features table: %w", err)
			}
		}
	}
	values, err := distinctValues(ctx, tx)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	insert := d.rebind(`INSERT INTO features (created_at, updated_at, ` + d.quote("key") + `, name, description, kind)
VALUES (?, ?, ?, ?, '', 'SWITCH') ON CONFLICT (` + d.quote("key") + `) DO NOTHING`)
	for _, v := range values {
		if _, err := tx.ExecContext(ctx, insert, now, now, FeatureKeyOfValue(v), featureNameOfValue(v)); err != nil {
			return fmt.Errorf("create the feature of %s: %w", v, err)
		}
	}
	hasFeatureID, err := d.hasColumn(ctx, tx, "package_contents", "feature_id")
	if err != nil {
		return err
	}
	if !hasFeatureID {
		colType := "integer"
		if d.Driver == Postgres {
			colType = "bigint"
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE package_contents ADD COLUMN feature_id `+colType+` NULL`); err != nil {
			return fmt.Errorf("add package_contents.feature_id: %w", err)
		}
	}
	stmts := []string{
		`UPDATE package_contents SET feature_id = (SELECT f.id FROM features f WHERE f.` + d.quote("key") + ` = LOWER(package_contents.value)) WHERE feature_id IS NULL`,
		`DROP INDEX IF EXISTS ` + oldContentValueIndex,
		`ALTER TABLE package_contents DROP COLUMN value`,
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("point package contents at their features: %w", err)
		}
	}
	return checkContentFeatures(ctx, tx)
}

func distinctValues(ctx context.Context, tx *sql.Tx) ([]string, error) {
	return queryStrings(ctx, tx, `SELECT DISTINCT value FROM package_contents ORDER BY value`)
}

// queryer is a database or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkContentFeatures fails unless every package content has its feature.
func checkContentFeatures(ctx context.Context, q queryer) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM package_contents c
WHERE c.feature_id IS NULL OR NOT EXISTS (SELECT 1 FROM features f WHERE f.id = c.feature_id)`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d package content(s) have no feature", n)
	}
	return nil
}

// featuresTableDDL creates the features table exactly as ent's migration
// does (see ent/migrate.FeaturesTable), its ids starting where ent starts
// them so that global ids stay unique.
func (d *DB) featuresTableDDL() []string {
	start := 0
	if a := migrate.FeaturesTable.Annotation; a != nil && a.IncrementStart != nil {
		start = *a.IncrementStart
	}
	if d.Driver == Postgres {
		return []string{
			fmt.Sprintf(`CREATE TABLE "features" ("id" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY (START WITH %d), "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "key" character varying NOT NULL, "name" character varying NOT NULL, "description" character varying NOT NULL DEFAULT '', "kind" character varying NOT NULL, PRIMARY KEY ("id"))`, max(start, 1)),
			`CREATE UNIQUE INDEX "features_key_key" ON "features" ("key")`,
		}
	}
	return []string{
		"CREATE TABLE `features` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `key` text NOT NULL, `name` text NOT NULL, `description` text NOT NULL DEFAULT (''), `kind` text NOT NULL)",
		fmt.Sprintf("INSERT INTO sqlite_sequence (name, seq) VALUES ('features', %d)", start),
		"CREATE UNIQUE INDEX `features_key_key` ON `features` (`key`)",
	}
}

func (d *DB) quote(ident string) string { return `"` + ident + `"` }

// rebind turns ? placeholders into PostgreSQL's $n.
func (d *DB) rebind(q string) string {
	if d.Driver != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d *DB) hasTable(ctx context.Context, q queryer, table string) (bool, error) {
	query := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if d.Driver == Postgres {
		query = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, table).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect table %s: %w", table, err)
	}
	return n > 0, nil
}

func (d *DB) hasColumn(ctx context.Context, q queryer, table, column string) (bool, error) {
	query := `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?`
	if d.Driver == Postgres {
		query = `SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("inspect column %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

var errHalfUpgraded = errors.New("the upgrade of package contents to features is incomplete")

// checkUpgraded checks, after ent's migration, that the upgrade of content
// values left nothing half-done: no value column, every content with its
// feature.
func (d *DB) checkUpgraded(ctx context.Context) error {
	has, err := d.hasColumn(ctx, d.SQL, "package_contents", "value")
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("%w: package_contents.value is still there", errHalfUpgraded)
	}
	if err := checkContentFeatures(ctx, d.SQL); err != nil {
		return fmt.Errorf("%w: %w", errHalfUpgraded, err)
	}
	return nil
}
