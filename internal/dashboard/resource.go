package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/pages"
)

// A resource is one entity's pages, mounted from a description: the list
// (search, filters, sort, seek paging, bulk actions, CSV export), the
// detail page, the new and edit forms and the delete confirmation. T is
// the entity (*ent.User, …) and F its form. Each entity's file is its
// description and its own views; everything they share lives here.

// entQuery is what the ent query of every entity offers: Q is the query's
// own type, P its predicate type, O its order option type.
type entQuery[Q any, T any, P ~func(*sql.Selector), O ~func(*sql.Selector)] interface {
	Where(...P) Q
	Order(...O) Q
	Limit(int) Q
	All(context.Context) ([]T, error)
	IDs(context.Context) ([]int, error)
}

// table reads an entity's rows whatever its query's type.
type table[T any] struct {
	rows func(ctx context.Context, where []func(*sql.Selector), order func(*sql.Selector), limit int) ([]T, error)
	ids  func(ctx context.Context, where []func(*sql.Selector), limit int) ([]int, error)
}

// entTable is the table of an entity over its ent query (query makes a new
// one, with the edges the pages show loaded).
func entTable[T any, Q entQuery[Q, T, P, O], P ~func(*sql.Selector), O ~func(*sql.Selector)](query func() Q) table[T] {
	build := func(where []func(*sql.Selector)) Q {
		q := query()
		for _, w := range where {
			if w != nil {
				q = q.Where(P(w))
			}
		}
		return q
	}
	return table[T]{
		rows: func(ctx context.Context, where []func(*sql.Selector), order func(*sql.Selector), limit int) ([]T, error) {
			q := build(where)
			if order != nil {
				q = q.Order(O(order))
			}
			return q.Limit(limit).All(ctx)
		},
		ids: func(ctx context.Context, where []func(*sql.Selector), limit int) ([]int, error) {
			return build(where).Limit(limit).IDs(ctx)
		},
	}
}

// filter is one filter of a list: a URL parameter, checked, that narrows
// the rows.
type filter struct {
	name  string
	title string
	// ok checks a value (others are dropped).
	ok func(string) bool
	// where narrows the rows to the value.
	where func(string) func(*sql.Selector)
	// options are the choices of the filter's select (nil: the resource's
	// view shows its own control). ctx is the request's.
	options func(ctx context.Context) ([]components.Option, error)
	// pick, when set, makes the filter a picker of that kind (its value
	// is an id): for users, packages and features, however many.
	pick *picker
}

// idWhere is the where of a filter whose value is a record id (checked
// by isID): p of that id.
func idWhere[P ~func(*sql.Selector)](p func(int) P) func(string) func(*sql.Selector) {
	return func(v string) func(*sql.Selector) {
		n, _ := strconv.Atoi(v)
		return p(n)
	}
}

// column is a column of a list and of its CSV export.
type column[T any] struct {
	title string
	sort  string // the sort key, "" when the column does not sort
	// cell shows the row's value (nil: the column is only exported);
	// count is the resource's count of the row (see resource.count), 0
	// without one.
	cell func(row T, count int) templ.Component
	// csv is the value in the export ("" for none: the column is left
	// out of it).
	csv func(row T, count int) string
}

// bulkAction is an action a list applies to the selected rows in one
// transaction.
type bulkAction[T any] struct {
	key    string // in the form: action=key
	label  string // in the action selector: "Disable"
	done   string // in the summary: "disabled"
	danger bool
	// days asks for a number of days (extend).
	days bool
	// effect says what will happen to n rows (the confirmation page),
	// cascades included.
	effect func(ctx context.Context, ids []int) ([]string, error)
	// apply changes one row (as read before the transaction), in the
	// bulk's transaction; changed is false when the row was already so.
	// ctx carries the transaction: apply changes rows only through
	// internal/service and internal/auth, which join it.
	apply func(ctx context.Context, row T, days int) (changed bool, err error)
}

// deleteInfo is what the delete confirmation says about a row.
type deleteInfo struct {
	// Effects lists what else goes with the row.
	Effects []string
	// Blocked, when set, says why the server would refuse: the page then
	// offers no Delete button, and Fix links where to fix it.
	Blocked, FixHref, FixLabel string
	// Self is true when the signed-in admin deletes their own account.
	Self bool
}

// maxBulk bounds the rows one bulk action changes.
const maxBulk = 10_000

// countCap bounds how far a list counts its rows: beyond it the list says
// "more than".
const countCap = maxBulk

