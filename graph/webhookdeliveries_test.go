package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"gatehouse/internal/config"
	"gatehouse/internal/webhooks"
)

type deliveryAnswer struct {
	ID             string
	EndpointID     string
	EventID        *string
	EventType      string
	WebhookID      string
	Attempts       int
	Status         string
	LastStatusCode *int
	LastResponse   string
	LastError      string
	Body           string
}

const deliveryFields = `id endpointID eventID eventType webhookID attempts status lastStatusCode lastResponse lastError body`

// The delivery log per endpoint, retry now and the test event, through
// the API, with the sender posting to a local receiver that verifies the
// signatures with the Standard Webhooks library. Admins only.
func TestWebhookDeliveryLog(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Webhooks.AllowPrivateTargets = true })
	admin := w.tokenFor("root", adminPW)
	alice := w.tokenFor("alice", alicePW)

	var mu sync.Mutex
	var secret string
	var got []string
	status := http.StatusOK
	rcv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil || wh.Verify(body, r.Header) != nil {
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			return
		}
		var p struct{ Type string }
		_ = json.Unmarshal(body, &p)
		got = append(got, p.Type)
		rw.WriteHeader(status)
		_, _ = rw.Write([]byte("thanks"))
	}))
	t.Cleanup(rcv.Close)

	var c struct{ CreateWebhookEndpoint withSecret }
	w.MustDo(admin, `mutation($in:CreateWebhookEndpointInput!){createWebhookEndpoint(input:$in){secret endpoint{id}}}`,
		map[string]any{"in": map[string]any{"url": rcv.URL + "/in", "eventTypes": []string{"package.*"}}}).Decode(t, &c)
	mu.Lock()
	secret = c.CreateWebhookEndpoint.Secret
	mu.Unlock()
	epID := c.CreateWebhookEndpoint.Endpoint.ID

	w.MustDo(admin, `mutation{createPackage(input:{name:"Gold",days:30}){id}}`, nil)
	log := `query($ep:ID!,$s:WebhookDeliveryStatus){webhookDeliveries(endpointID:$ep,first:10,where:{status:$s}){totalCount edges{node{` + deliveryFields + `}}}}`
	type logAnswer struct {
		WebhookDeliveries struct {
			TotalCount int
			Edges      []struct{ Node deliveryAnswer }
		}
	}
	list := func(status any) []deliveryAnswer {
		t.Helper()
		var a logAnswer
		w.MustDo(admin, log, map[string]any{"ep": epID, "s": status}).Decode(t, &a)
		var out []deliveryAnswer
		for _, e := range a.WebhookDeliveries.Edges {
			out = append(out, e.Node)
		}
		if len(out) != a.WebhookDeliveries.TotalCount {
			t.Fatalf("%d deliveries, total %d", len(out), a.WebhookDeliveries.TotalCount)
		}
		return out
	}
	ds := list(nil)
	if len(ds) != 1 || ds[0].EventType != "package.created" || ds[0].Status != "PENDING" || ds[0].Attempts != 0 || ds[0].EventID == nil || ds[0].EndpointID != epID {
		t.Fatalf("log before sending: %+v", ds)
	}
	var body struct{ Type string }
	if err := json.Unmarshal([]byte(ds[0].Body), &body); err != nil || body.Type != "package.created" {
		t.Fatalf("body %q", ds[0].Body)
	}
	if err := w.App.Webhooks.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds = list("DELIVERED")
	if len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LastStatusCode == nil || *ds[0].LastStatusCode != 200 || ds[0].LastResponse != "thanks" {
		t.Fatalf("log after sending: %+v", ds)
	}
	if n := len(list("PENDING")); n != 0 {
		t.Fatalf("%d pending", n)
	}

	// Retry now: one more attempt, the same webhook-id; the receiver
	// answers 500 this time.
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	var r struct{ RetryWebhookDelivery deliveryAnswer }
	w.MustDo(admin, `mutation($id:ID!){retryWebhookDelivery(id:$id){`+deliveryFields+`}}`, map[string]any{"id": ds[0].ID}).Decode(t, &r)
	if r.RetryWebhookDelivery.Status != "PENDING" || r.RetryWebhookDelivery.WebhookID != ds[0].WebhookID {
		t.Fatalf("after retry now: %+v", r.RetryWebhookDelivery)
	}
	if err := w.App.Webhooks.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ds = list("PENDING")
	if len(ds) != 1 || ds[0].Attempts != 2 || *ds[0].LastStatusCode != 500 || ds[0].LastError == "" {
		t.Fatalf("after a failed retry: %+v", ds)
	}

	// The test event.
	mu.Lock()
	status = http.StatusNoContent
	mu.Unlock()
	var s struct{ SendTestWebhook deliveryAnswer }
	w.MustDo(admin, `mutation($ep:ID!){sendTestWebhook(endpointID:$ep){`+deliveryFields+`}}`, map[string]any{"ep": epID}).Decode(t, &s)
	if s.SendTestWebhook.EventType != webhooks.TestEventType || s.SendTestWebhook.EventID != nil || s.SendTestWebhook.Status != "PENDING" {
		t.Fatalf("test event: %+v", s.SendTestWebhook)
	}
	wantCode(t, w.Do(admin, `mutation{sendTestWebhook(endpointID:"1"){id}}`, nil), "NOT_FOUND")
	wantCode(t, w.Do(admin, `query{webhookDeliveries(endpointID:"1",first:1){totalCount}}`, nil), "NOT_FOUND")

	// Users may not read the log, retry or send a test event.
	wantCode(t, w.Do(alice, `query($ep:ID!){webhookDeliveries(endpointID:$ep,first:1){totalCount}}`, map[string]any{"ep": epID}), "FORBIDDEN")
	wantCode(t, w.Do(alice, `mutation($id:ID!){retryWebhookDelivery(id:$id){id}}`, map[string]any{"id": ds[0].ID}), "FORBIDDEN")
	wantCode(t, w.Do(alice, `mutation($ep:ID!){sendTestWebhook(endpointID:$ep){id}}`, map[string]any{"ep": epID}), "FORBIDDEN")
	wantCode(t, w.Do(alice, `query($id:ID!){node(id:$id){id}}`, map[string]any{"id": ds[0].ID}), "FORBIDDEN")

	// The failed retry is due in a while; retry now makes it due now.
	w.MustDo(admin, `mutation($id:ID!){retryWebhookDelivery(id:$id){id}}`, map[string]any{"id": ds[0].ID})
	if err := w.App.Webhooks.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(list("DELIVERED")); n != 2 {
		t.Fatalf("delivered %d, want 2 (the retried one and the test)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 || got[0] != "package.created" {
		t.Fatalf("the receiver took %v", got)
	}
}

// The sender runs as the server's background job: with the jobs started,
// a change reaches the receiver without anyone calling the sender.
func TestWebhookSenderRunsAsAJob(t *testing.T) {
	w := newWorld(t, func(c *config.Config) { c.Webhooks.AllowPrivateTargets = true })
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(webhooks.HeaderID)
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	admin := w.tokenFor("root", adminPW)
	w.MustDo(admin, `mutation($in:CreateWebhookEndpointInput!){createWebhookEndpoint(input:$in){secret}}`,
		map[string]any{"in": map[string]any{"url": rcv.URL, "eventTypes": []string{"package.created"}}})
	w.App.StartJobs(context.Background())
	t.Cleanup(func() {
		if err := w.App.StopJobs(time.Minute); err != nil {
			t.Error(err)
		}
	})
	w.MustDo(admin, `mutation{createPackage(input:{name:"Gold",days:30}){id}}`, nil)
	select {
	case id := <-got:
		if id == "" {
			t.Fatal("a delivery without webhook-id")
		}
	case <-time.After(time.Minute):
		t.Fatal("the background sender never delivered")
	}
}
