package graph_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/service"
)

type featureAnswer struct {
	ID, Key, Name, Description, Kind string
}

const featureFields = `id key name description kind`

func TestFeatureCatalogue(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	alice := w.tokenFor("alice", alicePW)
	create := `mutation($in:CreateFeatureInput!){createFeature(input:$in){` + featureFields + `}}`

	r := w.Do(admin, create, map[string]any{"in": map[string]any{"key": "seats", "name": " Seats ", "description": "Seats per team", "kind": "LIMIT"}})
	mustData(t, r)
	var d struct{ CreateFeature featureAnswer }
	r.Decode(t, &d)
	seats := d.CreateFeature
	if seats.Key != "seats" || seats.Name != "Seats" || seats.Description != "Seats per team" || seats.Kind != "LIMIT" {
		t.Fatalf("created %+v", seats)
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			in    map[string]any
			code  string
			field string
		}{
			{"upper case key", map[string]any{"key": "Seats", "name": "x", "kind": "SWITCH"}, "BAD_USER_INPUT", "key"},
			{"one-letter key", map[string]any{"key": "s", "name": "x", "kind": "SWITCH"}, "BAD_USER_INPUT", "key"},
			{"key starting with a digit", map[string]any{"key": "2fa", "name": "x", "kind": "SWITCH"}, "BAD_USER_INPUT", "key"},
			{"key with a dash", map[string]any{"key": "cloud-sync", "name": "x", "kind": "SWITCH"}, "BAD_USER_INPUT", "key"},
			{"key too long", map[string]any{"key": "k" + strings.Repeat("a", 63), "name": "x", "kind": "SWITCH"}, "BAD_USER_INPUT", "key"},
			{"empty name", map[string]any{"key": "fine_key", "name": " ", "kind": "SWITCH"}, "BAD_USER_INPUT", "name"},
			{"name too long", map[string]any{"key": "fine_key", "name": strings.Repeat("n", 101), "kind": "SWITCH"}, "BAD_USER_INPUT", "name"},
			{"description too long", map[string]any{"key": "fine_key", "name": "x", "description": strings.Repeat("d", 1001), "kind": "SWITCH"}, "BAD_USER_INPUT", "description"},
			{"taken key", map[string]any{"key": "seats", "name": "x", "kind": "SWITCH"}, "CONFLICT", "key"},
			{"unknown kind", map[string]any{"key": "fine_key", "name": "x", "kind": "DIAL"}, "BAD_USER_INPUT", "kind"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := w.Do(admin, create, map[string]any{"in": tt.in})
				wantCode(t, r, tt.code)
				if field(r) != tt.field {
					t.Fatalf("field %q, want %q (%s)", field(r), tt.field, r.Errors[0].Message)
				}
			})
		}
		longest := "k" + strings.Repeat("a", 62)
		mustData(t, w.Do(admin, create, map[string]any{"in": map[string]any{"key": longest, "name": "Longest", "kind": "SWITCH"}}))
	})

	t.Run("users may not manage features", func(t *testing.T) {
		for _, q := range []string{
			`mutation{createFeature(input:{key:"mine",name:"x",kind:SWITCH}){id}}`,
			`mutation($id:ID!){updateFeature(id:$id,input:{name:"x"}){id}}`,
			`mutation($id:ID!){deleteFeature(id:$id)}`,
			`query($id:ID!){feature(id:$id){id}}`,
			`{features{totalCount}}`,
		} {
			wantCode(t, w.Do(alice, q, map[string]any{"id": seats.ID}), "FORBIDDEN")
		}
	})

	t.Run("look-up by id or key", func(t *testing.T) {
		var d struct{ Feature featureAnswer }
		w.MustDo(admin, `query($k:String){feature(key:$k){`+featureFields+`}}`, map[string]any{"k": "seats"}).Decode(t, &d)
		if d.Feature != seats {
			t.Fatalf("by key: %+v", d.Feature)
		}
		w.MustDo(admin, `query($id:ID){feature(id:$id){`+featureFields+`}}`, map[string]any{"id": seats.ID}).Decode(t, &d)
		if d.Feature != seats {
			t.Fatalf("by id: %+v", d.Feature)
		}
		wantCode(t, w.Do(admin, `{feature(key:"nothing_here"){id}}`, nil), "NOT_FOUND")
		wantCode(t, w.Do(admin, `{feature(id:"30064799999"){id}}`, nil), "NOT_FOUND")
		wantCode(t, w.Do(admin, `query($id:ID){feature(id:$id,key:"seats"){id}}`, map[string]any{"id": seats.ID}), "BAD_USER_INPUT")
		wantCode(t, w.Do(admin, `{feature{id}}`, nil), "BAD_USER_INPUT")
	})

	t.Run("connection", func(t *testing.T) {
		var d struct {
			Features struct {
				TotalCount int
				Edges      []struct{ Node featureAnswer }
			}
		}
		w.MustDo(admin, `{features(first:3,where:{kind:LIMIT},orderBy:{field:KEY,direction:DESC}){totalCount edges{node{`+featureFields+`}}}}`, nil).Decode(t, &d)
		if d.Features.TotalCount != 2 || d.Features.Edges[0].Node.Key != "seats" || d.Features.Edges[1].Node.Key != "projects" {
			t.Fatalf("LIMIT features by key, descending: %+v", d.Features)
		}
	})

	t.Run("key and kind are immutable", func(t *testing.T) {
		update := `mutation($id:ID!,$in:UpdateFeatureInput!){updateFeature(id:$id,input:$in){` + featureFields + `}}`
		wantCode(t, w.Do(admin, update, map[string]any{"id": seats.ID, "in": map[string]any{"key": "chairs"}}), "BAD_USER_INPUT")
		wantCode(t, w.Do(admin, update, map[string]any{"id": seats.ID, "in": map[string]any{"kind": "SWITCH"}}), "BAD_USER_INPUT")
		r := w.Do(admin, update, map[string]any{"id": seats.ID, "in": map[string]any{"name": "Team seats", "description": ""}})
		mustData(t, r)
		var d struct{ UpdateFeature featureAnswer }
		r.Decode(t, &d)
		if got := d.UpdateFeature; got.Key != "seats" || got.Kind != "LIMIT" || got.Name != "Team seats" || got.Description != "" {
			t.Fatalf("updated %+v", got)
		}
		r = w.Do(admin, update, map[string]any{"id": seats.ID, "in": map[string]any{"name": ""}})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "name" {
			t.Fatalf("field %q", field(r))
		}
		wantCode(t, w.Do(admin, update, map[string]any{"id": "30064799999", "in": map[string]any{"name": "x"}}), "NOT_FOUND")
	})

	t.Run("a feature in use cannot be deleted", func(t *testing.T) {
		del := `mutation($id:ID!){deleteFeature(id:$id)}`
		var p struct{ CreatePackage struct{ ID string } }
		w.MustDo(admin, `mutation{createPackage(input:{name:"Teams",days:30,contents:[{name:"Five seats",featureKey:"seats",limit:5}]}){id}}`, nil).Decode(t, &p)
		wantCode(t, w.Do(admin, del, map[string]any{"id": seats.ID}), "CONFLICT")
		mustData(t, w.Do(admin, `mutation($id:ID!){deletePackage(id:$id)}`, map[string]any{"id": p.CreatePackage.ID}))
		var d struct{ DeleteFeature string }
		w.MustDo(admin, del, map[string]any{"id": seats.ID}).Decode(t, &d)
		if d.DeleteFeature != seats.ID {
			t.Fatalf("deleted %q", d.DeleteFeature)
		}
		wantCode(t, w.Do(admin, del, map[string]any{"id": seats.ID}), "NOT_FOUND")
		// Its key is free again, and no check knows it meanwhile.
		var c struct{ CheckAccess struct{ Code string } }
		w.MustDo(alice, `{checkAccess(feature:"seats"){code}}`, nil).Decode(t, &c)
		if c.CheckAccess.Code != "UNKNOWN_FEATURE" {
			t.Fatalf("check of a deleted feature: %s", c.CheckAccess.Code)
		}
	})
}

