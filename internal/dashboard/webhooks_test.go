package dashboard_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"gatehouse/ent"
	"gatehouse/ent/webhookdelivery"
	"gatehouse/ent/webhookendpoint"
	"gatehouse/internal/apptest"
	"gatehouse/internal/webhooks"
)

// endpointNamed is the stored endpoint with url (read past the privacy
// rules, secrets and all).
func endpointNamed(t *testing.T, s *apptest.Server, u string) *ent.WebhookEndpoint {
	t.Helper()
	ep, err := s.App.DB.Ent.WebhookEndpoint.Query().Where(webhookendpoint.URL(u)).Only(sys())
	if err != nil {
		t.Fatalf("endpoint %s: %v", u, err)
	}
	return ep
}

// makeEndpoint creates an endpoint through the dashboard and reads its
// secret off the page it is shown on.
func makeEndpoint(t *testing.T, b *browser, s *apptest.Server, u, types string) (*ent.WebhookEndpoint, string) {
	t.Helper()
	p := b.post("/admin/webhooks/new", url.Values{
		"url": {u}, "description": {"Billing"}, "eventTypes": {types}, "enabled": {"false", "true"},
	}).wantRedirect("/admin/webhooks/")
	ep := endpointNamed(t, s, u)
	if loc := p.Header.Get("Location"); loc != "/admin/webhooks/"+itoa(ep.ID)+"/secret" {
		t.Fatalf("created: sent to %q", loc)
	}
	shown := b.follow(p).wantStatus(http.StatusOK).wantFlash("created")
	return ep, shown.attrOf("secret", "value")
}

// deliveryRows are the data-delivery ids of a page's delivery table.
func deliveryRows(p *page) []string {
	var out []string
	for _, tr := range findAll(p.doc, func(n *html.Node) bool { _, ok := attr(n, "data-delivery"); return ok }) {
		v, _ := attr(tr, "data-delivery")
		out = append(out, v)
	}
	return out
}

