package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/features"
)

var featureListSpec = listSpec{
	path:  features.Path,
	sorts: []string{"key", "name", "kind", "contents", "created"},
	sort:  "key",
	dir:   "asc",
	filters: map[string]func(string) bool{
		"kind": isFeatureKind,
	},
}

var featureFields = []string{"key", "name", "description", "kind"}

func isFeatureKind(v string) bool { return feature.KindValidator(feature.Kind(v)) == nil }

// kindOptions are the feature kinds, after a first option labelled first.
func kindOptions(first string) []components.Option {
	return []components.Option{
		{Value: "", Label: first},
		{Value: string(feature.KindSWITCH), Label: "Switch (on or off)"},
		{Value: string(feature.KindLIMIT), Label: "Limit (a number per package)"},
	}
}

// featureOptions are the features of the catalogue to choose from, after a
// first option labelled first; an option's value is the feature's key (what
// the service's inputs name a feature by). kinds maps each key to its kind.
func (d *Dashboard) featureOptions(ctx context.Context, first string) ([]components.Option, map[string]feature.Kind, error) {
	fs, err := d.client.Feature.Query().Order(feature.ByName(), feature.ByKey()).Limit(maxChoices).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := []components.Option{{Value: "", Label: first}}
	kinds := make(map[string]feature.Kind, len(fs))
	for _, f := range fs {
		label := f.Name + " (" + f.Key + ")"
		if f.Kind == feature.KindLIMIT {
			label += " · limit"
		}
		out = append(out, components.Option{Value: f.Key, Label: label, Kind: string(f.Kind)})
		kinds[f.Key] = f.Kind
	}
	return out, kinds, nil
}

// featureIDOptions are the features to filter by, by id.
func (d *Dashboard) featureIDOptions(ctx context.Context, first string) ([]components.Option, error) {
	fs, err := d.client.Feature.Query().Order(feature.ByName(), feature.ByKey()).Limit(maxChoices).All(ctx)
	if err != nil {
		return nil, err
	}
	out := []components.Option{{Value: "", Label: first}}
	for _, f := range fs {
		out = append(out, components.Option{Value: strconv.Itoa(f.ID), Label: f.Name + " (" + f.Key + ")"})
	}
	return out, nil
}

func (d *Dashboard) featureList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, featureListSpec)
	q := d.client.Feature.Query()
	if l.Q != "" {
		q.Where(feature.Or(
			feature.KeyContainsFold(l.Q),
			feature.NameContainsFold(l.Q),
			feature.DescriptionContainsFold(l.Q),
		))
	}
	if v := l.Filter("kind"); v != "" {
		q.Where(feature.KindEQ(feature.Kind(v)))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order feature.OrderOption
	switch l.Sort {
	case "name":
		order = feature.ByName(o)
	case "kind":
		order = feature.ByKind(o)
	case "contents":
		order = feature.ByContentsCount(o)
	case "created":
		order = feature.ByCreatedAt(o)
	default:
		order = feature.ByKey(o)
	}
	rows, err := q.Order(order, feature.ByID(o)).Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	uses, err := d.featureUses(ctx, rows)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, features.List(d.page(r, "Features", "features"), features.ListData{
		List: l, Rows: rows, Uses: uses, Kinds: kindOptions("Any kind"),
	}))
}

// featureUses counts the package contents that grant each feature shown.
func (d *Dashboard) featureUses(ctx context.Context, rows []*ent.Feature) (map[int]int, error) {
	out := map[int]int{}
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int, len(rows))
	for i, f := range rows {
		ids[i] = f.ID
	}
	var counts []struct {
		FeatureID int `json:"feature_id"`
		Count     int `json:"count"`
	}
	err := d.client.PackageContent.Query().
		Where(packagecontent.FeatureIDIn(ids...)).
		GroupBy(packagecontent.FieldFeatureID).
		Aggregate(ent.Count()).
		Scan(ctx, &counts)
	for _, c := range counts {
		out[c.FeatureID] = c.Count
	}
	return out, err
}

func (d *Dashboard) loadFeature(w http.ResponseWriter, r *http.Request) (*ent.Feature, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	f, err := d.client.Feature.Get(r.Context(), id)
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return f, true
}

