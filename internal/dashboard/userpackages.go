package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"gatehouse/ent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/userpackages"
)

var assignmentListSpec = listSpec{
	path:  userpackages.Path,
	sorts: []string{"user", "package", "startsAt", "expiresAt", "created"},
	sort:  "created",
	dir:   "desc",
	filters: map[string]func(string) bool{
		"status":    isState,
		"packageID": isID,
		"userID":    isID,
	},
}

// isState accepts the name of an assignment state, such as IN_GRACE.
func isState(v string) bool {
	for _, st := range access.States() {
		if v == string(st) {
			return true
		}
	}
	return false
}

var assignmentFields = []string{"userID", "packageID", "days", "startsAt", "expiresAt"}

func (d *Dashboard) assignmentList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, assignmentListSpec)
	userPick, err := d.filterPicker(ctx, r, &l, pickUsers, "userID", "User")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	pkgPick, err := d.filterPicker(ctx, r, &l, pickPackages, "packageID", "Package")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	now := d.svc.Now()
	q := d.client.UserPackage.Query()
	if l.Q != "" {
		q.Where(userpackage.Or(
			userpackage.HasUserWith(user.UsernameFoldContains(strings.ToLower(l.Q))),
			userpackage.HasPackageWith(pkg.NameContainsFold(l.Q)),
		))
	}
	if st := l.Filter("status"); st != "" {
		q.Where(access.StateAt(access.State(st), now))
	}
	if id := filterID(l, "packageID"); id != 0 {
		q.Where(userpackage.PackageID(id))
	}
	if id := filterID(l, "userID"); id != 0 {
		q.Where(userpackage.UserID(id))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order userpackage.OrderOption
	switch l.Sort {
	case "user":
		order = userpackage.ByUserField(user.FieldUsernameFold, o)
	case "package":
		order = userpackage.ByPackageField(pkg.FieldName, o)
	case "startsAt":
		order = userpackage.ByStartsAt(o)
	case "expiresAt":
		order = userpackage.ByExpiresAt(o)
	default:
		order = userpackage.ByCreatedAt(o)
	}
	rows, err := q.Order(order, userpackage.ByID(o)).WithUser().WithPackage().Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	data := userpackages.ListData{List: l, Rows: rows, Now: now, User: userPick, Package: pkgPick}
	d.render(w, r, http.StatusOK, userpackages.List(d.page(r, "User packages", "user-packages"), data))
}

func (d *Dashboard) loadAssignment(w http.ResponseWriter, r *http.Request) (*ent.UserPackage, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	up, err := d.client.UserPackage.Query().Where(userpackage.ID(id)).
		WithUser().
		WithPackage(func(q *ent.PkgQuery) { q.WithContents(func(cq *ent.PackageContentQuery) { cq.WithFeature() }) }).
		Only(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return up, true
}

func (d *Dashboard) renderAssignment(w http.ResponseWriter, r *http.Request, status int, up *ent.UserPackage, ext userpackages.Extend, sus userpackages.Suspend) {
	ret := returnOf(r)
	d.render(w, r, status, userpackages.Detail(d.page(r, userpackages.Label(up), "user-packages"), userpackages.DetailData{
		UP: up, Extend: ext, Suspend: sus, Now: d.svc.Now(), Return: ret,
		Here: components.WithReturn(userpackages.Href(up.ID), ret),
	}))
}

// defaultExtend is the extend form offering the package's days.
func defaultExtend(up *ent.UserPackage) userpackages.Extend {
	ext := userpackages.Extend{}
	if up.Edges.Package != nil {
		ext.Days = strconv.Itoa(up.Edges.Package.Days)
	}
	return ext
}

func (d *Dashboard) assignmentDetail(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok {
		return
	}
	d.renderAssignment(w, r, http.StatusOK, up, defaultExtend(up), userpackages.Suspend{})
}

// assignmentForm is an empty new-assignment form with its pickers.
func assignmentForm(r *http.Request) userpackages.Form {
	pk := newPicker(pickPackages, "packageID", "Package", true)
	pk.DaysTarget = components.FieldID("days")
	return userpackages.Form{
		Errors: components.Errors{}, Return: returnOf(r),
		User: newPicker(pickUsers, "userID", "User", true), Package: pk,
	}
}

func (d *Dashboard) assignmentNew(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f := assignmentForm(r)
	q := r.URL.Query()
	if v := q.Get("userID"); isID(v) {
		if err := d.setChoice(ctx, pickUsers, &f.User, v); err != nil {
			d.failure(w, r, err)
			return
		}
	}
	if v := q.Get("packageID"); isID(v) {
		if err := d.setChoice(ctx, pickPackages, &f.Package, v); err != nil {
			d.failure(w, r, err)
			return
		}
		f.Days = f.Package.Days
	}
	f.User.Autofocus = f.User.Value == ""
	d.render(w, r, http.StatusOK, userpackages.FormPage(d.page(r, "Assign a package", "user-packages"), f))
}

func (d *Dashboard) assignmentCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !d.parseForm(w, r) {
		return
	}
	f := assignmentForm(r)
	fr := newFormReader(r)
	f.Errors = fr.errs
	f.Days, f.StartsAt = fr.str("days"), fr.str("startsAt")
	page := d.page(r, "Assign a package", "user-packages")
	var stepU, stepP pickStep
	var err error
	if f.User, stepU, err = d.readPicker(ctx, pickUsers, f.User, r.PostForm, pickOpts{}); err == nil {
		f.Package, stepP, err = d.readPicker(ctx, pickPackages, f.Package, r.PostForm, pickOpts{})
	}
	if err != nil {
		d.failure(w, r, err)
		return
	}
	if stepU == pickFind || stepP == pickFind {
		d.render(w, r, http.StatusOK, userpackages.FormPage(page, f))
		return
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
			f.Days = f.Package.Days
		} else {
			f.Errors.Add("packageID", "choose a package")
		}
		status := http.StatusOK
		if f.Errors.Any() {
			status = http.StatusUnprocessableEntity
		}
		d.render(w, r, status, userpackages.FormPage(page, f))
		return
	}
	in := service.AssignPackageInput{
		UserID:    pickedID(f.Errors, f.User),
		PackageID: pickedID(f.Errors, f.Package),
		Days:      fr.optInteger("days"),
		StartsAt:  fr.optTime("startsAt"),
	}
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		// A row created by this call has a creation time no earlier than
		// this (both as the database keeps times: to the microsecond); an
		// assignment the call extended instead is older.
		before := schema.Now()
		up, err := d.svc.AssignPackage(ctx, in)
		if err == nil {
			msg := "Package assigned until " + components.FormatTime(up.ExpiresAt) + "."
			if up.CreatedAt.Before(before) {
				msg = "The user already held this package: it now expires " + components.FormatTime(up.ExpiresAt) + "."
			}
			d.redirect(w, r, components.WithReturn(userpackages.Href(up.ID), f.Return), msg)
			return
		}
		var ok bool
		if status, ok = formErrors(r, err, f.Errors, assignmentFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, userpackages.FormPage(page, f))
}

