package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"gatehouse/ent/user"
	"gatehouse/internal/viewer"
)

// historyOf is the History section of a detail page, or nil.
func historyOf(p *page) *html.Node {
	p.t.Helper()
	hs := findAll(p.doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "history" })
	if len(hs) == 0 {
		return nil
	}
	return hs[0]
}

// historyRows are the texts of the History section's rows.
func historyRows(t *testing.T, p *page) []string {
	t.Helper()
	h := historyOf(p)
	if h == nil {
		t.Fatalf("page has no History section: %s", p.text())
	}
	var out []string
	for _, tr := range findAll(h, func(n *html.Node) bool { return n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody" }) {
		out = append(out, strings.Join(strings.Fields(textOf(tr)), " "))
	}
	return out
}

func historyLink(t *testing.T, p *page, label string) string {
	t.Helper()
	for _, a := range findAll(historyOf(p), func(n *html.Node) bool { return n.Data == "a" }) {
		if strings.Contains(textOf(a), label) {
			h, _ := attr(a, "href")
			return h
		}
	}
	t.Fatalf("History has no link %q", label)
	return ""
}

// TestHistory: every detail page has a History section with the object's
// events, its changes as a diff, and a link to all of them; secrets only
// ever show as [redacted].
func TestHistory(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)

	t.Run("every detail page", func(t *testing.T) {
		b.t = t
		for _, tc := range []struct {
			path, subjectType, id, event string
		}{
			{"/admin/users/", "user", itoa(w.user.ID), "user.created"},
			{"/admin/features/", "feature", itoa(w.feature.ID), "feature.created"},
			{"/admin/packages/", "package", itoa(w.pkg.ID), "package.created"},
			{"/admin/package-contents/", "package_content", itoa(w.content.ID), ""},
			{"/admin/user-packages/", "user_package", itoa(w.assignment.ID), "user_package.assigned"},
			{"/admin/sessions/", "session", itoa(w.session.ID), "session.issued"},
		} {
			p := b.get(tc.path + tc.id).wantStatus(http.StatusOK)
			rows := historyRows(t, p)
			if tc.event != "" && (len(rows) == 0 || !strings.Contains(rows[len(rows)-1], tc.event)) {
				t.Fatalf("%s%s: history %q, want %s first", tc.path, tc.id, rows, tc.event)
			}
			want := "/admin/activity?subjectID=" + tc.id + "&subjectType=" + tc.subjectType
			if got := historyLink(t, p, "All activity of this object"); got != want {
				t.Fatalf("%s%s: all-activity link %q, want %q", tc.path, tc.id, got, want)
			}
		}
	})

	t.Run("edit shows as a diff", func(t *testing.T) {
		b.t = t
		u := s.CreateUser("bob", userPW, user.RoleUSER)
		b.post("/admin/users/"+itoa(u.ID)+"/edit", url.Values{
			"username": {"robert"}, "role": {"USER"}, "disabled": {"true"}, "password": {"a-new-password-1"},
		}).wantRedirect("/admin/users/" + itoa(u.ID))
		p := b.get("/admin/users/" + itoa(u.ID)).wantStatus(http.StatusOK)
		rows := historyRows(t, p)
		if len(rows) != 3 {
			t.Fatalf("history %q", rows)
		}
		// Newest first: the password, the other fields, the creation.
		for i, want := range []string{
			"user.password_changed ADMIN root password : [redacted] → changed to [redacted]",
			"user.updated ADMIN root disabled : false → changed to true username : bob → changed to robert",
			"user.created",
		} {
			if !strings.Contains(rows[i], want) {
				t.Fatalf("history row %d %q, want %q", i, rows[i], want)
			}
		}
		// The creation shows only the new values.
		if !strings.Contains(rows[2], "username : bob") || strings.Contains(rows[2], "→") {
			t.Fatalf("creation shown as %q", rows[2])
		}
		stored, err := s.App.DB.Ent.User.Get(viewer.System(t.Context()), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{stored.PasswordHash, "a-new-password-1", userPW} {
			if strings.Contains(p.Body, secret) {
				t.Fatalf("the page holds a secret %q", secret)
			}
		}
		if got := historyLink(t, p, "Actions by this user"); got != "/admin/activity?actor="+itoa(u.ID) {
			t.Fatalf("actions link %q", got)
		}
	})

	t.Run("a form error keeps the section", func(t *testing.T) {
		b.t = t
		p := b.post("/admin/user-packages/"+itoa(w.assignment.ID)+"/extend", url.Values{"extendDays": {"soon"}}).
			wantStatus(http.StatusUnprocessableEntity).wantFieldError("extendDays", "must be a whole number")
		if rows := historyRows(t, p); len(rows) == 0 || !strings.Contains(rows[len(rows)-1], "user_package.assigned") {
			t.Fatalf("history %q", rows)
		}
	})

	t.Run("session token redacted", func(t *testing.T) {
		b.t = t
		p := b.get("/admin/sessions/" + itoa(w.session.ID)).wantStatus(http.StatusOK)
		rows := historyRows(t, p)
		if len(rows) == 0 || !strings.Contains(rows[len(rows)-1], "token : [redacted]") {
			t.Fatalf("history %q", rows)
		}
		if strings.Contains(p.Body, w.sessionToken) {
			t.Fatal("the session page holds the token")
		}
	})

	t.Run("more than shown", func(t *testing.T) {
		b.t = t
		for i := range 21 {
			b.post("/admin/features/"+itoa(w.feature.ID)+"/edit", url.Values{"name": {"Name " + itoa(i)}}).wantRedirect("/admin/features/")
		}
		p := b.get("/admin/features/" + itoa(w.feature.ID))
		if rows := historyRows(t, p); len(rows) != 20 || !strings.Contains(rows[0], "Name 19 → changed to Name 20") {
			t.Fatalf("%d rows, first %q", len(rows), rows[0])
		}
		p.wantText("Older events are on the Activity page")
	})
}

// withoutHistory is the page without its History section (whose diffs
// show values the object no longer has).
func (p *page) withoutHistory() *page {
	p.t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		p.t.Fatal(err)
	}
	c := *p
	c.doc = doc
	if h := historyOf(&c); h != nil {
		h.Parent.RemoveChild(h)
	}
	return &c
}
