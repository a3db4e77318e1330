package dashboard

import (
	"net/http"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/overview"
)

// Overview settings.
const (
	expiringDays   = 7
	expiringShown  = 20
	recentSessions = 10
)

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := d.svc.Now()
	c := d.client
	var err error
	n := map[string]int{}
	counts := []struct {
		key string
		fn  func() (int, error)
	}{
		{"users", func() (int, error) { return c.User.Query().Count(ctx) }},
		{"admins", func() (int, error) { return c.User.Query().Where(user.RoleEQ(user.RoleADMIN)).Count(ctx) }},
		{"disabled", func() (int, error) { return c.User.Query().Where(user.Disabled(true)).Count(ctx) }},
		{"features", func() (int, error) { return c.Feature.Query().Count(ctx) }},
		{"limits", func() (int, error) { return c.Feature.Query().Where(feature.KindEQ(feature.KindLIMIT)).Count(ctx) }},
		{"packages", func() (int, error) { return c.Pkg.Query().Count(ctx) }},
		{"contents", func() (int, error) { return c.PackageContent.Query().Count(ctx) }},
		{"userPackages", func() (int, error) { return c.UserPackage.Query().Count(ctx) }},
		{"activeUserPackages", func() (int, error) {
			return c.UserPackage.Query().Where(access.ActiveAt(now)).Count(ctx)
		}},
		{"inGrace", func() (int, error) { return c.UserPackage.Query().Where(access.InGraceAt(now)).Count(ctx) }},
		{"suspended", func() (int, error) { return c.UserPackage.Query().Where(access.SuspendedAt(now)).Count(ctx) }},
		{"sessions", func() (int, error) { return c.UserSession.Query().Count(ctx) }},
		{"activeSessions", func() (int, error) {
			return c.UserSession.Query().Where(access.SessionActiveAt(now)).Count(ctx)
		}},
	}
	for _, q := range counts {
		if n[q.key], err = q.fn(); err != nil {
			d.failure(w, r, err)
			return
		}
	}
	expiring, err := c.UserPackage.Query().
		Where(access.ActiveAt(now), userpackage.ExpiresAtLTE(now.Add(expiringDays*service.Day))).
		WithUser().WithPackage().
		Order(userpackage.ByExpiresAt(), userpackage.ByID()).
		Limit(expiringShown).
		All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	recent, err := c.UserSession.Query().
		WithUser().
		Order(ent.Desc(usersession.FieldCreatedAt), ent.Desc(usersession.FieldID)).
		Limit(recentSessions).
		All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	data := overview.Data{
		Counts: []overview.Count{
			{Label: "Users", Value: n["users"], Href: "/admin/users", Detail: join(
				components.Plural(n["admins"], "admin", "admins"), plural0(n["disabled"], "disabled", "disabled"))},
			{Label: "Features", Value: n["features"], Href: "/admin/features", Detail: plural0(n["limits"], "limit", "limits")},
			{Label: "Packages", Value: n["packages"], Href: "/admin/packages"},
			{Label: "Package contents", Value: n["contents"], Href: "/admin/package-contents"},
			{Label: "User packages", Value: n["userPackages"], Href: "/admin/user-packages",
				Detail: join(components.Plural(n["activeUserPackages"], "active", "active"),
					plural0(n["inGrace"], "in grace", "in grace"), plural0(n["suspended"], "suspended", "suspended"))},
			{Label: "Sessions", Value: n["sessions"], Href: "/admin/sessions",
				Detail: components.Plural(n["activeSessions"], "active", "active")},
		},
		Expiring: expiring,
		Recent:   recent,
		Days:     expiringDays,
		Now:      now,
	}
	d.render(w, r, http.StatusOK, overview.Page(d.page(r, "Overview", "overview"), data))
}

func plural0(n int, one, many string) string {
	if n == 0 {
		return ""
	}
	return components.Plural(n, one, many)
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " · ")
}
