package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Limits of a webhook delivery's texts.
const (
	// WebhookExcerptMaxLen bounds the kept start of a receiver's answer
	// (the sender keeps at most this many bytes, valid UTF-8).
	WebhookExcerptMaxLen = 1024
	// WebhookErrorMaxLen bounds the kept error of an attempt.
	WebhookErrorMaxLen = 500
	// WebhookIDMaxLen bounds a delivery's webhook-id.
	WebhookIDMaxLen = 64
)

// WebhookDelivery is one event to send to one endpoint: a row of the
// webhook outbox, written in the event's transaction and then posted, and
// retried, by the background sender until the endpoint takes it or the
// retries run out. Its webhook-id is the same on every attempt, so
// receivers can drop duplicates. Only admins read deliveries; only the
// server's own code writes them.
type WebhookDelivery struct{ ent.Schema }

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("endpoint_id").
			Immutable().
			Annotations(entgql.Type("ID")),
		field.Int("event_id").
			Optional().
			Nillable().
			Immutable().
			Comment("The event sent; none for a test message.").
			Annotations(entgql.Type("ID")),
		field.String("event_type").
			NotEmpty().
			MaxLen(EventTypeMaxLen).
			Immutable(),
		field.Bytes("body").
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("The body as sent: JSON {type, timestamp, data}."),
		field.String("webhook_id").
			NotEmpty().
			MaxLen(WebhookIDMaxLen).
			Immutable().
			Comment("The webhook-id header, the same on every attempt (msg_ and 160 random bits: unique without an index)."),
		field.Int("attempts").
			Default(0).
			NonNegative(),
		field.Time("next_attempt_at").
			Comment("When the sender takes the delivery next (while PENDING); a sender that took it moves this past its attempt's timeout."),
		field.Time("first_attempt_at").
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("When the first attempt was made: retries stop 3 days after it."),
		field.Enum("status").
			Values("PENDING", "DELIVERED", "FAILED").
			Default("PENDING"),
		field.Int("last_status_code").
			Optional().
			Nillable(),
		field.Int64("last_duration_ms").
			Optional().
			Nillable(),
		field.String("last_response").
			Default("").
			MaxLen(WebhookExcerptMaxLen),
		field.String("last_error").
			Default("").
			MaxLen(WebhookErrorMaxLen),
	}
}

// Edges of the WebhookDelivery: deleting an endpoint deletes its deliveries.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("endpoint", WebhookEndpoint.Type).
			Ref("deliveries").
			Field("endpoint_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the WebhookDelivery: the due deliveries (status, time), and
// an endpoint's log, newest first.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "next_attempt_at"),
		index.Fields("endpoint_id", "created_at"),
	}
}

// Policy of the WebhookDelivery: admins read and change (retry now);
// the outbox and the sender write past the rules, explicitly.
func (WebhookDelivery) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("webhook_deliveries"),
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
