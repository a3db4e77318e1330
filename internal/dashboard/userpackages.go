package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/predicate"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/userpackages"
)

// isState accepts the name of a user package state, such as IN_GRACE.
func isState(v string) bool {
	for _, st := range access.States() {
		if v == string(st) {
			return true
		}
	}
	return false
}

// userPackageForm is the user package form with what it decoded for the
// service.
type userPackageForm struct {
	userpackages.Form
	assign service.AssignPackageInput
	update service.UpdateUserPackageInput
	// again is the status of a post that only changes the form (a search
	// of a picker, "use its days"): shown again, unsaved.
	again int
	// before is a time no later than the creation of a user package the
	// post creates (one it extends instead is older).
	before time.Time
	// zone is the admin's, for the flash.
	zone *time.Location
}

func (d *Dashboard) userPackageResource() *resource[*ent.UserPackage, userPackageForm] {
	rs := &resource[*ent.UserPackage, userPackageForm]{
		d: d, name: "user package", plural: "user packages", title: "User packages",
		path: userpackages.Path, section: "user-packages", subject: events.SubjectUserPackage,
		table: entTable[*ent.UserPackage, *ent.UserPackageQuery, predicate.UserPackage, userpackage.OrderOption](func() *ent.UserPackageQuery {
			return d.client.UserPackage.Query().WithUser().WithPackage()
		}),
		get: func(ctx context.Context, id int) (*ent.UserPackage, error) {
			return d.client.UserPackage.Query().Where(userpackage.ID(id)).
				WithUser().
				WithPackage(func(q *ent.PkgQuery) { q.WithContents(func(cq *ent.PackageContentQuery) { cq.WithFeature() }) }).
				Only(ctx)
		},
		id:    func(up *ent.UserPackage) int { return up.ID },
		label: userpackages.Label,

		searchLabel: "User or package",
		search: func(q string) func(*sql.Selector) {
			return userpackage.Or(
				userpackage.HasUserWith(user.UsernameFoldContains(strings.ToLower(q))),
				userpackage.HasPackageWith(pkg.NameContainsFold(q)),
			)
		},
		filters: []filter{
			{name: "status", title: "State", ok: isState,
				where:   func(v string) func(*sql.Selector) { return access.StateAt(access.State(v), d.svc.Now()) },
				options: staticOptions(userpackages.StatusFilter())},
			{name: "packageID", title: "Package", ok: isID, pick: &pickPackages,
				where: idWhere(userpackage.PackageID)},
			{name: "userID", title: "User", ok: isID, pick: &pickUsers,
				where: idWhere(userpackage.UserID)},
		},
		sorts: []sortCol[*ent.UserPackage]{
			{key: "created", title: "Assigned", column: userpackage.FieldCreatedAt, kind: kindTime, value: func(up *ent.UserPackage) any { return up.CreatedAt.UTC() }},
			{key: "startsAt", title: "Starts", column: userpackage.FieldStartsAt, kind: kindTime, value: func(up *ent.UserPackage) any { return up.StartsAt.UTC() }},
			{key: "expiresAt", title: "Expires", column: userpackage.FieldExpiresAt, kind: kindTime, value: func(up *ent.UserPackage) any { return up.ExpiresAt.UTC() }},
		},
		sort: "created", desc: true,
		columns: []column[*ent.UserPackage]{
			{title: "User",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return userpackages.UserCell(up) },
				csv: func(up *ent.UserPackage, _ int) string {
					if up.Edges.User == nil {
						return ""
					}
					return up.Edges.User.Username
				}},
			{title: "Package",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return userpackages.PackageCell(up) },
				csv: func(up *ent.UserPackage, _ int) string {
					if up.Edges.Package == nil {
						return ""
					}
					return up.Edges.Package.Name
				}},
			{title: "Starts", sort: "startsAt",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return components.When(up.StartsAt) },
				csv:  func(up *ent.UserPackage, _ int) string { return csvTime(up.StartsAt) }},
			{title: "Expires", sort: "expiresAt",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return components.WhenRel(up.ExpiresAt, d.svc.Now()) },
				csv:  func(up *ent.UserPackage, _ int) string { return csvTime(up.ExpiresAt) }},
			{title: "State",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return userpackages.StateCell(up, d.svc.Now()) },
				csv: func(up *ent.UserPackage, _ int) string {
					return string(components.UserPackageState(up, d.svc.Now()))
				}},
			{title: "Suspended because", csv: func(up *ent.UserPackage, _ int) string {
				if up.SuspendReason == nil {
					return ""
				}
				return *up.SuspendReason
			}},
			{title: "Assigned", sort: "created",
				cell: func(up *ent.UserPackage, _ int) templ.Component { return components.When(up.CreatedAt) },
				csv:  func(up *ent.UserPackage, _ int) string { return csvTime(up.CreatedAt) }},
		},
		newLabel: "Assign a package",
		detail: func(r *http.Request, p layout.Page, up *ent.UserPackage) (templ.Component, error) {
			return d.userPackageDetail(r, p, up, defaultExtend(up), userpackages.Suspend{}), nil
		},
		remove: func(ctx context.Context, up *ent.UserPackage) error {
			_, err := d.svc.DeleteUserPackage(ctx, up.ID)
			return err
		},
		removeInfo: func(ctx context.Context, up *ent.UserPackage) (deleteInfo, error) {
			info := deleteInfo{Effects: []string{"The user loses the package's features at once."}}
			if components.UserPackageState(up, d.svc.Now()) == access.StateExpired {
				info.Effects = []string{"It has expired: the user has already lost what it granted."}
			}
			return info, nil
		},
	}
	rs.bulk = []bulkAction[*ent.UserPackage]{
		{key: "extend", label: "Extend", done: "extended", days: true,
			apply: func(ctx context.Context, up *ent.UserPackage, days int) (bool, error) {
				_, err := d.svc.UpdateUserPackage(ctx, up.ID, service.UpdateUserPackageInput{ExtendDays: &days})
				return true, err
			},
			effect: fixedEffect("Each expiry moves later by the days given (from now, for one already expired)."),
		},
		{key: "suspend", label: "Suspend", done: "suspended",
			apply: func(ctx context.Context, up *ent.UserPackage, _ int) (bool, error) {
				if up.SuspendedAt != nil {
					return false, nil
				}
				_, err := d.svc.SuspendUserPackage(ctx, up.ID, nil)
				return true, err
			},
			effect: fixedEffect("A suspended user package grants nothing until resumed; its dates run on."),
		},
		{key: "resume", label: "Resume", done: "resumed",
			apply: func(ctx context.Context, up *ent.UserPackage, _ int) (bool, error) {
				if up.SuspendedAt == nil {
					return false, nil
				}
				_, err := d.svc.ResumeUserPackage(ctx, up.ID)
				return true, err
			},
		},
		{key: "delete", label: "Delete", done: "deleted", danger: true,
			apply: func(ctx context.Context, up *ent.UserPackage, _ int) (bool, error) {
				_, err := d.svc.DeleteUserPackage(ctx, up.ID)
				return true, err
			},
			effect: fixedEffect("Their users lose what these packages grant at once. This cannot be undone."),
		},
	}
	f := &rs.form
	f.fields = []string{"userID", "packageID", "days", "startsAt", "expiresAt"}
	f.blank = d.newUserPackageForm
	f.edit = func(r *http.Request, up *ent.UserPackage) (userPackageForm, error) {
		return userPackageForm{Form: userpackages.Form{
			ID: up.ID, Label: userpackages.Label(up),
			StartsAt: components.InputTime(up.StartsAt), ExpiresAt: components.InputTime(up.ExpiresAt),
			Errors: components.Errors{}, Return: returnOf(r),
		}}, nil
	}
	f.read = d.readUserPackageForm
	f.again = func(_ *http.Request, uf *userPackageForm) int { return uf.again }
	f.create = func(ctx context.Context, uf userPackageForm) (*ent.UserPackage, error) {
		return d.svc.AssignPackage(ctx, uf.assign)
	}
	f.update = func(ctx context.Context, up *ent.UserPackage, uf userPackageForm) (*ent.UserPackage, error) {
		return d.svc.UpdateUserPackage(ctx, up.ID, uf.update)
	}
	f.view = func(p layout.Page, uf userPackageForm) templ.Component { return userpackages.FormPage(p, uf.Form) }
	rs.savedText = func(up *ent.UserPackage, uf userPackageForm, created bool) string {
		when := components.FormatTimeIn(up.ExpiresAt, uf.zone)
		switch {
		case !created:
			return "Saved " + uf.Label + ": " + components.FormatTimeIn(up.StartsAt, uf.zone) + " – " + when + "."
		case up.CreatedAt.Before(uf.before):
			return "The user already held this package: it now expires " + when + "."
		}
		return "Package assigned until " + when + "."
	}
	return rs
}

