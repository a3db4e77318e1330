package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/predicate"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/events"
	"gatehouse/internal/webhooks/eventtypes"
	"gatehouse/views/activity"
	"gatehouse/views/components"
	"gatehouse/views/sessions"
	"gatehouse/views/userpackages"
)

// knownEventTypes are the event types Gatehouse records, offered as
// choices of the Activity page's type filter (any other type or prefix
// may be typed).
var knownEventTypes = []string{
	"user.*", "user.created", "user.updated", "user.password_changed", "user.deleted",
	"login.*", "login.succeeded", "login.failed", "login.throttled",
	"session.*", "session.issued", "session.updated", "session.revoked", "session.deleted",
	"feature.*", "feature.created", "feature.updated", "feature.deleted",
	"package.*", "package.created", "package.updated", "package.deleted",
	"package_content.*", "package_content.created", "package_content.updated", "package_content.deleted",
	"user_package.*", "user_package.assigned", "user_package.updated", "user_package.extended",
	"user_package.suspended", "user_package.resumed", "user_package.deleted",
	"user_package.started", "user_package.expiring", "user_package.expired", "user_package.grace_ended",
	"webhook_endpoint.*",
}

// subjectTypes are the kinds of object events are about.
var subjectTypes = []components.Option{
	{Value: "", Label: "Any object"},
	{Value: events.SubjectUser, Label: "User"},
	{Value: events.SubjectFeature, Label: "Feature"},
	{Value: events.SubjectPackage, Label: "Package"},
	{Value: events.SubjectPackageContent, Label: "Package content"},
	{Value: events.SubjectUserPackage, Label: "User package"},
	{Value: events.SubjectSession, Label: "Session"},
	{Value: components.SubjectWebhookEndpoint, Label: "Webhook endpoint"},
}

func isSubjectType(v string) bool {
	for _, o := range subjectTypes {
		if o.Value != "" && o.Value == v {
			return true
		}
	}
	return false
}

// activityFilter is the Activity page's filter, read from its URL.
type activityFilter struct {
	form  activity.Filters
	preds []predicate.Event
	// clean are the filter's parameters as the page's links repeat them.
	clean url.Values
	win   window
}

// maxFilterLen bounds each filter's text.
const maxFilterLen = 100

