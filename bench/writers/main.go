// Command writers is a load run of concurrent writers against a real
// Gatehouse on a file SQLite database. It is not part of `go test`.
//
// Each run starts Gatehouse in this process on 127.0.0.1 (a random port)
// over a fresh database file in a temporary directory, seeds an admin, 50
// users and 5 packages, then keeps -writers requests in flight for
// -duration with vegeta, each a mutation picked at random from -mix:
// createUser, assignPackage, updateUser (disabled: false, role: USER) or
// login (each user from an address of their own, through a trusted proxy
// header; -one-address sends them all from 127.0.0.1). It prints, per run,
// the requests, the errors by extensions.code (and transport errors), the
// requests per second, the latencies, and how often the server logged
// "database is locked" or "database is busy".
//
// Ten runs of 32 writers for 20 s, as reported for changes to the write
// path (about four minutes):
//
//	go run ./bench/writers -runs 10 -writers 32 -duration 20s
//
// Other flags: -bcrypt-cost (default 10, the lowest the server accepts),
// -mix (e.g. -mix assignPackage,updateUser for database work alone; repeat
// a name to weigh it more), -max-open-conns and -busy-timeout (database
// settings, defaults as in config.Default), -users and -packages (what is
// seeded), -dir (where the run databases go; default a temporary directory,
// removed after), -log (a file to append the server's warnings and errors
// to) and -per-op (each mutation's latencies too). The exit status is 1
// when any run had an error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/config"
	"gatehouse/internal/server"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

const password = "load-run-password"

type options struct {
	runs         int
	writers      int
	duration     time.Duration
	bcryptCost   int
	dir          string
	maxOpenConns int
	busyTimeout  time.Duration
	users        int
	packages     int
	logFile      string
	mix          []string
	perOp        bool
	oneAddress   bool
}

func main() {
	def := config.Default()
	var o options
	flag.IntVar(&o.runs, "runs", 10, "runs in a row, each on a fresh database")
	flag.IntVar(&o.writers, "writers", 32, "requests in flight at once")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each run")
	flag.IntVar(&o.bcryptCost, "bcrypt-cost", config.MinBcryptCost, "bcrypt cost of the server")
	flag.StringVar(&o.dir, "dir", "", "directory for the run databases (default: a temporary one, removed)")
	flag.IntVar(&o.maxOpenConns, "max-open-conns", def.Database.MaxOpenConns, "database.max_open_conns")
	flag.DurationVar(&o.busyTimeout, "busy-timeout", def.Database.BusyTimeout.Duration, "database.busy_timeout")
	flag.BoolVar(&o.oneAddress, "one-address", false, "send every login from 127.0.0.1 itself, not from each user's own address behind a trusted proxy")
	flag.IntVar(&o.users, "users", 50, "users seeded for assignPackage, updateUser and login")
	flag.IntVar(&o.packages, "packages", 5, "packages seeded for assignPackage")
	flag.StringVar(&o.logFile, "log", "", "append the server's warnings and errors to this file")
	flag.BoolVar(&o.perOp, "per-op", false, "also print each mutation's latencies")
	mix := flag.String("mix", "createUser,assignPackage,updateUser,login", "the mutations to pick from, at random (repeat one to weigh it more)")
	flag.Parse()
	for _, m := range strings.Split(*mix, ",") {
		if m = strings.TrimSpace(m); m != "" {
			if !slices.Contains(mutations, m) {
				fatal(fmt.Errorf("-mix: unknown mutation %q (want some of %s)", m, strings.Join(mutations, ", ")))
			}
			o.mix = append(o.mix, m)
		}
	}
	if len(o.mix) == 0 {
		fatal(errors.New("-mix is empty"))
	}

	if o.dir == "" {
		dir, err := os.MkdirTemp("", "gatehouse-writers-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		o.dir = dir
	}
	fmt.Printf("%d runs: %d writers for %s on SQLite (max_open_conns %d, busy_timeout %s, bcrypt cost %d), mix %s\n",
		o.runs, o.writers, o.duration, o.maxOpenConns, o.busyTimeout, o.bcryptCost, strings.Join(o.mix, ","))
	fmt.Printf("%-4s %8s %7s %9s %9s %9s %7s  %s\n", "run", "requests", "errors", "req/s", "p50", "p99", "locked", "errors by code")
	failed := false
	for i := 1; i <= o.runs; i++ {
		r, err := run(o, i)
		if err != nil {
			fatal(fmt.Errorf("run %d: %w", i, err))
		}
		fmt.Printf("%-4d %8d %7d %9.1f %9s %9s %7d  %s\n", i, r.requests, r.errors, r.rate,
			r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.locked, r.byCode())
		if o.perOp {
			for _, op := range o.mix {
				if om := r.ops[op]; om != nil {
					fmt.Printf("     %-14s %6d requests, p50 %s, p99 %s\n", op, om.Requests,
						om.Latencies.P50.Round(time.Millisecond), om.Latencies.P99.Round(time.Millisecond))
					delete(r.ops, op)
				}
			}
		}
		if r.errors > 0 {
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "writers:", err)
	os.Exit(2)
}

type result struct {
	ops      map[string]*vegeta.Metrics
	requests uint64
	errors   int
	codes    map[string]int
	rate     float64
	p50, p99 time.Duration
	locked   int
}

func (r *result) byCode() string {
	if len(r.codes) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(r.codes))
	for k := range r.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, r.codes[k])
	}
	return strings.Join(parts, " ")
}

