package dashboard

import (
	"gatehouse/internal/apperr"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/views/components"
)

// formReader decodes a posted form: it keeps each value as typed (to show
// it again) and records a decoding error (a number or time that does not
// parse) beside its field. Rules about the values are internal/service's.
type formReader struct {
	r    *http.Request
	errs components.Errors
}

func newFormReader(r *http.Request) *formReader {
	return &formReader{r: r, errs: components.Errors{}}
}

// str is the field's value as typed.
func (f *formReader) str(name string) string { return f.r.PostForm.Get(name) }

// has reports whether the form carried the field at all.
func (f *formReader) has(name string) bool { _, ok := f.r.PostForm[name]; return ok }

// boolean is a checkbox: the last value wins (a hidden "false" precedes
// the box's "true").
func (f *formReader) boolean(name string) bool {
	vs := f.r.PostForm[name]
	if len(vs) == 0 {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(vs[len(vs)-1])) {
	case "true", "on", "1", "yes":
		return true
	}
	return false
}

// integer parses a required whole number.
func (f *formReader) integer(name string) (int, bool) {
	s := strings.TrimSpace(f.str(name))
	if s == "" {
		f.errs.Add(name, "must not be empty")
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 12 {
		f.errs.Add(name, "must be a whole number")
		return 0, false
	}
	return n, true
}

// optInteger parses an optional whole number (nil when empty).
func (f *formReader) optInteger(name string) *int {
	if strings.TrimSpace(f.str(name)) == "" {
		return nil
	}
	n, ok := f.integer(name)
	if !ok {
		return nil
	}
	return &n
}

// id parses a required record id chosen from a selector.
func (f *formReader) id(name, what string) int {
	s := strings.TrimSpace(f.str(name))
	if s == "" {
		f.errs.Add(name, "choose a "+what)
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		f.errs.Add(name, "is not a known "+what)
		return 0
	}
	return n
}

// optTime parses an optional time (nil when empty): an ISO 8601 date or
// date and time, read in the admin's zone unless it names an offset.
func (f *formReader) optTime(name string) *time.Time {
	s := strings.TrimSpace(f.str(name))
	if s == "" {
		return nil
	}
	loc := components.Zone(f.r.Context())
	t, ok := components.ParseDateTime(s, loc)
	if !ok {
		f.errs.Add(name, "must be a date and time in ISO 8601, such as 2026-12-01 09:30 or 2026-12-01 (in "+
			components.ZoneName(loc)+"), or with an offset such as 2026-12-01T09:30Z")
		return nil
	}
	t = t.UTC()
	return &t
}

// requiredTime parses a time that must be given.
func (f *formReader) requiredTime(name string) *time.Time {
	if strings.TrimSpace(f.str(name)) == "" {
		f.errs.Add(name, "must not be empty")
		return nil
	}
	return f.optTime(name)
}

// parseTime reads an ISO 8601 date or date and time, in UTC unless it
// names an offset.
func parseTime(s string) (time.Time, bool) {
	t, ok := components.ParseDateTime(s, time.UTC)
	return t.UTC(), ok
}

// parseForm reads the posted form; false means the request was answered.
func (d *Dashboard) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		d.badRequest(w, r)
		return false
	}
	return true
}

// addError records a client-safe error of a check beside its field.
func addError(errs components.Errors, err error) {
	if e, ok := apperr.As(err); ok {
		errs.Add(e.Field, e.Message)
		return
	}
	errs.Add("", "the value could not be checked")
}