// parseActivity reads the filter. Each value that does not make sense gets
// its message beside its field; nothing is dropped silently.
func (d *Dashboard) parseActivity(ctx context.Context, r *http.Request) (activityFilter, error) {
	q := r.URL.Query()
	get := func(name string) string { return strings.TrimSpace(q.Get(name)) }
	f := activityFilter{
		form: activity.Filters{
			Type: get("type"), Actor: get("actor"), SubjectType: get("subjectType"), SubjectID: get("subjectID"),
			Since: get("since"), Until: get("until"), Errors: components.Errors{},
		},
		clean: url.Values{},
	}
	errs := f.form.Errors
	keep := func(name, v string) {
		if v != "" {
			f.clean.Set(name, v)
		}
	}
	for name, v := range map[string]string{
		"type": f.form.Type, "actor": f.form.Actor, "subjectType": f.form.SubjectType, "subjectID": f.form.SubjectID,
		"since": f.form.Since, "until": f.form.Until,
	} {
		if len(v) > maxFilterLen {
			errs.Add(name, "must be at most "+strconv.Itoa(maxFilterLen)+" characters")
		}
	}
	if errs.Any() {
		return f, nil
	}

	if t := f.form.Type; t != "" {
		if eventtypes.Validate(eventtypes.List{t}) != nil {
			errs.Add("type", "must be an event type such as user.created, or a prefix such as user_package.*")
		} else if p, ok := strings.CutSuffix(t, "*"); ok {
			f.preds = append(f.preds, event.TypeHasPrefix(p))
		} else {
			f.preds = append(f.preds, event.Type(t))
		}
		keep("type", t)
	}

	if a := f.form.Actor; a != "" {
		if n, err := strconv.Atoi(a); err == nil {
			if n <= 0 {
				errs.Add("actor", "must be a user's id or username")
			} else {
				f.preds = append(f.preds, event.ActorID(n))
			}
		} else {
			// A user who exists by this name; else the name events kept
			// (a deleted user, a refused sign-in).
			id, err := d.client.User.Query().Where(user.UsernameFold(strings.ToLower(a))).OnlyID(ctx)
			switch {
			case err == nil:
				f.preds = append(f.preds, event.ActorID(id))
			case ent.IsNotFound(err):
				f.preds = append(f.preds, event.ActorName(a))
			default:
				return f, err
			}
		}
		keep("actor", a)
	}

	if st := f.form.SubjectType; st != "" {
		if !isSubjectType(st) {
			errs.Add("subjectType", "is not a known kind of object")
		} else {
			f.preds = append(f.preds, event.SubjectType(st))
		}
		keep("subjectType", st)
	}
	if sid := f.form.SubjectID; sid != "" {
		switch {
		case !isID(sid):
			errs.Add("subjectID", "must be a record's id (a whole number)")
		case f.form.SubjectType == "":
			errs.Add("subjectID", "choose the kind of object too")
		default:
			id, _ := strconv.Atoi(sid)
			f.preds = append(f.preds, events.OfSubject(id))
		}
		keep("subjectID", sid)
	}

	since, sok := filterTime(errs, "since", f.form.Since, false)
	until, uok := filterTime(errs, "until", f.form.Until, true)
	if sok {
		f.preds = append(f.preds, event.AtGTE(since))
		keep("since", f.form.Since)
	}
	if uok {
		f.preds = append(f.preds, event.AtLT(until))
		keep("until", f.form.Until)
	}
	if sok && uok && !until.After(since) {
		errs.Add("until", "must be after the start")
	}

	win, bad := parseWindow(q)
	switch bad {
	case "size":
		errs.Add("size", "must be a number from 1 to "+strconv.Itoa(components.MaxPageSize))
	case "after", "before":
		errs.Add("", "The link to this page is damaged. Start again from the newest events.")
	}
	f.win = win
	f.form.Size = strconv.Itoa(win.size)
	if win.size != defaultPageSize {
		f.clean.Set("size", f.form.Size)
	}
	return f, nil
}

// filterTime parses a date ("2026-11-30") or a date and time in UTC. A date
// alone ending a range includes its whole day.
func filterTime(errs components.Errors, name, s string, end bool) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, ok := parseTime(s)
	if !ok {
		errs.Add(name, "must be a date such as 2026-11-30, or a date and time such as 2026-11-30T14:00 (UTC)")
		return time.Time{}, false
	}
	if end && len(s) == len("2006-01-02") {
		t = t.AddDate(0, 0, 1)
	}
	return t, true
}

func (d *Dashboard) activity(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := d.parseActivity(ctx, r)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	data := activity.Data{Filters: f.form, Types: knownEventTypes, SubjectTypes: subjectTypes, Filtered: len(f.clean) > 0}
	if f.form.Errors.Any() {
		d.render(w, r, http.StatusUnprocessableEntity, activity.Page(d.page(r, "Activity", "activity"), data))
		return
	}
	q := d.client.Event.Query().Where(f.preds...)
	if p := f.win.idPredicate(event.FieldID); p != nil {
		q.Where(predicate.Event(p))
	}
	o := sql.OrderAsc()
	if f.win.desc() {
		o = sql.OrderDesc()
	}
	evs, err := q.Order(event.ByID(o)).Limit(f.win.size + 1).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	evs, links := keysetPage(f.win, evs, eventCursor, components.ActivityPath, f.clean)
	if data.Rows, err = d.eventRows(ctx, evs, true); err != nil {
		d.failure(w, r, err)
		return
	}
	data.Newer, data.Older, data.Newest = links.Newer, links.Older, links.Newest
	d.render(w, r, http.StatusOK, activity.Page(d.page(r, "Activity", "activity"), data))
}

func eventCursor(e *ent.Event) pageCursor { return pageCursor{at: e.At, id: e.ID} }

