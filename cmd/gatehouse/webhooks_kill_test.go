package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"gatehouse/ent"
	"gatehouse/ent/joblease"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
	"gatehouse/internal/webhooks"
)

// These tests kill the real binary with SIGKILL while it posts a webhook
// and check that nothing is lost: the delivery it had taken is sent again
// (same webhook-id, a valid signature) once its claim lapses, and the
// deliveries still waiting are sent too.

// killClaim is the servers' [webhooks] claim_timeout.
const killClaim = 5 * time.Second

// killEnv is the environment of the servers these tests kill: deliveries
// may reach the local receiver, an attempt times out after 3 s and a
// sender keeps what it took for 5 s; leases last the shortest allowed
// 5 s, so a restarted server (a new lease holder) takes the sender's job
// soon.
func killEnv() map[string]string {
	return baseEnv(map[string]string{
		"GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
		"GATEHOUSE_WEBHOOKS_TIMEOUT":               "3s",
		"GATEHOUSE_WEBHOOKS_CLAIM_TIMEOUT":         killClaim.String(),
		"GATEHOUSE_JOBS_LEASE_TTL":                 "5s",
	})
}

// hookRequest is one request the receiver got.
type hookRequest struct {
	id   string // webhook-id
	body string
	err  error // the Standard Webhooks library's verdict
}

// killReceiver is a webhook receiver that verifies every request with the
// Standard Webhooks library. While hold is set it answers nothing and
// keeps each request open until the sender's connection goes (the sender
// is killed); otherwise it answers 204.
type killReceiver struct {
	srv     *httptest.Server
	hold    atomic.Bool
	arrived chan hookRequest // the requests held, as they arrive
	stop    chan struct{}    // closed at the end: let held requests go

	mu       sync.Mutex
	wh       *standardwebhooks.Webhook
	requests []hookRequest
	taken    map[string]string // webhook-id -> body, of those answered 204
}

func newKillReceiver(t *testing.T) *killReceiver {
	t.Helper()
	r := &killReceiver{arrived: make(chan hookRequest, 64), stop: make(chan struct{}), taken: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		close(r.stop)
		r.srv.Close()
	})
	return r
}

func (r *killReceiver) setSecret(t *testing.T, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.wh = wh
	r.mu.Unlock()
}

