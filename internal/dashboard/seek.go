package dashboard

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
)

// Every list of the dashboard pages by keyset ("seek"), never by OFFSET:
// a page continues from the sort value and id of the row before it, so a
// page deep in a million users costs what the first one does (an index
// lookup), and a row added or removed meanwhile never shifts a page. The
// order is always (column, id) in the same direction, with NULLs last
// either way; each sortable column has an index on (column, id).

// valueKind is how a sort column's values are written in a cursor.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindTime
	kindBool
)

// sortCol is a sortable column of a list.
type sortCol[T any] struct {
	key      string // in URLs: sort=key
	title    string // in the phone's sort selector
	column   string // the SQL column
	kind     valueKind
	nullable bool
	// value is the row's value in the column (nil for NULL).
	value func(T) any
}

// seekCursor is a row's place in a list's order.
type seekCursor struct {
	id    int
	value any // string, int, time.Time, bool or nil
}

// encode writes the cursor for a URL: the id, then "~" and the value, or
// "!" for NULL.
func (c seekCursor) encode() string {
	id := strconv.Itoa(c.id)
	switch v := c.value.(type) {
	case nil:
		return id + "!"
	case string:
		return id + "~" + v
	case int:
		return id + "~" + strconv.Itoa(v)
	case time.Time:
		return id + "~" + strconv.FormatInt(v.UnixNano(), 10)
	case bool:
		return id + "~" + strconv.FormatBool(v)
	}
	return id + "!"
}

// decodeCursor reads a cursor of a column of kind k; false when it is not
// one (the list then starts from the top).
func decodeCursor(s string, k valueKind, nullable bool) (seekCursor, bool) {
	if s == "" || len(s) > 400 {
		return seekCursor{}, false
	}
	i := strings.IndexAny(s, "~!")
	if i <= 0 {
		return seekCursor{}, false
	}
	id, err := strconv.Atoi(s[:i])
	if err != nil || id <= 0 {
		return seekCursor{}, false
	}
	c := seekCursor{id: id}
	if s[i] == '!' {
		return c, nullable && i == len(s)-1
	}
	v := s[i+1:]
	switch k {
	case kindString:
		c.value = v
	case kindInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, false
		}
		c.value = n
	case kindTime:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, false
		}
		c.value = time.Unix(0, n).UTC()
	case kindBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, false
		}
		c.value = b
	}
	return c, true
}

// seek is the page of a list a request asks for.
type seek struct {
	col    string
	null   bool // the column may be NULL
	desc   bool // the list's direction
	cursor *seekCursor
	// back reads the rows before the cursor (the previous page): the
	// query then runs in the opposite order and the page is turned round.
	back bool
	size int
}

// order is the query's ORDER BY: the list's order, or its reverse when
// reading backwards. NULLs are last in the list's order.
func (s seek) order() func(*sql.Selector) {
	desc := s.desc != s.back
	nullsLast := !s.back
	return func(sel *sql.Selector) {
		col, id := sel.C(s.col), sel.C("id")
		term := col
		if desc {
			term = sql.Desc(col)
		}
		if s.null {
			if nullsLast {
				term += " NULLS LAST"
			} else {
				term += " NULLS FIRST"
			}
		}
		idTerm := id
		if desc {
			idTerm = sql.Desc(id)
		}
		sel.OrderBy(term, idTerm)
	}
}

// where selects the rows past the cursor in the query's order (nil without
// a cursor).
func (s seek) where() func(*sql.Selector) {
	if s.cursor == nil {
		return nil
	}
	c := *s.cursor
	// Past the cursor in the query's order: greater when it ascends.
	up := s.desc == s.back
	return func(sel *sql.Selector) {
		col, id := sel.C(s.col), sel.C("id")
		beyondID := sql.GT(id, c.id)
		if !up {
			beyondID = sql.LT(id, c.id)
		}
		if c.value == nil {
			// The cursor is in the NULLs: last in the list's order, first
			// when reading backwards.
			if !s.back {
				sel.Where(sql.And(sql.IsNull(col), beyondID))
			} else {
				sel.Where(sql.Or(sql.NotNull(col), sql.And(sql.IsNull(col), beyondID)))
			}
			return
		}
		beyond, bound := sql.GT(col, c.value), sql.GTE(col, c.value)
		if !up {
			beyond, bound = sql.LT(col, c.value), sql.LTE(col, c.value)
		}
		// bound adds nothing to the rows chosen, but lets the database
		// start from the cursor in the column's index: without it SQLite
		// reads the index from its start (a page deep in a million rows,
		// and every batch of an export, cost a scan).
		p := sql.And(bound, sql.Or(beyond, sql.And(sql.EQ(col, c.value), beyondID)))
		if s.null && !s.back {
			p = sql.Or(p, sql.IsNull(col))
		}
		sel.Where(p)
	}
}

// seekLinks are a page's links: the previous and next pages and the first
// ("" when there is none).
type seekLinks struct {
	Prev, Next, First string
}

// seekPage cuts rows (read with limit size+1) to the page, in the list's
// order, and links its neighbours from base and the list's query q.
func seekPage[T any](s seek, rows []T, cur func(T) seekCursor, base string, q url.Values) ([]T, seekLinks) {
	more := len(rows) > s.size
	if more {
		rows = rows[:s.size]
	}
	if s.back {
		slices.Reverse(rows)
	}
	link := func(param string, c *seekCursor) string {
		if c == nil {
			return pageLink(base, q, "", "")
		}
		return pageLink(base, q, param, c.encode())
	}
	var l seekLinks
	hasPrev := s.cursor != nil && (!s.back || more)
	hasNext := (s.back && s.cursor != nil) || (!s.back && more)
	if len(rows) > 0 {
		if hasPrev {
			c := cur(rows[0])
			l.Prev = link("before", &c)
		}
		if hasNext {
			c := cur(rows[len(rows)-1])
			l.Next = link("after", &c)
		}
	}
	if s.cursor != nil {
		l.First = link("", nil)
	}
	return rows, l
}