type resource[T any, F any] struct {
	d *Dashboard
	// names: singular and plural, as labels use them ("user", "users"),
	// and the list's title ("Users").
	name, plural, title string
	path                string // the list: /admin/users
	section             string // nav entry
	subject             string // event subject type of the History section
	table               table[T]
	get                 func(ctx context.Context, id int) (T, error)
	id                  func(T) int
	label               func(T) string

	// The list.
	searchLabel string
	search      func(q string) func(*sql.Selector) // nil: no search
	filters     []filter
	sorts       []sortCol[T]
	sort        string // default sort key
	desc        bool   // default direction
	columns     []column[T]
	// count, when set, counts something per row for the columns (the
	// holders of a package, the uses of a feature).
	count func(ctx context.Context, ids []int) (map[int]int, error)
	bulk  []bulkAction[T]
	// rowAction, when set, is a row's action beside Edit in the list.
	rowAction func(row T, ret string) templ.Component
	// newLabel is the list's "New …" button ("" for none).
	newLabel string

	// The detail page; Page is made by the resource.
	detail func(r *http.Request, p layout.Page, row T) (templ.Component, error)

	// The forms (nil when the entity has none).
	form struct {
		fields []string // the service's field names, for its errors
		// blank is a new row's form; edit an existing row's.
		blank func(r *http.Request) (F, error)
		edit  func(r *http.Request, row T) (F, error)
		// read decodes the posted form (row is nil for a new one) and
		// reports the form's errors so far.
		read   func(r *http.Request, row *T) (F, components.Errors, error)
		create func(ctx context.Context, f F) (T, error)
		update func(ctx context.Context, row T, f F) (T, error)
		// view shows the form with its title.
		view func(p layout.Page, f F) templ.Component
		// ready prepares a form shown again after an error (options).
		ready func(r *http.Request, f *F) error
		// again, when set, reports that the post only changes the form
		// (adds a row, searches a picker): it is shown again, unsaved,
		// with the status it returns (0: the post saves).
		again func(r *http.Request, f *F) int
	}

	// savedTo, when set, is where to go after a row was saved ("": its
	// page, or where the admin came from).
	savedTo func(row T, created bool) string
	// savedText, when set, is the flash after a row was saved.
	savedText func(row T, f F, created bool) string

	// Deleting.
	remove     func(ctx context.Context, row T) error
	removeInfo func(ctx context.Context, row T) (deleteInfo, error)
	// removed answers after a row was deleted (nil: back to where the
	// admin came from, or the list).
	removed func(w http.ResponseWriter, r *http.Request, row T) bool

	sortBy map[string]sortCol[T]
}

// mount adds the resource's routes.
func (rs *resource[T, F]) mount(admin func(string, http.HandlerFunc)) {
	rs.sortBy = map[string]sortCol[T]{}
	for _, s := range rs.sorts {
		rs.sortBy[s.key] = s
	}
	admin("GET "+rs.path, rs.list)
	admin("GET "+rs.path+".csv", rs.export)
	if len(rs.bulk) > 0 {
		admin("POST "+rs.path+"/bulk", rs.bulkConfirm)
		admin("POST "+rs.path+"/bulk/apply", rs.bulkApply)
	}
	detail := rs.show
	if rs.subject != "" {
		detail = rs.d.withHistory(rs.subject, rs.show)
	}
	admin("GET "+rs.path+"/{id}", detail)
	if rs.form.blank != nil {
		admin("GET "+rs.path+"/new", rs.newPage)
		admin("POST "+rs.path+"/new", rs.create)
	}
	if rs.form.edit != nil {
		admin("GET "+rs.path+"/{id}/edit", rs.editPage)
		admin("POST "+rs.path+"/{id}/edit", rs.update)
	}
	if rs.remove != nil {
		admin("GET "+rs.path+"/{id}/delete", rs.deleteConfirm)
		admin("POST "+rs.path+"/{id}/delete", rs.delete)
	}
}

// href is the address of a row's page.
func (rs *resource[T, F]) href(id int) string { return rs.path + "/" + strconv.Itoa(id) }

// load reads the row of the URL's {id}; false means the request was
// answered (404 or an error).
func (rs *resource[T, F]) load(w http.ResponseWriter, r *http.Request) (T, bool) {
	var zero T
	id, ok := pathID(r)
	if !ok {
		rs.d.notFound(w, r)
		return zero, false
	}
	row, err := rs.get(r.Context(), id)
	if err != nil {
		rs.d.failure(w, r, err)
		return zero, false
	}
	return row, true
}

// ---- the list