func (d *Dashboard) assignmentEdit(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok {
		return
	}
	f := userpackages.Form{
		ID: up.ID, Label: userpackages.Label(up),
		StartsAt: components.InputTime(up.StartsAt), ExpiresAt: components.InputTime(up.ExpiresAt),
		Errors: components.Errors{}, Return: returnOf(r),
	}
	d.render(w, r, http.StatusOK, userpackages.FormPage(d.page(r, "Edit "+f.Label, "user-packages"), f))
}

func (d *Dashboard) assignmentUpdate(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	f := userpackages.Form{
		ID: up.ID, Label: userpackages.Label(up), StartsAt: fr.str("startsAt"), ExpiresAt: fr.str("expiresAt"),
		Errors: fr.errs, Return: returnOf(r),
	}
	in := service.UpdateUserPackageInput{StartsAt: fr.requiredTime("startsAt"), ExpiresAt: fr.requiredTime("expiresAt")}
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		saved, err := d.svc.UpdateUserPackage(r.Context(), up.ID, in)
		if err == nil {
			d.redirect(w, r, Or(f.Return, userpackages.Href(up.ID)),
				"Saved "+f.Label+": "+components.FormatTime(saved.StartsAt)+" – "+components.FormatTime(saved.ExpiresAt)+".")
			return
		}
		if status, ok = formErrors(r, err, f.Errors, assignmentFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, userpackages.FormPage(d.page(r, "Edit "+f.Label, "user-packages"), f))
}

func (d *Dashboard) assignmentExtend(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	ext := userpackages.Extend{Days: fr.str("extendDays")}
	if days, ok := fr.integer("extendDays"); ok {
		saved, err := d.svc.UpdateUserPackage(r.Context(), up.ID, service.UpdateUserPackageInput{ExtendDays: &days})
		if err == nil {
			d.redirect(w, r, Or(returnOf(r), userpackages.Href(up.ID)),
				"Extended by "+components.Plural(days, "day", "days")+": "+userpackages.Label(up)+" now expires "+components.FormatTime(saved.ExpiresAt)+".")
			return
		}
		if _, ok := formErrors(r, err, fr.errs, "extendDays"); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	ext.Error = Or(fr.errs.Get("extendDays"), fr.errs.Form())
	d.renderAssignment(w, r, http.StatusUnprocessableEntity, up, ext, userpackages.Suspend{})
}

// assignmentSuspend suspends the assignment with the reason typed, if any.
func (d *Dashboard) assignmentSuspend(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
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
		d.redirect(w, r, Or(returnOf(r), userpackages.Href(up.ID)),
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
	sus.Error = Or(fr.errs.Get("reason"), fr.errs.Form())
	d.renderAssignment(w, r, status, up, defaultExtend(up), sus)
}

// assignmentResume lifts the assignment's suspension.
func (d *Dashboard) assignmentResume(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.ResumeUserPackage(r.Context(), up.ID); err != nil {
		d.failure(w, r, err)
		return
	}
	d.redirect(w, r, Or(returnOf(r), userpackages.Href(up.ID)), "Resumed "+userpackages.Label(up)+".")
}

func (d *Dashboard) assignmentDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	up, ok := d.loadAssignment(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, userpackages.Delete(d.page(r, "Delete "+userpackages.Label(up), "user-packages"), userpackages.DeleteData{
		UP: up, Now: d.svc.Now(), Return: returnOf(r),
	}))
}

func (d *Dashboard) assignmentDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	up, ok := d.loadAssignment(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeleteUserPackage(ctx, up.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		d.render(w, r, statusOf(e), userpackages.Delete(d.page(r, "Delete "+userpackages.Label(up), "user-packages"), userpackages.DeleteData{
			UP: up, Now: d.svc.Now(), Error: e.Message, Return: returnOf(r),
		}))
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), userpackages.Href(up.ID), userpackages.Path),
		"Deleted the assignment "+userpackages.Label(up)+".")
}
