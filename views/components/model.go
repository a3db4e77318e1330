// Package components holds the dashboard's shared view types (form errors,
// list state, select options, flash messages) and the templ components built
// on them: form fields, sortable table headers, pagination, badges.
package components

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors maps form field names (spelled as the GraphQL input fields, e.g.
// "username", "contents.0.value") to a message shown beside the field. The
// key "" holds an error about the form as a whole.
type Errors map[string]string

// Get returns the message for field, or "".
func (e Errors) Get(field string) string { return e[field] }

// Has reports whether field has an error.
func (e Errors) Has(field string) bool { return e[field] != "" }

// Form returns the error about the whole form, or "".
func (e Errors) Form() string { return e[""] }

// Any reports whether there is any error.
func (e Errors) Any() bool { return len(e) > 0 }

// Add records msg for field unless the field already has a message.
func (e Errors) Add(field, msg string) {
	if _, ok := e[field]; !ok {
		e[field] = msg
	}
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
	// Data, when set, becomes the option's data-days attribute (the days
	// of a package, for the progressive enhancement that prefills them).
	Days string
	// Kind, when set, becomes the option's data-kind attribute (the kind of
	// a feature, for the progressive enhancement that shows the limit
	// field only for limits).
	Kind string
}

// Flash is a one-time message shown on the next page.
type Flash struct {
	Kind    string // success, error or info
	Message string
}

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashError   = "error"
	FlashInfo    = "info"
)

// Page sizes offered by lists; any size from 1 to MaxPageSize is accepted.
var PageSizes = []int{10, 25, 50, 100}

// Limits a client cannot exceed.
const (
	MaxPageSize  = 100
	MaxSearchLen = 100
)

// List is the state of a list page: where it is, what it shows and how.
// Every link a list page makes keeps it, so that coming back from a record
// returns to the same page, sort, search and filters.
type List struct {
	Path    string // e.g. /admin/users
	Page    int
	Size    int
	Sort    string
	Dir     string // asc or desc
	Q       string
	Filters url.Values // entity-specific filters that passed validation
	Total   int
	// Defaults, left out of URLs.
	DefaultSort string
	DefaultDir  string
	DefaultSize int
}

// Pages is the number of pages (at least 1).
func (l List) Pages() int {
	if l.Size <= 0 || l.Total <= 0 {
		return 1
	}
	return (l.Total + l.Size - 1) / l.Size
}

// Filter returns a filter's value.
func (l List) Filter(name string) string {
	if l.Filters == nil {
		return ""
	}
	return l.Filters.Get(name)
}

