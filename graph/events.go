package graph

import (
	"encoding/json"
	"slices"

	"entgo.io/contrib/entgql"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/graph/model"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
)

// MaxEventTypes is the most types one events(where: {typeIn}) may name.
const MaxEventTypes = 100

// newestFirst is the events' default order.
var newestFirst = &ent.EventOrder{Direction: entgql.OrderDirectionDesc, Field: ent.EventOrderFieldID}

// eventsQuery is the query of the events the filter keeps.
func eventsQuery(c *ent.Client, w *model.EventWhereInput) (*ent.EventQuery, error) {
	q := c.Event.Query()
	if w == nil {
		return q, nil
	}
	if w.Type != nil {
		q.Where(event.Type(*w.Type))
	}
	if w.TypeIn != nil {
		if len(w.TypeIn) > MaxEventTypes {
			return nil, apperr.Invalid("typeIn", "at most %d types", MaxEventTypes)
		}
		q.Where(event.TypeIn(w.TypeIn...))
	}
	if w.ActorID != nil {
		q.Where(event.ActorID(*w.ActorID))
	}
	if w.SubjectType != nil {
		q.Where(event.SubjectType(*w.SubjectType))
	}
	if w.SubjectID != nil {
		q.Where(events.OfSubject(*w.SubjectID))
	}
	if w.Since != nil {
		q.Where(event.AtGTE(*w.Since))
	}
	if w.Until != nil {
		q.Where(event.AtLT(*w.Until))
	}
	return q, nil
}

// eventChanges lists an event's changes by field name, values as JSON.
func eventChanges(e *ent.Event) ([]*model.EventChange, error) {
	out := make([]*model.EventChange, 0, len(e.Changes))
	for f, c := range e.Changes {
		from, err := jsonText(c.From)
		if err != nil {
			return nil, err
		}
		to, err := jsonText(c.To)
		if err != nil {
			return nil, err
		}
		out = append(out, &model.EventChange{Field: f, From: from, To: to})
	}
	slices.SortFunc(out, func(a, b *model.EventChange) int {
		switch {
		case a.Field < b.Field:
			return -1
		case a.Field > b.Field:
			return 1
		}
		return 0
	})
	return out, nil
}

func jsonText(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}
