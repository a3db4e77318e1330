package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"gatehouse/ent/feature"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/internal/service"
)

// TestFeatureForms: features are defined, listed, edited and deleted in
// the dashboard; their key and kind never change after creation; a
// feature a package content uses cannot be deleted.
func TestFeatureForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent

	b.get("/admin/features/new").wantStatus(http.StatusOK).wantValue("key", "").wantValue("kind", "SWITCH")
	// desks is the feature the subtests edit and delete (each runs alone).
	deskText := "Desks per office"
	desks, err := s.App.Service.CreateFeature(ctx, service.CreateFeatureInput{
		Key: "desks", Name: "Desks", Description: &deskText, Kind: feature.KindLIMIT,
	})
	if err != nil {
		t.Fatal(err)
	}

	form := func(kv ...string) url.Values {
		v := url.Values{"key": {"seats"}, "name": {"Seats"}, "description": {"Users per account"}, "kind": {"LIMIT"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name, field, want string
		form              url.Values
	}{
		{"key with capitals", "key", "", form("key", "Seats")},
		{"key too short", "key", "", form("key", "s")},
		{"key taken", "key", "", form("key", "moe_gatherer")},
		{"name empty", "name", "", form("name", " ")},
		{"name too long", "name", "", form("name", strings.Repeat("n", 101))},
		{"description too long", "description", "", form("description", strings.Repeat("d", 1001))},
		{"kind unknown", "kind", "", form("kind", "MAYBE")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			p := b.post("/admin/features/new", tc.form).wantStatus(http.StatusUnprocessableEntity)
			if p.fieldError(tc.field) == "" {
				t.Fatalf("no error beside %s: %s", tc.field, p.text())
			}
			// What was typed is shown again.
			p.wantValue("key", tc.form.Get("key")).wantValue("name", tc.form.Get("name"))
			if n, _ := c.Feature.Query().Where(feature.Key(tc.form.Get("key"))).Count(ctx); n != 0 && tc.form.Get("key") != "moe_gatherer" {
				t.Fatalf("feature %s stored", tc.form.Get("key"))
			}
		})
	}

	t.Run("create", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/features/new", form()).wantRedirect("/admin/features/")
		b.follow(p).wantFlash("Feature seats created.").wantText("seats", "Seats", "Users per account", "limit", "No package grants this feature.")
		f, err := c.Feature.Query().Where(feature.Key("seats")).Only(ctx)
		if err != nil || f.Kind != feature.KindLIMIT || f.Description != "Users per account" {
			t.Fatalf("seats = %+v %v", f, err)
		}
	})

	t.Run("list: search, filter, sort", func(t *testing.T) {
		b.t = t
		b.get("/admin/features").wantText("moe_gatherer", "cloud_sync", "desks", "projects")
		b.get("/admin/features?q=desk").wantText("desks", "1 feature")
		b.get("/admin/features?q=per+office").wantText("desks", "1 feature")
		b.get("/admin/features?kind=LIMIT").wantText("desks", "projects").wantNoText("moe_gatherer")
		b.get("/admin/features?kind=NOPE").wantText("moe_gatherer", "desks")
		p := b.get("/admin/features?sort=key&dir=desc&size=2").wantStatus(http.StatusOK)
		if txt := p.text(); !strings.Contains(txt, "projects") || strings.Contains(txt, "auto_gather") || strings.Contains(txt, "desks") {
			t.Fatalf("page 1 by key descending: %s", txt)
		}
		// The number of packages is not a sort (it is no column): the list
		// keeps its default order.
		b.get("/admin/features?sort=contents&dir=desc&size=2").wantText("auto_gather", "cloud_sync").wantNoText("desks")
	})

	t.Run("key and kind cannot change", func(t *testing.T) {
		b.t = t
		id := itoa(desks.ID)
		e := b.get("/admin/features/"+id+"/edit").wantStatus(http.StatusOK).wantText("desks", "limit")
		if strings.Contains(e.Body, `name="key"`) || strings.Contains(e.Body, `name="kind"`) {
			t.Fatal("the edit form offers key or kind")
		}
		p := b.post("/admin/features/"+id+"/edit", form("key", "chairs", "kind", "SWITCH", "name", "Desks per team", "description", "")).
			wantRedirect("/admin/features/" + id)
		b.follow(p).wantFlash("Feature desks saved.").wantText("Desks per team")
		f, _ := c.Feature.Get(ctx, desks.ID)
		if f.Key != "desks" || f.Kind != feature.KindLIMIT || f.Name != "Desks per team" || f.Description != "" {
			t.Fatalf("after edit: %+v", f)
		}
		if n, _ := c.Feature.Query().Where(feature.Key("chairs")).Count(ctx); n != 0 {
			t.Fatal("a feature chairs appeared")
		}
		b.post("/admin/features/"+id+"/edit", form("name", "")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("name", "").wantValue("name", "").wantValue("description", "Users per account")
	})

	t.Run("detail lists the packages that grant it", func(t *testing.T) {
		b.t = t
		moe, _ := c.Feature.Query().Where(feature.Key("moe_gatherer")).Only(ctx)
		b.get("/admin/features/"+itoa(moe.ID)).wantStatus(http.StatusOK).wantText("Granted by", "Gold", "Moe gatherer")
	})

	t.Run("delete refused while used", func(t *testing.T) {
		b.t = t
		moe, _ := c.Feature.Query().Where(feature.Key("moe_gatherer")).Only(ctx)
		b.get("/admin/features/" + itoa(moe.ID) + "/delete").wantStatus(http.StatusOK).wantText("1 package content grants this feature")
		b.post("/admin/features/"+itoa(moe.ID)+"/delete", nil).wantStatus(http.StatusConflict).
			wantText("Delete feature moe_gatherer?", "the feature is used by 1 package content(s)")
		if _, err := c.Feature.Get(ctx, moe.ID); err != nil {
			t.Fatal("a used feature was deleted")
		}
	})

	t.Run("delete", func(t *testing.T) {
		b.t = t
		b.get("/admin/features/" + itoa(desks.ID) + "/delete").wantStatus(http.StatusOK).wantNoText("cannot be deleted")
		p := b.post("/admin/features/"+itoa(desks.ID)+"/delete", url.Values{"return": {"/admin/features?kind=LIMIT"}})
		if loc := p.Header.Get("Location"); loc != "/admin/features?kind=LIMIT" {
			t.Fatalf("after delete went to %q", loc)
		}
		b.follow(p).wantFlash("Feature desks deleted.").wantText("projects").wantNoText("Desks")
		b.get("/admin/features/" + itoa(desks.ID)).wantStatus(http.StatusNotFound)
		if n, _ := c.Feature.Query().Where(feature.Key("desks")).Count(ctx); n != 0 {
			t.Fatal("desks still stored")
		}
	})
}

