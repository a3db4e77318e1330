package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/events"
	"gatehouse/internal/webhooks"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	vw "gatehouse/views/webhooks"
)

var webhookFields = []string{"url", "description", "eventTypes", "enabled"}

// deliveriesShown is how many deliveries an endpoint's page lists.
const deliveriesShown = 10

// keySecret is the cookie session's key under which a new signing secret
// waits for the one page that shows it (see webhookSecret).
func keySecret(id int) string { return "webhookSecret." + strconv.Itoa(id) }

// overlapText says how long a replaced secret keeps signing.
func overlapText() string {
	h := int(webhooks.RotationOverlap.Hours())
	if h%24 == 0 {
		return components.Plural(h, "hour", "hours")
	}
	return webhooks.RotationOverlap.String()
}

func enabledOptions() []components.Option {
	return []components.Option{
		{Value: "", Label: "Any state"},
		{Value: "true", Label: "Enabled"},
		{Value: "false", Label: "Disabled"},
	}
}

func (d *Dashboard) endpoints() *webhooks.Endpoints {
	return webhooks.NewEndpoints(d.client, d.svc.Events())
}

func (d *Dashboard) webhookResource() *resource[*ent.WebhookEndpoint, vw.Form] {
	eps := d.endpoints()
	rs := &resource[*ent.WebhookEndpoint, vw.Form]{
		d: d, name: "webhook endpoint", plural: "webhook endpoints", title: "Webhook endpoints",
		path: vw.Path, section: "webhooks", subject: events.SubjectWebhookEndpoint,
		table: entTable[*ent.WebhookEndpoint, *ent.WebhookEndpointQuery, predicate.WebhookEndpoint, webhookendpoint.OrderOption](eps.Query),
		get:   eps.Get,
		id:    func(ep *ent.WebhookEndpoint) int { return ep.ID },
		label: vw.Title,

		searchLabel: "URL or description",
		search: func(q string) func(*sql.Selector) {
			return webhookendpoint.Or(webhookendpoint.URLContainsFold(q), webhookendpoint.DescriptionContainsFold(q))
		},
		filters: []filter{{name: "enabled", title: "State", ok: oneOf("true", "false"),
			where:   func(v string) func(*sql.Selector) { return webhookendpoint.Enabled(v == "true") },
			options: staticOptions(enabledOptions())}},
		sorts: []sortCol[*ent.WebhookEndpoint]{
			{key: "url", title: "URL", column: webhookendpoint.FieldURL, value: func(ep *ent.WebhookEndpoint) any { return ep.URL }},
			{key: "enabled", title: "State", column: webhookendpoint.FieldEnabled, kind: kindBool, value: func(ep *ent.WebhookEndpoint) any { return ep.Enabled }},
			{key: "created", title: "Created", column: webhookendpoint.FieldCreatedAt, kind: kindTime, value: func(ep *ent.WebhookEndpoint) any { return ep.CreatedAt.UTC() }},
		},
		sort: "url",
		columns: []column[*ent.WebhookEndpoint]{
			{title: "URL", sort: "url",
				cell: func(ep *ent.WebhookEndpoint, _ int) templ.Component { return vw.URLCell(ep) },
				csv:  func(ep *ent.WebhookEndpoint, _ int) string { return ep.URL }},
			{title: "Description", csv: func(ep *ent.WebhookEndpoint, _ int) string { return ep.Description }},
			{title: "Event types",
				cell: func(ep *ent.WebhookEndpoint, _ int) templ.Component { return vw.Types(ep.EventTypes) },
				csv:  func(ep *ent.WebhookEndpoint, _ int) string { return strings.Join(ep.EventTypes, " ") }},
			{title: "State", sort: "enabled",
				cell: func(ep *ent.WebhookEndpoint, _ int) templ.Component { return vw.EnabledBadge(ep) },
				csv:  func(ep *ent.WebhookEndpoint, _ int) string { return enabledText(ep.Enabled) }},
			{title: "Created", sort: "created",
				cell: func(ep *ent.WebhookEndpoint, _ int) templ.Component { return components.When(ep.CreatedAt) },
				csv:  func(ep *ent.WebhookEndpoint, _ int) string { return csvTime(ep.CreatedAt) }},
		},
		newLabel: "New endpoint",
		detail:   d.webhookDetail,
		remove: func(ctx context.Context, ep *ent.WebhookEndpoint) error {
			_, err := eps.Delete(ctx, ep.ID)
			return err
		},
		removeInfo: func(ctx context.Context, ep *ent.WebhookEndpoint) (deleteInfo, error) {
			eff, err := d.webhookDeleteEffect(ctx, []int{ep.ID})
			return deleteInfo{Effects: eff}, err
		},
		removed: func(_ http.ResponseWriter, r *http.Request, ep *ent.WebhookEndpoint) bool {
			d.sessions.Remove(r.Context(), keySecret(ep.ID))
			return false
		},
	}
	rs.bulk = []bulkAction[*ent.WebhookEndpoint]{
		{key: "enable", label: "Enable", done: "enabled", apply: d.webhookSetEnabled(eps, true),
			effect: fixedEffect("Deliveries waiting for them are sent within seconds.")},
		{key: "disable", label: "Disable", done: "disabled", apply: d.webhookSetEnabled(eps, false),
			effect: fixedEffect("Disabled endpoints are sent no new events; deliveries already queued wait until they are enabled.")},
		{key: "delete", label: "Delete", done: "deleted", danger: true,
			apply: func(ctx context.Context, ep *ent.WebhookEndpoint, _ int) (bool, error) {
				_, err := eps.Delete(ctx, ep.ID)
				if err == nil {
					d.sessions.Remove(ctx, keySecret(ep.ID))
				}
				return true, err
			},
			effect: d.webhookDeleteEffect},
	}
	f := &rs.form
	f.fields = webhookFields
	f.blank = func(r *http.Request) (vw.Form, error) {
		return vw.Form{Enabled: true, Errors: components.Errors{}, Return: returnOf(r)}, nil
	}
	f.edit = func(r *http.Request, ep *ent.WebhookEndpoint) (vw.Form, error) {
		return vw.Form{
			ID: ep.ID, Current: vw.Title(ep), URL: ep.URL, Description: ep.Description,
			EventTypes: vw.TypesText(ep.EventTypes), Enabled: ep.Enabled, Errors: components.Errors{}, Return: returnOf(r),
		}, nil
	}
	f.read = func(r *http.Request, old **ent.WebhookEndpoint) (vw.Form, components.Errors, error) {
		fr := newFormReader(r)
		wf := vw.Form{
			URL: fr.str("url"), Description: fr.str("description"), EventTypes: fr.str("eventTypes"),
			Enabled: fr.boolean("enabled"), Errors: fr.errs, Return: returnOf(r),
		}
		if old != nil {
			wf.ID, wf.Current = (*old).ID, vw.Title(*old)
		}
		return wf, wf.Errors, nil
	}
	f.create = func(ctx context.Context, wf vw.Form) (*ent.WebhookEndpoint, error) {
		made, err := eps.Create(ctx, webhooks.CreateEndpointInput{
			URL: wf.URL, Description: &wf.Description, EventTypes: eventTypesOf(wf.EventTypes), Enabled: &wf.Enabled,
		})
		if err != nil {
			return nil, err
		}
		// The secret waits in the cookie session for the one page that
		// shows it.
		d.sessions.Put(ctx, keySecret(made.Endpoint.ID), made.Secret)
		return made.Endpoint, nil
	}
	f.update = func(ctx context.Context, ep *ent.WebhookEndpoint, wf vw.Form) (*ent.WebhookEndpoint, error) {
		in := webhooks.UpdateEndpointInput{URL: &wf.URL, Description: &wf.Description, Enabled: &wf.Enabled}
		if ts := eventTypesOf(wf.EventTypes); len(ts) > 0 {
			in.EventTypes = ts
		} else {
			clear := true
			in.ClearEventTypes = &clear
		}
		return eps.Update(ctx, ep.ID, in)
	}
	f.view = vw.FormPage
	return rs
}

