package graph_test

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/service"
)

// w5Query is the benchmark's write (W5): an admin assigns a package to a
// user for a day, extending the assignment the user already holds.
const w5Query = `mutation($u: ID!, $p: ID!) { assignPackage(input: {userID: $u, packageID: $p, days: 1}) { id expiresAt } }`

// BenchmarkAssignPackage measures W5: an admin assigning a package to a
// user for a day over HTTP, on a SQLite file opened as the server opens
// it (writes queued on the writer, queries on the readers), or
// PostgreSQL. "serial" and "conns16" (16 clients at once) assign a random
// package (of 20) to a random user (of 300) who already holds every
// package, as in the load run once it has warmed up: the assignment is
// extended. "new" assigns packages users do not hold. Each reports the
// process CPU time per write (client included: see BenchmarkFloorNothing),
// the SQL statements per write (the session's lookup included; BEGIN and
// COMMIT apart) and the transactions per write. Built with
// -tags gatehouse_noevents it measures the writes without their event
// rows (and webhook outbox): the difference is what the event log costs.
func BenchmarkAssignPackage(b *testing.B) {
	d := fileDB(b)
	var stmts, txs atomic.Int64
	d.Ent = ent.NewClient(ent.Driver(countingDriver{Driver: d.EntDriver(), n: &stmts, tx: &txs}))
	s := apptest.StartOn(b, d, nil, app.Options{})
	seedListWorld(b, s, 1000, [2]int{2, 3})
	tok := s.Login("root", adminPW)
	ctx := sys()
	users, err := d.Ent.User.Query().Where(user.RoleEQ(user.RoleUSER)).Order(ent.Asc(user.FieldID)).IDs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pkgs, err := d.Ent.Pkg.Query().Order(ent.Asc(pkg.FieldID)).IDs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	writers, others := users[300:600], append(users[:300:300], users[600:]...)
	for _, u := range writers {
		for _, p := range pkgs {
			if _, err := s.App.Service.AssignPackage(ctx, service.AssignPackageInput{UserID: u, PackageID: p}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Pairs of the other users and packages they do not hold, in turn.
	var fresh [][2]int
	for _, u := range others {
		held, err := d.Ent.UserPackage.Query().Where(userpackage.UserID(u)).Select(userpackage.FieldPackageID).Ints(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkgs {
			if !slices.Contains(held, p) {
				fresh = append(fresh, [2]int{u, p})
			}
		}
	}
	assign := func(u, p int) []byte {
		out, _ := json.Marshal(map[string]any{"query": w5Query, "variables": map[string]any{"u": strconv.Itoa(u), "p": strconv.Itoa(p)}})
		return out
	}
	random := func(r *rand.Rand) []byte {
		return assign(writers[r.IntN(len(writers))], pkgs[r.IntN(len(pkgs))])
	}
	report := func(b *testing.B, stmts0, txs0 int64) {
		b.ReportMetric(float64(stmts.Load()-stmts0)/float64(b.N), "stmts/op")
		b.ReportMetric(float64(txs.Load()-txs0)/float64(b.N), "tx/op")
	}
	// The first request touches the admin's session (once a minute).
	post(b, s.URL, tok, random(rand.New(rand.NewPCG(0, 0))))

	b.Run("serial", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		stmts0, txs0 := stmts.Load(), txs.Load()
		b.ResetTimer()
		defer reportCPU(b)()
		for b.Loop() {
			post(b, s.URL, tok, random(r))
		}
		b.StopTimer()
		report(b, stmts0, txs0)
	})
	b.Run("conns16", func(b *testing.B) {
		var seed atomic.Uint64
		b.ReportAllocs()
		b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		stmts0, txs0 := stmts.Load(), txs.Load()
		b.ResetTimer()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seed.Add(1), 3))
			for pb.Next() {
				post(b, s.URL, tok, random(r))
			}
		})
		b.StopTimer()
		report(b, stmts0, txs0)
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		stmts0, txs0 := stmts.Load(), txs.Load()
		b.ResetTimer()
		defer reportCPU(b)()
		for b.Loop() {
			if len(fresh) == 0 {
				b.Fatal("no pairs left to assign: run with a smaller -benchtime")
			}
			post(b, s.URL, tok, assign(fresh[0][0], fresh[0][1]))
			fresh = fresh[1:]
		}
		b.StopTimer()
		report(b, stmts0, txs0)
	})
}

// countingDriver counts the statements and the transactions sent through
// a driver, keeping what the driver does (on SQLite: queue the writes).
type countingDriver struct {
	dialect.Driver
	n, tx *atomic.Int64
}

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

func (d countingDriver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	d.n.Add(1)
	return d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
}

func (d countingDriver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	d.n.Add(1)
	return d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	}).QueryContext(ctx, query, args...)
}

func (d countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

func (d countingDriver) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.(interface {
		BeginTx(context.Context, *entsql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	d.tx.Add(1)
	return countingTx{Tx: tx, n: d.n}, nil
}

type countingTx struct {
	dialect.Tx
	n *atomic.Int64
}

func (t countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Query(ctx, query, args, v)
}

func (t countingTx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	t.n.Add(1)
	return t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
}

func (t countingTx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	t.n.Add(1)
	return t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	}).QueryContext(ctx, query, args...)
}
