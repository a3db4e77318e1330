package dashboard

import (
	"bytes"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"

	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/pages"
)

// render writes a page with status. The page is rendered into a buffer
// first, so a render error never sends half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		d.log.ErrorContext(r.Context(), "render dashboard page", "path", r.URL.Path, "err", err)
		d.plainError(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// page is the shell of a page: title, current section, the signed-in admin
// and the flash message stored by the previous request.
func (d *Dashboard) page(r *http.Request, title, section string) layout.Page {
	p := layout.Page{
		Title:   title,
		Section: section,
		Flash:   d.popFlash(r.Context()),
		Assets:  d.assets.urls,
	}
	if u := currentAdmin(r.Context()); u != nil {
		p.Admin = u.Username
	}
	return p
}

func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	d.render(w, r, status, pages.Error(d.page(r, title, ""), status, msg))
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	d.renderError(w, r, http.StatusNotFound, "Page not found",
		"There is no such page or record. It may have been deleted.")
}

func (d *Dashboard) badRequest(w http.ResponseWriter, r *http.Request) {
	d.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Go back and try again.")
}

// serverError logs err (with the request id) and answers generically: its
// text is never shown.
func (d *Dashboard) serverError(w http.ResponseWriter, r *http.Request, err error) {
	d.log.ErrorContext(r.Context(), "dashboard request failed", "path", r.URL.Path, "err", err)
	d.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The request could not be completed. Try again; if it keeps failing, the server's log has the details.")
}

// failure answers an error from ent or internal/service on a page that is
// not a form: not found → 404, a client-safe error → its page, anything
// else → 500.
func (d *Dashboard) failure(w http.ResponseWriter, r *http.Request, err error) {
	e := service.Classify(r.Context(), err)
	switch {
	case e == nil:
		d.serverError(w, r, err)
	case e.Code == apperr.NotFound:
		d.notFound(w, r)
	case e.Code == apperr.Forbidden || e.Code == apperr.Unauthenticated:
		d.renderError(w, r, http.StatusForbidden, "Not allowed", "You may not do this.")
	default:
		d.renderError(w, r, statusOf(e), "Could not do that", e.Message)
	}
}

// formErrors turns an error of a form's operation into the messages shown
// beside its fields. fields lists the form's field names; an error about
// any other field is shown at the top. ok is false for an internal error,
// which the caller answers with serverError.
func formErrors(r *http.Request, err error, errs components.Errors, fields ...string) (status int, ok bool) {
	e := service.Classify(r.Context(), err)
	if e == nil {
		return 0, false
	}
	field := e.Field
	known := false
	for _, f := range fields {
		if f == field || (f == "contents" && strings.HasPrefix(field, "contents.")) {
			known = true
			break
		}
	}
	if field != "" && known {
		errs.Add(field, e.Message)
	} else {
		errs.Add("", e.Message)
	}
	if e.Code == apperr.NotFound && !known {
		return http.StatusNotFound, true
	}
	if e.Code == apperr.Conflict && !known {
		return http.StatusConflict, true
	}
	return http.StatusUnprocessableEntity, true
}

func statusOf(e *apperr.Error) int {
	switch e.Code {
	case apperr.BadUserInput:
		return http.StatusUnprocessableEntity
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Forbidden, apperr.Unauthenticated:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// classifyMessage is the client-safe message of err, or a generic one.
func classifyMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return "the request could not be completed"
}

// pathID reads the {id} of the URL: a positive integer, or ok=false (the
// caller answers 404).
func pathID(r *http.Request) (int, bool) {
	s := r.PathValue("id")
	if s == "" || len(s) > 18 {
		return 0, false
	}
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 || strconv.Itoa(id) != s {
		return 0, false
	}
	return id, true
}

// safeReturn accepts s as a place to send the browser back to only when it
// is a path of this dashboard: never another host, never the sign-in page.
func safeReturn(s string) string {
	if s == "" || len(s) > 2048 || !strings.HasPrefix(s, "/admin/") || strings.ContainsAny(s, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return ""
	}
	clean := path.Clean(u.Path)
	if clean != "/admin" && !strings.HasPrefix(clean, "/admin/") {
		return ""
	}
	if clean == "/admin/login" || clean == "/admin/logout" || strings.HasPrefix(clean, "/admin/static/") {
		return ""
	}
	return s
}

// returnOf is the request's validated return address (query or form).
func returnOf(r *http.Request) string {
	if r.Method == http.MethodPost {
		return safeReturn(r.PostFormValue("return"))
	}
	return safeReturn(r.URL.Query().Get("return"))
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// here is the request's own address, to come back to after an action.
func here(r *http.Request) string {
	return safeReturn(r.URL.RequestURI())
}
