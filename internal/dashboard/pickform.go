package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/views/components"
)

// pickStep is what a form must do after reading its pickers.
type pickStep int

const (
	// pickDone: each picker holds its choice (or none); go on.
	pickDone pickStep = iota
	// pickFind: the admin pressed a picker's Find: show the form again with
	// its matches, change nothing.
	pickFind
	// pickChoose: the admin typed a new search and sent the form without
	// choosing: show the matches and ask to choose, change nothing.
	pickChoose
)

// newPicker is an empty picker of kind k for the field name.
func newPicker(k picker, name, label string, required bool) components.Picker {
	return components.Picker{Name: name, Label: label, Kind: k.kind, What: k.what, Required: required}
}

// setChoice makes v the picker's choice and shows its label: any record,
// however far down the list (a prefilled ?userID=). An unknown v stays
// chosen, unlabelled, for the operation to refuse.
func (d *Dashboard) setChoice(ctx context.Context, k picker, p *components.Picker, v string) error {
	p.Value, p.Chosen, p.Days, p.FeatureKind = v, "", "", ""
	if v == "" {
		p.Query = ""
		return nil
	}
	it, err := k.byVal(d, ctx, v)
	if err != nil {
		return err
	}
	if it != nil {
		p.Chosen, p.Query = it.Label, it.Label
		if it.Days > 0 {
			p.Days = strconv.Itoa(it.Days)
		}
		p.FeatureKind = it.Kind
	}
	return nil
}

// search fills the picker's matches for its query.
func (d *Dashboard) search(ctx context.Context, k picker, p *components.Picker, o pickOpts) ([]pickItem, error) {
	items, more, err := k.find(d, ctx, p.Query, o)
	if err != nil {
		return nil, err
	}
	p.Searched, p.More, p.Results = true, more, make([]components.Option, 0, len(items))
	for _, it := range items {
		opt := components.Option{Value: it.ID, Label: it.Label, Kind: it.Kind}
		if it.Days > 0 {
			opt.Days = strconv.Itoa(it.Days)
		}
		p.Results = append(p.Results, opt)
	}
	return items, nil
}

// readPicker reads a picker from a sent form (or a GET query): the value
// chosen (hidden field or radio button), and the search box. Pressing
// its Find button searches; a search box edited since it was shown
// searches too (as does a search sent with nothing chosen) and, when
// the first match has exactly the name typed, chooses it (so typing a
// full username works without script); an emptied box chooses nothing. A form without the search box (a client posting the
// value alone) just chooses the value.
func (d *Dashboard) readPicker(ctx context.Context, k picker, p components.Picker, vals url.Values, o pickOpts) (components.Picker, pickStep, error) {
	value := strings.TrimSpace(vals.Get(p.Name))
	if len(value) > 100 {
		value = ""
	}
	qs, hasBox := vals[p.Name+".q"]
	if !hasBox {
		return p, pickDone, d.setChoice(ctx, k, &p, value)
	}
	q := pickQuery(strings.Join(qs[:1], ""))
	shown := pickQuery(vals.Get(p.Name + ".shown"))
	if vals.Get("find") == p.Name {
		if err := d.setChoice(ctx, k, &p, value); err != nil {
			return p, pickDone, err
		}
		p.Query = q
		_, err := d.search(ctx, k, &p, o)
		return p, pickFind, err
	}
	if q == shown && value != "" {
		return p, pickDone, d.setChoice(ctx, k, &p, value)
	}
	if q == "" {
		if shown != "" { // the admin emptied the box
			value = ""
		}
		return p, pickDone, d.setChoice(ctx, k, &p, value)
	}
	p.Value, p.Query = "", q
	items, err := d.search(ctx, k, &p, o)
	if err != nil {
		return p, pickDone, err
	}
	if len(items) > 0 && strings.EqualFold(items[0].name, q) {
		p.Searched, p.Results, p.More = false, nil, false
		return p, pickDone, d.setChoice(ctx, k, &p, items[0].ID)
	}
	return p, pickChoose, nil
}

// pickError is the message beside a picker whose search awaits a choice.
func pickError(p components.Picker) string {
	if len(p.Results) == 0 {
		return "no " + p.What + " matches this search: change it and press Find"
	}
	return "choose a " + p.What + " among the matches below"
}

// pickedID is the record id a picker chose, or 0 with an error beside it.
func pickedID(errs components.Errors, p components.Picker) int {
	if p.Value == "" {
		errs.Add(p.Name, "choose a "+p.What)
		return 0
	}
	n, err := strconv.Atoi(p.Value)
	if err != nil || n <= 0 {
		errs.Add(p.Name, "is not a known "+p.What)
		return 0
	}
	return n
}

// filterPicker is the picker of a list's filter name: it reads the list's
// query (the filter form sends the search box; the list's own links send
// the value alone) and sets the filter to what it chose, before the list
// is queried.
func (d *Dashboard) filterPicker(ctx context.Context, r *http.Request, l *components.List, k picker, name, label string) (components.Picker, error) {
	p := newPicker(k, name, label, false)
	p.Filter = true
	p, _, err := d.readPicker(ctx, k, p, r.URL.Query(), pickOpts{})
	if err != nil {
		return p, err
	}
	if isID(p.Value) {
		l.Filters.Set(name, p.Value)
	} else {
		l.Filters.Del(name)
	}
	return p, nil
}