// newUserPackageForm is the "Assign a package" form, with the user or
// package of ?userID= and ?packageID= chosen.
func (d *Dashboard) newUserPackageForm(r *http.Request) (userPackageForm, error) {
	ctx := r.Context()
	f := assignForm(r)
	q := r.URL.Query()
	if v := q.Get("userID"); isID(v) {
		if err := d.setChoice(ctx, pickUsers, &f.User, v); err != nil {
			return userPackageForm{}, err
		}
	}
	if v := q.Get("packageID"); isID(v) {
		if err := d.setChoice(ctx, pickPackages, &f.Package, v); err != nil {
			return userPackageForm{}, err
		}
		f.Days = f.Package.Days
	}
	f.User.Autofocus = f.User.Value == ""
	return userPackageForm{Form: f}, nil
}

// readUserPackageForm decodes a posted user package form: a new one's
// pickers (a search shows the form again) and "use its days", or an
// existing one's dates.
func (d *Dashboard) readUserPackageForm(r *http.Request, old **ent.UserPackage) (userPackageForm, components.Errors, error) {
	ctx := r.Context()
	fr := newFormReader(r)
	out := userPackageForm{zone: components.Zone(ctx)}
	if old != nil {
		up := *old
		out.Form = userpackages.Form{
			ID: up.ID, Label: userpackages.Label(up), StartsAt: fr.str("startsAt"), ExpiresAt: fr.str("expiresAt"),
			Errors: fr.errs, Return: returnOf(r),
		}
		out.update = service.UpdateUserPackageInput{StartsAt: fr.requiredTime("startsAt"), ExpiresAt: fr.requiredTime("expiresAt")}
		return out, out.Errors, nil
	}
	f := assignForm(r)
	f.Errors = fr.errs
	f.Days, f.StartsAt = fr.str("days"), fr.str("startsAt")
	var stepU, stepP pickStep
	var err error
	if f.User, stepU, err = d.readPicker(ctx, pickUsers, f.User, r.PostForm, pickOpts{}); err == nil {
		f.Package, stepP, err = d.readPicker(ctx, pickPackages, f.Package, r.PostForm, pickOpts{})
	}
	if err != nil {
		return out, nil, err
	}
	out.Form = f
	if stepU == pickFind || stepP == pickFind {
		out.again = http.StatusOK
		return out, f.Errors, nil
	}
	if stepU == pickChoose {
		f.Errors.Add("userID", pickError(f.User))
	}
	if stepP == pickChoose {
		f.Errors.Add("packageID", pickError(f.Package))
	}
	if r.PostForm.Get("action") == "prefill" {
		// "Use its days": show the form again with the package's days.
		if f.Package.Days != "" {
			out.Days = f.Package.Days
		} else {
			f.Errors.Add("packageID", "choose a package")
		}
		out.again = http.StatusOK
		if f.Errors.Any() {
			out.again = http.StatusUnprocessableEntity
		}
		return out, f.Errors, nil
	}
	out.assign = service.AssignPackageInput{
		UserID:    pickedID(f.Errors, f.User),
		PackageID: pickedID(f.Errors, f.Package),
		Days:      fr.optInteger("days"),
		StartsAt:  fr.optTime("startsAt"),
	}
	// A row created by this call has a creation time no earlier than this
	// (both as the database keeps times: to the microsecond).
	out.before = schema.Now()
	return out, f.Errors, nil
}

