package schema

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"gatehouse/internal/apperr"
	"gatehouse/internal/webhooks/eventtypes"
)

// Limits on a webhook endpoint's fields.
const (
	WebhookURLMaxLen         = 2000
	WebhookDescriptionMaxLen = 1000
)

// ValidateWebhookURL accepts an absolute http or https URL with a host, no
// user name or password, no fragment, at most WebhookURLMaxLen bytes.
// Whether the host may be reached is decided at delivery time, on the
// address it resolves to.
func ValidateWebhookURL(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > WebhookURLMaxLen {
		return fmt.Errorf("must be at most %d characters", WebhookURLMaxLen)
	}
	if !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must be a URL without spaces")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("must be an absolute http or https URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an absolute http or https URL")
	case u.Opaque != "" || u.Hostname() == "":
		return errors.New("must be an absolute http or https URL with a host")
	case u.User != nil:
		return errors.New("must not hold a user name or password")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("must not hold a fragment (#...)")
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil || p == "0" {
			return errors.New("has an invalid port")
		}
	}
	return nil
}

// WebhookEndpoint is a URL that receives signed event notifications
// (Standard Webhooks). Only admins see or change endpoints.
//
// The signing secrets are kept in the database as they are (HMAC needs
// the secret itself, so it cannot be hashed); they are Sensitive, so ent
// never prints them, and no GraphQL type or input carries them: the API
// shows a secret once, when it is made.
type WebhookEndpoint struct{ ent.Schema }

// Mixin of the WebhookEndpoint.
func (WebhookEndpoint) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WebhookEndpoint.
func (WebhookEndpoint) Fields() []ent.Field {
	noInput := entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)
	return []ent.Field{
		field.String("url").
			MaxLen(WebhookURLMaxLen).
			Validate(ValidateWebhookURL).
			Annotations(entgql.OrderField("URL"), noInput),
		field.String("description").
			Default("").
			MaxLen(WebhookDescriptionMaxLen).
			Annotations(noInput),
		field.Strings("event_types").
			Default([]string{}).
			Comment("Exact event types and prefixes such as user_package.*; empty: every type.").
			Annotations(noInput),
		field.Bool("enabled").
			Default(true).
			Annotations(noInput),
		field.String("secret").
			Sensitive().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("previous_secret").
			Sensitive().
			Optional().
			Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("previous_secret_until").
			Optional().
			Nillable().
			Comment("Until when the secret replaced by the last rotation still signs, beside the new one.").
			Annotations(noInput),
	}
}

// Edges of the WebhookEndpoint: its deliveries, deleted with it.
func (WebhookEndpoint) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", WebhookDelivery.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
	}
}

// Hooks of the WebhookEndpoint: ent has no validators for list fields, so
// the event types are checked here on every create and update (see
// eventtypes.List for their shape and how events match them).
func (WebhookEndpoint) Hooks() []ent.Hook {
	return []ent.Hook{checkEventTypes}
}

func checkEventTypes(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if v, ok := m.Field("event_types"); ok {
			ts, _ := v.([]string)
			if err := eventtypes.Validate(ts); err != nil {
				return nil, apperr.Invalid("eventTypes", "%s", err.Error())
			}
		}
		return next.Mutate(ctx, m)
	})
}

// Policy of the WebhookEndpoint: admins only, for reading and changing.
func (WebhookEndpoint) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// Annotations of the WebhookEndpoint. The queries and mutations are in
// graph/webhooks.graphql.
func (WebhookEndpoint) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}
