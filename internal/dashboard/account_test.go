package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"gatehouse/ent"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/db"
	"gatehouse/internal/testdb"
	"gatehouse/views/components"
)

// setZone saves the signed-in admin's time zone through the account page.
func setZone(b *browser, zone string) {
	b.t.Helper()
	p := b.post("/admin/account", url.Values{"timeZone": {zone}}).wantRedirect("/admin/account")
	b.follow(p).wantStatus(http.StatusOK)
}

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestAccountTimeZone: the admin's own page sets the zone the dashboard
// shows times in; an unknown zone is refused beside the field.
func TestAccountTimeZone(t *testing.T) {
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	zoneOf := func() string { return s.App.DB.Ent.User.GetX(sys(), w.admin.ID).TimeZone }

	t.Run("the signed-in name leads to the account page", func(t *testing.T) {
		b.t = t
		if got := b.get("/admin/").wantStatus(http.StatusOK).link("root"); got != "/admin/account" {
			t.Fatalf("the signed-in name links to %q", got)
		}
		setZone(b, "")
		p := b.get("/admin/account").wantStatus(http.StatusOK).wantText("Your account", "Time zone")
		if got := p.attrOf("current-zone", "id"); got != "current-zone" || !strings.Contains(p.text(), "Time zone UTC") {
			t.Fatalf("the account page does not say UTC: %s", p.text())
		}
		p.wantValue("timeZone", "")
		if l := p.attrOf("f-timeZone", "list"); l != "time-zones" {
			t.Fatalf("the zone field suggests from %q", l)
		}
	})

	t.Run("an unknown zone is refused", func(t *testing.T) {
		b.t = t
		setZone(b, "Asia/Tokyo")
		for _, bad := range []string{"Mars/Olympus_Mons", "Local", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/Berlin; DROP", "Europe/Atlantis", strings.Repeat("A", 80), "europe/berlin"} {
			p := b.post("/admin/account", url.Values{"timeZone": {bad}}).wantStatus(http.StatusUnprocessableEntity)
			p.wantFieldError("timeZone", "is not a known IANA time zone")
			if bad == "europe/berlin" {
				p.wantValue("timeZone", bad)
			}
			if got := zoneOf(); got != "Asia/Tokyo" {
				t.Fatalf("after %q the zone is %q, want it unchanged", bad, got)
			}
		}
	})

	t.Run("times show in the zone, named", func(t *testing.T) {
		b.t = t
		berlin := loadZone(t, "Europe/Berlin")
		p := b.post("/admin/account", url.Values{"timeZone": {" Europe/Berlin "}}).wantRedirect("/admin/account")
		b.follow(p).wantFlash("Times are now shown in Europe/Berlin").wantText("Time zone Europe/Berlin")
		if got := zoneOf(); got != "Europe/Berlin" {
			t.Fatalf("the zone saved is %q", got)
		}
		// The change is in the admin's history, as every change is.
		b.get("/admin/users/"+itoa(w.admin.ID)).wantText("user.updated", "timeZone", "Europe/Berlin")
		exp := w.assignment.ExpiresAt
		want := exp.In(berlin).Format("2006-01-02 15:04 MST")
		if !strings.HasSuffix(want, " CET") && !strings.HasSuffix(want, " CEST") {
			t.Fatalf("test setup: %q names no Berlin zone", want)
		}
		d := b.get("/admin/user-packages/" + itoa(w.assignment.ID)).wantStatus(http.StatusOK).wantText(want)
		utc := exp.UTC().Format(time.RFC3339)
		tag := `<time datetime="` + utc + `" title="` + exp.UTC().Format("2006-01-02 15:04") + ` UTC · Europe/Berlin">` + want + `</time>`
		if !strings.Contains(d.Body, tag) {
			t.Fatalf("the expiry is not shown as %s: %s", tag, d.Body)
		}

		// "UTC" and an empty field both go back to UTC.
		for _, z := range []string{"UTC", ""} {
			setZone(b, "Europe/Berlin")
			setZone(b, z)
			if got := zoneOf(); got != "" {
				t.Fatalf("after %q the zone is %q, want \"\"", z, got)
			}
			b.get("/admin/user-packages/" + itoa(w.assignment.ID)).wantText(components.FormatTimeIn(exp, time.UTC))
		}
	})
}

