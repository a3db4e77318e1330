package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/views/components"
	"gatehouse/views/packages"
)

var packageListSpec = listSpec{
	path:  packages.Path,
	sorts: []string{"name", "days", "graceDays", "contents", "created"},
	sort:  "name",
	dir:   "asc",
	filters: map[string]func(string) bool{
		"feature": isFeatureKey,
	},
}

var packageFields = []string{"name", "detail", "days", "graceDays", "trial", "contents"}

// packageAssignmentsShown is how many assignments a package's page lists.
const packageAssignmentsShown = 50

// isFeatureKey accepts what could be a feature's key (filters name
// features by key).
func isFeatureKey(v string) bool { return feature.KeyValidator(v) == nil }

func (d *Dashboard) packageList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := parseList(r, packageListSpec)
	q := d.client.Pkg.Query()
	if l.Q != "" {
		q.Where(pkg.Or(pkg.NameContainsFold(l.Q), pkg.DetailContainsFold(l.Q)))
	}
	if v := l.Filter("feature"); v != "" {
		q.Where(pkg.HasContentsWith(packagecontent.HasFeatureWith(feature.Key(v))))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	fitPage(&l, total)
	o := orderTerm(l)
	var order pkg.OrderOption
	switch l.Sort {
	case "days":
		order = pkg.ByDays(o)
	case "graceDays":
		order = pkg.ByGraceDays(o)
	case "contents":
		order = pkg.ByContentsCount(o)
	case "created":
		order = pkg.ByCreatedAt(o)
	default:
		order = pkg.ByName(o)
	}
	rows, err := q.Order(order, pkg.ByID(o)).
		WithContents(func(cq *ent.PackageContentQuery) {
			cq.WithFeature().Order(packagecontent.ByFeatureField(feature.FieldKey), packagecontent.ByID())
		}).
		Offset(offset(l)).Limit(l.Size).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	active, err := d.activeHolders(r, rows)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	feats, _, err := d.featureOptions(ctx, "Any feature")
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, packages.List(d.page(r, "Packages", "packages"), packages.ListData{
		List: l, Rows: rows, Active: active, Features: feats,
	}))
}

// activeHolders counts the active assignments of each package shown.
func (d *Dashboard) activeHolders(r *http.Request, rows []*ent.Pkg) (map[int]int, error) {
	out := map[int]int{}
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]int, len(rows))
	for i, p := range rows {
		ids[i] = p.ID
	}
	var counts []struct {
		PackageID int `json:"package_id"`
		Count     int `json:"count"`
	}
	err := d.client.UserPackage.Query().
		Where(userpackage.PackageIDIn(ids...), access.ActiveAt(d.svc.Now())).
		GroupBy(userpackage.FieldPackageID).
		Aggregate(ent.Count()).
		Scan(r.Context(), &counts)
	for _, c := range counts {
		out[c.PackageID] = c.Count
	}
	return out, err
}

// loadPackage reads the package of the URL's {id} with its contents.
func (d *Dashboard) loadPackage(w http.ResponseWriter, r *http.Request) (*ent.Pkg, bool) {
	id, ok := pathID(r)
	if !ok {
		d.notFound(w, r)
		return nil, false
	}
	p, err := d.client.Pkg.Query().Where(pkg.ID(id)).
		WithContents(func(cq *ent.PackageContentQuery) { cq.WithFeature().Order(packagecontent.ByID()) }).
		Only(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return nil, false
	}
	return p, true
}

func (d *Dashboard) packageDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := d.loadPackage(w, r)
	if !ok {
		return
	}
	aq := p.QueryUserPackages()
	n, err := aq.Clone().Count(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	ups, err := aq.WithUser().Order(userpackage.ByExpiresAt(sql.OrderDesc()), userpackage.ByID()).Limit(packageAssignmentsShown).All(ctx)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, packages.Detail(d.page(r, p.Name, "packages"), packages.DetailData{
		Pkg: p, Assignments: ups, MoreAssign: n - len(ups), Now: d.svc.Now(), Return: returnOf(r), Here: here(r),
	}))
}

// newPackageForm is an empty package form with the catalogue to choose
// features from.
func (d *Dashboard) newPackageForm(ctx context.Context) (packages.Form, error) {
	feats, _, err := d.featureOptions(ctx, "Choose a feature…")
	return packages.Form{Features: feats, MaxRows: service.MaxContents, Errors: components.Errors{}}, err
}

