package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhooks drives the webhook pages and the Activity page in
// Chromium as an admin does: a new endpoint's secret shows once (going
// back to its page shows it no more), a test event is queued from the
// endpoint's page, and the Activity page filters by what is typed.
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	seed(t, s)
	b := newTab(t, s.URL, 1280, 900)
	b.open("/admin/login", http.StatusOK)
	b.typeInto("#f-username", "root")
	b.typeInto("#f-password", adminPW)
	b.click(`form[action="/admin/login"] button[type=submit]`, http.StatusOK)

	b.click(`.mainnav a[href="/admin/webhooks"]`, http.StatusOK)
	b.heading("Webhook endpoints")
	b.see("There are no webhook endpoints yet.")
	b.click(`a[href^="/admin/webhooks/new"]`, http.StatusOK)
	b.heading("New webhook endpoint")
	b.typeInto("#f-url", "https://hooks.example/browser")
	b.typeInto("#f-eventTypes", "user.*\nuser_package.*")
	b.click(`form .form-actions button[type=submit]`, http.StatusOK)
	b.heading("Signing secret")
	b.flash("Webhook endpoint https://hooks.example/browser created.")
	secret := b.value("#secret")
	if !strings.HasPrefix(secret, "whsec_") || secret != endpointNamed(t, s, "https://hooks.example/browser").Secret {
		t.Fatalf("secret shown %q", secret)
	}
	b.screenshot("webhook-secret")
	// Reloading the page shows the secret no more.
	b.step("reload", func(ctx context.Context) error { return chromedp.Do(ctx, chromedp.Reload()) })
	b.see("This secret was already shown")
	if strings.Contains(b.html(), secret) {
		t.Fatal("the secret is shown a second time")
	}
	b.click(`.form-actions a.btn-primary`, http.StatusOK)
	b.heading("https://hooks.example/browser")
	b.see("user_package.*", "enabled", "Nothing was sent to this endpoint yet.", "History")

	// A test event from the endpoint's page.
	b.click(`form[action$="/test"] button`, http.StatusOK)
	b.flash("Test event queued")
	b.see("webhook.test", "PENDING")
	b.screenshot("webhook-detail")

	// The Activity page: the admin's sign-in, filtered by typing.
	b.click(`.mainnav a[href="/admin/activity"]`, http.StatusOK)
	b.heading("Activity")
	b.typeInto("#f-type", "login.*")
	b.click(`form.activity-filters button[type=submit]`, http.StatusOK)
	if got := b.text("table.activity tbody tr:first-child"); !strings.Contains(got, "login.succeeded") || !strings.Contains(got, "root") {
		t.Fatalf("first row %q", got)
	}
	b.screenshot("activity")
}