// run starts a server on a fresh database, seeds it and attacks it.
func run(o options, n int) (*result, error) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Database.Driver = config.DriverSQLite
	cfg.Database.DSN = filepath.Join(o.dir, fmt.Sprintf("run-%d", n), "gatehouse.db")
	cfg.Database.MaxOpenConns = o.maxOpenConns
	cfg.Database.BusyTimeout = config.Duration{Duration: o.busyTimeout}
	cfg.Auth.BcryptCost = o.bcryptCost
	if !o.oneAddress {
		// Each user signs in from an address of their own, as real clients
		// do, told by a proxy on this machine (see userAddress).
		cfg.Server.TrustedProxies = []string{"127.0.0.1"}
	}
	logs := &lockedCounter{}
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		logs.copy = f
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log, app.Options{Migrate: true})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := server.HTTPServer(cfg.Server, a.Handler, log)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/graphql"

	s, err := seed(ctx, a.Service, o)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	token, err := login(url, "admin", password)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}

	atk := vegeta.NewAttacker(
		vegeta.Workers(uint64(o.writers)),
		vegeta.MaxWorkers(uint64(o.writers)),
		vegeta.Connections(o.writers),
		vegeta.KeepAlive(true),
		vegeta.Timeout(30*time.Second),
	)
	var (
		m   vegeta.Metrics
		res = &result{codes: map[string]int{}, ops: map[string]*vegeta.Metrics{}}
	)
	for r := range atk.Attack(s.targeter(url, token, n, o.mix, o.oneAddress), vegeta.Rate{}, o.duration, "writers") {
		m.Add(r)
		op := r.URL[strings.LastIndex(r.URL, "=")+1:]
		if res.ops[op] == nil {
			res.ops[op] = &vegeta.Metrics{}
		}
		res.ops[op].Add(r)
		if code := errorCode(r); code != "" {
			res.errors++
			res.codes[code]++
		}
	}
	m.Close()
	res.requests = m.Requests
	res.rate = m.Throughput
	res.p50, res.p99 = m.Latencies.P50, m.Latencies.P99
	res.locked = logs.count()
	for _, om := range res.ops {
		om.Close()
	}
	return res, nil
}

// seeded is what a run's requests pick from.
type seeded struct {
	users    []int
	names    []string
	packages []int
	created  atomic.Int64
}