// parse reads the list's search, filters and sort from the URL, keeping
// every limit a client controls; what does not pass is dropped.
func (rs *resource[T, F]) parse(q url.Values) components.List {
	dir := "asc"
	if rs.desc {
		dir = "desc"
	}
	l := components.List{
		Path: rs.path, Page: 1, Size: defaultPageSize, Sort: rs.sort, Dir: dir, Filters: url.Values{},
		DefaultSort: rs.sort, DefaultDir: dir, DefaultSize: defaultPageSize,
	}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && n > 0 {
		l.Size = min(n, components.MaxPageSize)
	}
	if s := q.Get("sort"); s != "" {
		if _, ok := rs.sortBy[s]; ok {
			l.Sort, l.Dir = s, "asc"
			if q.Get("dir") == "desc" {
				l.Dir = "desc"
			}
		}
	}
	if rs.search != nil {
		l.Q = truncateRunes(strings.TrimSpace(q.Get("q")), components.MaxSearchLen)
	}
	for _, f := range rs.filters {
		v := strings.TrimSpace(q.Get(f.name))
		if v != "" && len(v) <= 100 && f.ok(v) {
			l.Filters.Set(f.name, v)
		}
	}
	return l
}

// where is what the list's search and filters select.
func (rs *resource[T, F]) where(l components.List) []func(*sql.Selector) {
	var where []func(*sql.Selector)
	if l.Q != "" && rs.search != nil {
		where = append(where, rs.search(l.Q))
	}
	for _, f := range rs.filters {
		if v := l.Filter(f.name); v != "" {
			where = append(where, f.where(v))
		}
	}
	return where
}

// pickers reads the list's picker filters: a typed name chooses its
// record without script (the filter then holds its id).
func (rs *resource[T, F]) pickers(r *http.Request, l *components.List) (map[string]components.Picker, error) {
	out := map[string]components.Picker{}
	for _, f := range rs.filters {
		if f.pick == nil {
			continue
		}
		p, err := rs.d.filterPicker(r.Context(), r, l, *f.pick, f.name, f.title)
		if err != nil {
			return nil, err
		}
		out[f.name] = p
	}
	return out, nil
}

// seekOf is the page the request asks for in the list's order.
func (rs *resource[T, F]) seekOf(l components.List, q url.Values) seek {
	col := rs.sortBy[l.Sort]
	s := seek{col: col.column, null: col.nullable, desc: l.Dir == "desc", size: l.Size}
	if v := q.Get("after"); v != "" {
		if c, ok := decodeCursor(v, col.kind, col.nullable); ok {
			s.cursor = &c
		}
	} else if v := q.Get("before"); v != "" {
		if c, ok := decodeCursor(v, col.kind, col.nullable); ok {
			s.cursor, s.back = &c, true
		}
	}
	return s
}

// cursorOf is a row's cursor in the list's order.
func (rs *resource[T, F]) cursorOf(l components.List) func(T) seekCursor {
	col := rs.sortBy[l.Sort]
	return func(row T) seekCursor { return seekCursor{id: rs.id(row), value: col.value(row)} }
}

// countRows counts the rows matching where, up to countCap (capped is true
// when there are more).
func (rs *resource[T, F]) countRows(ctx context.Context, where []func(*sql.Selector)) (n int, capped bool, err error) {
	ids, err := rs.table.ids(ctx, where, countCap+1)
	if err != nil {
		return 0, false, err
	}
	if len(ids) > countCap {
		return countCap, true, nil
	}
	return len(ids), false, nil
}

func (rs *resource[T, F]) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	l := rs.parse(q)
	picks, err := rs.pickers(r, &l)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	where := rs.where(l)
	s := rs.seekOf(l, q)
	read := func(s seek) ([]T, error) {
		return rs.table.rows(ctx, append(where[:len(where):len(where)], s.where()), s.order(), s.size+1)
	}
	rows, err := read(s)
	if err == nil && s.back && len(rows) <= s.size {
		// Back at the top: the first page, full.
		s.cursor, s.back = nil, false
		rows, err = read(s)
	}
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rows, links := seekPage(s, rows, rs.cursorOf(l), rs.path, l.Query())
	// A first page with no next one holds every matching row: it is
	// the count.
	total, capped := len(rows), false
	if s.cursor != nil || links.Next != "" {
		if total, capped, err = rs.countRows(ctx, where); err != nil {
			rs.d.failure(w, r, err)
			return
		}
	}
	l.Total = total
	v, err := rs.listView(r, l, rows, links, capped, picks)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, pages.ListPage(rs.d.page(r, rs.title, rs.section), v))
}

