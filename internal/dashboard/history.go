package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent/event"
	"gatehouse/internal/events"
	"gatehouse/views/components"
)

// historyShown is how many events a detail page's History section lists.
const historyShown = 20

// withHistory loads the History section of the detail page of the object
// of subjectType at the URL's {id}, for the page's template
// (components.History) to show, then runs the page's handler. An {id}
// that is not one is left to the handler (which answers 404).
func (d *Dashboard) withHistory(subjectType string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r)
		if !ok {
			next(w, r)
			return
		}
		h, err := d.history(r.Context(), subjectType, id)
		if err != nil {
			d.failure(w, r, err)
			return
		}
		next(w, r.WithContext(components.WithHistory(r.Context(), h)))
	}
}

// history is the newest events about one object.
func (d *Dashboard) history(ctx context.Context, subjectType string, id int) (components.HistoryData, error) {
	evs, err := d.client.Event.Query().
		Where(event.SubjectType(subjectType), events.OfSubject(id)).
		Order(event.ByID(sql.OrderDesc())).
		Limit(historyShown + 1).
		All(ctx)
	if err != nil {
		return components.HistoryData{}, err
	}
	h := components.HistoryData{
		More:    len(evs) > historyShown,
		AllHref: components.ActivityHref("subjectType", subjectType, "subjectID", strconv.Itoa(id)),
	}
	if h.More {
		evs = evs[:historyShown]
	}
	if h.Rows, err = d.eventRows(ctx, evs, false); err != nil {
		return h, err
	}
	if subjectType == events.SubjectUser {
		h.ByActorHref = components.ActivityHref("actor", strconv.Itoa(id))
	}
	return h, nil
}
