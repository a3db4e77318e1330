package dashboard

import (
	"net/http"
	"strings"

	"gatehouse/internal/timezone"
	"gatehouse/views/account"
	"gatehouse/views/components"
)

// suggestedZones are offered by the account page's time zone field (any
// IANA name is accepted).
var suggestedZones = []string{
	"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
	"Europe/Rome", "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki",
	"Europe/Istanbul", "Europe/Kyiv", "Europe/Moscow", "Africa/Cairo", "Africa/Lagos", "Africa/Johannesburg",
	"Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Bangkok", "Asia/Jakarta", "Asia/Shanghai", "Asia/Hong_Kong",
	"Asia/Singapore", "Asia/Seoul", "Asia/Tokyo", "Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
	"America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Mexico_City", "America/New_York",
	"America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage",
	"Pacific/Honolulu",
}

// withZone puts the signed-in admin's time zone into the request context,
// where components.When and the forms' time fields find it. requireAdmin
// has loaded the admin's row already (time_zone is one of its columns), so
// this costs no query. A zone that no longer loads (a zone database
// without it) reads as UTC.
func (d *Dashboard) withZone(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := currentAdmin(r.Context()); u != nil && u.TimeZone != "" {
			if loc, err := timezone.Load(u.TimeZone); err == nil {
				r = r.WithContext(components.WithZone(r.Context(), loc))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (d *Dashboard) accountForm(r *http.Request) account.Form {
	u := currentAdmin(r.Context())
	return account.Form{
		Username:  u.Username,
		Role:      string(u.Role),
		TimeZone:  u.TimeZone,
		Errors:    components.Errors{},
		Now:       d.svc.Now(),
		Suggested: suggestedZones,
	}
}

// account shows the signed-in admin's own page.
func (d *Dashboard) account(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, account.Page(d.page(r, "Your account", "account"), d.accountForm(r)))
}

// accountUpdate saves the admin's time zone: an IANA name, or empty for
// UTC. An unknown name is refused beside the field.
func (d *Dashboard) accountUpdate(w http.ResponseWriter, r *http.Request) {
	if !d.parseForm(w, r) {
		return
	}
	ctx := r.Context()
	f := d.accountForm(r)
	f.TimeZone = truncateRunes(strings.TrimSpace(r.PostForm.Get("timeZone")), timezone.MaxLen+1)
	u, err := d.svc.SetTimeZone(ctx, currentAdmin(ctx).ID, f.TimeZone)
	if err != nil {
		if _, ok := formErrors(r, err, f.Errors, "timeZone"); !ok {
			d.serverError(w, r, err)
			return
		}
		d.render(w, r, http.StatusUnprocessableEntity, account.Page(d.page(r, "Your account", "account"), f))
		return
	}
	name := u.TimeZone
	d.redirect(w, r, "/admin/account", "Times are now shown in "+components.Or(name, "UTC")+".")
}