// listView is the list page's model.
func (rs *resource[T, F]) listView(r *http.Request, l components.List, rows []T, links seekLinks, capped bool, picks map[string]components.Picker) (pages.ListView, error) {
	ctx := r.Context()
	here := here(r)
	v := pages.ListView{
		Title: rs.title, Name: rs.name, Plural: rs.plural, List: l, Capped: capped,
		SearchLabel: rs.searchLabel, Prev: links.Prev, Next: links.Next, First: links.First,
		Export: listURL(rs.path+".csv", l.Query()),
		Here:   here,
	}
	if rs.newLabel != "" {
		v.NewLabel, v.NewHref = rs.newLabel, components.WithReturn(rs.path+"/new", here)
	}
	for _, f := range rs.filters {
		if p, ok := picks[f.name]; ok {
			v.Filters = append(v.Filters, pages.ListFilter{Name: f.name, Title: f.title, Value: l.Filter(f.name), Picker: &p})
			continue
		}
		if f.options == nil {
			v.Filters = append(v.Filters, pages.ListFilter{Name: f.name, Title: f.title, Value: l.Filter(f.name)})
			continue
		}
		opts, err := f.options(ctx)
		if err != nil {
			return v, err
		}
		v.Filters = append(v.Filters, pages.ListFilter{Name: f.name, Title: f.title, Value: l.Filter(f.name), Options: opts})
	}
	for _, s := range rs.sorts {
		v.Sorts = append(v.Sorts, components.Option{Value: s.key, Label: s.title})
	}
	for _, c := range rs.columns {
		if c.cell != nil {
			v.Columns = append(v.Columns, pages.ListColumn{Title: c.title, Sort: c.sort})
		}
	}
	for _, b := range rs.bulk {
		v.Bulk = append(v.Bulk, components.Option{Value: b.key, Label: b.label})
		v.BulkDays = v.BulkDays || b.days
	}
	if len(rs.bulk) > 0 {
		v.BulkAction = rs.path + "/bulk"
	}
	counts, err := rs.counts(ctx, rows)
	if err != nil {
		return v, err
	}
	for _, row := range rows {
		id := rs.id(row)
		pr := pages.ListRow{ID: id, Label: rs.label(row), Href: components.WithReturn(rs.href(id), here)}
		for _, c := range rs.columns {
			if c.cell != nil {
				pr.Cells = append(pr.Cells, c.cell(row, counts[id]))
			}
		}
		if rs.form.edit != nil {
			pr.EditHref = components.WithReturn(rs.href(id)+"/edit", here)
		}
		if rs.rowAction != nil {
			pr.Action = rs.rowAction(row, here)
		}
		v.Rows = append(v.Rows, pr)
	}
	return v, nil
}

func (rs *resource[T, F]) counts(ctx context.Context, rows []T) (map[int]int, error) {
	if rs.count == nil || len(rows) == 0 {
		return map[int]int{}, nil
	}
	ids := make([]int, len(rows))
	for i, row := range rows {
		ids[i] = rs.id(row)
	}
	return rs.count(ctx, ids)
}

// ---- detail, new, edit

func (rs *resource[T, F]) show(w http.ResponseWriter, r *http.Request) {
	row, ok := rs.load(w, r)
	if !ok {
		return
	}
	c, err := rs.detail(r, rs.d.page(r, rs.label(row), rs.section), row)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, c)
}

func (rs *resource[T, F]) newTitle() string { return "New " + rs.name }

func (rs *resource[T, F]) editTitle(row T) string { return "Edit " + rs.name + " " + rs.label(row) }

func (rs *resource[T, F]) newPage(w http.ResponseWriter, r *http.Request) {
	f, err := rs.form.blank(r)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, rs.form.view(rs.d.page(r, rs.newTitle(), rs.section), f))
}

func (rs *resource[T, F]) editPage(w http.ResponseWriter, r *http.Request) {
	row, ok := rs.load(w, r)
	if !ok {
		return
	}
	f, err := rs.form.edit(r, row)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, rs.form.view(rs.d.page(r, rs.editTitle(row), rs.section), f))
}

func (rs *resource[T, F]) create(w http.ResponseWriter, r *http.Request) {
	if !rs.d.parseForm(w, r) {
		return
	}
	rs.save(w, r, nil)
}

func (rs *resource[T, F]) update(w http.ResponseWriter, r *http.Request) {
	row, ok := rs.load(w, r)
	if !ok || !rs.d.parseForm(w, r) {
		return
	}
	rs.save(w, r, &row)
}

