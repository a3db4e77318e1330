package db_test

import (
	"context"
	"testing"

	"gatehouse/internal/testdb"
)

func TestCheckSchemaWantsTheDashboardSessionTable(t *testing.T) {
	d := testdb.Open(t)
	ctx := context.Background()
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("a migrated database is reported as not current: %v", err)
	}
	if _, err := d.SQL.ExecContext(ctx, "DROP TABLE sessions"); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("a database without the dashboard's session table is reported as current")
	}
}
