package webhooks

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/apperr"
	"gatehouse/internal/auth"
	"gatehouse/internal/events"
	"gatehouse/internal/webhooks/eventtypes"
)

// CreateEndpointInput defines a webhook endpoint; the server makes its
// signing secret.
type CreateEndpointInput struct {
	URL         string
	Description *string
	// EventTypes are exact types and prefixes such as user_package.*;
	// empty: every type.
	EventTypes []string
	Enabled    *bool
}

// UpdateEndpointInput changes an endpoint; nil fields stay as they are.
type UpdateEndpointInput struct {
	URL         *string
	Description *string
	// EventTypes replaces the list when not nil.
	EventTypes []string
	// ClearEventTypes empties the list: the endpoint receives every type.
	ClearEventTypes *bool
	Enabled         *bool
}

// EndpointWithSecret is an endpoint with its signing secret, answered once
// when the secret is made (creating the endpoint, rotating its secret).
type EndpointWithSecret struct {
	Endpoint *ent.WebhookEndpoint
	Secret   string
}

// Endpoints are the admin operations on webhook endpoints. Authorization
// is the ent privacy rules' job (admins only): every call runs with the
// caller's viewer.
type Endpoints struct {
	client *ent.Client
	events *events.Recorder
}

// NewEndpoints returns the operations on client's endpoints; each change
// is recorded by rec, in its transaction.
func NewEndpoints(client *ent.Client, rec *events.Recorder) *Endpoints {
	return &Endpoints{client: client, events: rec}
}

// Event types of endpoint changes.
const (
	EventEndpointCreated       = "webhook_endpoint.created"
	EventEndpointUpdated       = "webhook_endpoint.updated"
	EventEndpointDeleted       = "webhook_endpoint.deleted"
	EventEndpointSecretRotated = "webhook_endpoint.secret_rotated"

	endpointEventPrefix = events.SubjectWebhookEndpoint + "."
)

// record writes the event of a change to endpoint id in tx.
func (e *Endpoints) record(ctx context.Context, tx *ent.Tx, typ string, id int, d events.Diff) error {
	_, err := e.events.Record(ctx, tx, events.Entry{Type: typ, SubjectType: events.SubjectWebhookEndpoint, SubjectID: id, Changes: d.Set()})
	return err
}

func checkURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := schema.ValidateWebhookURL(s); err != nil {
		return "", apperr.Invalid("url", "%s", err.Error())
	}
	return s, nil
}

func checkDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", apperr.Invalid("description", "must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > schema.WebhookDescriptionMaxLen {
		return "", apperr.Invalid("description", "must be at most %d characters", schema.WebhookDescriptionMaxLen)
	}
	return s, nil
}

// checkEventTypes trims the entries, drops repeats (keeping the first
// place of each) and checks the list.
func checkEventTypes(ts []string) (eventtypes.List, error) {
	out := make(eventtypes.List, 0, len(ts))
	for _, t := range ts {
		if t = strings.TrimSpace(t); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if err := eventtypes.Validate(out); err != nil {
		return nil, apperr.Invalid("eventTypes", "%s", err.Error())
	}
	return out, nil
}

// Create makes an endpoint with a new signing secret, answered once here.
func (e *Endpoints) Create(ctx context.Context, in CreateEndpointInput) (*EndpointWithSecret, error) {
	u, err := checkURL(in.URL)
	if err != nil {
		return nil, err
	}
	desc := ""
	if in.Description != nil {
		if desc, err = checkDescription(*in.Description); err != nil {
			return nil, err
		}
	}
	types, err := checkEventTypes(in.EventTypes)
	if err != nil {
		return nil, err
	}
	enabled := true
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	secret := NewSecret()
	var ep *ent.WebhookEndpoint
	err = e.tx(ctx, func(tx *ent.Tx) error {
		ep, err = tx.WebhookEndpoint.Create().
			SetURL(u).
			SetDescription(desc).
			SetEventTypes(types).
			SetEnabled(enabled).
			SetSecret(secret).
			Save(ctx)
		if err != nil {
			return err
		}
		return e.record(ctx, tx, EventEndpointCreated, ep.ID, events.Created(map[string]any{
			"url": u, "description": desc, "eventTypes": types.String(), "enabled": enabled, "secret": events.Redacted,
		}))
	})
	if err != nil {
		return nil, err
	}
	return &EndpointWithSecret{Endpoint: ep.Unwrap(), Secret: secret}, nil
}

// Update changes an endpoint's URL, description, event types or enabled
// flag. Its secrets stay.
func (e *Endpoints) Update(ctx context.Context, id int, in UpdateEndpointInput) (*ent.WebhookEndpoint, error) {
	clear := in.ClearEventTypes != nil && *in.ClearEventTypes
	if clear && in.EventTypes != nil {
		return nil, apperr.Invalid("clearEventTypes", "give either eventTypes or clearEventTypes, not both")
	}
	var ep *ent.WebhookEndpoint
	err := e.tx(ctx, func(tx *ent.Tx) error {
		old, err := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id), forUpdate).Only(ctx)
		if err != nil {
			return notFound(err)
		}
		up := old.Update()
		if in.URL != nil {
			u, err := checkURL(*in.URL)
			if err != nil {
				return err
			}
			up.SetURL(u)
		}
		if in.Description != nil {
			desc, err := checkDescription(*in.Description)
			if err != nil {
				return err
			}
			up.SetDescription(desc)
		}
		switch {
		case clear:
			up.SetEventTypes([]string{})
		case in.EventTypes != nil:
			types, err := checkEventTypes(in.EventTypes)
			if err != nil {
				return err
			}
			up.SetEventTypes(types)
		}
		if in.Enabled != nil {
			up.SetEnabled(*in.Enabled)
		}
		if ep, err = up.Save(ctx); err != nil {
			return notFound(err)
		}
		d := events.Diff{}
		events.Add(d, "url", old.URL, ep.URL)
		events.Add(d, "description", old.Description, ep.Description)
		events.Add(d, "eventTypes", eventtypes.List(old.EventTypes).String(), eventtypes.List(ep.EventTypes).String())
		events.Add(d, "enabled", old.Enabled, ep.Enabled)
		if len(d) == 0 {
			return nil
		}
		return e.record(ctx, tx, EventEndpointUpdated, id, d)
	})
	if err != nil {
		return nil, err
	}
	return ep.Unwrap(), nil
}