func seed(ctx context.Context, svc *service.Service, o options) (*seeded, error) {
	sys := viewer.System(ctx)
	admin := user.RoleADMIN
	if _, err := svc.CreateUser(sys, service.CreateUserInput{Username: "admin", Password: password, Role: &admin}); err != nil {
		return nil, err
	}
	s := &seeded{}
	for i := range o.users {
		name := fmt.Sprintf("user%03d", i)
		u, err := svc.CreateUser(sys, service.CreateUserInput{Username: name, Password: password})
		if err != nil {
			return nil, err
		}
		s.users = append(s.users, u.ID)
		s.names = append(s.names, name)
	}
	for i := range o.packages {
		p, err := svc.CreatePackage(sys, service.CreatePackageInput{Name: fmt.Sprintf("package %d", i), Days: 30})
		if err != nil {
			return nil, err
		}
		s.packages = append(s.packages, p.ID)
	}
	return s, nil
}

// mutations are what -mix picks from.
var mutations = []string{"createUser", "assignPackage", "updateUser", "login"}

// targeter picks one of the mix's mutations for each request.
func (s *seeded) targeter(url, token string, run int, mix []string, oneAddress bool) vegeta.Targeter {
	auth := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}}
	anon := http.Header{"Content-Type": {"application/json"}}
	return func(t *vegeta.Target) error {
		op := mix[rand.IntN(len(mix))]
		// The server ignores the query string; the results are told apart by it.
		t.Method, t.URL, t.Header = http.MethodPost, url+"?op="+op, auth
		var (
			query string
			vars  map[string]any
		)
		switch op {
		case "createUser":
			query = `mutation($u:String!,$p:String!){createUser(input:{username:$u,password:$p}){id}}`
			vars = map[string]any{"u": fmt.Sprintf("new%d-%d", run, s.created.Add(1)), "p": password}
		case "assignPackage":
			query = `mutation($u:ID!,$p:ID!){assignPackage(input:{userID:$u,packageID:$p,days:1}){id expiresAt}}`
			vars = map[string]any{"u": id(s.users[rand.IntN(len(s.users))]), "p": id(s.packages[rand.IntN(len(s.packages))])}
		case "updateUser":
			query = `mutation($u:ID!){updateUser(id:$u,input:{disabled:false,role:USER}){id}}`
			vars = map[string]any{"u": id(s.users[rand.IntN(len(s.users))])}
		case "login":
			i := rand.IntN(len(s.names))
			t.Header = anon
			if !oneAddress {
				t.Header = anon.Clone()
				t.Header.Set("X-Forwarded-For", userAddress(i))
			}
			query = `mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`
			vars = map[string]any{"u": s.names[i], "p": password}
		}
		body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		t.Body = body
		return err
	}
}

func id(n int) string { return strconv.Itoa(n) }

// userAddress is the client address the i-th seeded user signs in from:
// one of the benchmarking range 198.18.0.0/15, only ever written into the
// X-Forwarded-For header (no traffic goes there). The throttle counts
// sign-ins per address too, and caps the password checks in flight from
// one address at throttle.max_failures; -one-address shows that cap.
func userAddress(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, i%250+1) }

// errorCode is "" for a successful answer, else what went wrong.
func errorCode(r *vegeta.Result) string {
	if r.Error != "" {
		return "transport"
	}
	var body struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return "HTTP_" + strconv.Itoa(int(r.Code))
	}
	if len(body.Errors) > 0 {
		if c := body.Errors[0].Extensions.Code; c != "" {
			return c
		}
		return "NO_CODE"
	}
	if r.Code != http.StatusOK {
		return "HTTP_" + strconv.Itoa(int(r.Code))
	}
	return ""
}

func login(url, username, pw string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`,
		"variables": map[string]any{"u": username, "p": pw},
	})
	res, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	var out struct {
		Data struct{ Login struct{ Token string } }
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Data.Login.Token == "" {
		return "", fmt.Errorf("no token in %s", raw)
	}
	return out.Data.Login.Token, nil
}

// lockedCounter takes the server's log, counts "database is locked" (from
// SQLite) and "database is busy" (a write that waited the busy timeout in
// the queue) and copies the log to a file if asked.
type lockedCounter struct {
	mu   sync.Mutex
	n    int
	copy io.Writer
}

func (c *lockedCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += strings.Count(string(p), "database is locked") + strings.Count(string(p), "database is busy")
	if c.copy != nil {
		_, _ = c.copy.Write(p)
	}
	return len(p), nil
}

func (c *lockedCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
