package dashboard

import (
	"context"
	"net/http"
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
	"gatehouse/views/contents"
	"gatehouse/views/layout"
	"gatehouse/views/packages"
)

// maxChoices bounds the records a selector offers (the feature
// catalogue's; users and packages have pickers: pick.go).
const maxChoices = 1000

// contentForm is the package content form with what it decoded for the
// service.
type contentForm struct {
	contents.Form
	create service.CreatePackageContentInput
	update service.UpdatePackageContentInput
	again  int
}

func (d *Dashboard) contentResource() *resource[*ent.PackageContent, contentForm] {
	rs := &resource[*ent.PackageContent, contentForm]{
		d: d, name: "package content", plural: "package contents", title: "Package contents",
		path: contents.Path, section: "package-contents", subject: events.SubjectPackageContent,
		table: entTable[*ent.PackageContent, *ent.PackageContentQuery, predicate.PackageContent, packagecontent.OrderOption](func() *ent.PackageContentQuery {
			return d.client.PackageContent.Query().WithPackage().WithFeature()
		}),
		get: func(ctx context.Context, id int) (*ent.PackageContent, error) {
			return d.client.PackageContent.Query().Where(packagecontent.ID(id)).WithPackage().WithFeature().Only(ctx)
		},
		id:    func(c *ent.PackageContent) int { return c.ID },
		label: func(c *ent.PackageContent) string { return c.Name },

		searchLabel: "Name, package or feature",
		search: func(q string) func(*sql.Selector) {
			return packagecontent.Or(
				packagecontent.NameContainsFold(q),
				packagecontent.HasPackageWith(pkg.NameContainsFold(q)),
				packagecontent.HasFeatureWith(feature.Or(feature.KeyContainsFold(q), feature.NameContainsFold(q))),
			)
		},
		filters: []filter{
			{name: "packageID", title: "Package", ok: isID, pick: &pickPackages,
				where: idWhere(packagecontent.PackageID)},
			{name: "feature", title: "Feature", ok: isFeatureKey,
				where: func(v string) func(*sql.Selector) { return packagecontent.HasFeatureWith(feature.Key(v)) },
				options: func(ctx context.Context) ([]components.Option, error) {
					opts, _, err := d.featureOptions(ctx, "Any feature")
					return opts, err
				}},
		},
		sorts: []sortCol[*ent.PackageContent]{
			{key: "name", title: "Name", column: packagecontent.FieldName, value: func(c *ent.PackageContent) any { return c.Name }},
			{key: "limit", title: "Limit", column: packagecontent.FieldLimit, kind: kindInt, nullable: true, value: func(c *ent.PackageContent) any {
				if c.Limit == nil {
					return nil
				}
				return *c.Limit
			}},
			{key: "created", title: "Created", column: packagecontent.FieldCreatedAt, kind: kindTime, value: func(c *ent.PackageContent) any { return c.CreatedAt.UTC() }},
		},
		sort: "name",
		columns: []column[*ent.PackageContent]{
			{title: "Name", sort: "name",
				cell: func(c *ent.PackageContent, _ int) templ.Component { return components.Text(c.Name) },
				csv:  func(c *ent.PackageContent, _ int) string { return c.Name }},
			{title: "Feature",
				cell: func(c *ent.PackageContent, _ int) templ.Component { return packages.FeatureCell(c) },
				csv: func(c *ent.PackageContent, _ int) string {
					if c.Edges.Feature == nil {
						return ""
					}
					return c.Edges.Feature.Key
				}},
			{title: "Limit", sort: "limit",
				cell: func(c *ent.PackageContent, _ int) templ.Component { return packages.LimitCell(c) },
				csv: func(c *ent.PackageContent, _ int) string {
					if c.Limit == nil {
						return ""
					}
					return strconv.Itoa(*c.Limit)
				}},
			{title: "Package",
				cell: func(c *ent.PackageContent, _ int) templ.Component { return contents.PackageCell(c) },
				csv:  func(c *ent.PackageContent, _ int) string { return pkgLabel(c) }},
			{title: "Created", sort: "created",
				cell: func(c *ent.PackageContent, _ int) templ.Component { return components.When(c.CreatedAt) },
				csv:  func(c *ent.PackageContent, _ int) string { return csvTime(c.CreatedAt) }},
		},
		newLabel: "New content",
		detail: func(r *http.Request, p layout.Page, c *ent.PackageContent) (templ.Component, error) {
			return contents.Detail(p, contents.DetailData{Content: c, Return: returnOf(r), Here: here(r)}), nil
		},
		remove: func(ctx context.Context, c *ent.PackageContent) error {
			_, err := d.svc.DeletePackageContent(ctx, c.ID)
			return err
		},
		removeInfo: func(ctx context.Context, c *ent.PackageContent) (deleteInfo, error) {
			return deleteInfo{Effects: []string{"Holders of " + pkgLabel(c) + " lose this feature at once."}}, nil
		},
	}
	rs.bulk = []bulkAction[*ent.PackageContent]{{key: "delete", label: "Delete", done: "deleted", danger: true,
		apply: func(ctx context.Context, c *ent.PackageContent, _ int) (bool, error) {
			_, err := d.svc.DeletePackageContent(ctx, c.ID)
			return true, err
		},
		effect: fixedEffect("Holders of their packages lose these features at once."),
	}}
	f := &rs.form
	f.fields = []string{"packageID", "name", "featureKey", "limit"}
	f.blank = func(r *http.Request) (contentForm, error) {
		cf := newContentForm(r)
		if v := r.URL.Query().Get("packageID"); isID(v) {
			if err := d.setChoice(r.Context(), pickPackages, &cf.Package, v); err != nil {
				return contentForm{}, err
			}
		}
		cf.Package.Autofocus = cf.Package.Value == ""
		return contentForm{Form: cf}, nil
	}
	f.edit = func(r *http.Request, c *ent.PackageContent) (contentForm, error) {
		cf := newContentForm(r)
		cf.ID, cf.Current, cf.PackageName, cf.Name = c.ID, c.Name, pkgLabel(c), c.Name
		if c.Edges.Feature != nil {
			if err := d.setChoice(r.Context(), pickFeatures, &cf.Feature, c.Edges.Feature.Key); err != nil {
				return contentForm{}, err
			}
		}
		if c.Limit != nil {
			cf.Limit = strconv.Itoa(*c.Limit)
		}
		return contentForm{Form: cf}, nil
	}
	f.read = d.readContentForm
	f.again = func(_ *http.Request, cf *contentForm) int { return cf.again }
	f.create = func(ctx context.Context, cf contentForm) (*ent.PackageContent, error) {
		return d.svc.CreatePackageContent(ctx, cf.create)
	}
	f.update = func(ctx context.Context, c *ent.PackageContent, cf contentForm) (*ent.PackageContent, error) {
		return d.svc.UpdatePackageContent(ctx, c.ID, cf.update)
	}
	f.view = func(p layout.Page, cf contentForm) templ.Component { return contents.FormPage(p, cf.Form) }
	return rs
}