// Query returns the list state as URL parameters, leaving defaults out.
func (l List) Query() url.Values {
	v := url.Values{}
	if l.Page > 1 {
		v.Set("page", strconv.Itoa(l.Page))
	}
	if l.Size != 0 && l.Size != l.DefaultSize {
		v.Set("size", strconv.Itoa(l.Size))
	}
	if l.Sort != "" && (l.Sort != l.DefaultSort || l.Dir != l.DefaultDir) {
		v.Set("sort", l.Sort)
		v.Set("dir", l.Dir)
	}
	if l.Q != "" {
		v.Set("q", l.Q)
	}
	for k, vs := range l.Filters {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	return v
}

// URL is the list's own address with its state.
func (l List) URL() string { return withQuery(l.Path, l.Query()) }

// PageURL is the address of page p.
func (l List) PageURL(p int) string {
	c := l
	c.Page = p
	return c.URL()
}

// SortURL is the address that sorts by key: ascending first, or the other
// way round when the list is already sorted by key. It returns to page 1.
func (l List) SortURL(key string) string {
	c := l
	c.Page = 1
	if c.Sort == key && c.Dir == "asc" {
		c.Dir = "desc"
	} else {
		c.Dir = "asc"
	}
	c.Sort = key
	return c.URL()
}

// AriaSort is the aria-sort value of the column key.
func (l List) AriaSort(key string) string {
	if l.Sort != key {
		return "none"
	}
	if l.Dir == "desc" {
		return "descending"
	}
	return "ascending"
}

// First and Last are the 1-based positions of the rows shown.
func (l List) First() int {
	if l.Total == 0 {
		return 0
	}
	return (l.Page-1)*l.Size + 1
}

// Last is the position of the last row shown.
func (l List) Last() int { return min(l.Page*l.Size, l.Total) }

// Filtered reports whether a search or filter narrows the list.
func (l List) Filtered() bool {
	if l.Q != "" {
		return true
	}
	for _, vs := range l.Filters {
		for _, v := range vs {
			if v != "" {
				return true
			}
		}
	}
	return false
}

// ClearURL is the list without search and filters (sort and size kept).
func (l List) ClearURL() string {
	c := l
	c.Q, c.Filters, c.Page = "", nil, 1
	return c.URL()
}

// Hidden returns the state a filter form must carry besides its own
// fields: sort and direction.
func (l List) Hidden() [][2]string {
	if l.Sort == "" || (l.Sort == l.DefaultSort && l.Dir == l.DefaultDir) {
		return nil
	}
	return [][2]string{{"sort", l.Sort}, {"dir", l.Dir}}
}

// WithReturn appends return=ret to href when ret is not empty: the page at
// href then links back (and redirects after saving) to ret.
func WithReturn(href, ret string) string {
	if ret == "" {
		return href
	}
	sep := "?"
	if strings.Contains(href, "?") {
		sep = "&"
	}
	return href + sep + "return=" + url.QueryEscape(ret)
}

// BackLabel names the page a back link leads to: listLabel when ret is
// empty or the list at listPath, else "Back".
func BackLabel(ret, listPath, listLabel string) string {
	if ret == "" || ret == listPath || strings.HasPrefix(ret, listPath+"?") {
		return listLabel
	}
	return "Back"
}

// Or returns s, or def when s is empty.
func Or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// TimeFormat is how the dashboard shows times: in the admin's zone, with
// the zone's abbreviation (e.g. "2026-11-27 14:05 CET").
const TimeFormat = "2006-01-02 15:04"

// InputTimeFormat is how a date-and-time field shows a time in the admin's
// zone; DateTimeInput reads it back, and other ISO 8601 shapes besides.
const InputTimeFormat = "2006-01-02T15:04"

type zoneKey struct{}

// WithZone returns ctx with the zone the dashboard shows times in.
func WithZone(ctx context.Context, loc *time.Location) context.Context {
	return context.WithValue(ctx, zoneKey{}, loc)
}

// Zone is the zone of ctx's dashboard times: the admin's, or UTC.
func Zone(ctx context.Context) *time.Location {
	if loc, ok := ctx.Value(zoneKey{}).(*time.Location); ok && loc != nil {
		return loc
	}
	return time.UTC
}

// ZoneName names a zone for people: its IANA name, "UTC" for UTC.
func ZoneName(loc *time.Location) string {
	if loc == nil || loc == time.UTC || loc.String() == "" {
		return "UTC"
	}
	return loc.String()
}

// FormatTime shows t in UTC, or "—" for the zero time (for text without a
// request, such as a flash message; pages use When and FormatTimeIn).
func FormatTime(t time.Time) string { return FormatTimeIn(t, time.UTC) }

// FormatTimeIn shows t in loc with the zone's abbreviation, or "—" for
// the zero time.
func FormatTimeIn(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(TimeFormat + " MST")
}

// FormatTimePtr shows *t, or "—" for nil.
func FormatTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return FormatTime(*t)
}

// InputTime is the value a date-and-time field starts with ("" for the
// zero time): the instant in UTC with an explicit "Z", which the field
// shows in the admin's zone (see DateTimeValue).
func InputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z07:00")
}

// DateTimeValue is what a date-and-time field shows for value: a time
// with an explicit offset (what InputTime makes) in loc's wall-clock time;
// anything else (what the admin typed) as it is.
func DateTimeValue(value string, loc *time.Location) string {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(value))
	if err != nil {
		return value
	}
	t = t.In(loc)
	if t.Second() != 0 {
		return t.Format(InputTimeFormat + ":05")
	}
	return t.Format(InputTimeFormat)
}

// ParseDateTime reads an ISO 8601 date or date and time: 2026-12-01,
// 2026-12-01T09:30 or 2026-12-01 09:30, with or without seconds (and a
// fraction of them), read in loc; or any of those with a time and an
// explicit offset (Z, +01:00, +0100), read as that instant.
func ParseDateTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return time.Time{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	// The time's "T" may be a space; a trailing " UTC" (as times are
	// shown) is an offset of zero.
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	if rest, ok := strings.CutSuffix(s, " UTC"); ok && len(rest) > 10 {
		s = rest + "Z"
	}
	if len(s) == len("2006-01-02") {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		return t, err == nil
	}
	for _, l := range []string{"2006-01-02T15:04Z07:00", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04Z0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	for _, l := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Relative says how far t is from now in words: "in 3 days", "2 hours ago".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Plural returns "1 thing" or "n things".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// FieldID is the HTML id of the input for a field name.
func FieldID(name string) string {
	return "f-" + strings.NewReplacer(".", "-", " ", "-").Replace(name)
}

// Itoa is strconv.Itoa, for templates.
func Itoa(n int) string { return strconv.Itoa(n) }
