package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/contents"
)

var contentListSpec = listSpec{
	path:  contents.Path,
	sorts: []string{"name", "feature", "limit", "package", "created"},
	sort:  "package",
	dir:   "asc",
	filters: map[string]func(string) bool{
		"packageID": isID,
		"feature":   isFeatureKey,
	},
}

var contentFields = []string{"packageID", "name", "featureKey", "limit"}

// maxChoices bounds the records a selector offers (the feature
// catalogue's; users and packages have pickers: pick.go).
const maxChoices = 1000

func (d *Dashboard) contentList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, contentListSpec)
	pkgPick, err := d.filterPicker(ctx, r, &l, pickPackages, "packageID", "Package")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	q := d.client.PackageContent.Query()
	if l.Q != "" {
		q.Where(packagecontent.Or(
			packagecontent.NameContainsFold(l.Q),
			packagecontent.HasPackageWith(pkg.NameContainsFold(l.Q)),
			packagecontent.HasFeatureWith(feature.Or(feature.KeyContainsFold(l.Q), feature.NameContainsFold(l.Q))),
		))
	}
	if id := filterID(l, "packageID"); id != 0 {
		q.Where(packagecontent.PackageID(id))
	}
	if v := l.Filter("feature"); v != "" {
		q.Where(packagecontent.HasFeatureWith(feature.Key(v)))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order []packagecontent.OrderOption
	switch l.Sort {
	case "name":
		order = append(order, packagecontent.ByName(o))
	case "feature":
		order = append(order, packagecontent.ByFeatureField(feature.FieldKey, o))
	case "limit":
		order = append(order, packagecontent.ByLimit(o, sql.OrderNullsLast()))
	case "created":
		order = append(order, packagecontent.ByCreatedAt(o))
	default:
		order = append(order, packagecontent.ByPackageField(pkg.FieldName, o), packagecontent.ByFeatureField(feature.FieldKey))
	}
	rows, err := q.Order(append(order, packagecontent.ByID(o))...).WithPackage().WithFeature().Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	feats, _, err := d.featureOptions(ctx, "Any feature")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, contents.List(d.page(r, "Package contents", "package-contents"), contents.ListData{
		List: l, Rows: rows, Package: pkgPick, Features: feats,
	}))
}

