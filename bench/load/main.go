// Command load is Gatehouse's rerunnable benchmark (`go tool task bench`).
//
// It seeds a fresh database (SQLite file, or a new PostgreSQL database
// that it drops at the end) through Gatehouse's own code, builds
// Gatehouse and the hand-written floor server (bench/floor) and starts
// both as child processes over that database, then runs the workloads
// with vegeta for -rounds rounds, Gatehouse and the floor interleaved:
//
//	W1  `me` with packages, contents and sessions; 200 tokens; closed loop
//	    of -conns connections; also against the floor
//	W2  the admin's page of 100 users with the same nesting, page 1 and a
//	    page 150 users before the end (after: a cursor)
//	W3  a closed-loop login flood (bcrypt cost 10) with W1 at -w3-rate
//	    requests/s beside it, and W1 at that rate alone before
//	W4  checkAccess of a feature most users hold; also against the floor
//	W5  assignPackage (admin) at -w5-conns connections
//
// With -pocketbase it also builds PocketBase (bench/pocketbase, a module
// of its own), seeds it with the same data set and runs W2 (page 1, by
// expanding back-relations) and W5 (a record insert) against it,
// interleaved with Gatehouse's as the floor's are.
//
// Each prints requests/s, p50, p99, errors, the server's CPU per request
// (utime+stime from /proc/<pid>/stat over the workload ÷ requests) and its
// peak RSS (VmHWM reset per workload, or VmRSS sampled every 100 ms). The
// medians go to stdout with the targets of bench/README.md, and every
// figure to a JSON file (-out).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/bench/internal/seed"
	"gatehouse/internal/db"
)

