package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"
	"github.com/a-h/templ"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/predicate"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/layout"
	"gatehouse/views/packages"
)

// packageUserPackagesShown is how many user packages a package's page lists.
const packageUserPackagesShown = 50

// isFeatureKey accepts what could be a feature's key (filters name
// features by key).
func isFeatureKey(v string) bool { return feature.KeyValidator(v) == nil }

// packageForm is the package form with what it decoded for the service.
type packageForm struct {
	packages.Form
	days     int
	grace    *int
	trial    *bool
	contents []*service.PackageContentInput
	rows     []int // rows[k] is the form row of contents[k]
}

func (d *Dashboard) packageResource() *resource[*ent.Pkg, packageForm] {
	rs := &resource[*ent.Pkg, packageForm]{
		d: d, name: "package", plural: "packages", title: "Packages",
		path: packages.Path, section: "packages", subject: events.SubjectPackage,
		table: entTable[*ent.Pkg, *ent.PkgQuery, predicate.Pkg, pkg.OrderOption](func() *ent.PkgQuery {
			return d.client.Pkg.Query().WithContents(func(cq *ent.PackageContentQuery) {
				cq.WithFeature().Order(packagecontent.ByFeatureField(feature.FieldKey), packagecontent.ByID())
			})
		}),
		get: func(ctx context.Context, id int) (*ent.Pkg, error) {
			return d.client.Pkg.Query().Where(pkg.ID(id)).
				WithContents(func(cq *ent.PackageContentQuery) { cq.WithFeature().Order(packagecontent.ByID()) }).
				Only(ctx)
		},
		id:    func(p *ent.Pkg) int { return p.ID },
		label: func(p *ent.Pkg) string { return p.Name },

		searchLabel: "Name or detail",
		search: func(q string) func(*sql.Selector) {
			return pkg.Or(pkg.NameContainsFold(q), pkg.DetailContainsFold(q))
		},
		filters: []filter{{name: "feature", title: "Grants feature", ok: isFeatureKey,
			where: func(v string) func(*sql.Selector) {
				return pkg.HasContentsWith(packagecontent.HasFeatureWith(feature.Key(v)))
			},
			options: func(ctx context.Context) ([]components.Option, error) {
				opts, _, err := d.featureOptions(ctx, "Any feature")
				return opts, err
			}}},
		sorts: []sortCol[*ent.Pkg]{
			{key: "name", title: "Name", column: pkg.FieldName, value: func(p *ent.Pkg) any { return p.Name }},
			{key: "days", title: "Days", column: pkg.FieldDays, kind: kindInt, value: func(p *ent.Pkg) any { return p.Days }},
			{key: "graceDays", title: "Grace days", column: pkg.FieldGraceDays, kind: kindInt, value: func(p *ent.Pkg) any { return p.GraceDays }},
			{key: "created", title: "Created", column: pkg.FieldCreatedAt, kind: kindTime, value: func(p *ent.Pkg) any { return p.CreatedAt.UTC() }},
		},
		sort: "name",
		columns: []column[*ent.Pkg]{
			{title: "Name", sort: "name",
				cell: func(p *ent.Pkg, _ int) templ.Component { return packages.NameCell(p) },
				csv:  func(p *ent.Pkg, _ int) string { return p.Name }},
			{title: "Detail", csv: func(p *ent.Pkg, _ int) string { return p.Detail }},
			{title: "Days", sort: "days",
				cell: func(p *ent.Pkg, _ int) templ.Component { return components.Number(p.Days) },
				csv:  func(p *ent.Pkg, _ int) string { return strconv.Itoa(p.Days) }},
			{title: "Grace days", sort: "graceDays",
				cell: func(p *ent.Pkg, _ int) templ.Component { return components.Number(p.GraceDays) },
				csv:  func(p *ent.Pkg, _ int) string { return strconv.Itoa(p.GraceDays) }},
			{title: "Trial",
				cell: func(p *ent.Pkg, _ int) templ.Component { return packages.TrialCell(p) },
				csv:  func(p *ent.Pkg, _ int) string { return strconv.FormatBool(p.Trial) }},
			{title: "Contents",
				cell: func(p *ent.Pkg, _ int) templ.Component { return packages.ContentsCell(p) },
				csv: func(p *ent.Pkg, _ int) string {
					labels := make([]string, 0, len(p.Edges.Contents))
					for _, c := range p.Edges.Contents {
						labels = append(labels, packages.ContentLabel(c))
					}
					return strings.Join(labels, "; ")
				}},
			{title: "Active holders",
				cell: func(_ *ent.Pkg, n int) templ.Component { return components.Number(n) },
				csv:  func(_ *ent.Pkg, n int) string { return strconv.Itoa(n) }},
			{title: "Created", sort: "created",
				cell: func(p *ent.Pkg, _ int) templ.Component { return components.When(p.CreatedAt) },
				csv:  func(p *ent.Pkg, _ int) string { return csvTime(p.CreatedAt) }},
		},
		count: d.activeHolders,
		savedText: func(p *ent.Pkg, pf packageForm, created bool) string {
			if created {
				return "Package " + p.Name + " created with " + components.Plural(len(pf.contents), "content", "contents") + "."
			}
			return "Package " + p.Name + " saved."
		},
		newLabel: "New package",
		detail:   d.packageDetail,
		remove: func(ctx context.Context, p *ent.Pkg) error {
			_, err := d.svc.DeletePackage(ctx, p.ID)
			return err
		},
		removeInfo: func(ctx context.Context, p *ent.Pkg) (deleteInfo, error) {
			n, err := p.QueryUserPackages().Count(ctx)
			info := deleteInfo{Effects: []string{components.Plural(len(p.Edges.Contents), "content", "contents") + contentNames(p)}}
			if n > 0 {
				info.Blocked = "This package is assigned " + components.Plural(n, "time", "times") + ", so it cannot be deleted."
				info.FixHref, info.FixLabel = "/admin/user-packages?packageID="+strconv.Itoa(p.ID), "Delete those user packages first."
			}
			return info, err
		},
	}
	rs.bulk = []bulkAction[*ent.Pkg]{{key: "delete", label: "Delete", done: "deleted", danger: true,
		apply: func(ctx context.Context, p *ent.Pkg, _ int) (bool, error) {
			_, err := d.svc.DeletePackage(ctx, p.ID)
			return true, err
		},
		effect: fixedEffect("Their package contents go with them.", "A package still assigned to a user cannot be deleted: then nothing is."),
	}}
	f := &rs.form
	f.fields = []string{"name", "detail", "days", "graceDays", "trial", "contents"}
	f.blank = func(r *http.Request) (packageForm, error) {
		pf, err := d.newPackageForm(r.Context())
		pf.Return = returnOf(r)
		pf.GraceDays = "0"
		// Two empty rows: most packages grant something.
		pf.Contents = []packages.ContentRow{{}, {}}
		return packageForm{Form: pf}, err
	}
	f.edit = func(r *http.Request, p *ent.Pkg) (packageForm, error) {
		pf, err := d.newPackageForm(r.Context())
		pf.ID, pf.Current, pf.Return = p.ID, p.Name, returnOf(r)
		pf.Name, pf.Detail, pf.Days = p.Name, p.Detail, strconv.Itoa(p.Days)
		pf.GraceDays, pf.Trial = strconv.Itoa(p.GraceDays), p.Trial
		for _, c := range p.Edges.Contents {
			row := packages.ContentRow{Name: c.Name}
			if c.Edges.Feature != nil {
				row.FeatureKey = c.Edges.Feature.Key
			}
			if c.Limit != nil {
				row.Limit = strconv.Itoa(*c.Limit)
			}
			pf.Contents = append(pf.Contents, row)
		}
		return packageForm{Form: pf}, err
	}
	f.again = func(r *http.Request, pf *packageForm) int {
		if rowAction(r, &pf.Form) {
			return http.StatusOK
		}
		return 0
	}
	f.read = func(r *http.Request, old **ent.Pkg) (packageForm, components.Errors, error) {
		pf, fr, err := d.readPackageForm(r)
		out := packageForm{Form: pf}
		if err != nil {
			return out, nil, err
		}
		if old != nil {
			out.ID, out.Current = (*old).ID, (*old).Name
		}
		if a := r.PostForm.Get("action"); a == "add-row" || strings.HasPrefix(a, "remove-") {
			return out, out.Errors, nil // see again
		}
		days, _ := fr.integer("days")
		out.days = days
		out.grace, out.trial = readPackageTerms(fr)
		out.contents, out.rows = contentsInput(out.Form, fr)
		return out, out.Errors, nil
	}
	f.create = func(ctx context.Context, pf packageForm) (*ent.Pkg, error) {
		p, err := d.svc.CreatePackage(ctx, service.CreatePackageInput{
			Name: pf.Name, Detail: &pf.Detail, Days: pf.days, GraceDays: pf.grace, Trial: pf.trial, Contents: pf.contents,
		})
		return p, renumber(err, pf.rows)
	}
	f.update = func(ctx context.Context, p *ent.Pkg, pf packageForm) (*ent.Pkg, error) {
		saved, err := d.svc.UpdatePackage(ctx, p.ID, service.UpdatePackageInput{
			Name: &pf.Name, Detail: &pf.Detail, Days: &pf.days, GraceDays: pf.grace, Trial: pf.trial, Contents: pf.contents,
		})
		return saved, renumber(err, pf.rows)
	}
	f.view = func(p layout.Page, pf packageForm) templ.Component { return packages.FormPage(p, pf.Form) }
	return rs
}

