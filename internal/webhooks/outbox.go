package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/viewer"
)

// TestEventType is the type of the message "send a test event" sends.
const TestEventType = "webhook.test"

// Outbox writes the webhook deliveries of an event in the event's
// transaction: one PENDING row per enabled endpoint whose event types
// match, due at once. Register it on the event recorder (AddOutbox): a
// change that rolls back leaves no delivery, one that commits has them.
type Outbox struct {
	now        func() time.Time
	selectOnce sync.Once
	selectSQL  string
	selectArgs []any
	// cache, when set (CacheEndpoints), keeps the enabled endpoints
	// between changes.
	cache *endpointCache
}

// endpointCache keeps the enabled endpoints read last, valid while no
// endpoint changed since (gen counts the changes, begun, ended, committed
// or rolled back).
type endpointCache struct {
	gen    atomic.Uint64
	mu     sync.Mutex
	eps    []*ent.WebhookEndpoint
	eGen   uint64
	filled bool
}

func (c *endpointCache) invalidate() { c.gen.Add(1) }

// CacheEndpoints keeps the enabled endpoints in memory instead of reading
// them in every change's transaction, and forgets them whenever an
// endpoint changes through client. Only for a database that this process
// alone writes endpoints to (SQLite: one server per file, and endpoints
// change only through the server); on PostgreSQL, replicas change them
// too, and every change reads them.
func (o *Outbox) CacheEndpoints(client *ent.Client) {
	c := &endpointCache{}
	o.cache = c
	commit := ent.CommitHook(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			defer c.invalidate()
			return next.Commit(ctx, tx)
		})
	})
	rollback := ent.RollbackHook(func(next ent.Rollbacker) ent.Rollbacker {
		return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
			defer c.invalidate()
			return next.Rollback(ctx, tx)
		})
	})
	client.WebhookEndpoint.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			c.invalidate()
			defer c.invalidate()
			// In a transaction, the change is there for the others only
			// once it commits, and gone if it rolls back: forget again.
			if wm, ok := m.(*ent.WebhookEndpointMutation); ok {
				if tx, err := wm.Tx(); err == nil {
					tx.OnCommit(commit)
					tx.OnRollback(rollback)
				}
			}
			return next.Mutate(ctx, m)
		})
	})
}

// NewOutbox returns the webhook outbox.
func NewOutbox() *Outbox { return &Outbox{now: schema.Now} }

// SetClock replaces the clock (for tests).
func (o *Outbox) SetClock(now func() time.Time) { o.now = now }

// Enqueue writes e's deliveries in tx. Changes to the endpoints
// themselves are in the event log only: their URLs are nobody else's
// business, and an endpoint would be told of its own creation.
func (o *Outbox) Enqueue(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
	if strings.HasPrefix(e.Type, endpointEventPrefix) {
		return nil
	}
	eps, err := o.enabledEndpoints(ctx, tx)
	if err != nil || len(eps) == 0 {
		return err
	}
	sys := viewer.System(ctx)
	var body []byte
	creates := make([]*ent.WebhookDeliveryCreate, 0, len(eps))
	for _, ep := range eps {
		if !Receives(ep, e.Type) {
			continue
		}
		if body == nil {
			if body, err = Body(e.Type, e.At, EventData(e)); err != nil {
				return err
			}
		}
		eventID := e.ID
		creates = append(creates, tx.WebhookDelivery.Create().
			SetEndpointID(ep.ID).
			SetEventID(eventID).
			SetEventType(e.Type).
			SetBody(body).
			SetWebhookID(NewWebhookID()).
			SetNextAttemptAt(schema.Timestamp(o.now())))
	}
	if len(creates) == 0 {
		return nil
	}
	return tx.WebhookDelivery.CreateBulk(creates...).Exec(sys)
}

// enabledEndpoints reads the enabled endpoints' ids and event types, in
// one prepared statement written once (every change pays for it, so it
// skips ent's builders, as the event's own insert does).
func (o *Outbox) enabledEndpoints(ctx context.Context, tx *ent.Tx) ([]*ent.WebhookEndpoint, error) {
	c := o.cache
	if c == nil {
		return o.readEndpoints(ctx, tx)
	}
	gen := c.gen.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filled && c.eGen == gen {
		return c.eps, nil
	}
	eps, err := o.readEndpoints(ctx, tx)
	if err != nil {
		return nil, err
	}
	c.eps, c.eGen, c.filled = eps, gen, true
	return eps, nil
}

// readEndpoints reads the enabled endpoints in tx.
func (o *Outbox) readEndpoints(ctx context.Context, tx *ent.Tx) ([]*ent.WebhookEndpoint, error) {
	ctx = viewer.System(ctx)
	c := tx.Client()
	o.selectOnce.Do(func() {
		o.selectSQL, o.selectArgs = sql.Dialect(c.Dialect()).
			Select(webhookendpoint.FieldID, webhookendpoint.FieldEventTypes).
			From(sql.Table(webhookendpoint.Table)).
			Where(sql.EQ(webhookendpoint.FieldEnabled, true)).
			Query()
	})
	var eps []*ent.WebhookEndpoint
	err := c.ReadRows(ctx, o.selectSQL, o.selectArgs, func(rows *sql.Rows) error {
		for rows.Next() {
			ep := &ent.WebhookEndpoint{Enabled: true}
			var types []byte
			if err := rows.Scan(&ep.ID, &types); err != nil {
				return err
			}
			if len(types) > 0 {
				if err := json.Unmarshal(types, &ep.EventTypes); err != nil {
					return fmt.Errorf("webhook endpoint %d: event types: %w", ep.ID, err)
				}
			}
			eps = append(eps, ep)
		}
		return nil
	})
	return eps, err
}

// EventData is the data of an event's webhook: the event as the API shows
// it (its changes hold secrets only as "[redacted]").
func EventData(e *ent.Event) map[string]any {
	d := map[string]any{
		"id":          e.ID,
		"type":        e.Type,
		"at":          e.At.UTC(),
		"actorKind":   e.ActorKind,
		"subjectType": e.SubjectType,
	}
	if e.ActorID != nil {
		d["actorID"] = *e.ActorID
		d["actorName"] = e.ActorName
	}
	if e.SubjectID != nil {
		d["subjectID"] = *e.SubjectID
	}
	if len(e.Changes) > 0 {
		d["changes"] = e.Changes
	}
	if e.RequestID != "" {
		d["requestID"] = e.RequestID
	}
	return d
}

// NewWebhookID returns a new webhook-id: msg_ and 20 random bytes.
func NewWebhookID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