type options struct {
	tags       string
	driver     string
	dsn        string
	duration   time.Duration
	rounds     int
	out        string
	conns      int
	w2Conns    int
	w5Conns    int
	loginConns int
	w3Rate     int
	deepUsers  int
	workloads  map[string]bool
	keep       bool
	pocketBase bool
	pbFields   bool
	serverEnv  []string
	seed       seed.Options
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	o.seed = seed.Default()
	var wl string
	var env multi
	flag.StringVar(&o.driver, "db", "sqlite", "database: sqlite or postgres")
	flag.StringVar(&o.tags, "tags", "", "build tags of the server, e.g. gatehouse_noevents (a server without the event log, to measure what it costs)")
	flag.StringVar(&o.dsn, "dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL: a DSN of a role that may create databases (a database gatehouse_bench_<pid> is created and dropped); SQLite: ignored (a file in a temporary directory)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each workload in each round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (the medians are reported)")
	flag.StringVar(&o.out, "out", "", "JSON results file (default bench/results/<date>-<time>-<db>.json)")
	flag.IntVar(&o.conns, "conns", 32, "connections of W1 and W4 (closed loop)")
	flag.IntVar(&o.w2Conns, "w2-conns", 32, "connections of W2 (closed loop)")
	flag.IntVar(&o.w5Conns, "w5-conns", 16, "connections of W5 (closed loop)")
	flag.IntVar(&o.loginConns, "login-conns", 32, "connections of W3's login flood (closed loop)")
	flag.IntVar(&o.w3Rate, "w3-rate", 100, "W1's rate (requests/s) beside W3's login flood")
	flag.IntVar(&o.deepUsers, "deep-users", 0, "extra plain users (bulk insert) so that W2-deep reads a page deep inside them, e.g. 1000000")
	flag.StringVar(&wl, "workloads", "W1,W2,W3,W4,W5", "workloads to run")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, binaries, server logs)")
	flag.BoolVar(&o.pbFields, "pocketbase-w2-fields", false, "PocketBase's W2 asks for W2's fields only (fields=...), which costs it more CPU than every field")
	flag.BoolVar(&o.pocketBase, "pocketbase", false, "also run W2 and W5 against PocketBase (bench/pocketbase; the first build downloads its modules, and a Go toolchain if the local one is older than its go.mod)")
	flag.Var(&env, "server-env", "extra KEY=VALUE for Gatehouse's environment (repeatable), e.g. GATEHOUSE_DATABASE_MAX_OPEN_CONNS=4")
	flag.IntVar(&o.seed.Users, "users", o.seed.Users, "seeded users")
	flag.IntVar(&o.seed.Sessions, "sessions", o.seed.Sessions, "seeded sessions")
	flag.IntVar(&o.seed.Assignments, "assignments", o.seed.Assignments, "seeded assignments")
	flag.IntVar(&o.seed.Tokens, "tokens", o.seed.Tokens, "W1's and W4's tokens")
	flag.Parse()
	o.serverEnv = env
	o.workloads = map[string]bool{}
	for _, w := range strings.Split(wl, ",") {
		if w = strings.ToUpper(strings.TrimSpace(w)); w != "" {
			o.workloads[w] = true
		}
	}
	if o.driver != db.SQLite && o.driver != db.Postgres {
		fatal(fmt.Errorf("-db must be sqlite or postgres, not %q", o.driver))
	}
	if o.rounds < 1 || o.duration <= 0 {
		fatal(errors.New("-rounds and -duration must be positive"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func bench(ctx context.Context, o options) (err error) {
	started := time.Now()
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	// The database.
	dsn := filepath.Join(tmp, "gatehouse.db")
	if o.driver == db.Postgres {
		name := fmt.Sprintf("gatehouse_bench_%d", os.Getpid())
		if dsn, err = createPostgres(ctx, o.dsn, name); err != nil {
			return err
		}
		defer func() {
			if derr := dropPostgres(o.dsn, name); derr != nil {
				fmt.Fprintln(os.Stderr, "bench: drop database:", derr)
			}
		}()
	}
	o.seed.Driver, o.seed.DSN, o.seed.DeepUsers = o.driver, dsn, o.deepUsers
	fmt.Printf("seeding %s: %d users (+%d deep), %d packages × %d contents, %d assignments, %d sessions ...\n",
		o.driver, o.seed.Users, o.deepUsers, o.seed.Packages, o.seed.Contents, o.seed.Assignments, o.seed.Sessions)
	data, err := seed.Seed(ctx, o.seed)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded in %s (%d users in all)\n", data.Took.Round(time.Millisecond), data.TotalUsers)

	// The binaries.
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	ghBin, floorBin := filepath.Join(tmp, "gatehouse"), filepath.Join(tmp, "floor")
	t0 := time.Now()
	for _, b := range [][2]string{{ghBin, "./cmd/gatehouse"}, {floorBin, "./bench/floor"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", o.tags, "-o", b[0], b[1])
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	fmt.Printf("built gatehouse and the floor in %s\n", time.Since(t0).Round(time.Millisecond))

	stmts, err := countStatements(ctx, o.driver, dsn, data)
	if err != nil {
		return fmt.Errorf("count statements: %w", err)
	}
	perCheck := bcryptCheckSeconds()
	bound, hashBound := 0.0, 0.0
	if perCheck > 0 {
		bound = float64(runtime.NumCPU()) / perCheck
		hashBound = float64(min(hashSlots(o.serverEnv), runtime.NumCPU())) / perCheck
	}

	// The servers.
	ghAddr, err := freeAddr()
	if err != nil {
		return err
	}
	env := []string{
		"GATEHOUSE_DATABASE_DRIVER=" + o.driver,
		"GATEHOUSE_DATABASE_DSN=" + dsn,
		"GATEHOUSE_SERVER_LISTEN=" + ghAddr,
		fmt.Sprintf("GATEHOUSE_AUTH_BCRYPT_COST=%d", seed.BcryptCost),
		"GATEHOUSE_SERVER_TRUSTED_PROXIES=127.0.0.1",
		"GATEHOUSE_LOG_LEVEL=warn",
		"GATEHOUSE_SIGNING_SECRET=" + benchSigningSecret,
	}
	gh, err := startChild("gatehouse", tmp, ghBin, []string{"serve"}, append(env, o.serverEnv...), ghAddr, "/readyz")
	if err != nil {
		return err
	}
	defer gh.stop()
	flAddr, err := freeAddr()
	if err != nil {
		return err
	}
	fl, err := startChild("floor", tmp, floorBin, []string{"-db", o.driver, "-dsn", dsn, "-listen", flAddr}, nil, flAddr, "/readyz")
	if err != nil {
		return err
	}
	defer fl.stop()
	ghS := server{name: "gatehouse", url: gh.url, pid: gh.pid()}
	flS := server{name: "floor", url: fl.url, pid: fl.pid()}
	if err := sameAnswers(ghS.url, flS.url, []string{data.Tokens[0], data.Tokens[len(data.Tokens)-1]}); err != nil {
		return fmt.Errorf("the floor's answer differs from Gatehouse's: %w", err)
	}
	var (
		pb  *pocketBase
		pbS server
	)
	if o.pocketBase {
		t0 := time.Now()
		if pb, err = startPocketBase(ctx, root, tmp, o.driver, dsn, o.pbFields); err != nil {
			return fmt.Errorf("PocketBase: %w", err)
		}
		defer pb.stop()
		pbS = server{name: "pocketbase", url: pb.child.url, pid: pb.child.pid()}
		fmt.Printf("built, seeded and started PocketBase in %s\n", time.Since(t0).Round(time.Millisecond))
		if err := sameW2Page(ghS.url, data.AdminToken, pb, o.deepUsers > 0); err != nil {
			return fmt.Errorf("PocketBase's answer to W2 differs from Gatehouse's: %w", err)
		}
	}

	res := &Results{
		Started: started.UTC(), DB: o.driver, Commit: gitCommit(root), Go: runtime.Version(), CPUs: runtime.NumCPU(),
		DurationS: o.duration.Seconds(), Rounds: o.rounds,
		Conns:  map[string]int{"W1": o.conns, "W2": o.w2Conns, "W3-login": o.loginConns, "W4": o.conns, "W5": o.w5Conns},
		W3Rate: o.w3Rate, PocketBase: o.pocketBase, PocketBaseW2Fields: o.pocketBase && o.pbFields, Seed: seedInfo(o.seed, data), Statements: stmts, BcryptBound: bound, HashBound: hashBound, ServerEnv: o.serverEnv,
	}
	fmt.Printf("SQL statements per request (Gatehouse): W1 %d, W2 %d, W2-deep %d, W4 %d; bcrypt bound ≈ %.1f logins/s on %d cores, %.1f at the server's hashing concurrency\n",
		stmts.W1, stmts.W2, stmts.W2Deep, stmts.W4, bound, runtime.NumCPU(), hashBound)

	// Warm-up: every token once through each server, and a little of each read.
	warm := min(2*time.Second, o.duration/2)
	for _, s := range []server{ghS, flS} {
		for _, tr := range []attackSpec{
			{workload: "warm-W1", srv: s, tr: w1Targets(s, data), conns: o.conns, duration: warm},
			{workload: "warm-W4", srv: s, tr: w4Targets(s, data), conns: o.conns, duration: warm},
		} {
			run(ctx, tr)
		}
	}
	if o.workloads["W2"] {
		run(ctx, attackSpec{workload: "warm-W2", srv: ghS, tr: w2Targets(ghS, data, ""), conns: 4, duration: warm})
		if pb != nil {
			run(ctx, attackSpec{workload: "warm-W2", srv: pbS, tr: pbW2Targets(pbS, pb), conns: 4, duration: warm})
		}
	}

	add := func(s Sample, round int) {
		s.Round = round
		res.Samples = append(res.Samples, s)
		fmt.Printf("  %-11s %-10s %s\n", s.Workload, s.System, s.line())
	}
	for r := 1; r <= o.rounds; r++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Printf("round %d of %d\n", r, o.rounds)
		pair := []server{ghS, flS}
		if r%2 == 0 {
			pair = []server{flS, ghS}
		}
		if o.workloads["W1"] {
			for _, s := range pair {
				add(run(ctx, attackSpec{workload: "W1", srv: s, tr: w1Targets(s, data), conns: o.conns, duration: o.duration}), r)
			}
		}
		if o.workloads["W4"] {
			for _, s := range pair {
				add(run(ctx, attackSpec{workload: "W4", srv: s, tr: w4Targets(s, data), conns: o.conns, duration: o.duration}), r)
			}
		}
		// Against PocketBase, W2 and W5 interleave with Gatehouse's as the
		// floor's W1 and W4 do.
		withPB := func(gh attackSpec, pocket func() attackSpec) {
			specs := []attackSpec{gh}
			if pb != nil {
				specs = append(specs, pocket())
				if r%2 == 0 {
					specs[0], specs[1] = specs[1], specs[0]
				}
			}
			for _, a := range specs {
				add(run(ctx, a), r)
			}
		}
		if o.workloads["W2"] {
			withPB(attackSpec{workload: "W2", srv: ghS, tr: w2Targets(ghS, data, ""), conns: o.w2Conns, duration: o.duration},
				func() attackSpec {
					return attackSpec{workload: "W2", srv: pbS, tr: pbW2Targets(pbS, pb), conns: o.w2Conns, duration: o.duration}
				})
			add(run(ctx, attackSpec{workload: "W2-deep", srv: ghS, tr: w2Targets(ghS, data, data.DeepCursor), conns: o.w2Conns, duration: o.duration}), r)
		}
		if o.workloads["W3"] {
			w3 := runW3(ctx, ghS, data, o.w3Rate, o.loginConns, o.conns, o.duration)
			res.W3Rounds = append(res.W3Rounds, w3)
			add(w3.W1Idle, r)
			add(w3.Logins, r)
			add(w3.W1Flood, r)
			fmt.Printf("  %-11s W1 p99 during the flood ÷ idle: %.2f×\n", "W3", w3.P99Ratio)
		}
		if o.workloads["W5"] {
			withPB(attackSpec{workload: "W5", srv: ghS, tr: w5Targets(ghS, data), conns: o.w5Conns, duration: o.duration},
				func() attackSpec {
					return attackSpec{workload: "W5", srv: pbS, tr: pbW5Targets(pbS, data, pb), conns: o.w5Conns, duration: o.duration}
				})
		}
	}
	res.summarize()
	res.print(os.Stdout)
	if exited(gh) || exited(fl) {
		return errors.New("a server exited during the run: " + tail(gh.log) + tail(fl.log))
	}
	if pb != nil && exited(pb.child) {
		return errors.New("PocketBase exited during the run: " + tail(pb.child.log))
	}
	if warnings := tail(gh.log); warnings != "" {
		fmt.Printf("\nGatehouse logged (last lines):\n%s\n", warnings)
	}
	return res.write(o.out)
}

func exited(c *child) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// sameAnswers checks that the floor answers W1 and W4 for each token with
// the same data as Gatehouse.
func sameAnswers(ghURL, floorURL string, tokens []string) error {
	for _, tok := range tokens {
		g, err := post(ghURL, tok, queryW1, nil)
		if err != nil {
			return err
		}
		f, err := get(floorURL+"/me", tok)
		if err != nil {
			return err
		}
		if err := sameJSON(g, f); err != nil {
			return fmt.Errorf("W1: %w", err)
		}
		g, err = post(ghURL, tok, queryW4, map[string]any{"f": seed.AccessFeature})
		if err != nil {
			return err
		}
		f, err = get(floorURL+"/check?feature="+url.QueryEscape(seed.AccessFeature), tok)
		if err != nil {
			return err
		}
		if err := sameJSON(g, f); err != nil {
			return fmt.Errorf("W4: %w", err)
		}
	}
	return nil
}

// sameJSON compares two JSON documents as values: key order aside, and
// lists as sets (neither API promises an order for a user's packages,
// contents or sessions).
func sameJSON(a, b []byte) error { return sameJSONAs(a, b, "floor") }

// sameJSONAs is sameJSON with the second system's name in the error.
func sameJSONAs(a, b []byte, other string) error {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return err
	}
	ca, cb := canonical(va), canonical(vb)
	if ca != cb {
		return fmt.Errorf("\n %-11s%s\n %-11s%s", "gatehouse:", ca, other+":", cb)
	}
	return nil
}

// canonical is v as JSON with object keys sorted (encoding/json does) and
// every list's items sorted by their own canonical form.
func canonical(v any) string {
	switch x := v.(type) {
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = canonical(e)
		}
		sort.Strings(items)
		return "[" + strings.Join(items, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			parts[i] = string(kb) + ":" + canonical(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// bcryptBound is how many cost-10 password checks per second the
// machine's cores can do: the ceiling of W3's logins.
// bcryptCheckSeconds times one comparison of a password with a hash of
// the seed's cost, on one core; 0 when it cannot.
func bcryptCheckSeconds() float64 {
	h, err := bcrypt.GenerateFromPassword([]byte(seed.Password), seed.BcryptCost)
	if err != nil {
		return 0
	}
	const n = 5
	t0 := time.Now()
	for range n {
		_ = bcrypt.CompareHashAndPassword(h, []byte(seed.Password))
	}
	return time.Since(t0).Seconds() / n
}

// hashSlots is how many passwords the server compares at once: its
// auth.password_hash_concurrency from -server-env, else its default (half
// the CPUs, at least 1; the child runs with GOMAXPROCS = the CPUs).
func hashSlots(env []string) int {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GATEHOUSE_AUTH_PASSWORD_HASH_CONCURRENCY="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return max(1, runtime.NumCPU()/2)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark inside the Gatehouse module")
	}
	return filepath.Dir(mod), nil
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// createPostgres creates database name on the server of adminDSN and
// returns a DSN for it.
func createPostgres(ctx context.Context, adminDSN, name string) (string, error) {
	a, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return "", err
	}
	defer a.Close()
	if _, err := a.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	if u, err := url.Parse(adminDSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String(), nil
	}
	return adminDSN + " dbname=" + name, nil
}

func dropPostgres(adminDSN, name string) error {
	a, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	return err
}