func TestPackageContentLimits(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	pro := id(w.pro.ID)
	create := `mutation($in:CreatePackageContentInput!){createPackageContent(input:$in){id name limit feature{key kind}}}`
	for _, tt := range []struct {
		name  string
		in    map[string]any
		code  string
		field string
	}{
		{"LIMIT without a limit", map[string]any{"packageID": pro, "name": "p", "featureKey": "projects"}, "BAD_USER_INPUT", "limit"},
		{"LIMIT below zero", map[string]any{"packageID": pro, "name": "p", "featureKey": "projects", "limit": -5}, "BAD_USER_INPUT", "limit"},
		{"SWITCH with a limit", map[string]any{"packageID": pro, "name": "p", "featureKey": "priority_support", "limit": 0}, "BAD_USER_INPUT", "limit"},
		{"unknown feature", map[string]any{"packageID": pro, "name": "p", "featureKey": "teleport"}, "NOT_FOUND", "featureKey"},
		{"a feature the package has", map[string]any{"packageID": pro, "name": "p", "featureKey": "moe_gatherer"}, "CONFLICT", "featureKey"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Do(admin, create, map[string]any{"in": tt.in})
			wantCode(t, r, tt.code)
			if field(r) != tt.field {
				t.Fatalf("field %q, want %q (%s)", field(r), tt.field, r.Errors[0].Message)
			}
		})
	}
	var d struct{ CreatePackageContent contentAnswer }
	w.MustDo(admin, create, map[string]any{"in": map[string]any{"packageID": pro, "name": "No projects", "featureKey": "projects", "limit": 0}}).Decode(t, &d)
	c := d.CreatePackageContent
	if c.Limit == nil || *c.Limit != 0 || c.Feature.Key != "projects" {
		t.Fatalf("created %+v", c)
	}
	update := `mutation($id:ID!,$in:UpdatePackageContentInput!){updatePackageContent(id:$id,input:$in){id name limit feature{key}}}`
	t.Run("the limit is kept when only the name changes", func(t *testing.T) {
		var d struct{ UpdatePackageContent contentAnswer }
		w.MustDo(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"name": "Zero projects"}}).Decode(t, &d)
		if got := d.UpdatePackageContent; got.Limit == nil || *got.Limit != 0 || got.Name != "Zero projects" {
			t.Fatalf("updated %+v", got)
		}
	})
	t.Run("changing to a SWITCH needs the limit gone", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "priority_support", "limit": 3}})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "limit" {
			t.Fatalf("field %q", field(r))
		}
		var d struct{ UpdatePackageContent contentAnswer }
		w.MustDo(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "priority_support"}}).Decode(t, &d)
		if got := d.UpdatePackageContent; got.Limit != nil || got.Feature.Key != "priority_support" {
			t.Fatalf("updated %+v", got)
		}
	})
	t.Run("changing to a LIMIT needs a limit", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "projects"}})
		wantCode(t, r, "BAD_USER_INPUT")
		if field(r) != "limit" {
			t.Fatalf("field %q", field(r))
		}
		var d struct{ UpdatePackageContent contentAnswer }
		w.MustDo(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "projects", "limit": 25}}).Decode(t, &d)
		if got := d.UpdatePackageContent; got.Limit == nil || *got.Limit != 25 || got.Feature.Key != "projects" {
			t.Fatalf("updated %+v", got)
		}
	})
	t.Run("a feature the package already has", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "cloud_sync"}})
		wantCode(t, r, "CONFLICT")
		if field(r) != "featureKey" {
			t.Fatalf("field %q", field(r))
		}
	})
	t.Run("unknown feature", func(t *testing.T) {
		r := w.Do(admin, update, map[string]any{"id": c.ID, "in": map[string]any{"featureKey": "teleport"}})
		wantCode(t, r, "NOT_FOUND")
		if field(r) != "featureKey" {
			t.Fatalf("field %q", field(r))
		}
	})
}

