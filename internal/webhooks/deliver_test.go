package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/internal/auth"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
	"gatehouse/internal/webhooks"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(schema.Now().UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

type dfix struct {
	db    *db.DB
	svc   *service.Service
	sys   context.Context
	admin context.Context
	clock *fakeClock
	out   *webhooks.Outbox
	eps   *webhooks.Endpoints
}

func newDFix(t testing.TB) *dfix {
	t.Helper()
	d := testdb.Open(t)
	cfg := auth.DefaultConfig()
	cfg.BcryptCost = auth.MinBcryptCost
	cfg.TestBcryptCost = bcrypt.MinCost
	a, err := auth.New(d.Ent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &dfix{db: d, svc: service.New(d.Ent, a), sys: viewer.System(context.Background()), clock: newFakeClock()}
	f.eps = webhooks.NewEndpoints(d.Ent, f.svc.Events())
	f.out = webhooks.NewOutbox()
	f.out.SetClock(f.clock.Now)
	f.svc.Events().AddOutbox(f.out)
	f.svc.Events().SetClock(f.clock.Now)
	role := user.RoleADMIN
	u, err := f.svc.CreateUser(f.sys, service.CreateUserInput{Username: "root", Password: "password-root", Role: &role})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Role: string(u.Role)})
	return f
}

func (f *dfix) deliverer(t testing.TB) *webhooks.Deliverer {
	return f.delivererWith(t, allowPrivate)
}

// delivererWith is deliverer with a sender configured by cfg.
func (f *dfix) delivererWith(t testing.TB, cfg config.Webhooks) *webhooks.Deliverer {
	d := webhooks.NewDeliverer(f.db.Ent, webhooks.NewSender(cfg), nil)
	d.SetClock(f.clock.Now)
	d.SetJitter(func() float64 { return 0 })
	return d
}