func (r *killReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	hr := hookRequest{id: req.Header.Get("webhook-id"), body: string(body), err: err}
	r.mu.Lock()
	if hr.err == nil && r.wh == nil {
		hr.err = fmt.Errorf("a request before the endpoint's secret was known")
	} else if hr.err == nil {
		hr.err = r.wh.Verify(body, req.Header)
	}
	r.requests = append(r.requests, hr)
	r.mu.Unlock()
	if r.hold.Load() {
		select {
		case r.arrived <- hr:
		default:
		}
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
		return
	}
	if hr.err == nil {
		// Before answering: a delivery the sender records DELIVERED is
		// one the receiver took.
		r.mu.Lock()
		r.taken[hr.id] = hr.body
		r.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// snapshot returns the requests so far and the ids taken.
func (r *killReceiver) snapshot() ([]hookRequest, map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := make(map[string]string, len(r.taken))
	for k, v := range r.taken {
		taken[k] = v
	}
	return slices.Clone(r.requests), taken
}

// waitHeld waits for a request the receiver holds.
func (r *killReceiver) waitHeld(t *testing.T) hookRequest {
	t.Helper()
	select {
	case hr := <-r.arrived:
		if hr.err != nil {
			t.Fatalf("the held request %s does not verify: %v", hr.id, hr.err)
		}
		return hr
	case <-time.After(60 * time.Second):
		t.Fatal("no delivery arrived")
		return hookRequest{}
	}
}

const (
	addHookMutation = `mutation AddHook($url: String!) { createWebhookEndpoint(input: {url: $url}) { secret endpoint { id } } }`
	addPlanMutation = `mutation AddPlan($name: String!) { createPackage(input: {name: $name, days: 30}) { id } }`
	hookLogQuery    = `query HookLog($ep: ID!) { webhookDeliveries(endpointID: $ep, first: 50) {
  totalCount edges { node { webhookID eventType status attempts lastStatusCode body } } } }`
)

// addHook registers the receiver as an endpoint for every event type and
// gives it the secret; it returns the endpoint's id.
func addHook(t *testing.T, url, token string, r *killReceiver) string {
	t.Helper()
	res := gql(t, url, token, "AddHook", addHookMutation, map[string]any{"url": r.srv.URL + "/hook"}, nil)
	if len(res.Errors) > 0 {
		t.Fatalf("createWebhookEndpoint: %s", res.raw)
	}
	c := res.Data["createWebhookEndpoint"].(map[string]any)
	r.setSecret(t, c["secret"].(string))
	return c["endpoint"].(map[string]any)["id"].(string)
}

// addPlan creates a package: one package.created event, so one delivery.
func addPlan(t *testing.T, url, token, name string) {
	t.Helper()
	if res := gql(t, url, token, "AddPlan", addPlanMutation, map[string]any{"name": name}, nil); len(res.Errors) > 0 {
		t.Fatalf("createPackage %s: %s", name, res.raw)
	}
}

// loggedDelivery is a delivery as the API's delivery log shows it.
type loggedDelivery struct {
	WebhookID      string `json:"webhookID"`
	EventType      string `json:"eventType"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode *int   `json:"lastStatusCode"`
	Body           string `json:"body"`
}

// hookLog reads an endpoint's delivery log through the API.
func hookLog(t *testing.T, url, token, endpointID string) []loggedDelivery {
	t.Helper()
	res := gql(t, url, token, "HookLog", hookLogQuery, map[string]any{"ep": endpointID}, nil)
	if len(res.Errors) > 0 {
		t.Fatalf("webhookDeliveries: %s", res.raw)
	}
	var conn struct {
		TotalCount int
		Edges      []struct{ Node loggedDelivery }
	}
	raw, _ := json.Marshal(res.Data["webhookDeliveries"])
	if err := json.Unmarshal(raw, &conn); err != nil {
		t.Fatal(err)
	}
	out := make([]loggedDelivery, len(conn.Edges))
	for i, e := range conn.Edges {
		out[i] = e.Node
	}
	return out
}

// waitDelivered polls the delivery log until want deliveries are all
// DELIVERED, and returns the log.
func waitDelivered(t *testing.T, url, token, endpointID string, want int, r *killReceiver) []loggedDelivery {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		log := hookLog(t, url, token, endpointID)
		done := len(log) == want
		for _, d := range log {
			done = done && d.Status == "DELIVERED"
		}
		if done {
			return log
		}
		if time.Now().After(deadline) {
			reqs, _ := r.snapshot()
			t.Fatalf("not all %d deliveries DELIVERED: log %+v\nreceiver got %+v", want, log, reqs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill9 ends p with SIGKILL and checks that it died of it.
func kill9(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if ws := p.wait(t); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("gatehouse ended with %v, want killed by SIGKILL", ws)
	}
}

// storedDeliveries reads the deliveries straight from the database.
func storedDeliveries(t *testing.T, dsn string) []*ent.WebhookDelivery {
	t.Helper()
	ds, err := openSide(t, dsn).Ent.WebhookDelivery.Query().Order(webhookdelivery.ByID()).All(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// checkKilledMidDelivery checks the database right after the kill: the
// held delivery is still PENDING with no attempt recorded (the sender died
// before its timeout could record one), claimed for claim_timeout from
// when the sender took it (so at least that long after it was made), and
// the others wait, PENDING, untried.
func checkKilledMidDelivery(t *testing.T, dsn, heldID string, want int) {
	t.Helper()
	ds := storedDeliveries(t, dsn)
	if len(ds) != want {
		t.Fatalf("%d deliveries stored at the kill, want %d: %+v", len(ds), want, ds)
	}
	for _, d := range ds {
		if d.Status != webhookdelivery.StatusPENDING || d.Attempts != 0 {
			t.Errorf("at the kill, delivery %s: %s after %d attempts; want PENDING, untried", d.WebhookID, d.Status, d.Attempts)
		}
		if d.WebhookID == heldID && d.NextAttemptAt.Sub(d.CreatedAt) < killClaim {
			t.Errorf("at the kill, the delivery in flight is not claimed for %s: next attempt %s, made %s", killClaim, d.NextAttemptAt, d.CreatedAt)
		}
	}
}

// checkRedelivered checks what the receiver got against the log: every
// delivery DELIVERED at the first recorded attempt with 204, each
// webhook-id taken with its logged body and a valid signature, the held
// one again with the same body, and no request for anything else.
func checkRedelivered(t *testing.T, log []loggedDelivery, held hookRequest, r *killReceiver) {
	t.Helper()
	reqs, taken := r.snapshot()
	ids := map[string]bool{}
	for _, d := range log {
		ids[d.WebhookID] = true
		if d.EventType != "package.created" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != http.StatusNoContent {
			t.Errorf("logged %+v, want package.created delivered at one attempt with 204", d)
		}
		if taken[d.WebhookID] != d.Body {
			t.Errorf("%s: the receiver took %q, the log shows %q", d.WebhookID, taken[d.WebhookID], d.Body)
		}
	}
	if len(ids) != len(log) {
		t.Errorf("webhook-ids repeat across deliveries: %+v", log)
	}
	if !ids[held.id] || taken[held.id] != held.body {
		t.Errorf("the delivery in flight at the kill (%s) was not sent again as it was: took %q, held %q", held.id, taken[held.id], held.body)
	}
	var heldTries int
	for _, hr := range reqs {
		if hr.err != nil {
			t.Errorf("request %s does not verify: %v", hr.id, hr.err)
		}
		if !ids[hr.id] {
			t.Errorf("a request for %s, which no delivery logs", hr.id)
		}
		if hr.id == held.id {
			heldTries++
		}
	}
	if heldTries < 2 {
		t.Errorf("the delivery in flight at the kill arrived %d times, want at least 2", heldTries)
	}
}

// TestWebhookSenderSurvivesKill9 kills the serving binary with SIGKILL
// while it posts a webhook (the receiver holds the request open), then
// starts it again on the same database: the delivery in flight arrives
// again with the same webhook-id and body and a valid signature, and ends
// DELIVERED; deliveries that were waiting at the kill arrive too.
func TestWebhookSenderSurvivesKill9(t *testing.T) {
	for _, tt := range []struct {
		name    string
		waiting int // changes made while the first delivery is held
	}{
		{"one delivery in flight", 0},
		{"one in flight and four waiting", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := gatehouseBinary(t)
			dsn := testDSN(t)
			m := killEnv()
			mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
			r := newKillReceiver(t)

			first := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
			token, _ := login(t, first.url, "root", "root-password-1")
			ep := addHook(t, first.url, token, r)
			r.hold.Store(true)
			addPlan(t, first.url, token, "Plan 0")
			held := r.waitHeld(t)
			for i := 1; i <= tt.waiting; i++ {
				addPlan(t, first.url, token, "Plan "+strconv.Itoa(i))
			}
			kill9(t, first)
			checkKilledMidDelivery(t, dsn, held.id, 1+tt.waiting)

			r.hold.Store(false)
			again := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
			log := waitDelivered(t, again.url, token, ep, 1+tt.waiting, r)
			checkRedelivered(t, log, held, r)
		})
	}
}

// TestWebhookSenderKilledReplicaHandsOver: of two replicas on one
// PostgreSQL database, the one holding the sender's job is killed with
// SIGKILL mid-delivery; the other takes the job once the lease expires
// and sends the delivery again (same webhook-id, valid signature) once
// the claim has lapsed, without a restart.
func TestWebhookSenderKilledReplicaHandsOver(t *testing.T) {
	if !testdb.Postgres() {
		t.Skipf("set %s to run the two-replica test on PostgreSQL", testdb.EnvPostgres)
	}
	bin := gatehouseBinary(t)
	dsn := testDSN(t)
	m := killEnv()
	mustCLI(t, m, "root-password-1\n", "user", "create", "--username", "root", "--role", "admin", "--password-stdin", "--db", dsn)
	r := newKillReceiver(t)
	a := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
	b := startProcess(t, bin, t.TempDir(), processEnv(m), "serve", "--listen", "127.0.0.1:0", "--db", dsn)
	side := openSide(t, dsn)
	sys := viewer.System(context.Background())
	holder := func() *process {
		t.Helper()
		l, err := side.Ent.JobLease.Query().Where(joblease.Name(webhooks.JobName)).Only(sys)
		if err != nil || !l.ExpiresAt.After(time.Now()) {
			return nil
		}
		for _, p := range []*process{a, b} {
			if strings.Contains(l.Holder, "/"+strconv.Itoa(p.cmd.Process.Pid)+"/") {
				return p
			}
		}
		t.Fatalf("the sender's lease is held by %q, neither replica", l.Holder)
		return nil
	}
	var victim *process
	for deadline := time.Now().Add(60 * time.Second); victim == nil; time.Sleep(50 * time.Millisecond) {
		if victim = holder(); victim == nil && time.Now().After(deadline) {
			t.Fatal("no replica took the sender's job")
		}
	}
	survivor := a
	if victim == a {
		survivor = b
	}

	token, _ := login(t, survivor.url, "root", "root-password-1")
	ep := addHook(t, survivor.url, token, r)
	r.hold.Store(true)
	addPlan(t, survivor.url, token, "Plan 0")
	held := r.waitHeld(t)
	kill9(t, victim)
	checkKilledMidDelivery(t, dsn, held.id, 1)

	r.hold.Store(false)
	log := waitDelivered(t, survivor.url, token, ep, 1, r)
	checkRedelivered(t, log, held, r)
	if holder() != survivor {
		t.Error("the surviving replica delivered without holding the sender's lease")
	}
}
