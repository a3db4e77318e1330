package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"gatehouse/bench/internal/seed"
)

// The GraphQL operations of the workloads.
const (
	queryW1 = `query { me { username role packages { expiresAt state package { name contents { name limit feature { key } } } } sessions { id active expiresAt } } }`
	queryW2 = `query($after: Cursor) { users(first: 100, after: $after) { totalCount edges { node { id username packages { id expiresAt active package { id name contents { id limit feature { key } } } } sessions { id active } } } } }`
	queryW4 = `query($f: String!) { checkAccess(feature: $f) { feature granted code limit expiresAt startsAt graceUntil } }`
	queryW3 = `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }`
	queryW5 = `mutation($u: ID!, $p: ID!) { assignPackage(input: {userID: $u, packageID: $p, days: 1}) { id expiresAt } }`
)

// server is a system under load: Gatehouse or the floor. pid 0 (a server
// in this process, in tests) skips the CPU and memory readings.
type server struct {
	name string // "gatehouse" or "floor"
	url  string
	pid  int
}

func gqlBody(query string, vars map[string]any) []byte {
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	b, _ := json.Marshal(m)
	return b
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
}

// roundRobin is a Targeter that hands out ts in turn (safe for vegeta's
// concurrent workers).
func roundRobin(ts []vegeta.Target) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		*t = ts[(n.Add(1)-1)%uint64(len(ts))]
		return nil
	}
}

// w1Targets: `me` for each token.
func w1Targets(s server, d *seed.Data) vegeta.Targeter {
	ts := make([]vegeta.Target, len(d.Tokens))
	body := gqlBody(queryW1, nil)
	for i, tok := range d.Tokens {
		if s.name == "floor" {
			ts[i] = vegeta.Target{Method: http.MethodGet, URL: s.url + "/me", Header: bearer(tok)}
		} else {
			ts[i] = vegeta.Target{Method: http.MethodPost, URL: s.url + "/graphql", Header: bearer(tok), Body: body}
		}
	}
	return roundRobin(ts)
}

// w4Targets: checkAccess of the feature every package holds, each token.
func w4Targets(s server, d *seed.Data) vegeta.Targeter {
	ts := make([]vegeta.Target, len(d.Tokens))
	body := gqlBody(queryW4, map[string]any{"f": seed.AccessFeature})
	for i, tok := range d.Tokens {
		if s.name == "floor" {
			ts[i] = vegeta.Target{Method: http.MethodGet, URL: s.url + "/check?feature=" + url.QueryEscape(seed.AccessFeature), Header: bearer(tok)}
		} else {
			ts[i] = vegeta.Target{Method: http.MethodPost, URL: s.url + "/graphql", Header: bearer(tok), Body: body}
		}
	}
	return roundRobin(ts)
}

// w2Targets: the admin's page of 100 users, the first (after "") or the
// one after a cursor.
func w2Targets(s server, d *seed.Data, after string) vegeta.Targeter {
	vars := map[string]any{"after": nil}
	if after != "" {
		vars["after"] = after
	}
	return roundRobin([]vegeta.Target{{Method: http.MethodPost, URL: s.url + "/graphql", Header: bearer(d.AdminToken), Body: gqlBody(queryW2, vars)}})
}

// w3Targets: logins of the login users in turn, each from an address of
// its own (told by the trusted proxy header), as real clients come.
func w3Targets(s server, d *seed.Data) vegeta.Targeter {
	ts := make([]vegeta.Target, len(d.LoginUsers))
	for i, u := range d.LoginUsers {
		h := http.Header{"Content-Type": {"application/json"}, "X-Forwarded-For": {fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)}}
		ts[i] = vegeta.Target{Method: http.MethodPost, URL: s.url + "/graphql", Header: h,
			Body: gqlBody(queryW3, map[string]any{"u": u, "p": seed.Password})}
	}
	return roundRobin(ts)
}

// w5Targets: assignPackage (admin) of a random package to a random write
// user, for a day.
func w5Targets(s server, d *seed.Data) vegeta.Targeter {
	h := bearer(d.AdminToken)
	return func(t *vegeta.Target) error {
		u := d.WriteUsers[rand.IntN(len(d.WriteUsers))]
		p := d.Packages[rand.IntN(len(d.Packages))]
		*t = vegeta.Target{Method: http.MethodPost, URL: s.url + "/graphql", Header: h,
			Body: gqlBody(queryW5, map[string]any{"u": strconv.Itoa(u), "p": strconv.Itoa(p)})}
		return nil
	}
}

