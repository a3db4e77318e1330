package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"gatehouse/ent/event"
	"gatehouse/ent/joblease"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/timedevents"
	"gatehouse/internal/viewer"
)

// The assembled app runs the event log's jobs: an assignment that has
// started gets its user_package.started event from the server, once, and
// both jobs hold their leases.
func TestAppRunsTheEventJobs(t *testing.T) {
	d := testdb.Open(t)
	cfg := config.Default()
	cfg.Signing.Secret = apptest.TestSigningSecret // PostgreSQL needs one
	cfg.Events.TimedEvery = config.Duration{Duration: time.Second}
	a, err := app.Assemble(context.Background(), cfg, d, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{TestBcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	sys := viewer.System(context.Background())
	u, err := a.Service.CreateUser(sys, service.CreateUserInput{Username: "alice", Password: "password-alice"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Service.CreatePackage(sys, service.CreatePackageInput{Name: "pro", Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	starts := time.Now().Add(-time.Hour)
	up, err := a.Service.AssignPackage(sys, service.AssignPackageInput{UserID: u.ID, PackageID: p.ID, StartsAt: &starts})
	if err != nil {
		t.Fatal(err)
	}
	started := event.And(event.Type(timedevents.TypeStarted), event.SubjectID(up.ID))
	a.StartJobs(context.Background())
	deadline := time.Now().Add(time.Minute)
	for d.Ent.Event.Query().Where(started).CountX(sys) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no user_package.started event within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.StopJobs(time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := d.Ent.Event.Query().Where(started).CountX(sys); n != 1 {
		t.Errorf("%d started events, want 1", n)
	}
	for _, name := range []string{app.JobTimedEvents, app.JobEventsRetention} {
		if n := d.Ent.JobLease.Query().Where(joblease.Name(name)).CountX(sys); n != 1 {
			t.Errorf("job %s has %d leases", name, n)
		}
	}
}