func (f *dfix) endpoint(t testing.TB, url string, types ...string) *webhooks.EndpointWithSecret {
	t.Helper()
	ep, err := f.eps.Create(f.admin, webhooks.CreateEndpointInput{URL: url, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (f *dfix) change(t testing.TB, name string) {
	t.Helper()
	if _, err := f.svc.CreatePackage(f.admin, service.CreatePackageInput{Name: name, Days: 30}); err != nil {
		t.Fatal(err)
	}
}

func (f *dfix) deliveries(t testing.TB) []*ent.WebhookDelivery {
	t.Helper()
	ds, err := f.db.Ent.WebhookDelivery.Query().Order(webhookdelivery.ByID()).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// hook is a local receiver that verifies every request with the Standard
// Webhooks library and keeps what it took.
type hook struct {
	*receiver
	wh         *standardwebhooks.Webhook
	checkClock bool // verify the timestamp too (the clock is near real time)
	down       atomic.Bool
	mu         sync.Mutex
	requests   []string          // webhook-ids of all requests, in order
	took       map[string]string // webhook-id -> type of the messages taken (2xx)
	bad        []string
}

func newHook(t testing.TB, secret string) *hook {
	h := &hook{took: map[string]string{}}
	h.receiver = newReceiver(t, h.serve)
	h.setSecret(t, secret)
	return h
}

func (h *hook) setSecret(t testing.TB, secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.wh = wh
	h.mu.Unlock()
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	id := r.Header.Get(webhooks.HeaderID)
	h.requests = append(h.requests, id)
	verify := h.wh.VerifyIgnoringTimestamp
	if h.checkClock {
		verify = h.wh.Verify
	}
	if err := verify(body, r.Header); err != nil {
		h.bad = append(h.bad, id+": "+err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		h.bad = append(h.bad, id+": "+err.Error())
	}
	h.took[id] = p.Type
	w.WriteHeader(http.StatusNoContent)
}

func (h *hook) counts() (requests, took int, bad []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests), len(h.took), append([]string(nil), h.bad...)
}

// A change that commits has one delivery per enabled endpoint whose
// types match; a change whose transaction fails leaves none.
func TestOutboxWritesDeliveriesInTheEventsTransaction(t *testing.T) {
	f := newDFix(t)
	all := f.endpoint(t, "http://127.0.0.1:1/all")
	pk := f.endpoint(t, "http://127.0.0.1:1/pkg", "package.*")
	f.endpoint(t, "http://127.0.0.1:1/users", "user.*")
	off, err := f.eps.Create(f.admin, webhooks.CreateEndpointInput{URL: "http://127.0.0.1:1/off", Enabled: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	f.change(t, "Pro")
	ds := f.deliveries(t)
	if len(ds) != 2 || ds[0].EndpointID != all.Endpoint.ID || ds[1].EndpointID != pk.Endpoint.ID {
		t.Fatalf("deliveries of package.created: %v", ds)
	}
	for _, d := range ds {
		if d.Status != webhookdelivery.StatusPENDING || d.EventType != "package.created" || d.EventID == nil || d.Attempts != 0 || d.EndpointID == off.Endpoint.ID {
			t.Fatalf("delivery %+v", d)
		}
		var p struct {
			Type string
			Data map[string]any
		}
		if err := json.Unmarshal(d.Body, &p); err != nil || p.Type != "package.created" || p.Data["subjectType"] != "package" || p.Data["id"] != float64(*d.EventID) {
			t.Fatalf("body %s: %v", d.Body, err)
		}
	}
	if ds[0].WebhookID == ds[1].WebhookID {
		t.Fatal("two endpoints share a webhook-id")
	}
	// An outbox after this one fails: the change, its event and its
	// deliveries roll back together.
	fail := true
	f.svc.Events().AddOutbox(events.OutboxFunc(func(context.Context, *ent.Tx, *ent.Event) error {
		if fail {
			return errors.New("down")
		}
		return nil
	}))
	if _, err := f.svc.CreatePackage(f.admin, service.CreatePackageInput{Name: "Lost", Days: 1}); err == nil {
		t.Fatal("created although the transaction failed")
	}
	if n := len(f.deliveries(t)); n != 2 {
		t.Fatalf("deliveries after a failed change: %d, want 2", n)
	}
	fail = false
	f.change(t, "Kept")
	if n := len(f.deliveries(t)); n != 4 {
		t.Fatalf("deliveries after a committed change: %d, want 4", n)
	}
}

// The sender posts a delivery signed so that the Standard Webhooks
// library verifies it, and records the outcome.
func TestDeliverySignedAndRecorded(t *testing.T) {
	f := newDFix(t)
	h := &hook{took: map[string]string{}, checkClock: true}
	h.receiver = newReceiver(t, h.serve)
	ep := f.endpoint(t, h.URL+"/hook?token=abc")
	h.setSecret(t, ep.Secret)
	f.change(t, "Pro")
	if err := f.deliverer(t).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs, took, bad := h.counts()
	if reqs != 1 || took != 1 || len(bad) != 0 {
		t.Fatalf("requests %d, taken %d, bad %v", reqs, took, bad)
	}
	d := f.deliveries(t)[0]
	if d.Status != webhookdelivery.StatusDELIVERED || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 204 || d.LastError != "" || h.took[d.WebhookID] != "package.created" {
		t.Fatalf("delivery after sending: %+v", d)
	}
}

// The receiver down for a while, then up, gets every event; every retry
// of an event has its webhook-id; nothing is sent before it is due.
func TestReceiverDownThenUpGetsEveryEvent(t *testing.T) {
	f := newDFix(t)
	h := newHook(t, "whsec_"+"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	ep := f.endpoint(t, h.URL)
	h.setSecret(t, ep.Secret)
	const n = 7
	for i := range n {
		f.change(t, fmt.Sprintf("P%d", i))
	}
	h.down.Store(true)
	s := f.deliverer(t)
	s.SetBatch(3, 2) // several batches
	run := func() {
		t.Helper()
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if reqs, took, bad := h.counts(); reqs != n || took != 0 || len(bad) != 0 {
		t.Fatalf("first round: requests %d, taken %d, bad %v", reqs, took, bad)
	}
	for _, d := range f.deliveries(t) {
		if d.Status != webhookdelivery.StatusPENDING || d.Attempts != 1 || *d.LastStatusCode != 503 || d.LastResponse == "" ||
			!d.NextAttemptAt.Equal(d.FirstAttemptAt.Add(webhooks.Backoff(1, 0))) {
			t.Fatalf("after a failed attempt: %+v", d)
		}
	}
	run() // nothing is due yet
	if reqs, _, _ := h.counts(); reqs != n {
		t.Fatalf("sent %d requests before they were due", reqs-n)
	}
	for range 3 {
		f.clock.Advance(time.Hour)
		run()
	}
	if reqs, took, _ := h.counts(); reqs != 4*n || took != 0 {
		t.Fatalf("while down: requests %d, taken %d", reqs, took)
	}
	h.down.Store(false)
	f.clock.Advance(3 * time.Hour)
	run()
	reqs, took, bad := h.counts()
	if reqs != 5*n || took != n || len(bad) != 0 {
		t.Fatalf("once up: requests %d, taken %d, bad %v", reqs, took, bad)
	}
	// Every request of a delivery carried its one webhook-id.
	perID := map[string]int{}
	for _, id := range h.requests {
		perID[id]++
	}
	for _, d := range f.deliveries(t) {
		if d.Status != webhookdelivery.StatusDELIVERED || d.Attempts != 5 || perID[d.WebhookID] != 5 {
			t.Fatalf("delivery %d: %s after %d attempts, %d requests with its id", d.ID, d.Status, d.Attempts, perID[d.WebhookID])
		}
	}
}

// A receiver that never comes back: the delivery is retried for 3 days
// from its first attempt, then marked FAILED.
func TestDeliveryFailsAfterThreeDays(t *testing.T) {
	f := newDFix(t)
	h := newHook(t, webhooks.NewSecret())
	ep := f.endpoint(t, h.URL)
	h.setSecret(t, ep.Secret)
	h.down.Store(true)
	f.change(t, "Pro")
	s := f.deliverer(t)
	var d *ent.WebhookDelivery
	for range 100 {
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		d = f.deliveries(t)[0]
		if d.Status != webhookdelivery.StatusPENDING {
			break
		}
		f.clock.Set(d.NextAttemptAt)
	}
	if d.Status != webhookdelivery.StatusFAILED || f.clock.Now().Sub(*d.FirstAttemptAt) > webhooks.RetryFor {
		t.Fatalf("after the retries: %+v", d)
	}
	if reqs, _, _ := h.counts(); reqs != d.Attempts {
		t.Fatalf("requests %d, attempts %d", reqs, d.Attempts)
	}
	// Retry now gives it one more attempt; the receiver is back.
	h.down.Store(false)
	if _, err := s.RetryNow(f.admin, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d = f.deliveries(t)[0]; d.Status != webhookdelivery.StatusDELIVERED {
		t.Fatalf("after retry now: %+v", d)
	}
}

// A sender that dies after claiming deliveries (mid-delivery) loses
// nothing: once its claim ([webhooks] claim_timeout) has lapsed, another
// sender delivers them. A sender stopped mid-request records no attempt
// and leaves the delivery due.
func TestSenderCrashLosesNothing(t *testing.T) {
	f := newDFix(t)
	h := newHook(t, webhooks.NewSecret())
	ep := f.endpoint(t, h.URL)
	h.setSecret(t, ep.Secret)
	for i := range 3 {
		f.change(t, fmt.Sprintf("P%d", i))
	}
	claim := allowPrivate
	claim.Timeout, claim.ClaimTimeout = config.Duration{Duration: time.Second}, config.Duration{Duration: 3 * time.Second}
	dead := f.delivererWith(t, claim)
	if n, err := dead.ClaimAndDrop(context.Background()); err != nil || n != 3 {
		t.Fatalf("claimed %d, %v", n, err)
	}
	s := f.deliverer(t)
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reqs, _, _ := h.counts(); reqs != 0 {
		t.Fatalf("sent %d while another sender's claim held", reqs)
	}
	// A moment before the claim lapses, the deliveries are still held.
	f.clock.Advance(3*time.Second - time.Millisecond)
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reqs, _, _ := h.counts(); reqs != 0 {
		t.Fatalf("sent %d before the claim_timeout lapsed", reqs)
	}
	f.clock.Advance(time.Millisecond)
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, took, bad := h.counts(); took != 3 || len(bad) != 0 {
		t.Fatalf("after the claim lapsed: taken %d, bad %v", took, bad)
	}

	// Stopped mid-request.
	arrived := make(chan struct{})
	release := make(chan struct{})
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	})
	defer close(release)
	if _, err := f.eps.Update(f.admin, ep.Endpoint.ID, webhooks.UpdateEndpointInput{URL: &slow.URL}); err != nil {
		t.Fatal(err)
	}
	f.change(t, "Late")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	<-arrived
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last := f.deliveries(t)[3]
	if last.Status != webhookdelivery.StatusPENDING || last.Attempts != 0 || last.NextAttemptAt.After(f.clock.Now()) {
		t.Fatalf("after a stop mid-request: %+v", last)
	}
	if _, err := f.eps.Update(f.admin, ep.Endpoint.ID, webhooks.UpdateEndpointInput{URL: &h.URL}); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, took, _ := h.counts(); took != 4 {
		t.Fatalf("after the restart: taken %d, want 4", took)
	}
}

// Two senders at once (two replicas; on PostgreSQL the claims skip each
// other's locked rows) send each attempt once.
func TestTwoSendersSendEachAttemptOnce(t *testing.T) {
	f := newDFix(t)
	h := newHook(t, webhooks.NewSecret())
	ep := f.endpoint(t, h.URL)
	h.setSecret(t, ep.Secret)
	const n = 40
	for i := range n {
		f.change(t, fmt.Sprintf("P%d", i))
	}
	var wg sync.WaitGroup
	for range 2 {
		s := f.deliverer(t)
		s.SetBatch(5, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	reqs, took, bad := h.counts()
	if reqs != n || took != n || len(bad) != 0 {
		t.Fatalf("requests %d, taken %d (want %d each), bad %v", reqs, took, n, bad)
	}
}

// The test event goes out signed; a user may neither send one nor retry a
// delivery, nor read the log.
func TestTestEventAndUserForbidden(t *testing.T) {
	f := newDFix(t)
	h := newHook(t, webhooks.NewSecret())
	ep := f.endpoint(t, h.URL)
	h.setSecret(t, ep.Secret)
	s := f.deliverer(t)
	role := user.RoleUSER
	u, err := f.svc.CreateUser(f.sys, service.CreateUserInput{Username: "alice", Password: "password-alice", Role: &role})
	if err != nil {
		t.Fatal(err)
	}
	alice := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Role: string(u.Role)})
	if _, err := s.SendTest(alice, ep.Endpoint.ID); err == nil {
		t.Fatal("a user sent a test event")
	}
	d, err := s.SendTest(f.admin, ep.Endpoint.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetryNow(alice, d.ID); err == nil {
		t.Fatal("a user retried a delivery")
	}
	if n, err := f.db.Ent.WebhookDelivery.Query().Count(alice); err == nil || n != 0 {
		t.Fatalf("a user read %d deliveries (%v)", n, err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, took, bad := h.counts(); took != 2 || len(bad) != 0 || h.took[d.WebhookID] != webhooks.TestEventType { // alice's user.created and the test
		t.Fatalf("test event: taken %d, bad %v, %v", took, bad, h.took)
	}
}

// With the endpoints kept in memory (as on SQLite), every endpoint change
// is seen by the next event: a new, disabled, enabled again or deleted
// endpoint, and one whose creation rolled back after an event in the same
// transaction read it.
func TestOutboxCacheFollowsEndpointChanges(t *testing.T) {
	f := newDFix(t)
	f.out.CacheEndpoints(f.db.Ent)
	want := func(n int, step string) {
		t.Helper()
		if got := len(f.deliveries(t)); got != n {
			t.Fatalf("%s: %d deliveries, want %d", step, got, n)
		}
	}
	f.change(t, "None")
	want(0, "no endpoint")
	ep := f.endpoint(t, "http://127.0.0.1:1/in")
	f.change(t, "One")
	want(1, "a new endpoint")
	off := false
	if _, err := f.eps.Update(f.admin, ep.Endpoint.ID, webhooks.UpdateEndpointInput{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	f.change(t, "Disabled")
	want(1, "the endpoint disabled")
	on := true
	if _, err := f.eps.Update(f.admin, ep.Endpoint.ID, webhooks.UpdateEndpointInput{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	f.change(t, "Enabled")
	want(2, "the endpoint enabled again")

	tx, err := f.db.Ent.Tx(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.WebhookEndpoint.Create().SetURL("http://127.0.0.1:1/phantom").SetSecret("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0").Save(f.sys); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Events().Record(f.sys, tx, events.Entry{Type: "package.created", SubjectType: "package"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	f.change(t, "After the rollback")
	want(3, "an endpoint whose creation rolled back")

	if _, err := f.eps.Delete(f.admin, ep.Endpoint.ID); err != nil {
		t.Fatal(err)
	}
	f.change(t, "Deleted")
	if n := f.db.Ent.WebhookDelivery.Query().CountX(f.sys); n != 0 {
		t.Fatalf("%d deliveries after the endpoint was deleted, want 0 (they go with it)", n)
	}
}

// Every endpoint change is in the event log, by the admin who made it,
// with the secret only as "[redacted]"; none is sent as a webhook.
func TestEndpointChangesAreRecorded(t *testing.T) {
	f := newDFix(t)
	ep := f.endpoint(t, "http://127.0.0.1:1/in", "user.*")
	off := false
	if _, err := f.eps.Update(f.admin, ep.Endpoint.ID, webhooks.UpdateEndpointInput{Enabled: &off, EventTypes: []string{"package.*", "user.created"}}); err != nil {
		t.Fatal(err)
	}
	rotated, err := f.eps.Rotate(f.admin, ep.Endpoint.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.eps.Delete(f.admin, ep.Endpoint.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := f.db.Ent.Event.Query().Where(event.SubjectType(events.SubjectWebhookEndpoint), event.SubjectID(ep.Endpoint.ID)).Order(event.ByID()).All(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.ActorKind != events.KindAdmin || e.ActorName != "root" {
			t.Errorf("%s by %s %q, want the admin root", e.Type, e.ActorKind, e.ActorName)
		}
		b, _ := json.Marshal(e.Changes)
		for _, secret := range []string{ep.Secret, rotated.Secret} {
			if strings.Contains(string(b), strings.TrimPrefix(secret, "whsec_")) {
				t.Errorf("%s holds a secret: %s", e.Type, b)
			}
		}
	}
	want := []string{"webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.secret_rotated", "webhook_endpoint.deleted"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if c := evs[0].Changes; c["url"].To != "http://127.0.0.1:1/in" || c["secret"].To != events.Redacted || c["eventTypes"].To != "user.*" {
		t.Errorf("created: %v", c)
	}
	if c := evs[1].Changes; c["enabled"].From != true || c["enabled"].To != false || c["eventTypes"].To != "package.*, user.created" || len(c) != 2 {
		t.Errorf("updated: %v", c)
	}
	if c := evs[2].Changes; c["secret"].From != events.Redacted || c["secret"].To != events.Redacted {
		t.Errorf("rotated: %v", c)
	}
	if n := len(f.deliveries(t)); n != 0 {
		t.Errorf("%d deliveries of endpoint changes, want none", n)
	}
}