func (d *Dashboard) featureDetail(w http.ResponseWriter, r *http.Request) {
	f, ok := d.loadFeature(w, r)
	if !ok {
		return
	}
	// From the contents themselves: an edge query is DISTINCT, which
	// PostgreSQL refuses to order by a joined column.
	cs, err := d.client.PackageContent.Query().Where(packagecontent.FeatureID(f.ID)).WithPackage().
		Order(packagecontent.ByPackageField(pkg.FieldName), packagecontent.ByID()).
		Limit(maxChoices).All(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, features.Detail(d.page(r, f.Name, "features"), features.DetailData{
		Feature: f, Contents: cs, Return: returnOf(r), Here: here(r),
	}))
}

func (d *Dashboard) featureNew(w http.ResponseWriter, r *http.Request) {
	f := features.Form{Kind: string(feature.KindSWITCH), Kinds: kindOptions("Choose a kind…"), Errors: components.Errors{}, Return: returnOf(r)}
	d.render(w, r, http.StatusOK, features.FormPage(d.page(r, "New feature", "features"), f))
}

func (d *Dashboard) featureCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	f := features.Form{
		Key: fr.str("key"), Name: fr.str("name"), Description: fr.str("description"), Kind: fr.str("kind"),
		Kinds: kindOptions("Choose a kind…"), Errors: fr.errs, Return: returnOf(r),
	}
	saved, err := d.svc.CreateFeature(ctx, service.CreateFeatureInput{
		Key: f.Key, Name: f.Name, Description: &f.Description, Kind: feature.Kind(f.Kind),
	})
	if err == nil {
		d.redirect(w, r, components.WithReturn(features.Href(saved.ID), f.Return), "Feature "+saved.Key+" created.")
		return
	}
	status, ok := formErrors(r, err, f.Errors, featureFields...)
	if !ok {
		d.serverError(w, r, err)
		return
	}
	d.render(w, r, status, features.FormPage(d.page(r, "New feature", "features"), f))
}

// editFeatureForm is the form of an existing feature: key and kind are the
// stored ones whatever was posted.
func editFeatureForm(r *http.Request, ft *ent.Feature) features.Form {
	return features.Form{
		ID: ft.ID, Current: ft.Key, Key: ft.Key, Kind: string(ft.Kind),
		Name: ft.Name, Description: ft.Description, Errors: components.Errors{}, Return: returnOf(r),
	}
}

func (d *Dashboard) featureEdit(w http.ResponseWriter, r *http.Request) {
	ft, ok := d.loadFeature(w, r)
	if !ok {
		return
	}
	d.render(w, r, http.StatusOK, features.FormPage(d.page(r, "Edit feature "+ft.Key, "features"), editFeatureForm(r, ft)))
}

func (d *Dashboard) featureUpdate(w http.ResponseWriter, r *http.Request) {
	ft, ok := d.loadFeature(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	fr := newFormReader(r)
	f := editFeatureForm(r, ft)
	f.Name, f.Description, f.Errors = fr.str("name"), fr.str("description"), fr.errs
	saved, err := d.svc.UpdateFeature(r.Context(), ft.ID, service.UpdateFeatureInput{Name: &f.Name, Description: &f.Description})
	if err == nil {
		d.redirect(w, r, Or(f.Return, features.Href(ft.ID)), "Feature "+saved.Key+" saved.")
		return
	}
	status, ok := formErrors(r, err, f.Errors, featureFields...)
	if !ok {
		d.serverError(w, r, err)
		return
	}
	d.render(w, r, status, features.FormPage(d.page(r, "Edit feature "+ft.Key, "features"), f))
}

func (d *Dashboard) featureDeleteData(r *http.Request, f *ent.Feature) (features.DeleteData, error) {
	n, err := f.QueryContents().Count(r.Context())
	return features.DeleteData{Feature: f, Used: n, Return: returnOf(r)}, err
}

func (d *Dashboard) featureDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	f, ok := d.loadFeature(w, r)
	if !ok {
		return
	}
	dd, err := d.featureDeleteData(r, f)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, features.Delete(d.page(r, "Delete feature "+f.Key, "features"), dd))
}

func (d *Dashboard) featureDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, ok := d.loadFeature(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeleteFeature(ctx, f.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		dd, derr := d.featureDeleteData(r, f)
		if derr != nil {
			d.failure(w, r, derr)
			return
		}
		dd.Error = e.Message
		d.render(w, r, statusOf(e), features.Delete(d.page(r, "Delete feature "+f.Key, "features"), dd))
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), features.Href(f.ID), features.Path), "Feature "+f.Key+" deleted.")
}