// limitWorld gives dave assignments of packages granting projects with
// different limits: each entry is (limit, grace days, start, expiry) in days
// from now. It returns the world, dave's token and the now the days count
// from.
func limitWorld(t *testing.T, assignments [][4]int) (*world, string, time.Time) {
	t.Helper()
	w := newWorld(t, nil)
	svc := w.App.Service
	dave := w.CreateUser("dave", "dave-password", "USER")
	now := time.Now().UTC().Truncate(time.Second)
	for i, a := range assignments {
		limit, grace := a[0], a[1]
		p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Plan " + id(i), Days: 30, GraceDays: &grace, Contents: []*service.PackageContentInput{
			{Name: "Projects", FeatureKey: "projects", Limit: &limit},
			{Name: "Sync", FeatureKey: "cloud_sync"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		up, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: dave.ID, PackageID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		s, e := now.Add(days(a[2])), now.Add(days(a[3]))
		if _, err := svc.UpdateUserPackage(sys(), up.ID, service.UpdateUserPackageInput{StartsAt: &s, ExpiresAt: &e}); err != nil {
			t.Fatal(err)
		}
	}
	return w, w.tokenFor("dave", "dave-password"), now
}

type limitCheck struct {
	Granted    bool
	Code       string
	Limit      *int
	ExpiresAt  *time.Time
	GraceUntil *time.Time
}

func checkFeature(t *testing.T, w *world, tok, key string) limitCheck {
	t.Helper()
	var d struct{ CheckAccess limitCheck }
	w.MustDo(tok, `query($f:String!){checkAccess(feature:$f){granted code limit expiresAt graceUntil}}`, map[string]any{"f": key}).Decode(t, &d)
	return d.CheckAccess
}

func TestCheckAccessLimits(t *testing.T) {
	for _, tt := range []struct {
		name        string
		assignments [][4]int
		code        string
		limit       int // -1: none
	}{
		{"the highest among the active", [][4]int{{5, 0, -1, 10}, {10, 0, -1, 3}, {50, 0, 2, 20}}, "GRANTED", 10},
		{"an active one wins over a higher one in grace", [][4]int{{10, 0, -1, 10}, {50, 30, -20, -1}}, "GRANTED", 10},
		{"in grace: the highest among those in grace", [][4]int{{10, 30, -20, -1}, {50, 30, -20, -2}, {99, 0, -20, -1}}, "IN_GRACE", 50},
		{"expired: no limit", [][4]int{{10, 0, -20, -1}}, "EXPIRED", -1},
		{"not started: no limit", [][4]int{{10, 0, 1, 20}}, "NOT_STARTED", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, dave, _ := limitWorld(t, tt.assignments)
			got := checkFeature(t, w, dave, "projects")
			if got.Code != tt.code || (tt.limit < 0) != (got.Limit == nil) || (got.Limit != nil && *got.Limit != tt.limit) {
				t.Fatalf("got %s limit %v, want %s limit %d", got.Code, got.Limit, tt.code, tt.limit)
			}
			// A SWITCH of the same packages has no limit.
			if sync := checkFeature(t, w, dave, "cloud_sync"); sync.Code != tt.code || sync.Limit != nil {
				t.Fatalf("cloud_sync: %+v", sync)
			}
		})
	}
	t.Run("unknown feature comes first", func(t *testing.T) {
		w, dave, _ := limitWorld(t, [][4]int{{10, 0, -1, 10}})
		for _, key := range []string{"teleport", "PROJECTS", ""} {
			if got := checkFeature(t, w, dave, key); got.Code != "UNKNOWN_FEATURE" || got.Granted || got.Limit != nil {
				t.Fatalf("%q: %+v", key, got)
			}
		}
		w.CreateUser("carol", "carol-password", "USER")
		if got := checkFeature(t, w, w.tokenFor("carol", "carol-password"), "teleport"); got.Code != "UNKNOWN_FEATURE" {
			t.Fatalf("a user without packages: %+v", got)
		}
		if got := checkFeature(t, w, dave, "auto_gather"); got.Code != "FEATURE_MISSING" {
			t.Fatalf("a feature dave's packages lack: %+v", got)
		}
	})
}

