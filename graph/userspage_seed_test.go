package graph_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
)

// usersPageQuery is the admin list page: a page of users with their
// packages, contents and sessions.
const usersPageQuery = `query($n:Int,$after:Cursor,$order:UserOrder){users(first:$n,after:$after,orderBy:$order){totalCount pageInfo{endCursor hasNextPage} edges{cursor node{id username packages{id expiresAt active package{id name contents{id limit feature{key}}}} sessions{id active}}}}}`

// countingServerOn starts a server over d whose ent client counts the SQL
// statements it sends.
func countingServerOn(tb testing.TB, d *db.DB) (*apptest.Server, *atomic.Int64) {
	tb.Helper()
	var n atomic.Int64
	name := dialect.SQLite
	if d.Driver == "postgres" {
		name = dialect.Postgres
	}
	drv := dialect.DebugWithContext(entsql.OpenDB(name, d.SQL), func(context.Context, ...any) { n.Add(1) })
	d.Ent = ent.NewClient(ent.Driver(drv))
	return apptest.StartOn(tb, d, nil, app.Options{}), &n
}

// fileDB opens a fresh migrated database: a SQLite file (as a server
// keeps it, so its pages are not counted in the process's memory) or, when
// the tests run against PostgreSQL, a database of its own.
func fileDB(tb testing.TB) *db.DB {
	tb.Helper()
	o := testdb.Options(tb)
	if o.Driver == db.SQLite {
		o.DSN = filepath.Join(tb.TempDir(), "gatehouse.db")
	}
	d, err := db.Open(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return d
}

// listWorld is the data set of the admin list page: users with
// assignments of packages (three contents each) and sessions.
type listWorld struct {
	s     *apptest.Server
	stmts *atomic.Int64
	token string
}

// seedListWorld adds an admin ("root") and users user0000000… in bulk,
// each with perUser[0] assignments and perUser[1] sessions, over 20
// packages of 3 contents.
func seedListWorld(tb testing.TB, s *apptest.Server, users int, perUser [2]int) {
	tb.Helper()
	s.CreateUser("root", adminPW, user.RoleADMIN)
	svc := s.App.Service
	seedFeatures(tb, svc)
	keys := []string{"moe_gatherer", "cloud_sync", "auto_gather", "priority_support", "projects"}
	pkgs := make([]int, 20)
	for i := range pkgs {
		var contents []*service.PackageContentInput
		for j := range 3 {
			in := &service.PackageContentInput{Name: fmt.Sprint("c", j), FeatureKey: keys[(i+j)%len(keys)]}
			if in.FeatureKey == "projects" {
				limit := 10 + i
				in.Limit = &limit
			}
			contents = append(contents, in)
		}
		p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: fmt.Sprintf("Package %02d", i), Days: 30, Contents: contents})
		if err != nil {
			tb.Fatal(err)
		}
		pkgs[i] = p.ID
	}
	c := s.App.DB.Ent
	ctx := sys()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const batch = 1000
	for from := 0; from < users; from += batch {
		to := min(from+batch, users)
		ub := make([]*ent.UserCreate, 0, to-from)
		for i := from; i < to; i++ {
			u := c.User.Create().SetUsername(fmt.Sprintf("user%07d", i)).SetPasswordHash("x").
				SetCreatedAt(now.Add(-time.Duration(i%977) * time.Minute))
			if i%7 != 3 { // one user in seven never signed in
				u.SetLastLoginAt(now.Add(-time.Duration(i%1013) * time.Minute))
			}
			ub = append(ub, u)
		}
		us, err := c.User.CreateBulk(ub...).Save(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		var upb []*ent.UserPackageCreate
		var sb []*ent.UserSessionCreate
		for k, u := range us {
			i := from + k
			for j := range perUser[0] {
				start := now.Add(-time.Duration((i+j)%40) * 24 * time.Hour)
				end := start.Add(30 * 24 * time.Hour)
				upb = append(upb, c.UserPackage.Create().SetUserID(u.ID).SetPackageID(pkgs[(i+j*7)%len(pkgs)]).
					SetStartsAt(start).SetExpiresAt(end).SetGraceEndsAt(end))
			}
			for j := range perUser[1] {
				exp := now.Add(time.Duration(i%5-1) * time.Hour)
				sb = append(sb, c.UserSession.Create().SetUserID(u.ID).SetTokenHash(fmt.Sprintf("hash-%d-%d", i, j)).
					SetCreatedAt(now.Add(-48*time.Hour)).SetExpiresAt(exp).SetMaxExpiresAt(exp.Add(time.Hour)))
			}
		}
		for len(upb) > 0 {
			n := min(len(upb), batch)
			if _, err := c.UserPackage.CreateBulk(upb[:n]...).Save(ctx); err != nil {
				tb.Fatal(err)
			}
			upb = upb[n:]
		}
		for len(sb) > 0 {
			n := min(len(sb), batch)
			if _, err := c.UserSession.CreateBulk(sb[:n]...).Save(ctx); err != nil {
				tb.Fatal(err)
			}
			sb = sb[n:]
		}
	}
}