func (d *Dashboard) loadContent(w http.ResponseWriter, r *http.Request) (*ent.PackageContent, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	c, err := d.client.PackageContent.Query().Where(packagecontent.ID(id)).WithPackage().WithFeature().Only(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return c, true
}

func (d *Dashboard) contentDetail(w http.ResponseWriter, r *http.Request) {
	c, ok := d.loadContent(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, contents.Detail(d.page(r, c.Name, "package-contents"), contents.DetailData{
		Content: c, Return: returnOf(r), Here: here(r),
	}))
}

// contentForm is an empty content form with its pickers (a new content
// also chooses its package).
func contentForm(r *http.Request) contents.Form {
	ft := newPicker(pickFeatures, "featureKey", "Feature", true)
	ft.Help = "The feature this content grants, from the catalogue; a package grants each feature once."
	ft.LimitTarget = components.FieldID("limit")
	return contents.Form{
		Errors: components.Errors{}, Return: returnOf(r),
		Package: newPicker(pickPackages, "packageID", "Package", true), Feature: ft,
	}
}

// readContentPickers reads the form's pickers (the package's only for a
// new content) and reports the step to take.
func (d *Dashboard) readContentPickers(ctx context.Context, r *http.Request, f *contents.Form) (pickStep, error) {
	step := pickDone
	if f.ID == 0 {
		var err error
		if f.Package, step, err = d.readPicker(ctx, pickPackages, f.Package, r.PostForm, pickOpts{}); err != nil {
			return step, err
		}
		if step == pickChoose {
			f.Errors.Add("packageID", pickError(f.Package))
		}
	}
	var fs pickStep
	var err error
	if f.Feature, fs, err = d.readPicker(ctx, pickFeatures, f.Feature, r.PostForm, pickOpts{}); err != nil {
		return fs, err
	}
	if fs == pickChoose {
		f.Errors.Add("featureKey", pickError(f.Feature))
	}
	return max(step, fs), nil
}

func (d *Dashboard) contentNew(w http.ResponseWriter, r *http.Request) {
	f := contentForm(r)
	if v := r.URL.Query().Get("packageID"); isID(v) {
		if err := d.setChoice(r.Context(), pickPackages, &f.Package, v); err != nil {
			d.failure(w, r, err)
			return
		}
	}
	f.Package.Autofocus = f.Package.Value == ""
	d.render(w, r, http.StatusOK, contents.FormPage(d.page(r, "New package content", "package-contents"), f))
}

func (d *Dashboard) contentCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !d.parseForm(w, r) {
		return
	}
	f := contentForm(r)
	fr := newFormReader(r)
	f.Errors = fr.errs
	f.Name, f.Limit = fr.str("name"), fr.str("limit")
	step, err := d.readContentPickers(ctx, r, &f)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	if step == pickFind {
		d.render(w, r, http.StatusOK, contents.FormPage(d.page(r, "New package content", "package-contents"), f))
		return
	}
	pkgID := pickedID(f.Errors, f.Package)
	limit := fr.optInteger("limit")
	status := http.StatusUnprocessableEntity
	if !f.Errors.Any() {
		c, err := d.svc.CreatePackageContent(ctx, service.CreatePackageContentInput{
			PackageID: pkgID, Name: f.Name, FeatureKey: f.Feature.Value, Limit: limit,
		})
		if err == nil {
			d.redirect(w, r, components.WithReturn(contents.Href(c.ID), f.Return), "Content "+c.Name+" added.")
			return
		}
		var ok bool
		if status, ok = formErrors(r, err, f.Errors, contentFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, contents.FormPage(d.page(r, "New package content", "package-contents"), f))
}

func (d *Dashboard) contentEdit(w http.ResponseWriter, r *http.Request) {
	c, ok := d.loadContent(w, r)
	if !ok {
		return
	}
	f := contentForm(r)
	f.ID, f.Current, f.PackageName, f.Name = c.ID, c.Name, pkgLabel(c), c.Name
	if c.Edges.Feature != nil {
		if err := d.setChoice(r.Context(), pickFeatures, &f.Feature, c.Edges.Feature.Key); err != nil {
			d.failure(w, r, err)
			return
		}
	}
	if c.Limit != nil {
		f.Limit = strconv.Itoa(*c.Limit)
	}
	d.render(w, r, http.StatusOK, contents.FormPage(d.page(r, "Edit content "+c.Name, "package-contents"), f))
}

func pkgLabel(c *ent.PackageContent) string {
	if c.Edges.Package != nil {
		return c.Edges.Package.Name
	}
	return "#" + strconv.Itoa(c.PackageID)
}

func (d *Dashboard) contentUpdate(w http.ResponseWriter, r *http.Request) {
	c, ok := d.loadContent(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	f := contentForm(r)
	fr := newFormReader(r)
	f.ID, f.Current, f.PackageName, f.Errors = c.ID, c.Name, pkgLabel(c), fr.errs
	f.Name, f.Limit = fr.str("name"), fr.str("limit")
	step, err := d.readContentPickers(r.Context(), r, &f)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	if step == pickFind {
		d.render(w, r, http.StatusOK, contents.FormPage(d.page(r, "Edit content "+c.Name, "package-contents"), f))
		return
	}
	limit := fr.optInteger("limit")
	// The service keeps the stored limit when none is given; this form
	// shows the limit, so an emptied field is a limit left out, not one
	// kept.
	if limit == nil && f.Feature.FeatureKind == string(feature.KindLIMIT) {
		f.Errors.Add("limit", "is required for the LIMIT feature "+f.Feature.Value)
	}
	if f.Errors.Any() {
		d.render(w, r, http.StatusUnprocessableEntity, contents.FormPage(d.page(r, "Edit content "+c.Name, "package-contents"), f))
		return
	}
	saved, err := d.svc.UpdatePackageContent(r.Context(), c.ID, service.UpdatePackageContentInput{
		Name: &f.Name, FeatureKey: &f.Feature.Value, Limit: limit,
	})
	if err == nil {
		d.redirect(w, r, Or(f.Return, contents.Href(c.ID)), "Content "+saved.Name+" saved.")
		return
	}
	status, ok := formErrors(r, err, f.Errors, contentFields...)
	if !ok {
		d.serverError(w, r, err)
		return
	}
	d.render(w, r, status, contents.FormPage(d.page(r, "Edit content "+c.Name, "package-contents"), f))
}

func (d *Dashboard) contentDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	c, ok := d.loadContent(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, contents.Delete(d.page(r, "Delete content "+c.Name, "package-contents"), contents.DeleteData{
		Content: c, Return: returnOf(r),
	}))
}

func (d *Dashboard) contentDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, ok := d.loadContent(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeletePackageContent(ctx, c.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		d.render(w, r, statusOf(e), contents.Delete(d.page(r, "Delete content "+c.Name, "package-contents"), contents.DeleteData{
			Content: c, Error: e.Message, Return: returnOf(r),
		}))
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), contents.Href(c.ID), contents.Path),
		"Content "+c.Name+" removed from "+pkgLabel(c)+".")
}
