package events_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/events/change"
	"gatehouse/internal/viewer"
)

// BenchmarkRecord is what an event costs a write on its own, without the
// HTTP and GraphQL around it: transactions on a SQLite file (WAL, as the
// server writes) that record one event each ("event", the row and its
// index pages committed), against empty ones ("empty"). An admin extends
// assignments, as in the W5 load.
func BenchmarkRecord(b *testing.B) {
	d, err := db.Open(context.Background(), db.Options{Driver: db.SQLite, DSN: filepath.Join(b.TempDir(), "gatehouse.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	// A request's context: cancellable, with a signed-in admin.
	ctx, cancel := context.WithCancel(viewer.NewContext(context.Background(), &viewer.Viewer{UserID: 1, Role: "ADMIN", Username: "root"}))
	b.Cleanup(cancel)
	r := events.New(nil)
	t0 := time.Now().UTC()
	for _, record := range []bool{false, true} {
		name := "empty"
		if record {
			name = "event"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				tx, err := d.Ent.Tx(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if record {
					exp := t0.Add(time.Duration(i) * time.Hour)
					_, err = r.Record(ctx, tx, events.Entry{
						Type: "user_package.extended", SubjectType: events.SubjectUserPackage, SubjectID: i*7919%100_000 + 1,
						Changes: change.Set{"expiresAt": {From: t0, To: exp}, "graceEndsAt": {From: t0, To: exp}},
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