func (d *Dashboard) packageNew(w http.ResponseWriter, r *http.Request) {
	f, err := d.newPackageForm(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	f.Return = returnOf(r)
	f.GraceDays = "0"
	// Two empty rows: most packages grant something.
	f.Contents = []packages.ContentRow{{}, {}}
	d.render(w, r, http.StatusOK, packages.FormPage(d.page(r, "New package", "packages"), f))
}

func (d *Dashboard) packageEdit(w http.ResponseWriter, r *http.Request) {
	p, ok := d.loadPackage(w, r)
	if !ok {
		return
	}
	f, err := d.newPackageForm(r.Context())
	if err != nil {
		d.failure(w, r, err)
		return
	}
	f.ID, f.Current, f.Return = p.ID, p.Name, returnOf(r)
	f.Name, f.Detail, f.Days = p.Name, p.Detail, strconv.Itoa(p.Days)
	f.GraceDays, f.Trial = strconv.Itoa(p.GraceDays), p.Trial
	for _, c := range p.Edges.Contents {
		row := packages.ContentRow{Name: c.Name}
		if c.Edges.Feature != nil {
			row.FeatureKey = c.Edges.Feature.Key
		}
		if c.Limit != nil {
			row.Limit = strconv.Itoa(*c.Limit)
		}
		f.Contents = append(f.Contents, row)
	}
	d.render(w, r, http.StatusOK, packages.FormPage(d.page(r, "Edit package "+p.Name, "packages"), f))
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

func (d *Dashboard) packageCreate(w http.ResponseWriter, r *http.Request) {
	if !d.parseForm(w, r) {
		return
	}
	f, fr, err := d.readPackageForm(r)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	page := d.page(r, "New package", "packages")
	if rowAction(r, &f) {
		d.render(w, r, http.StatusOK, packages.FormPage(page, f))
		return
	}
	days, daysOK := fr.integer("days")
	grace, trial := readPackageTerms(fr)
	status := http.StatusUnprocessableEntity
	contents, rows := contentsInput(f, fr)
	if daysOK && !fr.errs.Any() {
		p, err := d.svc.CreatePackage(r.Context(), service.CreatePackageInput{
			Name: f.Name, Detail: &f.Detail, Days: days, GraceDays: grace, Trial: trial, Contents: contents,
		})
		if err == nil {
			d.redirect(w, r, components.WithReturn(packages.Href(p.ID), f.Return),
				"Package "+p.Name+" created with "+components.Plural(len(contents), "content", "contents")+".")
			return
		}
		var ok bool
		if status, ok = formErrors(r, renumber(err, rows), f.Errors, packageFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, packages.FormPage(page, f))
}

func (d *Dashboard) packageUpdate(w http.ResponseWriter, r *http.Request) {
	p, ok := d.loadPackage(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	f, fr, err := d.readPackageForm(r)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	f.ID, f.Current = p.ID, p.Name
	page := d.page(r, "Edit package "+p.Name, "packages")
	if rowAction(r, &f) {
		d.render(w, r, http.StatusOK, packages.FormPage(page, f))
		return
	}
	days, daysOK := fr.integer("days")
	grace, trial := readPackageTerms(fr)
	status := http.StatusUnprocessableEntity
	contents, rows := contentsInput(f, fr)
	if daysOK && !fr.errs.Any() {
		saved, err := d.svc.UpdatePackage(r.Context(), p.ID, service.UpdatePackageInput{
			Name: &f.Name, Detail: &f.Detail, Days: &days, GraceDays: grace, Trial: trial, Contents: contents,
		})
		if err == nil {
			d.redirect(w, r, Or(f.Return, packages.Href(p.ID)), "Package "+saved.Name+" saved.")
			return
		}
		if status, ok = formErrors(r, renumber(err, rows), f.Errors, packageFields...); !ok {
			d.serverError(w, r, err)
			return
		}
	}
	d.render(w, r, status, packages.FormPage(page, f))
}

func (d *Dashboard) packageDeleteData(r *http.Request, p *ent.Pkg) (packages.DeleteData, error) {
	n, err := p.QueryUserPackages().Count(r.Context())
	return packages.DeleteData{Pkg: p, Assigned: n, Return: returnOf(r)}, err
}

func (d *Dashboard) packageDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	p, ok := d.loadPackage(w, r)
	if !ok {
		return
	}
	dd, err := d.packageDeleteData(r, p)
	if err != nil {
		d.failure(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, packages.Delete(d.page(r, "Delete package "+p.Name, "packages"), dd))
}

func (d *Dashboard) packageDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := d.loadPackage(w, r)
	if !ok || !d.parseForm(w, r) {
		return
	}
	if _, err := d.svc.DeletePackage(ctx, p.ID); err != nil {
		e := service.Classify(ctx, err)
		if e == nil || e.Code == apperr.NotFound {
			d.failure(w, r, err)
			return
		}
		dd, derr := d.packageDeleteData(r, p)
		if derr != nil {
			d.failure(w, r, derr)
			return
		}
		dd.Error = e.Message
		d.render(w, r, statusOf(e), packages.Delete(d.page(r, "Delete package "+p.Name, "packages"), dd))
		return
	}
	d.redirect(w, r, afterDelete(returnOf(r), packages.Href(p.ID), packages.Path), "Package "+p.Name+" deleted.")
}
