package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/predicate"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/features"
	"gatehouse/views/layout"
)

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

func (d *Dashboard) featureResource() *resource[*ent.Feature, features.Form] {
	rs := &resource[*ent.Feature, features.Form]{
		d: d, name: "feature", plural: "features", title: "Features",
		path: features.Path, section: "features", subject: events.SubjectFeature,
		table: entTable[*ent.Feature, *ent.FeatureQuery, predicate.Feature, feature.OrderOption](d.client.Feature.Query),
		get:   d.client.Feature.Get,
		id:    func(f *ent.Feature) int { return f.ID },
		label: func(f *ent.Feature) string { return f.Key },

		searchLabel: "Key, name or description",
		search: func(q string) func(*sql.Selector) {
			return feature.Or(feature.KeyContainsFold(q), feature.NameContainsFold(q), feature.DescriptionContainsFold(q))
		},
		filters: []filter{{name: "kind", title: "Kind", ok: isFeatureKind,
			where:   func(v string) func(*sql.Selector) { return feature.KindEQ(feature.Kind(v)) },
			options: staticOptions(kindOptions("Any kind"))}},
		sorts: []sortCol[*ent.Feature]{
			{key: "key", title: "Key", column: feature.FieldKey, value: func(f *ent.Feature) any { return f.Key }},
			{key: "name", title: "Name", column: feature.FieldName, value: func(f *ent.Feature) any { return f.Name }},
			{key: "kind", title: "Kind", column: feature.FieldKind, value: func(f *ent.Feature) any { return string(f.Kind) }},
			{key: "created", title: "Created", column: feature.FieldCreatedAt, kind: kindTime, value: func(f *ent.Feature) any { return f.CreatedAt.UTC() }},
		},
		sort: "key",
		columns: []column[*ent.Feature]{
			{title: "Key", sort: "key",
				cell: func(f *ent.Feature, _ int) templ.Component { return components.Text(f.Key) },
				csv:  func(f *ent.Feature, _ int) string { return f.Key }},
			{title: "Name", sort: "name",
				cell: func(f *ent.Feature, _ int) templ.Component { return components.Text(f.Name) },
				csv:  func(f *ent.Feature, _ int) string { return f.Name }},
			{title: "Kind", sort: "kind",
				cell: func(f *ent.Feature, _ int) templ.Component { return features.KindBadge(string(f.Kind)) },
				csv:  func(f *ent.Feature, _ int) string { return string(f.Kind) }},
			{title: "Packages",
				cell: func(_ *ent.Feature, n int) templ.Component { return components.Number(n) },
				csv:  func(_ *ent.Feature, n int) string { return strconv.Itoa(n) }},
			{title: "Created", sort: "created",
				cell: func(f *ent.Feature, _ int) templ.Component { return components.When(f.CreatedAt) },
				csv:  func(f *ent.Feature, _ int) string { return csvTime(f.CreatedAt) }},
		},
		count:    d.featureUses,
		newLabel: "New feature",
		detail:   d.featureDetail,
		remove: func(ctx context.Context, f *ent.Feature) error {
			_, err := d.svc.DeleteFeature(ctx, f.ID)
			return err
		},
		removeInfo: func(ctx context.Context, f *ent.Feature) (deleteInfo, error) {
			n, err := f.QueryContents().Count(ctx)
			info := deleteInfo{Effects: []string{"Client apps asking for it are told it is unknown."}}
			if n > 0 {
				info.Blocked = components.Plural(n, "package content grants", "package contents grant") + " this feature, so it cannot be deleted."
				info.FixHref, info.FixLabel = "/admin/package-contents?feature="+url.QueryEscape(f.Key), "Remove those contents first."
			}
			return info, err
		},
	}
	rs.bulk = []bulkAction[*ent.Feature]{{key: "delete", label: "Delete", done: "deleted", danger: true,
		apply: func(ctx context.Context, f *ent.Feature, _ int) (bool, error) {
			_, err := d.svc.DeleteFeature(ctx, f.ID)
			return true, err
		},
		effect: fixedEffect("A feature that a package content still grants cannot be deleted: then nothing is."),
	}}
	f := &rs.form
	f.fields = []string{"key", "name", "description", "kind"}
	f.blank = func(r *http.Request) (features.Form, error) {
		return features.Form{Kind: string(feature.KindSWITCH), Kinds: kindOptions("Choose a kind…"), Errors: components.Errors{}, Return: returnOf(r)}, nil
	}
	f.edit = func(r *http.Request, ft *ent.Feature) (features.Form, error) { return editFeatureForm(r, ft), nil }
	f.read = func(r *http.Request, old **ent.Feature) (features.Form, components.Errors, error) {
		fr := newFormReader(r)
		if old != nil {
			// Key and kind stay the stored ones whatever was posted.
			ff := editFeatureForm(r, *old)
			ff.Name, ff.Description, ff.Errors = fr.str("name"), fr.str("description"), fr.errs
			return ff, ff.Errors, nil
		}
		ff := features.Form{
			Key: fr.str("key"), Name: fr.str("name"), Description: fr.str("description"), Kind: fr.str("kind"),
			Kinds: kindOptions("Choose a kind…"), Errors: fr.errs, Return: returnOf(r),
		}
		return ff, ff.Errors, nil
	}
	f.create = func(ctx context.Context, ff features.Form) (*ent.Feature, error) {
		return d.svc.CreateFeature(ctx, service.CreateFeatureInput{
			Key: ff.Key, Name: ff.Name, Description: &ff.Description, Kind: feature.Kind(ff.Kind),
		})
	}
	f.update = func(ctx context.Context, ft *ent.Feature, ff features.Form) (*ent.Feature, error) {
		return d.svc.UpdateFeature(ctx, ft.ID, service.UpdateFeatureInput{Name: &ff.Name, Description: &ff.Description})
	}
	f.view = features.FormPage
	return rs
}

// featureUses counts the package contents that grant each feature shown.
func (d *Dashboard) featureUses(ctx context.Context, ids []int) (map[int]int, error) {
	out := map[int]int{}
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

func (d *Dashboard) featureDetail(r *http.Request, p layout.Page, f *ent.Feature) (templ.Component, error) {
	// From the contents themselves: an edge query is DISTINCT, which
	// PostgreSQL refuses to order by a joined column.
	cs, err := d.client.PackageContent.Query().Where(packagecontent.FeatureID(f.ID)).WithPackage().
		Order(packagecontent.ByPackageField(pkg.FieldName), packagecontent.ByID()).
		Limit(maxChoices).All(r.Context())
	if err != nil {
		return nil, err
	}
	return features.Detail(p, features.DetailData{Feature: f, Contents: cs, Return: returnOf(r), Here: here(r)}), nil
}

// editFeatureForm is the form of an existing feature: key and kind are the
// stored ones whatever was posted.
func editFeatureForm(r *http.Request, ft *ent.Feature) features.Form {
	return features.Form{
		ID: ft.ID, Current: ft.Key, Key: ft.Key, Kind: string(ft.Kind),
		Name: ft.Name, Description: ft.Description, Errors: components.Errors{}, Return: returnOf(r),
	}
}