// activeHolders counts the active user packages of each package shown.
func (d *Dashboard) activeHolders(ctx context.Context, ids []int) (map[int]int, error) {
	out := map[int]int{}
	var counts []struct {
		PackageID int `json:"package_id"`
		Count     int `json:"count"`
	}
	err := d.client.UserPackage.Query().
		Where(userpackage.PackageIDIn(ids...), access.ActiveAt(d.svc.Now())).
		GroupBy(userpackage.FieldPackageID).
		Aggregate(ent.Count()).
		Scan(ctx, &counts)
	for _, c := range counts {
		out[c.PackageID] = c.Count
	}
	return out, err
}

func (d *Dashboard) packageDetail(r *http.Request, pg layout.Page, p *ent.Pkg) (templ.Component, error) {
	ctx := r.Context()
	aq := p.QueryUserPackages()
	n, err := aq.Clone().Count(ctx)
	if err != nil {
		return nil, err
	}
	ups, err := aq.WithUser().Order(userpackage.ByExpiresAt(sql.OrderDesc()), userpackage.ByID()).Limit(packageUserPackagesShown).All(ctx)
	if err != nil {
		return nil, err
	}
	return packages.Detail(pg, packages.DetailData{
		Pkg: p, UserPackages: ups, MoreUserPackages: n - len(ups), Now: d.svc.Now(), Return: returnOf(r), Here: here(r),
	}), nil
}

