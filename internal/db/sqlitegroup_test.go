package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/loginthrottle"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// keys lists the login throttle keys written, sorted.
func keys(t *testing.T, d *db.DB) map[string]bool {
	t.Helper()
	ks, err := d.Ent.LoginThrottle.Query().Select(loginthrottle.FieldKey).Strings(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// waitForWaiters waits until n writes wait for their turn.
func waitForWaiters(t *testing.T, d *db.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for db.WritersWaiting(d) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes wait for their turn, want %d", db.WritersWaiting(d), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// begin begins a transaction and writes key in it.
func begin(t *testing.T, ctx context.Context, d *db.DB, key string) *ent.Tx {
	t.Helper()
	tx, err := d.Ent.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.LoginThrottle.Create().SetKey(key).SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// Write transactions that queue share commits, and each keeps or drops
// its own changes: every write that committed is there, no write that
// rolled back is, and there were fewer commits than writes.
func TestGroupCommitKeepsEachWritersOutcome(t *testing.T) {
	const writers, each = 16, 12
	d := openWriters(t, 5*time.Second)
	ctx := viewer.System(context.Background())
	_, before, _ := d.SQLiteCommits()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				key := fmt.Sprintf("w%d:%d", w, i)
				tx, err := d.Ent.Tx(ctx)
				if err != nil {
					errs <- err
					continue
				}
				if err := tx.LoginThrottle.Create().SetKey(key).SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
					_ = tx.Rollback()
					errs <- err
					continue
				}
				time.Sleep(200 * time.Microsecond) // other work of the request
				if (w+i)%3 == 0 {
					errs <- tx.Rollback()
				} else {
					errs <- tx.Commit()
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	got := keys(t, d)
	kept := 0
	for w := range writers {
		for i := range each {
			key := fmt.Sprintf("w%d:%d", w, i)
			if want := (w+i)%3 != 0; got[key] != want {
				t.Errorf("%s written: %v, want %v", key, got[key], want)
			}
			if (w+i)%3 != 0 {
				kept++
			}
		}
	}
	if len(got) != kept {
		t.Errorf("%d rows, want %d", len(got), kept)
	}
	_, after, _ := d.SQLiteCommits()
	commits := after - before
	t.Logf("%d writes kept in %d commits", kept, commits)
	if commits >= int64(kept) {
		t.Errorf("%d commits for %d queued writes: no write shared a commit", commits, kept)
	}
}

// When the commit a write shares fails, every write in it fails and none
// of them is written: here the first write's row breaks a foreign key
// whose check SQLite defers to the commit.
func TestGroupCommitFailureFailsEveryMember(t *testing.T) {
	d := openWriters(t, 5*time.Second)
	ctx := viewer.System(context.Background())
	a := begin(t, ctx, d, "a")
	if _, err := a.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "INSERT INTO package_trials (created_at, package_id, user_id) VALUES (?, 999, 999)", time.Now()); err != nil {
		t.Fatal(err)
	}
	bErr := make(chan error, 1)
	go func() {
		tx, err := d.Ent.Tx(ctx)
		if err != nil {
			bErr <- err
			return
		}
		if err := tx.LoginThrottle.Create().SetKey("b").SetWindowStartedAt(time.Now()).Exec(ctx); err != nil {
			bErr <- err
			return
		}
		bErr <- tx.Commit()
	}()
	waitForWaiters(t, d, 1)
	aErr := a.Commit() // leaves the group open for b, which commits it
	if err := <-bErr; err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("b's commit: %v, want the foreign key failure", err)
	}
	if aErr == nil || !strings.Contains(aErr.Error(), "FOREIGN KEY") {
		t.Errorf("a's commit: %v, want the foreign key failure", aErr)
	}
	if got := keys(t, d); len(got) != 0 {
		t.Errorf("rows %v written by a failed commit", got)
	}
	// The writer goes on.
	if err := write(ctx, d, "after", 0); err != nil {
		t.Fatalf("write after the failed commit: %v", err)
	}
}

// A write abandoned in a group (its request's context ended) takes only
// its own changes with it.
func TestGroupMemberAbandoned(t *testing.T) {
	d := openWriters(t, 5*time.Second)
	ctx := viewer.System(context.Background())
	a := begin(t, ctx, d, "a")
	bctx, cancel := context.WithCancel(ctx)
	bTx := make(chan *ent.Tx, 1)
	go func() {
		tx, err := d.Ent.Tx(bctx)
		if err != nil {
			t.Error(err)
			close(bTx)
			return
		}
		if err := tx.LoginThrottle.Create().SetKey("b").SetWindowStartedAt(time.Now()).Exec(bctx); err != nil {
			t.Error(err)
		}
		bTx <- tx
	}()
	waitForWaiters(t, d, 1)
	aErr := make(chan error, 1)
	go func() { aErr <- a.Commit() }()
	b := <-bTx
	if b == nil {
		t.FailNow()
	}
	cancel()
	if err := <-aErr; err != nil {
		t.Fatalf("a's commit: %v", err)
	}
	if err := b.LoginThrottle.Create().SetKey("b2").SetWindowStartedAt(time.Now()).Exec(bctx); err == nil {
		t.Error("a statement ran after its context ended")
	}
	if got := keys(t, d); !got["a"] || got["b"] || got["b2"] || len(got) != 1 {
		t.Errorf("rows %v, want a only", got)
	}
	if err := b.Commit(); err == nil {
		t.Error("an abandoned write committed")
	}
}

// A turn taken to write outside ent (DB.WriteTurn) ends the open group
// first: it sees what the group's writes committed, and they are told.
func TestWriteTurnEndsGroup(t *testing.T) {
	d := openWriters(t, 5*time.Second)
	ctx := viewer.System(context.Background())
	a := begin(t, ctx, d, "a")
	seen := make(chan int, 1)
	go func() {
		release, err := d.WriteTurn(ctx)
		if err != nil {
			t.Error(err)
			seen <- -1
			return
		}
		defer release()
		var n int
		if err := d.SQL.QueryRowContext(ctx, "SELECT count(*) FROM login_throttles WHERE key = 'a'").Scan(&n); err != nil {
			t.Error(err)
		}
		seen <- n
	}()
	waitForWaiters(t, d, 1)
	if err := a.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if n := <-seen; n != 1 {
		t.Fatalf("the turn's statement saw %d rows of the group's write, want 1", n)
	}
}