// readContentForm decodes a posted content form: its pickers (a search
// shows the form again), name and limit.
func (d *Dashboard) readContentForm(r *http.Request, old **ent.PackageContent) (contentForm, components.Errors, error) {
	ctx := r.Context()
	f := newContentForm(r)
	fr := newFormReader(r)
	f.Errors = fr.errs
	if old != nil {
		c := *old
		f.ID, f.Current, f.PackageName = c.ID, c.Name, pkgLabel(c)
	}
	f.Name, f.Limit = fr.str("name"), fr.str("limit")
	out := contentForm{}
	step, err := d.readContentPickers(ctx, r, &f)
	out.Form = f
	if err != nil {
		return out, nil, err
	}
	if step == pickFind {
		out.again = http.StatusOK
		return out, f.Errors, nil
	}
	limit := fr.optInteger("limit")
	if old == nil {
		out.create = service.CreatePackageContentInput{
			PackageID: pickedID(f.Errors, f.Package), Name: f.Name, FeatureKey: f.Feature.Value, Limit: limit,
		}
		return out, f.Errors, nil
	}
	// The service keeps the stored limit when none is given; this form
	// shows the limit, so an emptied field is a limit left out, not one
	// kept.
	if limit == nil && f.Feature.FeatureKind == string(feature.KindLIMIT) {
		f.Errors.Add("limit", "is required for the LIMIT feature "+f.Feature.Value)
	}
	out.update = service.UpdatePackageContentInput{Name: &f.Name, FeatureKey: &f.Feature.Value, Limit: limit}
	return out, f.Errors, nil
}

// newContentForm is an empty content form with its pickers (a new
// content also chooses its package).
func newContentForm(r *http.Request) contents.Form {
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

func pkgLabel(c *ent.PackageContent) string {
	if c.Edges.Package != nil {
		return c.Edges.Package.Name
	}
	return "#" + strconv.Itoa(c.PackageID)
}
