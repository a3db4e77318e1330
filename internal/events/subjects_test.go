package events_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/user"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
)

// history is the ids of the events OfSubject finds about id, newest first.
func (f *fixture) history(t *testing.T, id int) []int {
	t.Helper()
	ids, err := f.db.Ent.Event.Query().Where(events.OfSubject(id)).Order(event.ByID(sql.OrderDesc())).IDs(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// about is the ids of the events whose subject is id, newest first, read
// from the whole log without any index.
func (f *fixture) about(t *testing.T, id int) []int {
	t.Helper()
	var ids []int
	evs, err := f.db.Ent.Event.Query().Order(event.ByID(sql.OrderDesc())).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.SubjectID != nil && *e.SubjectID == id {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// indexed counts the entries of the SQLite index by subject (0 on
// PostgreSQL, which indexes the table itself).
func (f *fixture) indexed(t *testing.T) int {
	t.Helper()
	if f.db.Driver == db.Postgres {
		return 0
	}
	var n int
	if err := f.db.SQL.QueryRow(`SELECT count(*) FROM ` + db.EventSubjectsTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) rename(t *testing.T, admin, u *ent.User, name string) {
	t.Helper()
	if _, err := f.svc.UpdateUser(as(admin), u.ID, service.UpdateUserInput{Username: &name}); err != nil {
		t.Fatal(err)
	}
}

// An object's history is every event about it, newest first, whether the
// events were indexed by subject yet or not, and pruned events leave the
// index with the log.
func TestObjectHistoryBeforeAndAfterIndexing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.user(t, "root", user.RoleADMIN)
	alice := f.user(t, "alice", user.RoleUSER)
	bob := f.user(t, "bob", user.RoleUSER)
	f.rename(t, admin, alice, "alice2")
	check := func(stage string, wantAlice int) {
		t.Helper()
		for _, u := range []*ent.User{admin, alice, bob} {
			got, want := f.history(t, u.ID), f.about(t, u.ID)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: the history of %s is %v, want %v", stage, u.Username, got, want)
			}
		}
		if n := len(f.history(t, alice.ID)); n != wantAlice {
			t.Fatalf("%s: alice has %d events, want %d", stage, n, wantAlice)
		}
	}
	check("before indexing", 2)
	if n := f.indexed(t); n != 0 && f.db.Driver == db.SQLite {
		// The background indexes once a second: this test is faster.
		t.Logf("the background indexed %d events already", n)
	}

	if _, err := f.db.IndexEventSubjects(ctx); err != nil {
		t.Fatal(err)
	}
	if f.db.Driver == db.SQLite && f.indexed(t) != f.count(t) {
		t.Fatalf("indexed %d entries, the log has %d events", f.indexed(t), f.count(t))
	}
	check("indexed", 2)

	// Newer events, after the index's mark, join the indexed ones.
	f.rename(t, admin, alice, "alice3")
	f.rename(t, admin, bob, "bob2")
	check("partly indexed", 3)

	// Pruning the two oldest events (root's and alice's creation) takes
	// their entries out of the index.
	cut := time.Now().Add(time.Hour)
	f.svc.Events().SetClock(func() time.Time { return cut.Add(time.Minute) })
	f.rename(t, admin, alice, "alice4")
	if _, err := f.db.IndexEventSubjects(ctx); err != nil {
		t.Fatal(err)
	}
	entries := f.indexed(t)
	n, err := f.svc.Events().PruneBatch(ctx, f.db.Ent, cut, 2)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if f.db.Driver == db.SQLite && f.indexed(t) != entries-2 {
		t.Fatalf("after pruning 2 events the index has %d entries, had %d", f.indexed(t), entries)
	}
	check("pruned", 3)
}

// Indexing by subject in the background while changes are written (as
// the server does) loses no event and lists none twice (also on
// PostgreSQL, where it does nothing and the table's index serves).
func TestIndexingWhileWriting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.user(t, "root", user.RoleADMIN)
	const writers, renames = 6, 15
	users := make([]*ent.User, writers)
	for i := range users {
		users[i] = f.user(t, fmt.Sprintf("user%d", i), user.RoleUSER)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	stop := make(chan struct{})
	indexed := make(chan int)
	go func() {
		total := 0
		for {
			select {
			case <-stop:
				indexed <- total
				return
			default:
			}
			n, err := f.db.IndexEventSubjects(ctx)
			if err != nil {
				errs <- err
			}
			total += n
		}
	}()
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range renames {
				name := fmt.Sprintf("user%d-%d", i, j)
				if _, err := f.svc.UpdateUser(as(admin), u.ID, service.UpdateUserInput{Username: &name}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	total := <-indexed
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if f.db.Driver == db.SQLite && total == 0 {
		t.Fatal("the indexing indexed nothing while the changes were written")
	}
	if _, err := f.db.IndexEventSubjects(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		got, want := f.history(t, u.ID), f.about(t, u.ID)
		if len(want) != 1+renames || !slices.Equal(got, want) {
			t.Fatalf("the history of %s is %v, want its %d events %v", u.Username, got, 1+renames, want)
		}
	}
	if f.db.Driver == db.SQLite && f.indexed(t) != f.count(t) {
		t.Fatalf("indexed %d entries, the log has %d events", f.indexed(t), f.count(t))
	}
}