// newListWorld starts a counting server over a fresh database seeded with
// seedListWorld, and signs the admin in.
func newListWorld(tb testing.TB, users int, perUser [2]int) *listWorld {
	tb.Helper()
	s, n := countingServerOn(tb, fileDB(tb))
	seedListWorld(tb, s, users, perUser)
	return &listWorld{s: s, stmts: n, token: s.Login("root", adminPW)}
}

// userOrders are the orders of the users list: the default (by id) and
// each order field both ways. A nil order is the default.
func userOrders() []map[string]any {
	out := []map[string]any{nil}
	for _, f := range []string{"CREATED_AT", "UPDATED_AT", "USERNAME", "ROLE", "DISABLED", "LAST_LOGIN_AT"} {
		for _, d := range []string{"ASC", "DESC"} {
			out = append(out, map[string]any{"field": f, "direction": d})
		}
	}
	return out
}

func orderName(order map[string]any) string {
	if order == nil {
		return "ID"
	}
	return fmt.Sprint(order["field"], "_", order["direction"])
}

// userOrderFields are the ent order fields by GraphQL name.
var userOrderFields = map[string]*ent.UserOrderField{
	"CREATED_AT":    ent.UserOrderFieldCreatedAt,
	"UPDATED_AT":    ent.UserOrderFieldUpdatedAt,
	"USERNAME":      ent.UserOrderFieldUsername,
	"ROLE":          ent.UserOrderFieldRole,
	"DISABLED":      ent.UserOrderFieldDisabled,
	"LAST_LOGIN_AT": ent.UserOrderFieldLastLoginAt,
}

// orderedUsers queries all users in the order of the list.
func (w *listWorld) orderedUsers(order map[string]any) *ent.UserQuery {
	dir, columns := "ASC", []string{"id"}
	if order != nil {
		name := order["field"].(string)
		dir, columns = order["direction"].(string), []string{strings.ToLower(name), "id"}
	}
	q := w.s.App.DB.Ent.User.Query()
	for _, c := range columns {
		if dir == "ASC" {
			q = q.Order(ent.Asc(c))
		} else {
			q = q.Order(ent.Desc(c))
		}
	}
	return q
}

// cursorAt returns the cursor of the user at position pos (from 0) of the
// list in the given order, as the server would have given it on the page
// holding that user: built directly, since walking a million users page
// by page would take long.
func (w *listWorld) cursorAt(tb testing.TB, order map[string]any, pos int) string {
	tb.Helper()
	u, err := w.orderedUsers(order).Offset(pos).First(sys())
	if err != nil {
		tb.Fatal(err)
	}
	return cursorOf(tb, order, u)
}

// cursorOf is the cursor of u in the list in the given order.
func cursorOf(tb testing.TB, order map[string]any, u *ent.User) string {
	tb.Helper()
	c := ent.Cursor{ID: u.ID}
	if order != nil {
		var err error
		if c.Value, err = userOrderFields[order["field"].(string)].Value(u); err != nil {
			tb.Fatal(err)
		}
	}
	var buf strings.Builder
	c.MarshalGQL(&buf)
	return strings.Trim(buf.String(), `"`)
}