// eventRows adds to each event the pages of its actor and (with subjects)
// its subject, while they exist.
func (d *Dashboard) eventRows(ctx context.Context, evs []*ent.Event, subjects bool) ([]components.EventRow, error) {
	rows := make([]components.EventRow, len(evs))
	var actorIDs []int
	byType := map[string][]int{}
	for i, e := range evs {
		rows[i].Event = e
		if e.ActorID != nil {
			actorIDs = append(actorIDs, *e.ActorID)
		}
		if subjects && e.SubjectID != nil && isSubjectType(e.SubjectType) {
			byType[e.SubjectType] = append(byType[e.SubjectType], *e.SubjectID)
		}
	}
	actors := map[int]bool{}
	if len(actorIDs) > 0 {
		ids, err := d.client.User.Query().Where(user.IDIn(actorIDs...)).IDs(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			actors[id] = true
		}
	}
	labels := map[string]map[int]string{}
	for typ, ids := range byType {
		l, err := d.subjectLabels(ctx, typ, ids)
		if err != nil {
			return nil, err
		}
		labels[typ] = l
	}
	for i, e := range evs {
		if e.ActorID != nil && actors[*e.ActorID] {
			rows[i].ActorHref = components.SubjectHref(events.SubjectUser, *e.ActorID)
		}
		if e.SubjectID != nil {
			if label, ok := labels[e.SubjectType][*e.SubjectID]; ok {
				rows[i].SubjectHref = components.SubjectHref(e.SubjectType, *e.SubjectID)
				rows[i].SubjectLabel = label
			}
		}
	}
	return rows, nil
}

// subjectLabels names the objects of one type that still exist, by id.
func (d *Dashboard) subjectLabels(ctx context.Context, typ string, ids []int) (map[int]string, error) {
	out := map[int]string{}
	var err error
	switch typ {
	case events.SubjectUser:
		var us []*ent.User
		if us, err = d.client.User.Query().Where(user.IDIn(ids...)).Select(user.FieldID, user.FieldUsername).All(ctx); err == nil {
			for _, u := range us {
				out[u.ID] = u.Username
			}
		}
	case events.SubjectFeature:
		var fs []*ent.Feature
		if fs, err = d.client.Feature.Query().Where(feature.IDIn(ids...)).Select(feature.FieldID, feature.FieldKey).All(ctx); err == nil {
			for _, f := range fs {
				out[f.ID] = f.Key
			}
		}
	case events.SubjectPackage:
		var ps []*ent.Pkg
		if ps, err = d.client.Pkg.Query().Where(pkg.IDIn(ids...)).Select(pkg.FieldID, pkg.FieldName).All(ctx); err == nil {
			for _, p := range ps {
				out[p.ID] = p.Name
			}
		}
	case events.SubjectPackageContent:
		var cs []*ent.PackageContent
		if cs, err = d.client.PackageContent.Query().Where(packagecontent.IDIn(ids...)).All(ctx); err == nil {
			for _, c := range cs {
				out[c.ID] = c.Name
			}
		}
	case events.SubjectUserPackage:
		var ups []*ent.UserPackage
		if ups, err = d.client.UserPackage.Query().Where(userpackage.IDIn(ids...)).WithUser().WithPackage().All(ctx); err == nil {
			for _, up := range ups {
				out[up.ID] = userpackages.Label(up)
			}
		}
	case events.SubjectSession:
		var ss []*ent.UserSession
		if ss, err = d.client.UserSession.Query().Where(usersession.IDIn(ids...)).WithUser().All(ctx); err == nil {
			for _, s := range ss {
				out[s.ID] = sessions.Title(s)
			}
		}
	case components.SubjectWebhookEndpoint:
		var eps []*ent.WebhookEndpoint
		if eps, err = d.client.WebhookEndpoint.Query().Where(webhookendpoint.IDIn(ids...)).All(ctx); err == nil {
			for _, ep := range eps {
				out[ep.ID] = truncateRunes(ep.URL, 60)
			}
		}
	}
	return out, err
}
