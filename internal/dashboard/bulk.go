package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"

	"gatehouse/internal/auth"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/pages"
)

// A bulk action applies to the rows ticked on a list page, or to every row
// matching the list's search and filters ("all N matching"), at most
// maxBulk rows. The list posts its choice to …/bulk, which changes
// nothing: it shows what will happen to how many rows. That page posts to
// …/bulk/apply, which applies the action to every row in one transaction
// (all or nothing) and says what it did.

// bulkSample is how many of the chosen rows the confirmation names.
const bulkSample = 20

// maxDays bounds an extension in days.
const maxDays = 36_500

// bulkRequest is a decoded bulk form.
type bulkRequest[T any] struct {
	action bulkAction[T]
	ids    []int
	all    bool   // every row matching scope
	scope  string // the list's query (search, filters, sort)
	days   int
	daysIn string // as typed
}

func idIn(ids []int) func(*sql.Selector) {
	return func(s *sql.Selector) { s.Where(sql.InInts(s.C("id"), ids...)) }
}

// readBulk decodes and checks the form and finds its rows; msg is a
// client-safe reason the action cannot be done.
func (rs *resource[T, F]) readBulk(r *http.Request) (b bulkRequest[T], msg string, err error) {
	key := r.PostForm.Get("action")
	found := false
	for _, a := range rs.bulk {
		if a.key == key {
			b.action, found = a, true
		}
	}
	if !found {
		return b, "Choose an action for the selected " + rs.plural + ".", nil
	}
	if b.action.days {
		b.daysIn = strings.TrimSpace(r.PostForm.Get("days"))
		n, err := strconv.Atoi(b.daysIn)
		if err != nil || n < 1 || n > maxDays {
			return b, fmt.Sprintf("The number of days must be a whole number from 1 to %d.", maxDays), nil
		}
		b.days = n
	}
	b.scope = r.PostForm.Get("scope")
	b.all = r.PostForm.Get("all") == "true"
	if !b.all && len(b.scope) > 4096 {
		b.scope = ""
	}
	var where []func(*sql.Selector)
	if b.all {
		// A scope too long to be a list's query is refused, never
		// dropped: "all" without its filters would be every row.
		q, perr := url.ParseQuery(b.scope)
		if perr != nil || len(b.scope) > 4096 {
			return b, "The list's filters could not be read. Go back to the list and choose again.", nil
		}
		where = rs.where(rs.parse(q))
	} else {
		raw := r.PostForm["id"]
		if len(raw) > maxBulk {
			return b, fmt.Sprintf("One bulk action changes at most %d %s.", maxBulk, rs.plural), nil
		}
		seen := map[int]bool{}
		var ids []int
		for _, s := range raw {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return b, "The selection could not be read. Go back to the list and choose again.", nil
			}
			if !seen[n] {
				seen[n] = true
				ids = append(ids, n)
			}
		}
		if len(ids) == 0 {
			return b, "Select at least one of the " + rs.plural + ", or all of them.", nil
		}
		where = append(where, idIn(ids))
	}
	// The rows as they are now (a row deleted meanwhile is left out).
	b.ids, err = rs.table.ids(r.Context(), where, maxBulk+1)
	if err != nil {
		return b, "", err
	}
	if len(b.ids) > maxBulk {
		return b, fmt.Sprintf("More than %d %s match: one bulk action changes at most %d. Narrow the list with its search or filters.", maxBulk, rs.plural, maxBulk), nil
	}
	if len(b.ids) == 0 {
		return b, "None of the chosen " + rs.plural + " exist any more.", nil
	}
	return b, "", nil
}

// bulkView is the confirmation page's model.
func (rs *resource[T, F]) bulkView(r *http.Request, b bulkRequest[T]) (pages.BulkView, error) {
	ctx := r.Context()
	ret := components.Or(returnOf(r), rs.path)
	v := pages.BulkView{
		Title:  capitalize(b.action.label) + " " + components.Plural(len(b.ids), rs.name, rs.plural) + "?",
		Action: rs.path + "/bulk/apply", Key: b.action.key, Label: b.action.label, Danger: b.action.danger,
		Count: len(b.ids), All: b.all, Scope: b.scope, Days: b.daysIn, AskDays: b.action.days,
		Return: ret, Back: ret, Plural: rs.plural,
	}
	if !b.all {
		v.IDs = b.ids
	}
	sample := b.ids[:min(len(b.ids), bulkSample)]
	rows, err := rs.table.rows(ctx, []func(*sql.Selector){idIn(sample)}, nil, bulkSample)
	if err != nil {
		return v, err
	}
	for _, row := range rows {
		v.Sample = append(v.Sample, components.Option{Value: rs.href(rs.id(row)), Label: rs.label(row)})
	}
	if b.action.effect != nil {
		if v.Effects, err = b.action.effect(ctx, b.ids); err != nil {
			return v, err
		}
	}
	return v, nil
}