// Sample is one workload's figures against one system in one round.
type Sample struct {
	Workload   string  `json:"workload"`
	System     string  `json:"system"`
	Round      int     `json:"round,omitempty"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	RPS        float64 `json:"requests_per_s"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	CPUPerReq  float64 `json:"cpu_us_per_request"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	RSSMethod  string  `json:"rss_method,omitempty"`
	FirstError string  `json:"first_error,omitempty"`
}

// attackSpec is one attack.
type attackSpec struct {
	workload string
	srv      server
	tr       vegeta.Targeter
	conns    int
	rate     int // 0: closed loop, conns requests in flight
	duration time.Duration
}

// failed tells whether a result is an error: a transport error, a status
// other than 200, or a GraphQL answer with errors.
func failed(r *vegeta.Result) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Code != http.StatusOK:
		return fmt.Sprintf("HTTP %d: %.200s", r.Code, r.Body)
	case bytes.Contains(r.Body, []byte(`"errors":`)):
		return fmt.Sprintf("%.300s", r.Body)
	}
	return ""
}

// attacker builds a vegeta attacker: closed loop (rate 0) with exactly
// conns workers and connections, or open loop at a rate, with as many
// workers and connections as it takes to keep the rate when the server
// slows down (conns of them kept idle between requests).
func attacker(conns, rate int) *vegeta.Attacker {
	opts := []func(*vegeta.Attacker){
		vegeta.Connections(conns), vegeta.KeepAlive(true), vegeta.Timeout(30 * time.Second),
	}
	if rate == 0 {
		opts = append(opts, vegeta.MaxConnections(conns), vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)))
	} else {
		opts = append(opts, vegeta.Workers(uint64(min(conns, 8))), vegeta.MaxWorkers(1024))
	}
	return vegeta.NewAttacker(opts...)
}

func pacer(rate int) vegeta.Pacer {
	if rate == 0 {
		return vegeta.Rate{}
	}
	return vegeta.Rate{Freq: rate, Per: time.Second}
}

// collect drains an attack's results into a Sample (without the server's
// CPU and memory).
func collect(workload, system string, results <-chan *vegeta.Result) Sample {
	var (
		m  vegeta.Metrics
		s  = Sample{Workload: workload, System: system}
		ok int
	)
	for r := range results {
		m.Add(r)
		if e := failed(r); e != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = e
			}
		} else {
			ok++
		}
	}
	m.Close()
	s.Requests = int(m.Requests)
	if el := (m.Duration + m.Wait).Seconds(); el > 0 {
		s.RPS = float64(ok) / el
	}
	s.P50Ms = ms(m.Latencies.P50)
	s.P99Ms = ms(m.Latencies.P99)
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// meter reads a server's CPU and peak memory over a window.
type meter struct {
	pid  int
	cpu0 time.Duration
	rss  *rssWatch
}

func startMeter(ctx context.Context, pid int) *meter {
	m := &meter{pid: pid}
	if pid == 0 {
		return m
	}
	m.rss = watchRSS(ctx, pid)
	m.cpu0, _ = cpuTime(pid)
	return m
}

// stop returns the CPU time used since start, the peak RSS and how the
// peak was read.
func (m *meter) stop() (time.Duration, float64, string) {
	if m.pid == 0 {
		return 0, 0, ""
	}
	cpu1, _ := cpuTime(m.pid)
	peak, how := m.rss.done()
	return cpu1 - m.cpu0, peak, how
}

// run carries out one attack and measures the server meanwhile.
func run(ctx context.Context, a attackSpec) Sample {
	mt := startMeter(ctx, a.srv.pid)
	s := collect(a.workload, a.srv.name, attacker(a.conns, a.rate).Attack(a.tr, pacer(a.rate), a.duration, a.workload))
	cpu, peak, how := mt.stop()
	if s.Requests > 0 {
		s.CPUPerReq = float64(cpu.Microseconds()) / float64(s.Requests)
	}
	s.PeakRSSMiB, s.RSSMethod = peak, how
	return s
}

// W3 is the login flood with W1 at a moderate rate beside it.
type W3 struct {
	Logins     Sample  `json:"logins"`
	W1Idle     Sample  `json:"w1_idle"`
	W1Flood    Sample  `json:"w1_during_flood"`
	P99Ratio   float64 `json:"w1_p99_flood_over_idle"`
	CPUPerLgn  float64 `json:"cpu_us_per_login_incl_w1"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// runW3 measures W1 alone at rate, then W1 at rate during a closed-loop
// login flood of loginConns connections.
func runW3(ctx context.Context, gh server, d *seed.Data, rate, loginConns, w1Conns int, dur time.Duration) W3 {
	var out W3
	out.W1Idle = run(ctx, attackSpec{workload: "W3-W1-idle", srv: gh, tr: w1Targets(gh, d), conns: w1Conns, rate: rate, duration: dur})
	mt := startMeter(ctx, gh.pid)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.W1Flood = collect("W3-W1-flood", gh.name, attacker(w1Conns, rate).Attack(w1Targets(gh, d), pacer(rate), dur, "w1"))
	}()
	out.Logins = collect("W3-login", gh.name, attacker(loginConns, 0).Attack(w3Targets(gh, d), pacer(0), dur, "login"))
	wg.Wait()
	cpu, peak, how := mt.stop()
	if out.Logins.Requests > 0 {
		out.CPUPerLgn = float64(cpu.Microseconds()) / float64(out.Logins.Requests)
		out.Logins.CPUPerReq = out.CPUPerLgn
	}
	out.PeakRSSMiB = peak
	out.Logins.PeakRSSMiB, out.Logins.RSSMethod = peak, how
	if out.W1Idle.P99Ms > 0 {
		out.P99Ratio = out.W1Flood.P99Ms / out.W1Idle.P99Ms
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianSample is the median of each figure over the rounds (errors and
// requests summed, the peak memory the highest).
func medianSample(ss []Sample) Sample {
	if len(ss) == 0 {
		return Sample{}
	}
	out := Sample{Workload: ss[0].Workload, System: ss[0].System, RSSMethod: ss[0].RSSMethod}
	pick := func(f func(Sample) float64) float64 {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		return median(xs)
	}
	for _, s := range ss {
		out.Requests += s.Requests
		out.Errors += s.Errors
		out.PeakRSSMiB = max(out.PeakRSSMiB, s.PeakRSSMiB)
		if out.FirstError == "" {
			out.FirstError = s.FirstError
		}
	}
	out.RPS = pick(func(s Sample) float64 { return s.RPS })
	out.P50Ms = pick(func(s Sample) float64 { return s.P50Ms })
	out.P99Ms = pick(func(s Sample) float64 { return s.P99Ms })
	out.CPUPerReq = pick(func(s Sample) float64 { return s.CPUPerReq })
	return out
}
