package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/viewer"
)

// The sender job's settings.
const (
	// JobName is the sender's job (and lease) name.
	JobName = "webhooks.send"
	// JobEvery is how often the sender looks for due deliveries.
	JobEvery = 2 * time.Second
	// BatchSize bounds the deliveries claimed at once.
	BatchSize = 50
	// Workers bounds the requests in flight at once.
	Workers = 8
)

// Deliverer is the background sender: it claims due deliveries in bounded
// batches, signs them with their endpoint's live secrets, posts them with
// the SSRF-safe Sender and records each outcome, scheduling the next
// attempt (NextAttempt) or marking the delivery FAILED once the retries
// run out. Run is its job on the jobs runner (one replica at a time); on
// PostgreSQL the claim also locks the rows it takes (FOR UPDATE SKIP
// LOCKED), so even two senders never send the same attempt at once.
type Deliverer struct {
	client  *ent.Client
	sender  *Sender
	log     *slog.Logger
	now     func() time.Time
	jitter  func() float64
	batch   int
	workers int
	// onOutcome sees each attempt recorded (ObserveOutcomes).
	onOutcome func(outcome string)
}

// ObserveOutcomes makes f see the outcome of every delivery attempt
// recorded: "delivered", "retry" (to be tried again) or "failed" (given
// up). Call it before the sender runs.
func (d *Deliverer) ObserveOutcomes(f func(outcome string)) { d.onOutcome = f }

// NewDeliverer returns the sender of client's deliveries.
func NewDeliverer(client *ent.Client, sender *Sender, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.Default()
	}
	return &Deliverer{client: client, sender: sender, log: log, now: schema.Now, jitter: Jitter, batch: BatchSize, workers: Workers}
}

// SetClock replaces the clock (for tests).
func (d *Deliverer) SetClock(now func() time.Time) { d.now = now }

// SetJitter replaces the retry jitter (for tests).
func (d *Deliverer) SetJitter(j func() float64) { d.jitter = j }

// SetBatch sets the batch size and the requests in flight (for tests and
// benchmarks).
func (d *Deliverer) SetBatch(batch, workers int) { d.batch, d.workers = max(batch, 1), max(workers, 1) }

// clock is the time as the database keeps it (UTC, to the microsecond).
func (d *Deliverer) clock() time.Time { return schema.Timestamp(d.now()) }

// claimed is a delivery taken for one attempt, with its endpoint.
type claimed struct {
	d  *ent.WebhookDelivery
	ep *ent.WebhookEndpoint
}

// Run sends the due deliveries, batch after batch, until none is due or
// ctx ends. It is the sender's job.
func (d *Deliverer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := d.RunBatch(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}

// RunBatch claims at most one batch of due deliveries, attempts them and
// records the outcomes; it returns how many it claimed.
func (d *Deliverer) RunBatch(ctx context.Context) (int, error) {
	batch, err := d.claim(ctx)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	work := make(chan claimed)
	var wg sync.WaitGroup
	for range min(d.workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				d.attempt(ctx, c)
			}
		}()
	}
	for _, c := range batch {
		work <- c
	}
	close(work)
	wg.Wait()
	return len(batch), nil
}

// claim takes the due deliveries of enabled endpoints, oldest due first:
// in one transaction it reads them (locking them, skipping rows another
// sender holds, on PostgreSQL) and moves them the Sender's ClaimFor ahead,
// so no other sender takes them meanwhile. A sender that dies before
// recording an attempt (kill -9) leaves them due again then.
func (d *Deliverer) claim(ctx context.Context) ([]claimed, error) {
	sys := viewer.System(ctx)
	now := d.clock()
	var out []claimed
	err := auth.WithTx(sys, d.client, func(tx *ent.Tx) error {
		ds, err := tx.WebhookDelivery.Query().
			Where(
				webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING),
				webhookdelivery.NextAttemptAtLTE(now),
				webhookdelivery.HasEndpointWith(webhookendpoint.Enabled(true)),
				skipLocked,
			).
			Order(webhookdelivery.ByNextAttemptAt(), webhookdelivery.ByID()).
			Limit(d.batch).
			All(sys)
		if err != nil || len(ds) == 0 {
			return err
		}
		ids := make([]int, len(ds))
		epIDs := make([]int, 0, len(ds))
		seen := map[int]bool{}
		for i, x := range ds {
			ids[i] = x.ID
			if !seen[x.EndpointID] {
				seen[x.EndpointID] = true
				epIDs = append(epIDs, x.EndpointID)
			}
		}
		if err := tx.WebhookDelivery.Update().
			Where(webhookdelivery.IDIn(ids...)).
			SetNextAttemptAt(now.Add(d.sender.ClaimFor())).
			Exec(sys); err != nil {
			return err
		}
		eps, err := tx.WebhookEndpoint.Query().Where(webhookendpoint.IDIn(epIDs...)).All(sys)
		if err != nil {
			return err
		}
		byID := make(map[int]*ent.WebhookEndpoint, len(eps))
		for _, ep := range eps {
			byID[ep.ID] = ep
		}
		for _, x := range ds {
			if ep := byID[x.EndpointID]; ep != nil {
				out = append(out, claimed{d: x, ep: ep})
			}
		}
		return nil
	})
	return out, err
}