// TestPackageFormLimits: the package form picks features from the
// catalogue; a LIMIT feature needs its limit and a SWITCH takes none, the
// error shown beside the row's limit with everything typed kept.
func TestPackageFormLimits(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent

	np := b.get("/admin/packages/new").wantStatus(http.StatusOK)
	// The feature select offers the catalogue, each option with its kind.
	sel := np.control("contents.0.featureKey")
	kinds := map[string]string{}
	for _, o := range findAll(sel, func(n *html.Node) bool { return n.Data == "option" }) {
		v, _ := attr(o, "value")
		k, _ := attr(o, "data-kind")
		kinds[v] = k
	}
	if kinds["projects"] != "LIMIT" || kinds["moe_gatherer"] != "SWITCH" || len(kinds) != len(seedFeatures)+1 {
		t.Fatalf("feature options %v", kinds)
	}

	form := func(kv ...string) url.Values {
		v := url.Values{
			"name": {"Team"}, "detail": {""}, "days": {"30"}, "graceDays": {"0"}, "action": {"save"},
			"contents.0.name": {"Sync"}, "contents.0.featureKey": {"cloud_sync"}, "contents.0.limit": {""},
			"contents.1.name": {"Projects"}, "contents.1.featureKey": {"projects"}, "contents.1.limit": {"10"},
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"limit feature without a limit", form("contents.1.limit", ""), "contents.1.limit"},
		{"limit not a number", form("contents.1.limit", "ten"), "contents.1.limit"},
		{"negative limit", form("contents.1.limit", "-1"), "contents.1.limit"},
		{"switch with a limit", form("contents.0.limit", "3"), "contents.0.limit"},
		{"unknown feature", form("contents.0.featureKey", "no_such_thing"), "contents.0.featureKey"},
		{"no feature chosen", form("contents.0.featureKey", ""), "contents.0.featureKey"},
		{"feature twice", form("contents.0.featureKey", "projects", "contents.0.limit", "4"), "contents.1.featureKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			p := b.post("/admin/packages/new", tc.form).wantStatus(http.StatusUnprocessableEntity)
			if p.fieldError(tc.field) == "" {
				t.Fatalf("no error beside %s: %s", tc.field, p.text())
			}
			for _, f := range []string{"contents.0.name", "contents.0.featureKey", "contents.1.limit", "contents.0.limit"} {
				if f == "contents.0.featureKey" && tc.form.Get(f) == "no_such_thing" {
					continue // not an option of the select
				}
				p.wantValue(f, tc.form.Get(f))
			}
			if n, _ := c.Pkg.Query().Where(pkg.Name("Team")).Count(ctx); n != 0 {
				t.Fatal("package saved")
			}
		})
	}

	t.Run("limit given: saved", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/packages/new", form()).wantRedirect("/admin/packages/")
		d := b.follow(p).wantFlash("Package Team created with 2 contents.").wantText("cloud_sync", "projects")
		pk, err := c.Pkg.Query().Where(pkg.Name("Team")).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := c.PackageContent.Query().Where(packagecontent.PackageID(pk.ID)).WithFeature().All(ctx)
		got := map[string]string{}
		for _, x := range cs {
			got[x.Edges.Feature.Key] = limitText(x.Limit)
		}
		if len(got) != 2 || got["projects"] != "10" || got["cloud_sync"] != "-" {
			t.Fatalf("contents %v", got)
		}
		if txt := d.text(); !strings.Contains(txt, "Projects Projects projects 10") {
			t.Fatalf("package page: %s", txt)
		}
	})
	t.Run("edit shows and changes the limit", func(t *testing.T) {
		b.t = t
		pk, err := s.App.Service.CreatePackage(ctx, service.CreatePackageInput{Name: "Team edit", Days: 30, Contents: []*service.PackageContentInput{
			{Name: "Sync", FeatureKey: "cloud_sync"}, {Name: "Projects", FeatureKey: "projects", Limit: intp(10)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		team := pk.ID
		b.get("/admin/packages/"+itoa(team)+"/edit").wantValue("contents.1.featureKey", "projects").
			wantValue("contents.1.limit", "10").wantValue("contents.0.limit", "")
		b.post("/admin/packages/"+itoa(team)+"/edit", form("name", "Team edit", "contents.1.limit", "25")).wantRedirect("/admin/packages/" + itoa(team))
		x, _ := c.PackageContent.Query().Where(packagecontent.PackageID(team), packagecontent.HasFeatureWith(feature.Key("projects"))).Only(ctx)
		if limitText(x.Limit) != "25" {
			t.Fatalf("limit %s", limitText(x.Limit))
		}
		b.get("/admin/packages?feature=projects").wantText("Team edit", "projects ≤ 25").wantNoText("Gold")
		b.get("/admin/package-contents?feature=projects&sort=limit&dir=desc").wantText("Team edit", "25")
	})
}

// TestContentFormLimits: the package content form picks a feature from
// the catalogue and takes a limit for a LIMIT feature only.
func TestContentFormLimits(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	pid := itoa(w.pkg.ID)
	form := func(kv ...string) url.Values {
		v := url.Values{"packageID": {pid}, "name": {"Projects"}, "featureKey": {"projects"}, "limit": {"7"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name, field string
		form        url.Values
	}{
		{"limit missing", "limit", form("limit", "")},
		{"limit not a number", "limit", form("limit", "7.5")},
		{"switch with a limit", "limit", form("featureKey", "auto_gather")},
		{"feature already in the package", "featureKey", form("featureKey", "cloud_sync", "limit", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			p := b.post("/admin/package-contents/new", tc.form).wantStatus(http.StatusUnprocessableEntity)
			if p.fieldError(tc.field) == "" {
				t.Fatalf("no error beside %s: %s", tc.field, p.text())
			}
			p.wantValue("featureKey", tc.form.Get("featureKey")).wantValue("limit", tc.form.Get("limit")).wantValue("name", "Projects")
		})
	}
	p := b.post("/admin/package-contents/new", form()).wantRedirect("/admin/package-contents/")
	b.follow(p).wantFlash("Package content Projects created.").wantText("projects", "7", "Gold")
	x, err := c.PackageContent.Query().Where(packagecontent.Name("Projects")).Only(ctx)
	if err != nil || limitText(x.Limit) != "7" {
		t.Fatalf("content %+v %v", x, err)
	}
	b.get("/admin/package-contents/"+itoa(x.ID)+"/edit").wantValue("featureKey", "projects").wantValue("limit", "7")
	b.post("/admin/package-contents/"+itoa(x.ID)+"/edit", url.Values{"name": {"Projects"}, "featureKey": {"projects"}, "limit": {""}}).
		wantStatus(http.StatusUnprocessableEntity).wantValue("limit", "")
	b.post("/admin/package-contents/"+itoa(x.ID)+"/edit", url.Values{"name": {"Projects"}, "featureKey": {"projects"}, "limit": {"9"}}).
		wantRedirect("/admin/package-contents/" + itoa(x.ID))
	x, _ = c.PackageContent.Get(ctx, x.ID)
	if limitText(x.Limit) != "9" {
		t.Fatalf("limit after edit %s", limitText(x.Limit))
	}
}

func limitText(l *int) string {
	if l == nil {
		return "-"
	}
	return itoa(*l)
}