// TestWebhookEndpoints: admins add, change, rotate and delete webhook
// endpoints in the dashboard; a signing secret is shown once.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	c := s.App.DB.Ent

	t.Run("create shows the secret once", func(t *testing.T) {
		b.t = t
		ep, secret := makeEndpoint(t, b, s, "https://hooks.example/once", "user.*, user_package.*\nfeature.created")
		if !strings.HasPrefix(secret, "whsec_") || secret != ep.Secret {
			t.Fatalf("shown secret %q, stored %q", secret, ep.Secret)
		}
		if !slices.Equal(ep.EventTypes, []string{"user.*", "user_package.*", "feature.created"}) || ep.Description != "Billing" || !ep.Enabled {
			t.Fatalf("stored %+v", ep)
		}
		// A reload shows it no more and makes nothing.
		again := b.get("/admin/webhooks/" + itoa(ep.ID) + "/secret").wantStatus(http.StatusOK).wantText("This secret was already shown")
		if strings.Contains(again.Body, secret) {
			t.Fatal("the secret is shown a second time")
		}
		if n, _ := c.WebhookEndpoint.Query().Count(sys()); n != 1 {
			t.Fatalf("%d endpoints", n)
		}
		if after := endpointNamed(t, s, ep.URL); after.Secret != secret || after.PreviousSecret != nil {
			t.Fatal("the reload changed the secret")
		}
		// The endpoint's page and list never show it.
		for _, path := range []string{"/admin/webhooks/" + itoa(ep.ID), "/admin/webhooks", "/admin/webhooks/" + itoa(ep.ID) + "/edit"} {
			p := b.get(path).wantStatus(http.StatusOK)
			if strings.Contains(p.Body, secret) {
				t.Fatalf("%s shows the secret", path)
			}
		}
		p := b.get("/admin/webhooks/"+itoa(ep.ID)).wantText("hooks.example/once", "user_package.*", "enabled", "Billing")
		if p.attrOf("endpoint-url", "id") == "" {
			t.Fatal("no URL shown")
		}
		b.get("/admin/webhooks").wantText("hooks.example/once", "feature.created")
		// Another browser's session holds no secret either.
		other := signIn(t, s, "root", adminPW)
		other.get("/admin/webhooks/" + itoa(ep.ID) + "/secret").wantText("already shown")
	})

	t.Run("bad input beside its field", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/webhooks/new", url.Values{"url": {"ftp://hooks.example/x"}, "eventTypes": {"user.*"}, "enabled": {"true"}}).
			wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("url", "http or https").wantValue("url", "ftp://hooks.example/x").wantValue("eventTypes", "user.*")
		p = b.post("/admin/webhooks/new", url.Values{"url": {"https://hooks.example/bad"}, "eventTypes": {"user.created\nNot A Type"}}).
			wantStatus(http.StatusUnprocessableEntity)
		p.wantFieldError("eventTypes", "must be an event type").wantValue("enabled", "false")
		if n, _ := c.WebhookEndpoint.Query().Where(webhookendpoint.URLHasPrefix("https://hooks.example/bad")).Count(sys()); n != 0 {
			t.Fatal("a bad endpoint was stored")
		}
	})

	t.Run("edit and disable", func(t *testing.T) {
		b.t = t
		ep, _ := makeEndpoint(t, b, s, "https://hooks.example/edit", "user.*")
		p := b.get("/admin/webhooks/" + itoa(ep.ID) + "/edit").wantStatus(http.StatusOK)
		p.wantValue("url", ep.URL).wantValue("eventTypes", "user.*").wantValue("enabled", "true")
		b.post("/admin/webhooks/"+itoa(ep.ID)+"/edit", url.Values{
			"url": {"https://hooks.example/edited"}, "description": {"Changed"}, "eventTypes": {""}, "enabled": {"false"},
		}).wantRedirect("/admin/webhooks/" + itoa(ep.ID))
		got := endpointNamed(t, s, "https://hooks.example/edited")
		if got.Enabled || len(got.EventTypes) != 0 || got.Description != "Changed" || got.Secret != ep.Secret {
			t.Fatalf("saved %+v", got)
		}
		b.get("/admin/webhooks/"+itoa(ep.ID)).wantText("disabled", "every event")
		b.post("/admin/webhooks/"+itoa(ep.ID)+"/edit", url.Values{"url": {"not a url"}, "eventTypes": {"user.*"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("url", "URL")
	})

	t.Run("rotate", func(t *testing.T) {
		b.t = t
		ep, first := makeEndpoint(t, b, s, "https://hooks.example/rotate", "")
		// Asking first: nothing changes on GET.
		b.get("/admin/webhooks/"+itoa(ep.ID)+"/rotate").wantStatus(http.StatusOK).
			wantText("Rotate the signing secret?", "keeps signing beside the new one for 24 hours")
		if endpointNamed(t, s, ep.URL).Secret != first {
			t.Fatal("the confirmation rotated the secret")
		}
		p := b.post("/admin/webhooks/"+itoa(ep.ID)+"/rotate", nil).wantRedirect("/admin/webhooks/" + itoa(ep.ID) + "/secret")
		shown := b.follow(p).wantStatus(http.StatusOK).wantFlash("New signing secret")
		second := shown.attrOf("secret", "value")
		got := endpointNamed(t, s, ep.URL)
		if second == first || got.Secret != second || got.PreviousSecret == nil || *got.PreviousSecret != first {
			t.Fatalf("after rotating: shown %q, stored %q (previous %v)", second, got.Secret, got.PreviousSecret)
		}
		if until := got.PreviousSecretUntil; until == nil || until.Sub(time.Now()) < 23*time.Hour || until.Sub(time.Now()) > 25*time.Hour {
			t.Fatalf("previous secret signs until %v", until)
		}
		shown.wantText("The secret this one replaced keeps signing beside it until")
		b.get("/admin/webhooks/" + itoa(ep.ID) + "/secret").wantText("already shown")
		b.get("/admin/webhooks/" + itoa(ep.ID)).wantText("The secret it replaced signs too until")
		// A second rotation within the day warns that the oldest stops now.
		b.get("/admin/webhooks/" + itoa(ep.ID) + "/rotate").wantText("it stops signing now")
	})

	t.Run("delete with confirmation", func(t *testing.T) {
		b.t = t
		ep, _ := makeEndpoint(t, b, s, "https://hooks.example/delete", "")
		b.post("/admin/webhooks/"+itoa(ep.ID)+"/test", nil).wantRedirect("/admin/webhooks/" + itoa(ep.ID))
		b.get("/admin/webhooks/"+itoa(ep.ID)+"/delete").wantStatus(http.StatusOK).
			wantText("Delete webhook endpoint https://hooks.example/delete?", "1 delivery")
		if _, err := c.WebhookEndpoint.Get(sys(), ep.ID); err != nil {
			t.Fatal("the confirmation deleted the endpoint")
		}
		b.follow(b.post("/admin/webhooks/"+itoa(ep.ID)+"/delete", nil).wantRedirect("/admin/webhooks")).
			wantFlash("deleted")
		if n, _ := c.WebhookEndpoint.Query().Where(webhookendpoint.ID(ep.ID)).Count(sys()); n != 0 {
			t.Fatal("endpoint still stored")
		}
		if n, _ := c.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(ep.ID)).Count(sys()); n != 0 {
			t.Fatal("its deliveries are still stored")
		}
		b.get("/admin/webhooks/" + itoa(ep.ID)).wantStatus(http.StatusNotFound)
	})
}

// TestWebhookDeliveries: an endpoint's delivery log, with "Send a test
// event" and "Retry now".
func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := signIn(t, s, "root", adminPW)
	c := s.App.DB.Ent
	ep, _ := makeEndpoint(t, b, s, "https://hooks.example/log", "user.*")
	other, _ := makeEndpoint(t, b, s, "https://hooks.example/other", "")
	// Changes feed the outbox: three users, three user.created deliveries.
	for _, name := range []string{"carol", "dave", "erin"} {
		s.CreateUser(name, userPW, "USER")
	}
	xs, err := c.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(ep.ID)).Order(webhookdelivery.ByID()).All(sys())
	if err != nil || len(xs) != 3 {
		t.Fatalf("deliveries %v, %v", xs, err)
	}
	// The first one failed for good, with a hostile answer.
	code := 500
	failed, err := xs[0].Update().
		SetStatus(webhookdelivery.StatusFAILED).SetAttempts(7).SetLastStatusCode(code).SetLastDurationMs(1234).
		SetLastResponse(`<script>alert("x")</script>`).SetLastError("the receiver answered 500").
		SetNextAttemptAt(time.Now().Add(time.Hour)).Save(sys())
	if err != nil {
		t.Fatal(err)
	}
	base := "/admin/webhooks/" + itoa(ep.ID)

	t.Run("log", func(t *testing.T) {
		b.t = t
		p := b.get(base + "/deliveries").wantStatus(http.StatusOK)
		if got := deliveryRows(p); !slices.Equal(got, []string{itoa(xs[2].ID), itoa(xs[1].ID), itoa(xs[0].ID)}) {
			t.Fatalf("rows %v", got)
		}
		p.wantText("user.created", xs[0].WebhookID, "FAILED", "PENDING", "500", "1234 ms", "the receiver answered 500")
		if strings.Contains(p.Body, `<script>alert`) || !strings.Contains(p.Body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
			t.Fatal("the response excerpt is not escaped")
		}
		// The endpoint's page shows the newest ones too.
		if got := deliveryRows(b.get(base)); len(got) != 3 {
			t.Fatalf("endpoint page rows %v", got)
		}
		// Filtered by status.
		if got := deliveryRows(b.get(base + "/deliveries?status=FAILED")); !slices.Equal(got, []string{itoa(failed.ID)}) {
			t.Fatalf("failed rows %v", got)
		}
		b.get(base+"/deliveries?status=LOST").wantStatus(http.StatusUnprocessableEntity).
			wantFieldError("status", "must be PENDING, DELIVERED or FAILED")
		b.get(base + "/deliveries?before=x.y").wantStatus(http.StatusUnprocessableEntity).wantText("damaged")
		// Paged by keyset: two, then one.
		p = b.get(base + "/deliveries?size=2")
		if got := deliveryRows(p); !slices.Equal(got, []string{itoa(xs[2].ID), itoa(xs[1].ID)}) {
			t.Fatalf("first page %v", got)
		}
		if got := deliveryRows(b.get(p.link("Older →"))); !slices.Equal(got, []string{itoa(xs[0].ID)}) {
			t.Fatalf("second page %v", got)
		}
		// Another endpoint's log is its own.
		if got := deliveryRows(b.get("/admin/webhooks/" + itoa(other.ID) + "/deliveries")); len(got) != 3 || slices.Contains(got, itoa(xs[0].ID)) {
			t.Fatalf("other endpoint's rows %v", got)
		}
	})

	t.Run("retry now", func(t *testing.T) {
		b.t = t
		before := time.Now()
		b.follow(b.post(base+"/deliveries/"+itoa(failed.ID)+"/retry", url.Values{"return": {base + "/deliveries"}}).
			wantRedirect(base + "/deliveries")).wantFlash("is due now")
		got, err := c.WebhookDelivery.Get(sys(), failed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != webhookdelivery.StatusPENDING || got.NextAttemptAt.After(time.Now()) || got.NextAttemptAt.Before(before.Add(-time.Second)) {
			t.Fatalf("after retry: %s due %v", got.Status, got.NextAttemptAt)
		}
		// Only through its own endpoint; an unknown one is not found.
		b.post("/admin/webhooks/"+itoa(other.ID)+"/deliveries/"+itoa(failed.ID)+"/retry", nil).wantStatus(http.StatusNotFound)
		b.post(base+"/deliveries/999999/retry", nil).wantStatus(http.StatusNotFound)
		b.post(base+"/deliveries/abc/retry", nil).wantStatus(http.StatusNotFound)
	})

	t.Run("send a test event", func(t *testing.T) {
		b.t = t
		p := b.post(base+"/test", nil).wantRedirect(base)
		b.follow(p).wantFlash("Test event queued")
		x, err := c.WebhookDelivery.Query().
			Where(webhookdelivery.EndpointID(ep.ID), webhookdelivery.EventType(webhooks.TestEventType)).Only(sys())
		if err != nil {
			t.Fatalf("test delivery: %v", err)
		}
		if x.Status != webhookdelivery.StatusPENDING || x.Attempts != 0 || x.NextAttemptAt.After(time.Now()) {
			t.Fatalf("test delivery %+v", x)
		}
		b.get(base+"/deliveries").wantText(webhooks.TestEventType, x.WebhookID)
		b.post("/admin/webhooks/999999/test", nil).wantStatus(http.StatusNotFound)
	})

	t.Run("history section", func(t *testing.T) {
		b.t = t
		// The endpoint's page has its History section too.
		p := b.get(base).wantStatus(http.StatusOK)
		if historyOf(p) == nil {
			t.Fatal("no History section")
		}
		if got := historyLink(t, p, "All activity"); got != "/admin/activity?subjectID="+itoa(ep.ID)+"&subjectType=webhook_endpoint" {
			t.Fatalf("link %q", got)
		}
	})
}

