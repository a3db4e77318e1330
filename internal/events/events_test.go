package events_test

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/migrate"
	"gatehouse/ent/pkg"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

type fixture struct {
	db  *db.DB
	svc *service.Service
	sys context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := testdb.Open(t)
	cfg := auth.DefaultConfig()
	cfg.BcryptCost = auth.MinBcryptCost
	cfg.TestBcryptCost = bcrypt.MinCost
	a, err := auth.New(d.Ent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: d, svc: service.New(d.Ent, a), sys: viewer.System(context.Background())}
}

func as(u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Role: string(u.Role)})
}

func (f *fixture) user(t *testing.T, name string, role user.Role) *ent.User {
	t.Helper()
	u, err := f.svc.CreateUser(f.sys, service.CreateUserInput{Username: name, Password: "password-" + name, Role: &role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) count(t *testing.T, ps ...func(*ent.EventQuery)) int {
	t.Helper()
	q := f.db.Ent.Event.Query()
	for _, p := range ps {
		p(q)
	}
	n, err := q.Count(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// No change without its event, no event without its change: when an
// outbox fails after the change and its event were written, the
// transaction rolls back and neither is found; when it works, both are.
func TestOutboxFailureRollsTheChangeBack(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "root", user.RoleADMIN)
	alice := f.user(t, "alice", user.RoleUSER)
	p, err := f.svc.CreatePackage(as(admin), service.CreatePackageInput{Name: "Pro", Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	var fail bool
	var seen []string
	f.svc.Events().AddOutbox(events.OutboxFunc(func(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
		// The outbox sees the change and its event in the transaction.
		if n, err := tx.Event.Query().Where(event.ID(e.ID)).Count(viewer.System(ctx)); err != nil || n != 1 {
			return fmt.Errorf("event not in the transaction: %d, %v", n, err)
		}
		if fail {
			return errors.New("outbox is down")
		}
		seen = append(seen, e.Type)
		return nil
	}))
	before := f.count(t)
	fail = true
	if _, err := f.svc.AssignPackage(as(admin), service.AssignPackageInput{UserID: alice.ID, PackageID: p.ID}); err == nil {
		t.Fatal("assigned although the outbox failed")
	}
	if _, err := f.svc.UpdateUser(as(admin), alice.ID, service.UpdateUserInput{Username: ptr("alice2")}); err == nil {
		t.Fatal("renamed although the outbox failed")
	}
	if n, _ := f.db.Ent.UserPackage.Query().Where(userpackage.UserID(alice.ID)).Count(f.sys); n != 0 {
		t.Fatalf("assignment kept without its event: %d", n)
	}
	if u, _ := f.db.Ent.User.Get(f.sys, alice.ID); u.Username != "alice" {
		t.Fatalf("rename kept without its event: %s", u.Username)
	}
	if n := f.count(t); n != before {
		t.Fatalf("events %d, want %d: an event without its change", n, before)
	}
	fail = false
	up, err := f.svc.AssignPackage(as(admin), service.AssignPackageInput{UserID: alice.ID, PackageID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, func(q *ent.EventQuery) { q.Where(event.SubjectID(up.ID), event.Type("user_package.assigned")) }); n != 1 {
		t.Fatalf("events of the assignment: %d", n)
	}
	if len(seen) != 1 || seen[0] != "user_package.assigned" {
		t.Fatalf("outbox saw %v", seen)
	}
}

func ptr[T any](v T) *T { return &v }

// Events cannot be changed or deleted by anyone, not even past the
// privacy rules; they are created only by the recording function; PruneBatch
// deletes only the older ones.
func TestEventsAreImmutable(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "root", user.RoleADMIN)
	ev, err := f.db.Ent.Event.Query().Where(event.SubjectID(admin.ID)).Only(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	for name, ctx := range map[string]context.Context{"admin": as(admin), "system": f.sys} {
		if err := f.db.Ent.Event.DeleteOneID(ev.ID).Exec(ctx); err == nil {
			t.Errorf("%s deleted an event", name)
		}
		if _, err := f.db.Ent.Event.Delete().Exec(ctx); err == nil {
			t.Errorf("%s deleted events", name)
		}
		if err := f.db.Ent.Event.UpdateOneID(ev.ID).Exec(ctx); err == nil {
			t.Errorf("%s updated an event", name)
		}
		if _, err := f.db.Ent.Event.Update().Save(ctx); err == nil {
			t.Errorf("%s updated events", name)
		}
		if err := f.db.Ent.Event.Create().SetType("user.created").SetActorKind(event.ActorKindSYSTEM).Exec(ctx); err == nil {
			t.Errorf("%s created an event beside the event log", name)
		}
	}
	if n := f.count(t); n != 1 {
		t.Fatalf("events: %d", n)
	}
	// A user reads no events.
	alice := f.user(t, "alice", user.RoleUSER)
	if evs, err := f.db.Ent.Event.Query().All(as(alice)); err == nil || len(evs) > 0 {
		t.Fatalf("user read events: %v, %v", evs, err)
	}
	// PruneBatch: only events before the time go.
	cut := time.Now().Add(time.Hour)
	old := f.count(t)
	f.svc.Events().SetClock(func() time.Time { return cut.Add(time.Minute) })
	f.user(t, "bob", user.RoleUSER)
	// In batches smaller than what goes: each takes the oldest, until none.
	n := 0
	for {
		k, err := f.svc.Events().PruneBatch(context.Background(), f.db.Ent, cut, 2)
		if err != nil || k > 2 {
			t.Fatalf("pruned a batch of %d (%v), want at most 2", k, err)
		}
		if k == 0 {
			break
		}
		n += k
	}
	if n != old {
		t.Fatalf("pruned %d, want %d", n, old)
	}
	left, err := f.db.Ent.Event.Query().All(f.sys)
	if err != nil || len(left) != 1 || left[0].Type != "user.created" || left[0].ActorName != "" || left[0].ActorKind != event.ActorKindSYSTEM {
		t.Fatalf("left after pruning: %+v, %v", left, err)
	}
}

// The actor: an admin, a user acting on their own things (name read in
// the transaction when the viewer does not carry it), the command line,
// the server itself. Events outlive their actor.
func TestActorKinds(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "root", user.RoleADMIN)
	alice := f.user(t, "alice", user.RoleUSER)
	cli := events.CLI(f.sys)
	if _, err := f.svc.UpdateUser(cli, alice.ID, service.UpdateUserInput{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateFeature(as(admin), service.CreateFeatureInput{Key: "sync", Name: "Sync", Kind: "SWITCH"}); err != nil {
		t.Fatal(err)
	}
	evs, err := f.db.Ent.Event.Query().Order(ent.Asc(event.FieldID)).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(evs))
	for i, e := range evs {
		actor := "-"
		if e.ActorID != nil {
			actor = strconv.Itoa(*e.ActorID)
		}
		got[i] = fmt.Sprintf("%s %s %s %q", e.Type, e.ActorKind, actor, e.ActorName)
	}
	want := []string{
		`user.created SYSTEM - ""`,
		`user.created SYSTEM - ""`,
		`user.updated CLI - ""`,
		fmt.Sprintf(`feature.created ADMIN %d "root"`, admin.ID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The admin deleted: their events stay, with their name.
	other := f.user(t, "root2", user.RoleADMIN)
	if _, err := f.svc.DeleteUser(as(other), admin.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, func(q *ent.EventQuery) { q.Where(event.ActorID(admin.ID), event.ActorName("root")) }); n != 1 {
		t.Fatalf("the deleted admin's events: %d", n)
	}
}

// Parallel writes each get exactly their own event (also on PostgreSQL).
func TestParallelWritesEachGetTheirEvent(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "root", user.RoleADMIN)
	const n = 8
	var pkgs []*ent.Pkg
	for i := range n {
		p, err := f.svc.CreatePackage(as(admin), service.CreatePackageInput{Name: fmt.Sprintf("p%d", i), Days: 1})
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	users := make([]*ent.User, n)
	for i := range users {
		users[i] = f.user(t, fmt.Sprintf("user%d", i), user.RoleUSER)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n*n)
	start := make(chan struct{})
	for i := range n {
		for j := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := f.svc.AssignPackage(as(admin), service.AssignPackageInput{UserID: users[i].ID, PackageID: pkgs[j].ID}); err != nil {
					errs <- err
				}
			}()
		}
		// Renames of packages race with the assignments.
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := f.svc.UpdatePackage(as(admin), pkgs[i].ID, service.UpdatePackageInput{Name: ptr(fmt.Sprintf("q%d", i))}); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ups, err := f.db.Ent.UserPackage.Query().All(f.sys)
	if err != nil || len(ups) != n*n {
		t.Fatalf("assignments %d, %v", len(ups), err)
	}
	for _, up := range ups {
		evs, err := f.db.Ent.Event.Query().Where(event.SubjectType("user_package"), event.SubjectID(up.ID)).All(f.sys)
		if err != nil || len(evs) != 1 || evs[0].Type != "user_package.assigned" {
			t.Fatalf("events of assignment %d: %+v, %v", up.ID, evs, err)
		}
		if c := evs[0].Changes["userID"]; fmt.Sprintf("%.0f", c.To) != strconv.Itoa(up.UserID) {
			t.Fatalf("event of assignment %d names user %v, want %d", up.ID, c.To, up.UserID)
		}
	}
	if got := f.count(t, func(q *ent.EventQuery) { q.Where(event.Type("user_package.assigned")) }); got != n*n {
		t.Fatalf("assignment events %d, want %d", got, n*n)
	}
	for _, p := range pkgs {
		cur, _ := f.db.Ent.Pkg.Query().Where(pkg.ID(p.ID)).Only(f.sys)
		evs, err := f.db.Ent.Event.Query().Where(event.Type("package.updated"), event.SubjectID(p.ID)).All(f.sys)
		if err != nil || len(evs) != 1 || evs[0].Changes["name"].To != cur.Name {
			t.Fatalf("rename events of %s: %+v, %v", cur.Name, evs, err)
		}
	}
}

// Only the event log and the ent schema use the markers that let the
// events table be written.
func TestOnlyTheEventLogWritesEvents(t *testing.T) {
	root := filepath.Join("..", "..")
	allowed := map[string]bool{"internal/events": true, "ent/schema": true}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, `"`) == "gatehouse/internal/events/mark" && !allowed[filepath.ToSlash(dir)] {
				t.Errorf("%s imports the event log's markers", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Event ids only grow: the first is in the events' id range (node ids
// tell an object's type by its range), and once every event is pruned,
// the newest too, the next event still comes after them all.
func TestEventIDsOnlyGrow(t *testing.T) {
	f := newFixture(t)
	f.user(t, "root", user.RoleADMIN)
	f.user(t, "alice", user.RoleUSER)
	ids, err := f.db.Ent.Event.Query().Order(event.ByID()).IDs(f.sys)
	if err != nil || len(ids) != 2 {
		t.Fatalf("events: %v, %v", ids, err)
	}
	start := *migrate.EventsTable.Annotation.IncrementStart
	if ids[0] < start || ids[0] >= start+1<<32 || ids[1] <= ids[0] {
		t.Fatalf("event ids %v, want growing ids in the range from %d", ids, start)
	}
	for {
		n, err := f.svc.Events().PruneBatch(context.Background(), f.db.Ent, time.Now().Add(time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n := f.count(t); n != 0 {
		t.Fatalf("%d events left after pruning them all", n)
	}
	f.user(t, "bob", user.RoleUSER)
	next, err := f.db.Ent.Event.Query().OnlyID(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	if next <= ids[1] {
		t.Fatalf("after pruning every event, the next has id %d, not after the pruned %v", next, ids)
	}
}