// Delete deletes an endpoint.
func (e *Endpoints) Delete(ctx context.Context, id int) (int, error) {
	err := e.tx(ctx, func(tx *ent.Tx) error {
		if err := notFound(tx.WebhookEndpoint.DeleteOneID(id).Exec(ctx)); err != nil {
			return err
		}
		return e.record(ctx, tx, EventEndpointDeleted, id, nil)
	})
	return id, err
}

// Rotate gives an endpoint a new signing secret, answered once here. The
// secret it replaces keeps signing beside the new one for RotationOverlap,
// so receivers can switch without losing a message; a secret replaced
// earlier than that stops signing now.
func (e *Endpoints) Rotate(ctx context.Context, id int) (*EndpointWithSecret, error) {
	secret := NewSecret()
	var ep *ent.WebhookEndpoint
	err := e.tx(ctx, func(tx *ent.Tx) error {
		// Two rotations at once run one after the other: each replaces
		// the secret the other made, never both the same one.
		old, err := tx.WebhookEndpoint.Query().Where(webhookendpoint.ID(id), forUpdate).Only(ctx)
		if err != nil {
			return notFound(err)
		}
		ep, err = old.Update().
			SetSecret(secret).
			SetPreviousSecret(old.Secret).
			SetPreviousSecretUntil(schema.Now().Add(RotationOverlap)).
			Save(ctx)
		if err != nil {
			return err
		}
		d := events.Diff{}
		events.Secret(d, "secret")
		return e.record(ctx, tx, EventEndpointSecretRotated, id, d)
	})
	if err != nil {
		return nil, err
	}
	return &EndpointWithSecret{Endpoint: ep.Unwrap(), Secret: secret}, nil
}

// Get reads an endpoint; NOT_FOUND when there is none (or the viewer may
// not see it).
func (e *Endpoints) Get(ctx context.Context, id int) (*ent.WebhookEndpoint, error) {
	ep, err := e.client.WebhookEndpoint.Get(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	return ep, nil
}

// Query starts a query of the endpoints.
func (e *Endpoints) Query() *ent.WebhookEndpointQuery { return e.client.WebhookEndpoint.Query() }

func (e *Endpoints) tx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return auth.WithTx(ctx, e.client, fn)
}

// forUpdate locks the rows a query reads until the transaction ends, on
// PostgreSQL. SQLite needs no row lock: its write transactions begin
// IMMEDIATE, holding the one write lock from the start.
func forUpdate(s *sql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}

func notFound(err error) error {
	if ent.IsNotFound(err) {
		e := apperr.NotFoundf("webhook endpoint not found")
		e.Field = "id"
		return e
	}
	return err
}

// Receives reports whether ep takes events of type typ: it is enabled and
// its event types match typ (see eventtypes.List.Matches).
func Receives(ep *ent.WebhookEndpoint, typ string) bool {
	return ep.Enabled && eventtypes.List(ep.EventTypes).Matches(typ)
}
