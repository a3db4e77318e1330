package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
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
}

// NewOutbox returns the webhook outbox.
func NewOutbox() *Outbox { return &Outbox{now: schema.Now} }

// SetClock replaces the clock (for tests).
func (o *Outbox) SetClock(now func() time.Time) { o.now = now }

// Enqueue writes e's deliveries in tx.
func (o *Outbox) Enqueue(ctx context.Context, tx *ent.Tx, e *ent.Event) error {
	sys := viewer.System(ctx)
	eps, err := o.enabledEndpoints(sys, tx)
	if err != nil || len(eps) == 0 {
		return err
	}
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