// save checks and saves a posted form: the row's page (or where the admin
// came from) on success, else the form again with every error beside its
// field.
func (rs *resource[T, F]) save(w http.ResponseWriter, r *http.Request, old *T) {
	ctx := r.Context()
	title := rs.newTitle()
	if old != nil {
		title = rs.editTitle(*old)
	}
	f, errs, err := rs.form.read(r, old)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	if rs.form.again != nil {
		if st := rs.form.again(r, &f); st != 0 {
			rs.d.render(w, r, st, rs.form.view(rs.d.page(r, title, rs.section), f))
			return
		}
	}
	status := http.StatusUnprocessableEntity
	if !errs.Any() {
		var saved T
		if old == nil {
			saved, err = rs.form.create(ctx, f)
		} else {
			saved, err = rs.form.update(ctx, *old, f)
		}
		if err == nil {
			ret := returnOf(r)
			verb := " saved."
			to := components.Or(ret, rs.href(rs.id(saved)))
			if old == nil {
				verb = " created."
				to = components.WithReturn(rs.href(rs.id(saved)), ret)
			}
			if rs.savedTo != nil {
				if p := rs.savedTo(saved, old == nil); p != "" {
					to = components.WithReturn(p, ret)
				}
			}
			msg := capitalize(rs.name) + " " + rs.label(saved) + verb
			if rs.savedText != nil {
				msg = rs.savedText(saved, f, old == nil)
			}
			rs.d.redirect(w, r, to, msg)
			return
		}
		var ok bool
		if status, ok = formErrors(r, err, errs, rs.form.fields...); !ok {
			rs.d.serverError(w, r, err)
			return
		}
	}
	if rs.form.ready != nil {
		if err := rs.form.ready(r, &f); err != nil {
			rs.d.failure(w, r, err)
			return
		}
	}
	rs.d.render(w, r, status, rs.form.view(rs.d.page(r, title, rs.section), f))
}

// ---- delete

func (rs *resource[T, F]) deleteView(r *http.Request, row T) (pages.DeleteView, error) {
	id := rs.id(row)
	v := pages.DeleteView{
		Title: "Delete " + rs.name + " " + rs.label(row) + "?", Name: rs.name, Label: rs.label(row),
		Action: rs.href(id) + "/delete", Back: components.WithReturn(rs.href(id), returnOf(r)),
		BackLabel: rs.label(row), Return: returnOf(r),
	}
	if rs.removeInfo != nil {
		info, err := rs.removeInfo(r.Context(), row)
		if err != nil {
			return v, err
		}
		v.Effects, v.Blocked, v.FixHref, v.FixLabel, v.Self = info.Effects, info.Blocked, info.FixHref, info.FixLabel, info.Self
	}
	return v, nil
}

func (rs *resource[T, F]) deleteConfirm(w http.ResponseWriter, r *http.Request) {
	row, ok := rs.load(w, r)
	if !ok {
		return
	}
	v, err := rs.deleteView(r, row)
	if err != nil {
		rs.d.failure(w, r, err)
		return
	}
	rs.d.render(w, r, http.StatusOK, pages.DeletePage(rs.d.page(r, v.Title, rs.section), v))
}

func (rs *resource[T, F]) delete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	row, ok := rs.load(w, r)
	if !ok || !rs.d.parseForm(w, r) {
		return
	}
	if err := rs.remove(ctx, row); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			rs.d.failure(w, r, err)
			return
		}
		v, verr := rs.deleteView(r, row)
		if verr != nil {
			rs.d.failure(w, r, verr)
			return
		}
		v.Error = e.Message
		rs.d.render(w, r, statusOf(e), pages.DeletePage(rs.d.page(r, v.Title, rs.section), v))
		return
	}
	if rs.removed != nil && rs.removed(w, r, row) {
		return
	}
	rs.d.redirect(w, r, afterDelete(returnOf(r), rs.href(rs.id(row)), rs.path), capitalize(rs.name)+" "+rs.label(row)+" deleted.")
}

// capitalize upper-cases the first letter of an ASCII label.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// listURL is path with the query q.
func listURL(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// afterDelete is where to go once the record at self is gone: ret, unless
// ret is one of the record's own pages; else the list.
func afterDelete(ret, self, list string) string {
	if ret == "" || ret == self || strings.HasPrefix(ret, self+"/") || strings.HasPrefix(ret, self+"?") {
		return list
	}
	return ret
}

// staticOptions is a filter's fixed choices.
func staticOptions(opts []components.Option) func(context.Context) ([]components.Option, error) {
	return func(context.Context) ([]components.Option, error) { return opts, nil }
}

// fixedEffect is a bulk action's effect that does not depend on the rows.
func fixedEffect(lines ...string) func(context.Context, []int) ([]string, error) {
	return func(context.Context, []int) ([]string, error) { return lines, nil }
}