// TestISODateForms: a date field takes ISO 8601 dates, read in the
// admin's zone (here New York, five hours behind UTC in December, four in
// July) unless they name an offset, and refuses anything else beside the
// field, naming the format and the zone.
func TestISODateForms(t *testing.T) {
	s := start(t, nil)
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	setZone(b, "America/New_York")
	ny := loadZone(t, "America/New_York")
	edit := "/admin/user-packages/" + itoa(w.assignment.ID) + "/edit"
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("the field names its format and zone", func(t *testing.T) {
		b.t = t
		p := b.get(edit).wantStatus(http.StatusOK).wantText("Expires at (America/New_York)", "ISO 8601 in America/New_York")
		if typ := p.attrOf("f-expiresAt", "type"); typ != "text" {
			t.Fatalf("the expiry field is an input of type %q, want text", typ)
		}
		if ph := p.attrOf("f-expiresAt", "placeholder"); ph != "YYYY-MM-DD HH:MM" {
			t.Fatalf("placeholder %q", ph)
		}
		if d := p.attrOf("f-expiresAt", "aria-describedby"); !strings.Contains(d, "f-expiresAt-format") {
			t.Fatalf("the format note does not describe the field: %q", d)
		}
		// The stored instant shows in the admin's zone, to the second when
		// it has seconds and to the minute when it has none (so that saving
		// the form unchanged moves nothing).
		for _, c := range []struct{ stored, shown string }{
			{"2031-12-01T14:30:17Z", "2031-12-01T09:30:17"},
			{"2031-07-01T13:30:00Z", "2031-07-01T09:30"},
		} {
			b.post(edit, url.Values{"startsAt": {"2030-01-01"}, "expiresAt": {c.stored}}).wantStatus(http.StatusSeeOther)
			p := b.get(edit).wantStatus(http.StatusOK)
			p.wantValue("expiresAt", c.shown)
			b.post(edit, url.Values{"startsAt": {p.value("startsAt")}, "expiresAt": {p.value("expiresAt")}}).wantStatus(http.StatusSeeOther)
			if again := s.App.DB.Ent.UserPackage.GetX(sys(), w.assignment.ID); !again.ExpiresAt.Equal(utc(c.stored)) {
				t.Fatalf("saving the form unchanged moved the expiry from %s to %v", c.stored, again.ExpiresAt)
			}
		}
	})

	for _, c := range []struct{ typed, want string }{
		{"2031-12-01", "2031-12-01T05:00:00Z"},
		{"2031-12-01T09:30", "2031-12-01T14:30:00Z"},
		{"2031-12-01 09:30", "2031-12-01T14:30:00Z"},
		{"2031-12-01T09:30:15", "2031-12-01T14:30:15Z"},
		{"2031-12-01 09:30:15", "2031-12-01T14:30:15Z"},
		{" 2031-07-01 09:30 ", "2031-07-01T13:30:00Z"},
		{"2031-12-01T09:30Z", "2031-12-01T09:30:00Z"},
		{"2031-12-01T09:30:15Z", "2031-12-01T09:30:15Z"},
		{"2031-12-01T09:30+01:00", "2031-12-01T08:30:00Z"},
		{"2031-12-01 09:30:00-03:00", "2031-12-01T12:30:00Z"},
		{"2031-12-01T09:30:00.5Z", "2031-12-01T09:30:00.5Z"},
	} {
		t.Run("accepts "+c.typed, func(t *testing.T) {
			b.t = t
			b.post(edit, url.Values{"startsAt": {"2030-01-01"}, "expiresAt": {c.typed}}).wantStatus(http.StatusSeeOther)
			up := s.App.DB.Ent.UserPackage.GetX(sys(), w.assignment.ID)
			if want := utc(c.want); !up.ExpiresAt.Equal(want) {
				t.Fatalf("%q saved as %v, want %v", c.typed, up.ExpiresAt.UTC(), want)
			}
			if want := time.Date(2030, 1, 1, 0, 0, 0, 0, ny); !up.StartsAt.Equal(want) {
				t.Fatalf("2030-01-01 saved as %v, want midnight in New York (%v)", up.StartsAt.UTC(), want.UTC())
			}
		})
	}

	for _, bad := range []string{"12/01/2031", "01.12.2031 09:30", "2031-13-01", "2031-12-01T25:00", "tomorrow", "2031-12-01T09:30 EST", "2031-12-01T09", "1764580200"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			b.t = t
			before := s.App.DB.Ent.UserPackage.GetX(sys(), w.assignment.ID)
			p := b.post(edit, url.Values{"startsAt": {"2030-01-01"}, "expiresAt": {bad}}).wantStatus(http.StatusUnprocessableEntity)
			p.wantFieldError("expiresAt", "must be a date and time in ISO 8601").wantFieldError("expiresAt", "America/New_York").
				wantValue("expiresAt", bad)
			if after := s.App.DB.Ent.UserPackage.GetX(sys(), w.assignment.ID); !after.ExpiresAt.Equal(before.ExpiresAt) {
				t.Fatalf("%q changed the expiry to %v", bad, after.ExpiresAt)
			}
		})
	}
}

// TestTimeZoneCostsNoQuery measures the SQL statements a page sends
// through ent with and without a time zone: the zone comes from the row
// requireAdmin reads on every request anyway, so it adds none.
func TestTimeZoneCostsNoQuery(t *testing.T) {
	d := testdb.Open(t)
	var n atomic.Int64
	name := dialect.SQLite
	if d.Driver == db.Postgres {
		name = dialect.Postgres
	}
	d.Ent = ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(name, d.SQL), func(context.Context, ...any) { n.Add(1) })))
	s := apptest.StartOn(t, d, nil, app.Options{Dashboard: apptest.Dashboard})
	w := seed(t, s)
	b := signIn(t, s, "root", adminPW)
	count := func(path string) int64 {
		b.get(path).wantStatus(http.StatusOK) // warm: the flash is gone
		before := n.Load()
		b.get(path).wantStatus(http.StatusOK)
		return n.Load() - before
	}
	for _, path := range []string{"/admin/", "/admin/user-packages/" + itoa(w.assignment.ID)} {
		setZone(b, "")
		utc := count(path)
		setZone(b, "Asia/Kolkata")
		zoned := count(path)
		t.Logf("%s: %d statements in UTC, %d in Asia/Kolkata", path, utc, zoned)
		if zoned != utc || utc == 0 {
			t.Errorf("%s: %d statements with a time zone, %d without", path, zoned, utc)
		}
		b.get(path).wantText(" IST")
	}
}