func TestActiveFeaturesMerged(t *testing.T) {
	// projects: active with 5 (expiring in 10 days) and 8 (in 3 days),
	// and 40 in grace; priority is in grace only (via its own package).
	w, daveTok, now := limitWorld(t, [][4]int{{5, 0, -1, 10}, {8, 0, -1, 3}, {40, 30, -20, -1}})
	svc := w.App.Service
	grace := 5
	p, err := svc.CreatePackage(sys(), service.CreatePackageInput{Name: "Support", Days: 30, GraceDays: &grace, Contents: []*service.PackageContentInput{
		{Name: "Support", FeatureKey: "priority_support"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dave := w.App.DB.Ent.User.Query().Where(user.Username("dave")).OnlyIDX(sys())
	up, err := svc.AssignPackage(sys(), service.AssignPackageInput{UserID: dave, PackageID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	s, e := now.Add(-days(10)), now.Add(-days(2))
	if _, err := svc.UpdateUserPackage(sys(), up.ID, service.UpdateUserPackageInput{StartsAt: &s, ExpiresAt: &e}); err != nil {
		t.Fatal(err)
	}

	var d struct {
		Me struct {
			ActiveFeatures []struct {
				Key, Name, Kind string
				Limit           *int
				ExpiresAt       time.Time
				InGrace         bool
			}
		}
	}
	w.MustDo(daveTok, `{me{activeFeatures{key name kind limit expiresAt inGrace}}}`, nil).Decode(t, &d)
	got := d.Me.ActiveFeatures
	if len(got) != 3 {
		t.Fatalf("active features: %+v", got)
	}
	// Ordered by key: cloud_sync, priority_support, projects.
	sync, support, projects := got[0], got[1], got[2]
	if sync.Key != "cloud_sync" || sync.Kind != "SWITCH" || sync.Limit != nil || sync.InGrace || !sync.ExpiresAt.Equal(now.Add(days(10))) {
		t.Errorf("cloud_sync: %+v", sync)
	}
	if support.Key != "priority_support" || support.Name != "Priority support" || !support.InGrace || support.Limit != nil ||
		!support.ExpiresAt.Equal(e.Add(days(grace))) {
		t.Errorf("priority_support (in grace, until %v): %+v", e.Add(days(grace)), support)
	}
	if projects.Key != "projects" || projects.Kind != "LIMIT" || projects.Limit == nil || *projects.Limit != 8 || projects.InGrace ||
		!projects.ExpiresAt.Equal(now.Add(days(10))) {
		t.Errorf("projects (highest active limit 8, latest expiry in 10 days): %+v", projects)
	}
	// Each agrees with checkAccess.
	for _, f := range got {
		c := checkFeature(t, w, daveTok, f.Key)
		if !c.Granted || (c.Code == "IN_GRACE") != f.InGrace || (c.Limit == nil) != (f.Limit == nil) || (c.Limit != nil && *c.Limit != *f.Limit) {
			t.Errorf("%s: activeFeatures %+v, checkAccess %+v", f.Key, f, c)
		}
	}
}
