package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/predicate"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/internal/webhooks"
	"gatehouse/views/components"
	vw "gatehouse/views/webhooks"
)

var webhookListSpec = listSpec{
	path:  vw.Path,
	sorts: []string{"url", "enabled", "created"},
	sort:  "url",
	dir:   "asc",
	filters: map[string]func(string) bool{
		"enabled": oneOf("true", "false"),
	},
}

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

func (d *Dashboard) webhookList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, webhookListSpec)
	q := d.endpoints().Query()
	if l.Q != "" {
		q.Where(webhookendpoint.Or(
			webhookendpoint.URLContainsFold(l.Q),
			webhookendpoint.DescriptionContainsFold(l.Q),
		))
	}
	if v := l.Filter("enabled"); v != "" {
		q.Where(webhookendpoint.Enabled(v == "true"))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order webhookendpoint.OrderOption
	switch l.Sort {
	case "enabled":
		order = webhookendpoint.ByEnabled(o)
	case "created":
		order = webhookendpoint.ByCreatedAt(o)
	default:
		order = webhookendpoint.ByURL(o)
	}
	rows, err := q.Order(order, webhookendpoint.ByID(o)).Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, vw.List(d.page(r, "Webhook endpoints", "webhooks"), vw.ListData{
		List: l, Rows: rows, Statuses: enabledOptions(),
	}))
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

func (d *Dashboard) webhookDetail(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	xs, err := d.client.WebhookDelivery.Query().
		Where(webhookdelivery.EndpointID(ep.ID)).
		Order(webhookdelivery.ByCreatedAt(sql.OrderDesc()), webhookdelivery.ByID(sql.OrderDesc())).
		Limit(deliveriesShown + 1).
		All(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	more := len(xs) > deliveriesShown
	if more {
		xs = xs[:deliveriesShown]
	}
	ret := returnOf(r)
	d.render(w, r, http.StatusOK, vw.Detail(d.page(r, vw.Title(ep), "webhooks"), vw.DetailData{
		EP: ep, Deliveries: xs, More: more, Now: d.svc.Now(), Overlap: overlapText(),
		Return: ret, Here: components.WithReturn(vw.Href(ep.ID), ret),
	}))
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

func readWebhookForm(r *http.Request) vw.Form {
	fr := newFormReader(r)
	return vw.Form{
		URL: fr.str("url"), Description: fr.str("description"), EventTypes: fr.str("eventTypes"),
		Enabled: fr.boolean("enabled"), Errors: fr.errs, Return: returnOf(r),
	}
}

func (d *Dashboard) webhookNew(w http.ResponseWriter, r *http.Request) {
	f := vw.Form{Enabled: true, Errors: components.Errors{}, Return: returnOf(r)}
	d.render(w, r, http.StatusOK, vw.FormPage(d.page(r, "New webhook endpoint", "webhooks"), f))
}

// webhookCreate makes the endpoint and its secret, keeps the secret in the
// cookie session for the one page that shows it, and sends the browser
// there: reloading that page shows the secret no more and makes nothing.
func (d *Dashboard) webhookCreate(w http.ResponseWriter, r *http.Request) {
	if !d.parseForm(w, r) {
		return
	}
	f := readWebhookForm(r)
	desc := f.Description
	made, err := d.endpoints().Create(r.Context(), webhooks.CreateEndpointInput{
		URL: f.URL, Description: &desc, EventTypes: eventTypesOf(f.EventTypes), Enabled: &f.Enabled,
	})
	if err == nil {
		d.sessions.Put(r.Context(), keySecret(made.Endpoint.ID), made.Secret)
		d.redirect(w, r, vw.Href(made.Endpoint.ID)+"/secret", "Webhook endpoint "+vw.Title(made.Endpoint)+" created.")
		return
	}
	status, ok := formErrors(r, err, f.Errors, webhookFields...)
	if !ok {
		d.serverError(w, r, err)
		return
	}
	d.render(w, r, status, vw.FormPage(d.page(r, "New webhook endpoint", "webhooks"), f))
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

func editWebhookForm(r *http.Request, ep *ent.WebhookEndpoint) vw.Form {
	return vw.Form{
		ID: ep.ID, Current: vw.Title(ep), URL: ep.URL, Description: ep.Description,
		EventTypes: vw.TypesText(ep.EventTypes), Enabled: ep.Enabled, Errors: components.Errors{}, Return: returnOf(r),
	}
}

func (d *Dashboard) webhookEdit(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, vw.FormPage(d.page(r, "Edit endpoint "+vw.Title(ep), "webhooks"), editWebhookForm(r, ep)))
}

func (d *Dashboard) webhookUpdate(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	f := readWebhookForm(r)
	f.ID, f.Current = ep.ID, vw.Title(ep)
	in := webhooks.UpdateEndpointInput{URL: &f.URL, Description: &f.Description, Enabled: &f.Enabled}
	if ts := eventTypesOf(f.EventTypes); len(ts) > 0 {
		in.EventTypes = ts
	} else {
		clear := true
		in.ClearEventTypes = &clear
	}
	saved, err := d.endpoints().Update(r.Context(), ep.ID, in)
	if err == nil {
		d.redirect(w, r, Or(f.Return, vw.Href(ep.ID)), "Webhook endpoint "+vw.Title(saved)+" saved.")
		return
	}
	status, ok := formErrors(r, err, f.Errors, webhookFields...)
	if !ok {
		d.serverError(w, r, err)
		return
	}
	d.render(w, r, status, vw.FormPage(d.page(r, "Edit endpoint "+vw.Title(ep), "webhooks"), f))
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

func (d *Dashboard) webhookDeleteData(r *http.Request, ep *ent.WebhookEndpoint) (vw.DeleteData, error) {
	n, err := d.client.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(ep.ID)).Count(r.Context())
	return vw.DeleteData{EP: ep, Deliveries: n, Return: returnOf(r)}, err
}

func (d *Dashboard) webhookDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	ep, ok := d.loadEndpoint(w, r)
	if !ok {
		return
	}
	dd, err := d.webhookDeleteData(r, ep)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, vw.Delete(d.page(r, "Delete webhook endpoint "+vw.Title(ep), "webhooks"), dd))
}

func (d *Dashboard) webhookDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ep, ok := d.loadEndpoint(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.endpoints().Delete(ctx, ep.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		dd, derr := d.webhookDeleteData(r, ep)
		if derr != nil {
			d.failure(w, r, derr)
			return
		}
		dd.Error = e.Message
		d.render(w, r, statusOf(e), vw.Delete(d.page(r, "Delete webhook endpoint "+vw.Title(ep), "webhooks"), dd))
		return
	}
	d.sessions.Remove(ctx, keySecret(ep.ID))
	d.redirect(w, r, afterDelete(returnOf(r), vw.Href(ep.ID), vw.Path), "Webhook endpoint "+vw.Title(ep)+" deleted.")
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
	d.redirect(w, r, Or(returnOf(r), vw.Href(ep.ID)), msg)
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
	d.redirect(w, r, Or(returnOf(r), vw.DeliveriesHref(ep.ID)), msg)
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