// mountWebhooks adds the endpoints' resource and their own pages: the
// secret shown once, rotation, a test event and the delivery log. A new
// endpoint's form posts to webhookCreate, which shows the secret next.
func (d *Dashboard) mountWebhooks(admin func(string, http.HandlerFunc)) {
	rs := d.webhookResource()
	// A new endpoint's secret waits in the cookie session (see its create)
	// for the one page that shows it: reloading that page shows the
	// secret no more and makes nothing.
	rs.savedTo = func(ep *ent.WebhookEndpoint, created bool) string {
		if created {
			return vw.Href(ep.ID) + "/secret"
		}
		return ""
	}
	rs.mount(admin)
	admin("GET /admin/webhooks/{id}/secret", d.webhookSecret)
	admin("GET /admin/webhooks/{id}/rotate", d.webhookRotateConfirm)
	admin("POST /admin/webhooks/{id}/rotate", d.webhookRotate)
	admin("POST /admin/webhooks/{id}/test", d.webhookSendTest)
	admin("GET /admin/webhooks/{id}/deliveries", d.webhookDeliveries)
	admin("POST /admin/webhooks/{id}/deliveries/{delivery}/retry", d.webhookRetry)
}

func enabledText(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

// webhookSetEnabled is the bulk action that enables or disables endpoints.
func (d *Dashboard) webhookSetEnabled(eps *webhooks.Endpoints, on bool) func(context.Context, *ent.WebhookEndpoint, int) (bool, error) {
	return func(ctx context.Context, ep *ent.WebhookEndpoint, _ int) (bool, error) {
		if ep.Enabled == on {
			return false, nil
		}
		_, err := eps.Update(ctx, ep.ID, webhooks.UpdateEndpointInput{Enabled: &on})
		return true, err
	}
}

// webhookDeleteEffect says what goes with the endpoints ids.
func (d *Dashboard) webhookDeleteEffect(ctx context.Context, ids []int) ([]string, error) {
	n, err := d.client.WebhookDelivery.Query().Where(webhookdelivery.EndpointIDIn(ids...)).Count(ctx)
	if err != nil {
		return nil, err
	}
	return []string{
		"The delivery log (" + components.Plural(n, "delivery", "deliveries") + "): deliveries not yet sent are never sent.",
	}, nil
}

// loadEndpoint reads the endpoint of the URL's {id}; false means the
// request was answered (404).
func (d *Dashboard) loadEndpoint(w http.ResponseWriter, r *http.Request) (*ent.WebhookEndpoint, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	ep, err := d.endpoints().Get(r.Context(), id)
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return ep, true
}

// webhookDetail is an endpoint's page with its newest deliveries.
func (d *Dashboard) webhookDetail(r *http.Request, p layout.Page, ep *ent.WebhookEndpoint) (templ.Component, error) {
	xs, err := d.client.WebhookDelivery.Query().
		Where(webhookdelivery.EndpointID(ep.ID)).
		Order(webhookdelivery.ByCreatedAt(sql.OrderDesc()), webhookdelivery.ByID(sql.OrderDesc())).
		Limit(deliveriesShown + 1).
		All(r.Context())
	if err != nil {
		return nil, err
	}
	more := len(xs) > deliveriesShown
	if more {
		xs = xs[:deliveriesShown]
	}
	ret := returnOf(r)
	return vw.Detail(p, vw.DetailData{
		EP: ep, Deliveries: xs, More: more, Now: d.svc.Now(), Overlap: overlapText(),
		Return: ret, Here: components.WithReturn(vw.Href(ep.ID), ret),
	}), nil
}

// eventTypesOf splits the event types field: one per line or separated by
// commas; blanks are dropped.
func eventTypesOf(s string) []string {
	out := []string{}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if t := strings.TrimSpace(line); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// webhookSecret shows a new secret once: it takes it out of the cookie
// session, so a reload finds none.
func (d *Dashboard) webhookSecret(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	secret := d.sessions.PopString(r.Context(), keySecret(ep.ID))
	d.render(w, r, http.StatusOK, vw.Secret(d.page(r, "Signing secret of "+vw.Title(ep), "webhooks"), vw.SecretData{
		EP: ep, Secret: secret, Now: d.svc.Now(), Overlap: overlapText(),
	}))
}

func (d *Dashboard) webhookRotateConfirm(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, vw.Rotate(d.page(r, "Rotate the secret of "+vw.Title(ep), "webhooks"), vw.RotateData{
		EP: ep, Now: d.svc.Now(), Overlap: overlapText(), Return: returnOf(r),
	}))
}

// webhookRotate makes a new secret and sends the browser to the page that
// shows it once (as webhookCreate does).
func (d *Dashboard) webhookRotate(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	made, err := d.endpoints().Rotate(r.Context(), ep.ID)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.sessions.Put(r.Context(), keySecret(ep.ID), made.Secret)
	d.redirect(w, r, vw.Href(ep.ID)+"/secret", "New signing secret made for "+vw.Title(ep)+".")
}

// webhookSendTest queues a webhook.test message to the endpoint.
func (d *Dashboard) webhookSendTest(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	x, err := webhooks.SendTest(r.Context(), d.client, ep.ID, d.svc.Now())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	msg := "Test event queued (" + x.WebhookID + "): it is sent within seconds."
	if !ep.Enabled {
		msg = "Test event queued (" + x.WebhookID + "). The endpoint is disabled: it is sent once the endpoint is enabled."
	}
	d.redirect(w, r, components.Or(returnOf(r), vw.Href(ep.ID)), msg)
}

// webhookRetry makes one of the endpoint's deliveries due now.
func (d *Dashboard) webhookRetry(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ep, ok := d.loadEndpoint(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	did, err := strconv.Atoi(r.PathValue("delivery"))
	if err != nil || did <= 0 || strconv.Itoa(did) != r.PathValue("delivery") {
		d.notFound(w, r)
		return
	}
	// Only a delivery of this endpoint.
	if _, err := d.client.WebhookDelivery.Query().
		Where(webhookdelivery.ID(did), webhookdelivery.EndpointID(ep.ID)).OnlyID(ctx); err != nil {
		d.failure(w, r, err)
		return
	}
	x, err := webhooks.RetryDelivery(ctx, d.client, did, d.svc.Now())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	msg := "Delivery " + x.WebhookID + " is due now: it is sent within seconds."
	if !ep.Enabled {
		msg = "Delivery " + x.WebhookID + " is due now. The endpoint is disabled: it is sent once the endpoint is enabled."
	}
	d.redirect(w, r, components.Or(returnOf(r), vw.DeliveriesHref(ep.ID)), msg)
}

// webhookDeliveries is an endpoint's delivery log, newest first, paged by
// keyset, filtered by status.
func (d *Dashboard) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := vw.DeliveriesData{
		EP: ep, Status: strings.TrimSpace(q.Get("status")), Statuses: vw.Statuses("Any status"),
		Errors: components.Errors{}, Now: d.svc.Now(), Here: here(r),
	}
	clean := url.Values{}
	preds := []predicate.WebhookDelivery{webhookdelivery.EndpointID(ep.ID)}
	if data.Status != "" {
		if len(data.Status) > 20 || webhookdelivery.StatusValidator(webhookdelivery.Status(data.Status)) != nil {
			data.Errors.Add("status", "must be PENDING, DELIVERED or FAILED")
		} else {
			preds = append(preds, webhookdelivery.StatusEQ(webhookdelivery.Status(data.Status)))
			clean.Set("status", data.Status)
		}
	}
	win, bad := parseWindow(q)
	switch bad {
	case "size":
		data.Errors.Add("size", "must be a number from 1 to "+strconv.Itoa(components.MaxPageSize))
	case "after", "before":
		data.Errors.Add("", "The link to this page is damaged. Start again from the newest deliveries.")
	}
	data.Size = strconv.Itoa(win.size)
	if win.size != defaultPageSize {
		clean.Set("size", data.Size)
	}
	page := d.page(r, "Deliveries to "+vw.Title(ep), "webhooks")
	if data.Errors.Any() {
		d.render(w, r, http.StatusUnprocessableEntity, vw.Deliveries(page, data))
		return
	}
	dq := d.client.WebhookDelivery.Query().Where(preds...)
	if p := win.predicate(webhookdelivery.FieldCreatedAt, webhookdelivery.FieldID); p != nil {
		dq.Where(predicate.WebhookDelivery(p))
	}
	o := sql.OrderAsc()
	if win.desc() {
		o = sql.OrderDesc()
	}
	rows, err := dq.Order(webhookdelivery.ByCreatedAt(o), webhookdelivery.ByID(o)).Limit(win.size + 1).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	var links keysetLinks
	data.Rows, links = keysetPage(win, rows, deliveryCursor, vw.DeliveriesHref(ep.ID), clean)
	data.Newer, data.Older, data.Newest = links.Newer, links.Older, links.Newest
	d.render(w, r, http.StatusOK, vw.Deliveries(page, data))
}

func deliveryCursor(x *ent.WebhookDelivery) pageCursor { return pageCursor{at: x.CreatedAt, id: x.ID} }