// userPackageDetail is a user package's page with its extend and suspend
// forms.
func (d *Dashboard) userPackageDetail(r *http.Request, p layout.Page, up *ent.UserPackage, ext userpackages.Extend, sus userpackages.Suspend) templ.Component {
	ret := returnOf(r)
	return userpackages.Detail(p, userpackages.DetailData{
		UP: up, Extend: ext, Suspend: sus, Now: d.svc.Now(), Return: ret,
		Here: components.WithReturn(userpackages.Href(up.ID), ret),
	})
}

func (d *Dashboard) renderUserPackage(w http.ResponseWriter, r *http.Request, status int, up *ent.UserPackage, ext userpackages.Extend, sus userpackages.Suspend) {
	d.render(w, r, status, d.userPackageDetail(r, d.page(r, userpackages.Label(up), "user-packages"), up, ext, sus))
}

// defaultExtend is the extend form offering the package's days.
func defaultExtend(up *ent.UserPackage) userpackages.Extend {
	ext := userpackages.Extend{}
	if up.Edges.Package != nil {
		ext.Days = strconv.Itoa(up.Edges.Package.Days)
	}
	return ext
}

// assignForm is an empty "Assign a package" form with its pickers.
func assignForm(r *http.Request) userpackages.Form {
	pk := newPicker(pickPackages, "packageID", "Package", true)
	pk.DaysTarget = components.FieldID("days")
	return userpackages.Form{
		Errors: components.Errors{}, Return: returnOf(r),
		User: newPicker(pickUsers, "userID", "User", true), Package: pk,
	}
}