// newPackageForm is an empty package form with the catalogue to choose
// features from.
func (d *Dashboard) newPackageForm(ctx context.Context) (packages.Form, error) {
	feats, _, err := d.featureOptions(ctx, "Choose a feature…")
	return packages.Form{Features: feats, MaxRows: service.MaxContents, Errors: components.Errors{}}, err
}

// maxRowIndex bounds the row numbers read from a posted package form.
const maxRowIndex = 10 * service.MaxContents

// readPackageForm decodes the package form, its content rows in the order
// of their numbers (contents.N.name / .featureKey / .limit).
func (d *Dashboard) readPackageForm(r *http.Request) (packages.Form, *formReader, error) {
	fr := newFormReader(r)
	f, err := d.newPackageForm(r.Context())
	if err != nil {
		return f, fr, err
	}
	f.Errors = fr.errs
	f.Return = returnOf(r)
	f.Name, f.Detail, f.Days = fr.str("name"), fr.str("detail"), fr.str("days")
	f.GraceDays, f.Trial = fr.str("graceDays"), fr.boolean("trial")
	seen := map[int]bool{}
	var idx []int
	for k := range r.PostForm {
		rest, ok := strings.CutPrefix(k, "contents.")
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		if !ok || (field != "name" && field != "featureKey" && field != "limit") {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || n > maxRowIndex || strconv.Itoa(n) != num || seen[n] {
			continue
		}
		seen[n] = true
		idx = append(idx, n)
	}
	sort.Ints(idx)
	for _, n := range idx {
		f.Contents = append(f.Contents, packages.ContentRow{
			Name:       fr.str(fmt.Sprintf("contents.%d.name", n)),
			FeatureKey: fr.str(fmt.Sprintf("contents.%d.featureKey", n)),
			Limit:      fr.str(fmt.Sprintf("contents.%d.limit", n)),
		})
	}
	return f, fr, nil
}

// readPackageTerms reads grace days and the trial box; a field the form
// did not carry at all is left out (nil), so the service keeps its default
// or the stored value.
func readPackageTerms(fr *formReader) (grace *int, trial *bool) {
	grace = fr.optInteger("graceDays")
	if fr.has("trial") {
		t := fr.boolean("trial")
		trial = &t
	}
	return grace, trial
}

// rowAction applies "add a row" and "remove row N"; it reports whether
// the form is to be shown again rather than saved.
func rowAction(r *http.Request, f *packages.Form) bool {
	action := r.PostForm.Get("action")
	switch {
	case action == "add-row":
		if len(f.Contents) < service.MaxContents {
			f.Contents = append(f.Contents, packages.ContentRow{})
		} else {
			f.Errors.Add("contents", fmt.Sprintf("at most %d contents", service.MaxContents))
		}
		return true
	case strings.HasPrefix(action, "remove-"):
		if i, err := strconv.Atoi(strings.TrimPrefix(action, "remove-")); err == nil && i >= 0 && i < len(f.Contents) {
			f.Contents = append(f.Contents[:i], f.Contents[i+1:]...)
		}
		return true
	}
	return false
}

// contentsInput turns the typed rows into the service's input, leaving
// out rows left entirely empty; rows[k] is the form row of input k. A
// limit that is not a whole number is an error beside its field; whether a
// limit is required or refused is the service's rule.
func contentsInput(f packages.Form, fr *formReader) (in []*service.PackageContentInput, rows []int) {
	in = []*service.PackageContentInput{}
	for i, c := range f.Contents {
		if strings.TrimSpace(c.Name) == "" && c.FeatureKey == "" && strings.TrimSpace(c.Limit) == "" {
			continue
		}
		in = append(in, &service.PackageContentInput{
			Name: c.Name, FeatureKey: c.FeatureKey, Limit: fr.optInteger(fmt.Sprintf("contents.%d.limit", i)),
		})
		rows = append(rows, i)
	}
	return in, rows
}

// renumber points an error about contents.K.x at the form row it came from.
func renumber(err error, rows []int) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	rest, ok := strings.CutPrefix(e.Field, "contents.")
	if !ok {
		return err
	}
	num, field, _ := strings.Cut(rest, ".")
	k, cerr := strconv.Atoi(num)
	if cerr != nil || k < 0 || k >= len(rows) {
		return err
	}
	c := *e
	c.Field = fmt.Sprintf("contents.%d", rows[k])
	if field != "" {
		c.Field += "." + field
	}
	return &c
}

// contentNames lists a package's contents after a colon ("" for none).
func contentNames(p *ent.Pkg) string {
	if len(p.Edges.Contents) == 0 {
		return ""
	}
	names := make([]string, len(p.Edges.Contents))
	for i, c := range p.Edges.Contents {
		names[i] = c.Name
	}
	return ": " + strings.Join(names, ", ")
}
