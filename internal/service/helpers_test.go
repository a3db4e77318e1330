package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// fixture is a service over a fresh database.
type fixture struct {
	t   *testing.T
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
	return &fixture{t: t, db: d, svc: service.New(d.Ent, a), sys: viewer.System(context.Background())}
}

// as is a context of an enabled user with role.
func as(u *ent.User) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Role: string(u.Role)})
}

// user makes a user directly (their password is never checked here, so
// no time goes to hashing one).
func (f *fixture) user(name string, role user.Role) *ent.User {
	f.t.Helper()
	u, err := f.db.Ent.User.Create().SetUsername(name).SetPasswordHash("unused").SetRole(role).Save(f.sys)
	if err != nil {
		f.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func (f *fixture) pkg(name string, days int) *ent.Pkg {
	f.t.Helper()
	p, err := f.svc.CreatePackage(f.sys, service.CreatePackageInput{Name: name, Days: days})
	if err != nil {
		f.t.Fatalf("create package %s: %v", name, err)
	}
	return p
}

// fixedClock stops the service's clock at a whole second.
func (f *fixture) fixedClock() time.Time {
	now := time.Now().UTC().Truncate(time.Second)
	f.svc.SetClock(func() time.Time { return now })
	return now
}

// parallel runs fns at the same moment, each in its own goroutine, and
// returns their errors in order.
func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// code is the code a client would see for err ("" for none).
func code(ctx context.Context, err error) apperr.Code {
	if err == nil {
		return ""
	}
	if e := service.Classify(ctx, err); e != nil {
		return e.Code
	}
	return apperr.Internal
}