// skipLocked locks the rows read until the transaction ends and skips
// those another transaction holds, on PostgreSQL. SQLite needs no row
// lock: its write transactions begin IMMEDIATE, one at a time.
func skipLocked(s *sql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate(sql.WithLockAction(sql.SkipLocked))
	}
}

// attempt posts one claimed delivery and records the outcome. When ctx
// ends mid-attempt (the sender is stopping), it records no attempt and
// makes the delivery due at once again.
func (d *Deliverer) attempt(ctx context.Context, c claimed) {
	now := d.clock()
	m := Message{ID: c.d.WebhookID, Timestamp: now, Body: c.d.Body}
	out := d.sender.Send(ctx, c.ep.URL, m, LiveSecrets(c.ep, now)...)
	sys := viewer.System(context.WithoutCancel(ctx))
	if ctx.Err() != nil && !out.OK() {
		rctx, cancel := context.WithTimeout(sys, 5*time.Second)
		defer cancel()
		if err := d.client.WebhookDelivery.Update().
			Where(webhookdelivery.ID(c.d.ID), webhookdelivery.Attempts(c.d.Attempts), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING)).
			SetNextAttemptAt(now).
			Exec(rctx); err != nil {
			d.log.Warn("webhooks: release a delivery", "delivery", c.d.ID, "err", err)
		}
		return
	}
	if err := d.record(sys, c.d, out); err != nil {
		d.log.Error("webhooks: record a delivery attempt", "delivery", c.d.ID, "err", err)
	}
}

// record writes an attempt's outcome, unless another sender recorded
// this attempt already (the row's attempts moved on).
func (d *Deliverer) record(ctx context.Context, x *ent.WebhookDelivery, out Outcome) error {
	at := d.clock()
	first := at
	if x.FirstAttemptAt != nil {
		first = *x.FirstAttemptAt
	}
	n := x.Attempts + 1
	up := d.client.WebhookDelivery.Update().
		Where(webhookdelivery.ID(x.ID), webhookdelivery.Attempts(x.Attempts), webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING)).
		SetAttempts(n).
		SetFirstAttemptAt(first).
		SetLastDurationMs(out.Duration.Milliseconds()).
		SetLastResponse(truncateBytes(out.Excerpt, schema.WebhookExcerptMaxLen)).
		SetLastError(truncateBytes(errorText(out), schema.WebhookErrorMaxLen))
	if out.Status != 0 {
		up.SetLastStatusCode(out.Status)
	} else {
		up.ClearLastStatusCode()
	}
	outcome := "retry"
	switch next, retry := NextAttempt(first, n, at, d.jitter()); {
	case out.OK():
		up.SetStatus(webhookdelivery.StatusDELIVERED)
		outcome = "delivered"
	case retry:
		up.SetNextAttemptAt(schema.Timestamp(next))
	default:
		up.SetStatus(webhookdelivery.StatusFAILED)
		outcome = "failed"
	}
	nrec, err := up.Save(ctx)
	if err == nil && nrec > 0 && d.onOutcome != nil {
		d.onOutcome(outcome)
	}
	return err
}

// errorText is why an attempt failed, for the log: the transport's error
// without the URL (whose query may hold a receiver's token), or the
// status the receiver answered.
func errorText(out Outcome) string {
	if out.Err == nil {
		if out.OK() {
			return ""
		}
		return fmt.Sprintf("the receiver answered %d", out.Status)
	}
	err := out.Err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// truncateBytes cuts s to at most n bytes on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// RetryNow makes a delivery due at once (see RetryDelivery).
func (d *Deliverer) RetryNow(ctx context.Context, id int) (*ent.WebhookDelivery, error) {
	return RetryDelivery(ctx, d.client, id, d.clock())
}

// SendTest queues a test message (see SendTest).
func (d *Deliverer) SendTest(ctx context.Context, endpointID int) (*ent.WebhookDelivery, error) {
	return SendTest(ctx, d.client, endpointID, d.clock())
}

// RetryDelivery makes a delivery due at now (a FAILED or DELIVERED one
// gets one more attempt). Admins only, through the privacy rules.
func RetryDelivery(ctx context.Context, client *ent.Client, id int, now time.Time) (*ent.WebhookDelivery, error) {
	x, err := client.WebhookDelivery.UpdateOneID(id).
		SetStatus(webhookdelivery.StatusPENDING).
		SetNextAttemptAt(schema.Timestamp(now)).
		Save(ctx)
	if ent.IsNotFound(err) {
		e := apperr.NotFoundf("webhook delivery not found")
		e.Field = "id"
		return nil, e
	}
	return x, err
}

// SendTest queues a webhook.test message to an endpoint, due at now.
// Admins only, through the privacy rules.
func SendTest(ctx context.Context, client *ent.Client, endpointID int, now time.Time) (*ent.WebhookDelivery, error) {
	ep, err := client.WebhookEndpoint.Get(ctx, endpointID)
	if err != nil {
		e := notFound(err)
		if ae, ok := e.(*apperr.Error); ok {
			ae.Field = "endpointID"
		}
		return nil, e
	}
	now = schema.Timestamp(now)
	body, err := Body(TestEventType, now, map[string]any{"endpointID": ep.ID})
	if err != nil {
		return nil, err
	}
	return client.WebhookDelivery.Create().
		SetEndpointID(ep.ID).
		SetEventType(TestEventType).
		SetBody(body).
		SetWebhookID(NewWebhookID()).
		SetNextAttemptAt(now).
		Save(ctx)
}