// webhookRoutes are the webhook pages (GET) and actions (POST) of ep and
// its delivery x.
func webhookRoutes(ep, x int) (gets []string, posts map[string]url.Values) {
	e := "/admin/webhooks/" + itoa(ep)
	gets = []string{
		"/admin/webhooks", "/admin/webhooks/new", e, e + "/secret", e + "/edit", e + "/rotate", e + "/delete",
		e + "/deliveries", "/admin/activity",
	}
	posts = map[string]url.Values{
		"/admin/webhooks/new":                   {"url": {"https://evil.example/"}, "enabled": {"true"}},
		e + "/edit":                             {"url": {"https://evil.example/"}, "enabled": {"false"}},
		e + "/rotate":                           {},
		e + "/delete":                           {},
		e + "/test":                             {},
		e + "/deliveries/" + itoa(x) + "/retry": {},
	}
	return gets, posts
}

// TestWebhookPagesAccess: only a signed-in admin reaches the webhook and
// activity pages, and no form posted from another site changes anything.
func TestWebhookPagesAccess(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	admin := signIn(t, s, "root", adminPW)
	c := s.App.DB.Ent
	ep, secret := makeEndpoint(t, admin, s, "https://hooks.example/access", "")
	admin.post("/admin/webhooks/"+itoa(ep.ID)+"/test", nil).wantRedirect("/admin/webhooks/")
	x, err := c.WebhookDelivery.Query().Where(webhookdelivery.EndpointID(ep.ID)).Only(sys())
	if err != nil {
		t.Fatal(err)
	}
	x, err = x.Update().SetStatus(webhookdelivery.StatusFAILED).Save(sys())
	if err != nil {
		t.Fatal(err)
	}
	gets, posts := webhookRoutes(ep.ID, x.ID)

	userBrowser := newBrowser(t, s.URL)
	userBrowser.post("/admin/login", url.Values{"username": {"alice"}, "password": {userPW}}).wantStatus(http.StatusUnauthorized)
	for _, v := range []struct {
		name string
		b    *browser
	}{{"anonymous", newBrowser(t, s.URL)}, {"user", userBrowser}} {
		for _, path := range gets {
			t.Run(v.name+" GET "+path, func(t *testing.T) {
				v.b.t = t
				p := v.b.get(path).wantRedirect("/admin/login")
				if strings.Contains(p.Body, secret) {
					t.Fatal("the secret leaked")
				}
			})
		}
		for path, form := range posts {
			t.Run(v.name+" POST "+path, func(t *testing.T) {
				v.b.t = t
				v.b.post(path, form).wantRedirect("/admin/login")
			})
		}
	}
	for path, form := range posts {
		t.Run("cross-site POST "+path, func(t *testing.T) {
			admin.t = t
			admin.post(path, form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").
				wantStatus(http.StatusForbidden).wantText("sent from another site")
		})
	}
	// Nothing changed.
	admin.t = t
	got := endpointNamed(t, s, ep.URL)
	if got.Secret != secret || !got.Enabled || got.PreviousSecret != nil {
		t.Fatalf("endpoint changed: %+v", got)
	}
	if n, _ := c.WebhookEndpoint.Query().Count(sys()); n != 1 {
		t.Fatalf("%d endpoints", n)
	}
	if y, _ := c.WebhookDelivery.Get(sys(), x.ID); y == nil || y.Status != webhookdelivery.StatusFAILED {
		t.Fatalf("delivery changed: %+v", y)
	}
	// (The refused sign-ins are events, which the endpoint receives.)
	if n, _ := c.WebhookDelivery.Query().Where(webhookdelivery.EventType(webhooks.TestEventType)).Count(sys()); n != 1 {
		t.Fatalf("%d test deliveries", n)
	}
	// An admin reaches every page (the secret page says it was shown).
	for _, path := range gets {
		admin.get(path).wantStatus(http.StatusOK)
	}
}