// bulkRefused shows the confirmation page with a reason and no button.
func (rs *resource[T, F]) bulkRefused(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ret := components.Or(returnOf(r), rs.path)
	v := pages.BulkView{Title: "Bulk action on " + rs.plural, Error: msg, Back: ret, Return: ret, Plural: rs.plural}
	rs.d.render(w, r, status, pages.BulkPage(rs.d.page(r, v.Title, rs.section), v))
}

// bulkRequested reads a posted bulk form; false means the request was
// answered (an unreadable form, a refusal, an error).
func (rs *resource[T, F]) bulkRequested(w http.ResponseWriter, r *http.Request) (bulkRequest[T], bool) {
	if !rs.d.parseForm(w, r) {
		return bulkRequest[T]{}, false
	}
	b, msg, err := rs.readBulk(r)
	if err != nil {
		rs.d.failure(w, r, err)
		return b, false
	}
	if msg != "" {
		rs.bulkRefused(w, r, http.StatusUnprocessableEntity, msg)
		return b, false
	}
	return b, true
}

func (rs *resource[T, F]) bulkConfirm(w http.ResponseWriter, r *http.Request) {
	b, ok := rs.bulkRequested(w, r)
	if !ok {
		return
	}
	v, err := rs.bulkView(r, b)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, pages.BulkPage(rs.d.page(r, v.Title, rs.section), v))
}

// bulkFailed names the row an action failed on.
type bulkFailed struct {
	id  int
	err error
}

func (e *bulkFailed) Error() string { return e.err.Error() }
func (e *bulkFailed) Unwrap() error { return e.err }

func (rs *resource[T, F]) bulkApply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, ok := rs.bulkRequested(w, r)
	if !ok {
		return
	}
	// The rows as they are before the change, read outside the
	// transaction (whose one connection, on SQLite, is the writer's).
	rows, err := rs.rowsByID(ctx, b.ids)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	changed := 0
	err = auth.Batch(ctx, rs.d.client, func(ctx context.Context) error {
		for _, row := range rows {
			ok, err := b.action.apply(ctx, row, b.days)
			if err != nil {
				return &bulkFailed{id: rs.id(row), err: err}
			}
			if ok {
				changed++
			}
		}
		return nil
	})
	if err != nil {
		e := service.Classify(ctx, err)
		if e == nil {
			rs.d.serverError(w, r, err)
			return
		}
		what := ""
		var f *bulkFailed
		if errors.As(err, &f) {
			what = " (" + rs.name + " #" + strconv.Itoa(f.id) + ")"
			if rows, rerr := rs.table.rows(ctx, []func(*sql.Selector){idIn([]int{f.id})}, nil, 1); rerr == nil && len(rows) == 1 {
				what = " (" + rs.name + " " + rs.label(rows[0]) + ")"
			}
		}
		v, verr := rs.bulkView(r, b)
		if verr != nil {
			rs.d.failure(w, r, verr)
			return
		}
		v.Error = "Nothing was changed: " + e.Message + what + "."
		rs.d.render(w, r, statusOf(e), pages.BulkPage(rs.d.page(r, v.Title, rs.section), v))
		return
	}
	summary := capitalize(b.action.done) + " " + components.Plural(changed, rs.name, rs.plural) + "."
	if same := len(rows) - changed; same > 0 {
		summary += " " + components.Plural(same, "was", "were") + " already so."
	}
	rs.d.redirect(w, r, components.Or(returnOf(r), rs.path), summary)
}

// rowsByID reads the rows of ids, in id order, exportBatch at a time.
func (rs *resource[T, F]) rowsByID(ctx context.Context, ids []int) ([]T, error) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	out := make([]T, 0, len(ids))
	for len(sorted) > 0 {
		n := min(len(sorted), exportBatch)
		rows, err := rs.table.rows(ctx, []func(*sql.Selector){idIn(sorted[:n])}, func(s *sql.Selector) { s.OrderBy(s.C("id")) }, n)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		sorted = sorted[n:]
	}
	return out, nil
}