func (d *Dashboard) userPackageExtend(w http.ResponseWriter, r *http.Request) {
	up, ok := d.userPackages.load(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	ext := userpackages.Extend{Days: fr.str("extendDays")}
	if days, ok := fr.integer("extendDays"); ok {
		saved, err := d.svc.UpdateUserPackage(r.Context(), up.ID, service.UpdateUserPackageInput{ExtendDays: &days})
		if err == nil {
			d.redirect(w, r, components.Or(returnOf(r), userpackages.Href(up.ID)),
				"Extended by "+components.Plural(days, "day", "days")+": "+userpackages.Label(up)+" now expires "+components.FormatTimeIn(saved.ExpiresAt, components.Zone(r.Context()))+".")
			return
		}
		if _, ok := formErrors(r, err, fr.errs, "extendDays"); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	ext.Error = components.Or(fr.errs.Get("extendDays"), fr.errs.Form())
	d.renderUserPackage(w, r, http.StatusUnprocessableEntity, up, ext, userpackages.Suspend{})
}

// userPackageSuspend suspends the user package with the reason typed, if any.
func (d *Dashboard) userPackageSuspend(w http.ResponseWriter, r *http.Request) {
	up, ok := d.userPackages.load(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	sus := userpackages.Suspend{Reason: fr.str("reason")}
	var reason *string
	if strings.TrimSpace(sus.Reason) != "" {
		reason = &sus.Reason
	}
	_, err := d.svc.SuspendUserPackage(r.Context(), up.ID, reason)
	if err == nil {
		d.redirect(w, r, components.Or(returnOf(r), userpackages.Href(up.ID)),
			"Suspended "+userpackages.Label(up)+": it grants nothing until resumed.")
		return
	}
	status, ok := formErrors(r, err, fr.errs, "reason")
	if !ok {
		d.serverError(w, r, err)
		return
	}
	if e := service.Classify(r.Context(), err); e != nil && e.Code == apperr.NotFound {
		d.notFound(w, r)
		return
	}
	sus.Error = components.Or(fr.errs.Get("reason"), fr.errs.Form())
	d.renderUserPackage(w, r, status, up, defaultExtend(up), sus)
}

// userPackageResume lifts the user package's suspension.
func (d *Dashboard) userPackageResume(w http.ResponseWriter, r *http.Request) {
	up, ok := d.userPackages.load(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.ResumeUserPackage(r.Context(), up.ID); err != nil {
		d.failure(w, r, err)
		return
	}
	d.redirect(w, r, components.Or(returnOf(r), userpackages.Href(up.ID)), "Resumed "+userpackages.Label(up)+".")
}
