package dashboard

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"gatehouse/views/components"
)

// The event log and the delivery log are pages through tables that only
// grow: they page by keyset, newest first in the order (time, id), never
// by OFFSET, and count nothing. A page's URL carries the cursor of the row
// it continues from: after (older rows) or before (newer rows).

// pageCursor is a row's place in the order (time, id).
type pageCursor struct {
	at time.Time
	id int
}

// String is the cursor as a URL carries it: unix nanoseconds, a dot, the
// id.
func (c pageCursor) String() string {
	return strconv.FormatInt(c.at.UnixNano(), 10) + "." + strconv.Itoa(c.id)
}

func parseCursor(s string) (pageCursor, bool) {
	if s == "" || len(s) > 40 {
		return pageCursor{}, false
	}
	ns, id, ok := strings.Cut(s, ".")
	if !ok {
		return pageCursor{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return pageCursor{}, false
	}
	i, err := strconv.Atoi(id)
	if err != nil || i <= 0 {
		return pageCursor{}, false
	}
	return pageCursor{at: time.Unix(0, n).UTC(), id: i}, true
}

// window is which page of a keyset list a request asks for.
type window struct {
	cursor *pageCursor
	// newer pages toward newer rows (before the cursor in the list's
	// newest-first order); else toward older ones.
	newer bool
	size  int
}

// parseWindow reads the page size (1–100, default 25) and the cursor
// (after or before; a cursor that does not parse is an error, named by
// its parameter).
func parseWindow(q url.Values) (window, string) {
	w := window{size: defaultPageSize}
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > components.MaxPageSize {
			return w, "size"
		}
		w.size = n
	}
	if s := q.Get("after"); s != "" {
		c, ok := parseCursor(s)
		if !ok {
			return w, "after"
		}
		w.cursor = &c
	} else if s := q.Get("before"); s != "" {
		c, ok := parseCursor(s)
		if !ok {
			return w, "before"
		}
		w.cursor, w.newer = &c, true
	}
	return w, ""
}

// predicate selects the rows beyond the window's cursor in the order
// (column, id), or nil without a cursor.
func (w window) predicate(column, idColumn string) func(*sql.Selector) {
	if w.cursor == nil {
		return nil
	}
	c := *w.cursor
	return func(s *sql.Selector) {
		col, id := s.C(column), s.C(idColumn)
		if w.newer {
			s.Where(sql.Or(sql.GT(col, c.at), sql.And(sql.EQ(col, c.at), sql.GT(id, c.id))))
		} else {
			s.Where(sql.Or(sql.LT(col, c.at), sql.And(sql.EQ(col, c.at), sql.LT(id, c.id))))
		}
	}
}

// idPredicate selects the rows beyond the window's cursor in id order, or
// nil without a cursor: for the event log, numbered in the order it is
// recorded (its time goes with its id, and only the id is indexed).
func (w window) idPredicate(idColumn string) func(*sql.Selector) {
	if w.cursor == nil {
		return nil
	}
	c := *w.cursor
	return func(s *sql.Selector) {
		if w.newer {
			s.Where(sql.GT(s.C(idColumn), c.id))
		} else {
			s.Where(sql.LT(s.C(idColumn), c.id))
		}
	}
}

// desc reports whether the query reads newest first (it reads oldest
// first when paging toward newer rows, and the page is turned round).
func (w window) desc() bool { return !w.newer }

// keysetLinks are a keyset page's links: the newer and older pages ("" when
// there is none) and the newest one ("" when the page is the newest).
type keysetLinks struct {
	Newer, Older, Newest string
}

// keysetPage cuts rows, read with limit size+1 in the window's order, to
// the page, newest first, and makes its links from base (the list's
// address with its filters).
func keysetPage[T any](w window, rows []T, key func(T) pageCursor, base string, q url.Values) ([]T, keysetLinks) {
	more := len(rows) > w.size
	if more {
		rows = rows[:w.size]
	}
	if w.newer {
		slices.Reverse(rows)
	}
	link := func(param string, c pageCursor) string { return pageLink(base, q, param, c.String()) }
	var l keysetLinks
	hasNewer := w.cursor != nil && (!w.newer || more)
	hasOlder := (w.newer && w.cursor != nil) || (!w.newer && more)
	if len(rows) > 0 {
		if hasNewer {
			l.Newer = link("before", key(rows[0]))
		}
		if hasOlder {
			l.Older = link("after", key(rows[len(rows)-1]))
		}
	}
	if w.cursor != nil {
		l.Newest = pageLink(base, q, "", "")
	}
	return rows, l
}

// pageLink is base with the list's query q, its cursor (after or before)
// replaced by param=value (none when param is "").
func pageLink(base string, q url.Values, param, value string) string {
	v := url.Values{}
	for k, vs := range q {
		if k != "after" && k != "before" {
			v[k] = vs
		}
	}
	if param != "" {
		v.Set(param, value)
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}
