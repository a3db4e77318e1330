package main

import (
	"context"
	"testing"

	"gatehouse/ent/event"
	"gatehouse/internal/app"
	"gatehouse/internal/config"
	"gatehouse/internal/viewer"
)

// Changes made at the command line are recorded with the CLI as actor.
func TestCommandLineChangesAreRecorded(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	db := []string{"--db", dsn}
	mustCLI(t, m, "alice-password-1\n", "user", "create", "--username", "alice", "--password-stdin", db[0], db[1])
	mustCLI(t, m, "alice-password-2\n", "user", "passwd", "--username", "alice", "--password-stdin", db[0], db[1])
	mustCLI(t, m, "", "user", "disable", "--username", "alice", db[0], db[1])

	cfg := config.Default()
	cfg.Database.DSN = dsn
	cfg.Database.Infer()
	d, err := app.OpenDB(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Ent.Event.Query().Order(event.ByID()).All(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user.created", "user.password_changed", "user.updated"}
	if len(evs) != len(want) {
		t.Fatalf("events %+v, want %v", evs, want)
	}
	for i, e := range evs {
		if e.Type != want[i] || e.ActorKind != event.ActorKindCLI || e.ActorID != nil || e.SubjectType != "user" || e.SubjectID == nil {
			t.Errorf("event %d: %+v, want %s by the CLI", i, e, want[i])
		}
	}
	if c, ok := evs[1].Changes["password"]; !ok || c.From != "[redacted]" || c.To != "[redacted]" {
		t.Errorf("password change: %+v", evs[1].Changes)
	}
	if c := evs[2].Changes["disabled"]; c.From != false || c.To != true {
		t.Errorf("disable: %+v", evs[2].Changes)
	}
}
