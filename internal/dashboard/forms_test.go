package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent/packagecontent"
	"gatehouse/ent/pkg"
	"gatehouse/ent/user"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/auth"
	"gatehouse/internal/service"
)

func TestUserForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent

	t.Run("every field's error beside it, typed values kept", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/users/new", url.Values{
			"username": {"x!"}, "password": {"short"}, "role": {"ADMIN"}, "disabled": {"false", "true"},
		}).wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("username", "must be at least 3 characters").
			wantFieldError("password", "must be at least 8 characters").
			wantValue("username", "x!").wantValue("role", "ADMIN").wantValue("disabled", "true").
			wantValue("password", "").
			wantText("Please correct the 2 fields marked below.")
		if p.fieldError("role") != "" {
			t.Fatalf("role has an error: %q", p.fieldError("role"))
		}
		if strings.Contains(p.Body, "short") {
			t.Fatal("the typed password is shown")
		}
	})
	t.Run("taken username", func(t *testing.T) {
		b.t = t
		b.post("/admin/users/new", url.Values{"username": {"ALICE"}, "password": {"long-enough-pw"}, "role": {"USER"}}).
			wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("username", "is already taken").wantValue("username", "ALICE")
	})
	t.Run("bad role", func(t *testing.T) {
		b.t = t
		b.post("/admin/users/new", url.Values{"username": {"zed"}, "password": {"long-enough-pw"}, "role": {"ROOT"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("role", "must be ADMIN or USER")
	})

	var carol int
	t.Run("create", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/users/new", url.Values{
			"username": {"carol"}, "password": {"carol-password"}, "role": {"ADMIN"}, "disabled": {"false"},
		}).wantRedirect("/admin/users/")
		b.follow(p).wantStatus(http.StatusOK).wantFlash("User carol created.").wantText("carol", "ADMIN", "enabled")
		u, err := c.User.Query().Where(user.Username("carol")).Only(ctx)
		if err != nil || u.Role != user.RoleADMIN || u.Disabled {
			t.Fatalf("carol = %+v, %v", u, err)
		}
		carol = u.ID
		// The password works, and is stored hashed.
		if _, err := s.App.Auth.CheckCredentials(context.Background(), "carol", "carol-password", auth.ClientInfo{}); err != nil {
			t.Fatalf("carol cannot sign in: %v", err)
		}
	})

	t.Run("edit keeps the list's state", func(t *testing.T) {
		b.t = t
		list := b.get("/admin/users?q=car&sort=role&dir=desc&size=10").wantStatus(http.StatusOK).wantText("carol").wantNoText("alice")
		edit := b.get(list.link("Edit carol")).wantStatus(http.StatusOK)
		ret := edit.hidden("return")
		if !strings.HasPrefix(ret, "/admin/users?") || !strings.Contains(ret, "q=car") || !strings.Contains(ret, "sort=role") || !strings.Contains(ret, "size=10") {
			t.Fatalf("edit form returns to %q", ret)
		}
		edit.wantValue("username", "carol").wantValue("password", "").wantValue("role", "ADMIN").wantValue("disabled", "false")
		// No new password: the old one stays.
		p := b.post("/admin/users/"+itoa(carol)+"/edit", url.Values{
			"username": {"carol"}, "password": {""}, "role": {"USER"}, "disabled": {"false"}, "return": {ret},
		})
		if loc := p.Header.Get("Location"); loc != ret {
			t.Fatalf("after saving went to %q, want the list %q", loc, ret)
		}
		back := b.follow(p).wantStatus(http.StatusOK).wantFlash("User carol saved.")
		back.wantValue("q", "car").wantValue("size", "10")
		if _, err := s.App.Auth.CheckCredentials(context.Background(), "carol", "carol-password", auth.ClientInfo{}); err != nil {
			t.Fatalf("an empty password field changed the password: %v", err)
		}
		if u, _ := c.User.Get(ctx, carol); u.Role != user.RoleUSER {
			t.Fatalf("role not saved: %s", u.Role)
		}
	})

	t.Run("edit errors", func(t *testing.T) {
		b.t = t
		b.post("/admin/users/"+itoa(carol)+"/edit", url.Values{"username": {"alice"}, "password": {"tiny"}, "role": {"USER"}}).
			wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("password", "at least 8").wantValue("username", "alice")
		b.post("/admin/users/"+itoa(carol)+"/edit", url.Values{"username": {"alice"}, "role": {"USER"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("username", "is already taken")
		// The last enabled admin cannot demote themself.
		b.post("/admin/users/"+itoa(w.admin.ID)+"/edit", url.Values{"username": {"root"}, "role": {"USER"}, "disabled": {"false"}}).
			wantStatus(http.StatusConflict).wantText("last enabled admin").wantValue("role", "USER")
	})

	t.Run("new password signs the user out", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/users/"+itoa(w.user.ID)+"/edit", url.Values{
			"username": {"alice"}, "password": {"a-new-password"}, "role": {"USER"}, "disabled": {"false"},
		}).wantRedirect("/admin/users/" + itoa(w.user.ID))
		b.follow(p).wantFlash("User alice saved.").wantText("revoked")
		if r := s.Do(w.sessionToken, `{me{username}}`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("old token still works: %+v", r.Errors)
		}
	})

	t.Run("revoke all sessions", func(t *testing.T) {
		b.t = t
		tok := s.Login("alice", "a-new-password")
		up := b.get("/admin/users/" + itoa(w.user.ID)).wantStatus(http.StatusOK)
		// Revoke all asks first, saying how many stop working.
		confirm := b.get(up.link("Revoke all sessions")).wantStatus(http.StatusOK).wantText("Revoke all sessions of alice?", "1 active session of alice will stop working")
		if r := s.Do(tok, `{me{username}}`, nil); len(r.Errors) > 0 {
			t.Fatalf("asking revoked the sessions: %+v", r.Errors)
		}
		ret := confirm.hidden("return")
		p := b.post("/admin/users/"+itoa(w.user.ID)+"/revoke-sessions", url.Values{"return": {ret}}).wantRedirect("/admin/users/" + itoa(w.user.ID))
		b.follow(p).wantFlash("Revoked 1 active session of alice.")
		if r := s.Do(tok, `{me{username}}`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("token works after revoke all: %+v", r.Errors)
		}
	})

	t.Run("delete", func(t *testing.T) {
		b.t = t
		b.get("/admin/users/"+itoa(w.user.ID)+"/delete").wantStatus(http.StatusOK).
			wantText("1 user package", "2 sessions", "Gold")
		p := b.post("/admin/users/"+itoa(w.user.ID)+"/delete", url.Values{"return": {"/admin/users/" + itoa(w.user.ID)}})
		// The return was the deleted user's own page: go to the list.
		p.wantRedirect("/admin/users")
		if p.Header.Get("Location") != "/admin/users" {
			t.Fatalf("after delete went to %q", p.Header.Get("Location"))
		}
		b.follow(p).wantFlash("User alice deleted.").wantText("Edit carol").wantNoText("Edit alice")
		if n, _ := c.UserPackage.Query().Where(userpackage.UserID(w.user.ID)).Count(ctx); n != 0 {
			t.Fatalf("assignments left: %d", n)
		}
		if n, _ := c.UserSession.Query().Where(usersession.UserID(w.user.ID)).Count(ctx); n != 0 {
			t.Fatalf("sessions left: %d", n)
		}
		b.get("/admin/users/" + itoa(w.user.ID)).wantStatus(http.StatusNotFound)
		// The last admin cannot be deleted.
		b.post("/admin/users/"+itoa(w.admin.ID)+"/delete", nil).wantStatus(http.StatusConflict).wantText("last enabled admin")
	})
}

func TestPackageForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent

	np := b.get("/admin/packages/new").wantStatus(http.StatusOK)
	np.wantValue("contents.0.name", "").wantValue("contents.1.featureKey", "").wantValue("contents.1.limit", "")

	rows := url.Values{
		"name": {"Silver"}, "detail": {"Second tier"}, "days": {"x"},
		"contents.0.name": {"Auto"}, "contents.0.featureKey": {"auto_gather"},
		"contents.1.name": {""}, "contents.1.featureKey": {""},
	}
	with := func(base url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range base {
			out[k] = append([]string(nil), v...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}

	t.Run("add a row without script", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/packages/new", with(rows, "action", "add-row")).wantStatus(http.StatusOK)
		p.wantValue("name", "Silver").wantValue("days", "x").wantValue("detail", "Second tier").
			wantValue("contents.0.name", "Auto").wantValue("contents.0.featureKey", "auto_gather").
			wantValue("contents.2.name", "")
		if p.fieldError("days") != "" {
			t.Fatal("adding a row validated the form")
		}
	})
	t.Run("remove a row", func(t *testing.T) {
		b.t = t
		three := with(rows, "contents.2.name", "Sync", "contents.2.featureKey", "cloud_sync", "action", "remove-0")
		p := b.post("/admin/packages/new", three).wantStatus(http.StatusOK)
		p.wantValue("contents.0.name", "").wantValue("contents.1.name", "Sync").wantValue("contents.1.featureKey", "cloud_sync")
		if strings.Contains(p.Body, `name="contents.2.name"`) {
			t.Fatal("the removed row is still there")
		}
	})
	t.Run("days not a number", func(t *testing.T) {
		b.t = t
		b.post("/admin/packages/new", with(rows, "action", "save")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("days", "must be a whole number").wantValue("contents.0.name", "Auto").wantValue("name", "Silver")
	})
	t.Run("days out of range", func(t *testing.T) {
		b.t = t
		b.post("/admin/packages/new", with(rows, "days", "0")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("days", "must be between 1 and 36500").wantValue("days", "0")
	})
	t.Run("content row errors point at their row", func(t *testing.T) {
		b.t = t
		// Row 1 is empty and skipped; the service's second content is row 2.
		p := b.post("/admin/packages/new", with(rows, "days", "10",
			"contents.2.name", "Again", "contents.2.featureKey", "auto_gather")).wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("contents.2.featureKey", "auto_gather is listed twice").wantValue("contents.2.name", "Again")
		if p.fieldError("contents.1.featureKey") != "" || p.fieldError("contents.0.featureKey") != "" {
			t.Fatal("error shown on the wrong row")
		}
		b.post("/admin/packages/new", with(rows, "days", "10", "contents.0.name", " ")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("contents.0.name", "must not be empty")
		b.post("/admin/packages/new", with(rows, "days", "10", "contents.0.featureKey", "nope")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("contents.0.featureKey", "feature not found")
	})
	t.Run("name taken", func(t *testing.T) {
		b.t = t
		b.post("/admin/packages/new", with(rows, "days", "10", "name", "Gold")).wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("name", "already exists")
	})

	var silver int
	t.Run("create with two contents", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/packages/new", with(rows, "days", "10", "contents.1.name", "Support", "contents.1.featureKey", "priority_support"))
		p.wantRedirect("/admin/packages/")
		b.follow(p).wantFlash("Package Silver created with 2 contents.").wantText("Second tier", "Auto", "Support")
		pk, err := c.Pkg.Query().Where(pkg.Name("Silver")).WithContents().Only(ctx)
		if err != nil || pk.Days != 10 || len(pk.Edges.Contents) != 2 {
			t.Fatalf("silver = %+v %v", pk, err)
		}
		silver = pk.ID
	})
	t.Run("edit replaces the contents", func(t *testing.T) {
		b.t = t
		e := b.get("/admin/packages/" + itoa(silver) + "/edit").wantStatus(http.StatusOK)
		e.wantValue("contents.0.featureKey", "auto_gather").wantValue("contents.1.featureKey", "priority_support").wantValue("days", "10")
		p := b.post("/admin/packages/"+itoa(silver)+"/edit", url.Values{
			"name": {"Silver"}, "detail": {""}, "days": {"14"},
			"contents.0.name": {"Support only"}, "contents.0.featureKey": {"priority_support"}, "action": {"save"},
		}).wantRedirect("/admin/packages/" + itoa(silver))
		b.follow(p).wantFlash("Package Silver saved.").wantText("Support only").withoutHistory().wantNoText("Second tier")
		cs, _ := c.PackageContent.Query().Where(packagecontent.PackageID(silver)).WithFeature().All(ctx)
		if len(cs) != 1 || cs[0].Edges.Feature.Key != "priority_support" || cs[0].Limit != nil {
			t.Fatalf("contents = %+v", cs)
		}
	})
	t.Run("delete refused while assigned", func(t *testing.T) {
		b.t = t
		// The package's page offers no Delete, and says why.
		detail := b.get("/admin/packages/" + itoa(w.pkg.ID)).wantStatus(http.StatusOK).wantText("Assigned 1 time: it can be deleted once those user packages are.")
		if ls := detail.links("Delete"); len(ls) != 0 {
			t.Fatalf("an assigned package's page offers Delete: %q", ls)
		}
		if ls := b.get("/admin/packages/" + itoa(silver)).links("Delete"); len(ls) != 1 {
			t.Fatalf("an unassigned package's page offers Delete %d times", len(ls))
		}
		b.get("/admin/packages/" + itoa(w.pkg.ID) + "/delete").wantText("assigned 1 time, so it cannot be deleted")
		b.post("/admin/packages/"+itoa(w.pkg.ID)+"/delete", nil).wantStatus(http.StatusConflict).
			wantText("delete those user packages first")
		if _, err := c.Pkg.Get(ctx, w.pkg.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("delete with contents", func(t *testing.T) {
		b.t = t
		b.get("/admin/packages/"+itoa(silver)+"/delete").wantStatus(http.StatusOK).wantText("1 content", "Support only")
		p := b.post("/admin/packages/"+itoa(silver)+"/delete", url.Values{"return": {"/admin/packages?sort=days"}})
		if loc := p.Header.Get("Location"); loc != "/admin/packages?sort=days" {
			t.Fatalf("after delete went to %q", loc)
		}
		b.follow(p).wantFlash("Package Silver deleted.")
		if n, _ := c.PackageContent.Query().Where(packagecontent.PackageID(silver)).Count(ctx); n != 0 {
			t.Fatalf("contents left: %d", n)
		}
	})
}

func TestContentForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	pid := itoa(w.pkg.ID)

	b.get("/admin/package-contents/new?packageID="+pid).wantStatus(http.StatusOK).wantValue("packageID", pid)
	p := b.post("/admin/package-contents/new", url.Values{"packageID": {""}, "name": {""}, "featureKey": {"auto_gather"}}).
		wantStatus(http.StatusUnprocessableEntity)
	p.wantFieldError("packageID", "choose a package").wantValue("featureKey", "auto_gather")
	b.post("/admin/package-contents/new", url.Values{"packageID": {pid}, "name": {""}, "featureKey": {"auto_gather"}}).
		wantStatus(http.StatusUnprocessableEntity).wantFieldError("name", "must not be empty").wantValue("packageID", pid)
	b.post("/admin/package-contents/new", url.Values{"packageID": {pid}, "name": {"Dup"}, "featureKey": {"cloud_sync"}}).
		wantStatus(http.StatusUnprocessableEntity).wantFieldError("featureKey", "already grants this feature")
	b.post("/admin/package-contents/new", url.Values{"packageID": {"999999"}, "name": {"X"}, "featureKey": {"auto_gather"}}).
		wantStatus(http.StatusUnprocessableEntity).wantFieldError("packageID", "package not found")

	p = b.post("/admin/package-contents/new", url.Values{"packageID": {pid}, "name": {"Auto"}, "featureKey": {"auto_gather"}}).
		wantRedirect("/admin/package-contents/")
	b.follow(p).wantFlash("Package content Auto created.").wantText("auto_gather", "Gold")
	auto, err := c.PackageContent.Query().Where(packagecontent.Name("Auto")).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}

	b.get("/admin/package-contents/"+itoa(auto.ID)+"/edit").wantValue("name", "Auto").wantValue("featureKey", "auto_gather")
	b.post("/admin/package-contents/"+itoa(auto.ID)+"/edit", url.Values{"name": {"Auto 2"}, "featureKey": {"moe_gatherer"}}).
		wantStatus(http.StatusUnprocessableEntity).wantFieldError("featureKey", "already grants this feature").wantValue("name", "Auto 2")
	p = b.post("/admin/package-contents/"+itoa(auto.ID)+"/edit", url.Values{"name": {"Auto gather"}, "featureKey": {"auto_gather"}}).
		wantRedirect("/admin/package-contents/" + itoa(auto.ID))
	b.follow(p).wantFlash("Package content Auto gather saved.")

	// Filters: by package and by feature.
	b.get("/admin/package-contents?feature=auto_gather").wantText("Auto gather", "1 package content")
	b.get("/admin/package-contents?packageID="+pid+"&q=cloud").wantText("Cloud sync", "1 package content")

	p = b.post("/admin/package-contents/"+itoa(auto.ID)+"/delete", nil).wantRedirect("/admin/package-contents")
	b.follow(p).wantFlash("Package content Auto gather deleted.")
	if _, err := c.PackageContent.Get(ctx, auto.ID); err == nil {
		t.Fatal("content not deleted")
	}
}

func TestAssignmentForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	bob := s.CreateUser("bob", userPW, user.RoleUSER)
	pid, bid := itoa(w.pkg.ID), itoa(bob.ID)

	t.Run("days prefilled from the package", func(t *testing.T) {
		b.t = t
		b.get("/admin/user-packages/new?packageID="+pid+"&userID="+bid).wantStatus(http.StatusOK).
			wantValue("days", "30").wantValue("packageID", pid).wantValue("userID", bid)
		// Without script: "Use its days" fills them in.
		b.post("/admin/user-packages/new", url.Values{"userID": {bid}, "packageID": {pid}, "days": {""}, "action": {"prefill"}}).
			wantStatus(http.StatusOK).wantValue("days", "30").wantValue("userID", bid)
	})
	t.Run("errors", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/user-packages/new", url.Values{"userID": {""}, "packageID": {pid}, "days": {"7"}, "startsAt": {"soon"}}).
			wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("userID", "choose a user").wantFieldError("startsAt", "must be a date and time").
			wantValue("days", "7").wantValue("startsAt", "soon").wantValue("packageID", pid)
		b.post("/admin/user-packages/new", url.Values{"userID": {bid}, "packageID": {pid}, "days": {"0"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("days", "must be between 1 and 36500")
		b.post("/admin/user-packages/new", url.Values{"userID": {"999999"}, "packageID": {pid}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("userID", "user not found")
	})

	var upID int
	t.Run("assign", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/user-packages/new", url.Values{"userID": {bid}, "packageID": {pid}, "days": {"5"}, "startsAt": {"2030-03-01T10:00"}}).
			wantRedirect("/admin/user-packages/")
		b.follow(p).wantFlash("Package assigned until 2030-03-06 10:00 UTC.").wantText("bob · Gold", "NOT STARTED")
		up, err := c.UserPackage.Query().Where(userpackage.UserID(bob.ID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC)
		if !up.StartsAt.Equal(want) || !up.ExpiresAt.Equal(want.Add(5*24*time.Hour)) {
			t.Fatalf("assignment %v – %v", up.StartsAt, up.ExpiresAt)
		}
		upID = up.ID
	})
	t.Run("edit", func(t *testing.T) {
		b.t = t
		e := b.get("/admin/user-packages/" + itoa(upID) + "/edit").wantStatus(http.StatusOK)
		e.wantValue("startsAt", "2030-03-01T10:00").wantValue("expiresAt", "2030-03-06T10:00")
		b.post("/admin/user-packages/"+itoa(upID)+"/edit", url.Values{"startsAt": {"2030-03-01T10:00"}, "expiresAt": {"2030-02-01T10:00"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("expiresAt", "must be after startsAt").
			wantValue("expiresAt", "2030-02-01T10:00")
		b.post("/admin/user-packages/"+itoa(upID)+"/edit", url.Values{"startsAt": {""}, "expiresAt": {"2030-02-01T10:00"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("startsAt", "must not be empty")
		p := b.post("/admin/user-packages/"+itoa(upID)+"/edit", url.Values{"startsAt": {"2020-01-01T00:00"}, "expiresAt": {"2040-01-01T00:00"}}).
			wantRedirect("/admin/user-packages/" + itoa(upID))
		b.follow(p).wantFlash("Saved bob · Gold").wantText("ACTIVE")
	})
	t.Run("extend", func(t *testing.T) {
		b.t = t
		before, _ := c.UserPackage.Get(ctx, upID)
		dp := b.get("/admin/user-packages/"+itoa(upID)).wantStatus(http.StatusOK).wantValue("extendDays", "30")
		ret := dp.hidden("return")
		b.post("/admin/user-packages/"+itoa(upID)+"/extend", url.Values{"extendDays": {"soon"}, "return": {ret}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("extendDays", "must be a whole number").wantValue("extendDays", "soon")
		b.post("/admin/user-packages/"+itoa(upID)+"/extend", url.Values{"extendDays": {"-3"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("extendDays", "must be between 1 and 36500")
		p := b.post("/admin/user-packages/"+itoa(upID)+"/extend", url.Values{"extendDays": {"10"}, "return": {ret}}).
			wantRedirect("/admin/user-packages/" + itoa(upID))
		b.follow(p).wantFlash("Extended by 10 days").wantText("2040-01-11")
		after, _ := c.UserPackage.Get(ctx, upID)
		if !after.ExpiresAt.Equal(before.ExpiresAt.Add(10 * 24 * time.Hour)) {
			t.Fatalf("expiry %v → %v, want +10 days", before.ExpiresAt, after.ExpiresAt)
		}
	})
	t.Run("assigning a held package extends it", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/user-packages/new", url.Values{"userID": {bid}, "packageID": {pid}, "days": {"1"}}).
			wantRedirect("/admin/user-packages/" + itoa(upID))
		b.follow(p).wantFlash("already held this package").wantText("2040-01-12")
	})
	t.Run("filters", func(t *testing.T) {
		b.t = t
		b.get("/admin/user-packages?userID=" + bid).wantText("Edit bob · Gold").wantNoText("Edit alice · Gold")
		b.get("/admin/user-packages?q=ALI").wantText("Edit alice · Gold").wantNoText("Edit bob · Gold")
		b.get("/admin/user-packages?status=EXPIRED").wantText("No user packages match")
		p := b.get("/admin/user-packages?status=ACTIVE&sort=user&dir=desc").wantText("Edit alice · Gold", "Edit bob · Gold")
		if strings.Index(p.Body, "Edit<span class=\"visually-hidden\"> bob") > strings.Index(p.Body, "Edit<span class=\"visually-hidden\"> alice") {
			t.Fatal("not sorted by user, descending")
		}
	})
	t.Run("delete", func(t *testing.T) {
		b.t = t
		b.get("/admin/user-packages/" + itoa(upID) + "/delete").wantText("loses the package's features at once")
		p := b.post("/admin/user-packages/"+itoa(upID)+"/delete", nil).wantRedirect("/admin/user-packages")
		b.follow(p).wantFlash("User package bob · Gold deleted.")
		if _, err := c.UserPackage.Get(ctx, upID); err == nil {
			t.Fatal("not deleted")
		}
	})
}

func TestSessionForms(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	ctx := adminCtx(w.admin.ID)
	c := s.App.DB.Ent
	uid := itoa(w.user.ID)

	var sid int
	var token string
	t.Run("issue shows the token once", func(t *testing.T) {
		b.t = t
		b.get("/admin/sessions/new?userID="+uid).wantValue("userID", uid)
		issued := b.post("/admin/sessions/new", url.Values{"userID": {uid}, "label": {"nightly job"}, "expiresAt": {""}}).
			wantRedirect("/admin/sessions/")
		p := b.follow(issued).wantStatus(http.StatusOK).wantText("Copy the token now", "Token for alice")
		token = p.attrOf("token", "value")
		if !strings.HasPrefix(token, "gate_") {
			t.Fatalf("token %q", token)
		}
		var d struct{ Me struct{ Username string } }
		s.MustDo(token, `{me{username}}`, nil).Decode(t, &d)
		if d.Me.Username != "alice" {
			t.Fatalf("token belongs to %q", d.Me.Username)
		}
		ss, err := c.UserSession.Query().Where(usersession.UserAgent("nightly job")).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sid = ss.ID
		detail := b.get(p.link("I have copied it")).wantStatus(http.StatusOK).wantText("nightly job", "active")
		if strings.Contains(detail.Body, token) {
			t.Fatal("the token is shown again")
		}
		// Reloading the page that showed it shows it no more, and issues
		// nothing.
		again := b.get(issued.Header.Get("Location")).wantStatus(http.StatusOK).wantText("already shown")
		if strings.Contains(again.Body, token) {
			t.Fatal("a reload shows the token again")
		}
		if n := c.UserSession.Query().Where(usersession.UserAgent("nightly job")).CountX(ctx); n != 1 {
			t.Fatalf("%d sessions after the reload, want 1", n)
		}
	})
	t.Run("issue errors", func(t *testing.T) {
		b.t = t
		b.post("/admin/sessions/new", url.Values{"userID": {uid}, "expiresAt": {"2001-01-01T00:00"}, "label": {"old"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("expiresAt", "must be in the future").wantValue("label", "old")
		b.post("/admin/sessions/new", url.Values{"userID": {""}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("userID", "choose a user")
		b.post("/admin/sessions/new", url.Values{"userID": {"999999"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("userID", "user not found")
		dis := true
		dora := s.CreateUser("dora", userPW, user.RoleUSER)
		if _, err := s.App.Service.UpdateUser(ctx, dora.ID, service.UpdateUserInput{Disabled: &dis}); err != nil {
			t.Fatal(err)
		}
		b.post("/admin/sessions/new", url.Values{"userID": {itoa(dora.ID)}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("userID", "user is disabled")
	})
	t.Run("edit expiry", func(t *testing.T) {
		b.t = t
		far := time.Now().UTC().AddDate(5, 0, 0).Format("2006-01-02T15:04")
		b.post("/admin/sessions/"+itoa(sid)+"/edit", url.Values{"expiresAt": {far}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("expiresAt", "must be within").wantValue("expiresAt", far)
		soon := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
		p := b.post("/admin/sessions/"+itoa(sid)+"/edit", url.Values{"expiresAt": {soon.Format("2006-01-02T15:04")}}).
			wantRedirect("/admin/sessions/" + itoa(sid))
		b.follow(p).wantFlash("now expires " + soon.Format("2006-01-02 15:04") + " UTC")
		if ss, _ := c.UserSession.Get(ctx, sid); !ss.ExpiresAt.Equal(soon) || !ss.MaxExpiresAt.Equal(soon) {
			t.Fatalf("expiry %v / %v, want %v", ss.ExpiresAt, ss.MaxExpiresAt, soon)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		b.t = t
		list := b.get("/admin/sessions?q=nightly").wantText("nightly job").wantNoText("build server")
		// Revoke asks first; the question changes nothing.
		confirm := b.get(list.link("Revoke")).wantStatus(http.StatusOK).wantText("Revoke Session #"+itoa(sid)+" of alice?", "stops working at once")
		if ss, _ := c.UserSession.Get(ctx, sid); ss.RevokedAt != nil {
			t.Fatal("asking revoked the session")
		}
		ret := confirm.hidden("return")
		if ret != "/admin/sessions?q=nightly" {
			t.Fatalf("the confirmation returns to %q", ret)
		}
		p := b.post("/admin/sessions/"+itoa(sid)+"/revoke", url.Values{"return": {ret}})
		if p.Header.Get("Location") != ret {
			t.Fatalf("after revoke went to %q, want %q", p.Header.Get("Location"), ret)
		}
		b.follow(p).wantFlash("Session #" + itoa(sid) + " of alice revoked.").wantText("revoked")
		if r := s.Do(token, `{me{username}}`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("revoked token works: %+v", r.Errors)
		}
		b.get("/admin/sessions?status=revoked").wantText("nightly job").wantNoText("build server")
		b.get("/admin/sessions?status=active").wantText("build server").wantNoText("nightly job")
	})
	t.Run("delete", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/sessions/"+itoa(sid)+"/delete", nil).wantRedirect("/admin/sessions")
		b.follow(p).wantFlash("deleted").wantNoText("nightly job")
	})
}

// TestListLimits: page size, page and search are bounded; unknown sorts
// and filters are ignored; the state shows in the list's controls.
func TestListLimits(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	for i := 0; i < 30; i++ {
		s.CreateUser(fmt.Sprintf("user%02d", i), userPW, user.RoleUSER)
	}
	b := signIn(t, s, "root", adminPW)
	rowsOf := func(p *page) int {
		return strings.Count(p.Body, `data-label="Username"`)
	}

	// Descending by username, 10 a page: the first page is user29…user20,
	// its Next page user19…user10, and that page's Previous the first.
	p := b.get("/admin/users?size=10&sort=username&dir=desc").wantStatus(http.StatusOK)
	p.wantText("32 users").wantValue("size", "10")
	if i := strings.Index(p.Body, ">user29<"); i < 0 || strings.Contains(p.Body, ">user19<") {
		t.Fatalf("page 1 is not user29…user20: %s", p.text())
	}
	p = b.get(p.link("Next →")).wantStatus(http.StatusOK)
	if n := rowsOf(p); n != 10 {
		t.Fatalf("rows = %d, want 10", n)
	}
	if i, j := strings.Index(p.Body, ">user19<"), strings.Index(p.Body, ">user10<"); i < 0 || j < 0 || i > j || strings.Contains(p.Body, ">user20<") {
		t.Fatalf("page 2 is not user19…user10: %s", p.text())
	}
	back := b.get(p.link("← Previous")).wantStatus(http.StatusOK)
	if !strings.Contains(back.Body, ">user29<") || !strings.Contains(back.Body, ">user20<") || strings.Contains(back.Body, ">user19<") {
		t.Fatalf("previous page is not user29…user20: %s", back.text())
	}
	p = b.get("/admin/users?size=100000").wantStatus(http.StatusOK)
	if n := rowsOf(p); n != 32 {
		t.Fatalf("rows = %d, want 32", n)
	}
	p.wantValue("size", "100")
	// A cursor that does not parse starts from the top.
	b.get("/admin/users?size=10&after=zz~%00").wantStatus(http.StatusOK).wantText("32 users")
	p = b.get("/admin/users?size=-4&page=-1&sort=password_hash&dir=sideways").wantStatus(http.StatusOK).wantText("32 users")
	if n := rowsOf(p); n != 25 {
		t.Fatalf("rows = %d, want 25", n)
	}
	long := strings.Repeat("u", 5000)
	p = b.get("/admin/users?q=" + long).wantStatus(http.StatusOK)
	if got := p.value("q"); len(got) != 100 {
		t.Fatalf("search kept %d characters, want 100", len(got))
	}
	b.get("/admin/users?role=ADMIN").wantText("root").wantNoText("user05")
	b.get("/admin/users?role=GOD").wantText("root", "user05")
	b.get("/admin/users?q=%25").wantText("No users match")
	b.get("/admin/packages?feature=NOT_A_KEY").wantText("Gold")
	b.get("/admin/sessions?userID=abc&status=weird").wantText("build server")
	_ = w
}

// TestOverview shows counts, assignments about to expire and recent
// sessions.
func TestOverview(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	ctx := adminCtx(w.admin.ID)
	soon := time.Now().UTC().Add(-time.Hour)
	bob := s.CreateUser("bob", userPW, user.RoleUSER)
	days := 3
	if _, err := s.App.Service.AssignPackage(ctx, service.AssignPackageInput{UserID: bob.ID, PackageID: w.pkg.ID, Days: &days, StartsAt: &soon}); err != nil {
		t.Fatal(err)
	}
	b := signIn(t, s, "root", adminPW)
	p := b.get("/admin/").wantStatus(http.StatusOK)
	p.wantText("3 Users", "1 admin", "5 Features", "1 limit", "1 Packages", "2 Package contents", "2 User packages", "2 active", "1 Sessions")
	exp := findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "expiring" })
	if len(exp) != 1 {
		t.Fatal("no expiring section")
	}
	txt := textOf(exp[0])
	if !strings.Contains(txt, "bob") || strings.Contains(txt, "alice") {
		t.Fatalf("expiring section: %s", strings.Join(strings.Fields(txt), " "))
	}
}

// TestEverySort: every sortable column of every list answers, both ways,
// and the header says how the list is sorted.
func TestEverySort(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	for path, keys := range map[string][]string{
		"/admin/users":            {"username", "role", "disabled", "lastLogin", "created"},
		"/admin/packages":         {"name", "days", "graceDays", "created"},
		"/admin/features":         {"key", "name", "kind", "created"},
		"/admin/package-contents": {"name", "limit", "created"},
		"/admin/user-packages":    {"startsAt", "expiresAt", "created"},
		"/admin/sessions":         {"created", "lastSeen", "expiresAt"},
	} {
		for _, k := range keys {
			for _, dir := range []string{"asc", "desc"} {
				t.Run(path+" "+k+" "+dir, func(t *testing.T) {
					b.t = t
					p := b.get(path + "?sort=" + k + "&dir=" + dir).wantStatus(http.StatusOK)
					want := map[string]string{"asc": "ascending", "desc": "descending"}[dir]
					sorted := findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "aria-sort"); return v == want })
					if len(sorted) != 1 {
						t.Fatalf("%d columns marked %s", len(sorted), want)
					}
				})
			}
		}
	}
}

// TestDeleteSelf: an admin who deletes their own account is signed out.
func TestDeleteSelf(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	bob := s.CreateUser("bob", adminPW, user.RoleADMIN)
	b := signIn(t, s, "bob", adminPW)
	b.get("/admin/users/" + itoa(bob.ID) + "/delete").wantText("This is your own account")
	p := b.post("/admin/users/"+itoa(bob.ID)+"/delete", nil).wantRedirect("/admin/login")
	b.follow(p).wantFlash("Your account bob was deleted.")
	b.get("/admin/").wantRedirect("/admin/login")
}
