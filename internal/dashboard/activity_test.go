package dashboard_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect/sql"
	"golang.org/x/net/html"

	"gatehouse/ent"
	"gatehouse/ent/event"
	"gatehouse/ent/feature"
	"gatehouse/ent/schema"
	"gatehouse/internal/service"
)

// activityRow is one row of the Activity page.
type activityRow struct {
	id   int
	typ  string
	node *html.Node
}

func activityRows(p *page) []activityRow {
	p.t.Helper()
	var out []activityRow
	for _, tr := range findAll(p.doc, func(n *html.Node) bool { _, ok := attr(n, "data-event"); return ok && n.Data == "tr" }) {
		v, _ := attr(tr, "data-event")
		id, err := strconv.Atoi(v)
		if err != nil {
			p.t.Fatalf("row id %q", v)
		}
		typ, _ := attr(tr, "data-type")
		out = append(out, activityRow{id: id, typ: typ, node: tr})
	}
	return out
}

func rowTypes(rs []activityRow) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.typ
	}
	return out
}

func rowText(r activityRow) string { return strings.Join(strings.Fields(textOf(r.node)), " ") }

// rowLinks are the hrefs of a row's links.
func rowLinks(r activityRow) []string {
	var out []string
	for _, a := range findAll(r.node, func(n *html.Node) bool { return n.Data == "a" }) {
		h, _ := attr(a, "href")
		out = append(out, h)
	}
	return out
}

// allEvents are the stored events, newest first: in the order they were
// recorded (the test records one with a clock set back).
func allEvents(t *testing.T, c *ent.Client) []*ent.Event {
	t.Helper()
	es, err := c.Event.Query().Order(event.ByID(sql.OrderDesc())).All(sys())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestActivity: the Activity page lists the event log newest first, paged
// by keyset, filtered by type (exact or prefix), actor, object and dates;
// bad filters get a message beside them.
func TestActivity(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := seed(t, s)
	c := s.App.DB.Ent
	// An old change, on a day of its own.
	old := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
	rec := s.App.Service.Events()
	rec.SetClock(func() time.Time { return old })
	if _, err := s.App.Service.CreateFeature(adminCtx(w.admin.ID), service.CreateFeatureInput{Key: "vintage", Name: "Vintage", Kind: feature.KindSWITCH}); err != nil {
		t.Fatal(err)
	}
	rec.SetClock(schema.Now)
	// A feature that is gone, and alice's own sign-in.
	doomed, err := s.App.Service.CreateFeature(adminCtx(w.admin.ID), service.CreateFeatureInput{Key: "doomed", Name: "Doomed", Kind: feature.KindSWITCH})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Service.DeleteFeature(adminCtx(w.admin.ID), doomed.ID); err != nil {
		t.Fatal(err)
	}
	s.Login("alice", userPW)
	b := signIn(t, s, "root", adminPW)
	all := allEvents(t, c)

	t.Run("newest first", func(t *testing.T) {
		b.t = t
		p := b.get("/admin/activity?size=100").wantStatus(http.StatusOK)
		rows := activityRows(p)
		if len(rows) != len(all) {
			t.Fatalf("%d rows, want %d", len(rows), len(all))
		}
		for i, r := range rows {
			if r.id != all[i].ID {
				t.Fatalf("row %d is event %d, want %d", i, r.id, all[i].ID)
			}
		}
		if rows[0].typ != "login.succeeded" || rows[len(rows)-1].typ != "user.created" {
			t.Fatalf("types %v", rowTypes(rows))
		}
		// The admin's sign-in: kind, name linked to the user, request id and address.
		txt := rowText(rows[0])
		for _, want := range []string{"ADMIN", "root", "127.0.0.1", all[0].RequestID} {
			if !strings.Contains(txt, want) {
				t.Fatalf("row %q does not show %q", txt, want)
			}
		}
		if !slices.Contains(rowLinks(rows[0]), "/admin/users/"+itoa(w.admin.ID)) {
			t.Fatalf("actor not linked: %v", rowLinks(rows[0]))
		}
	})

	t.Run("type exact", func(t *testing.T) {
		b.t = t
		rows := activityRows(b.get("/admin/activity?type=feature.created").wantStatus(http.StatusOK))
		if len(rows) != len(seedFeatures)+2 {
			t.Fatalf("types %v", rowTypes(rows))
		}
		for _, r := range rows {
			if r.typ != "feature.created" {
				t.Fatalf("types %v", rowTypes(rows))
			}
		}
	})

	t.Run("type prefix", func(t *testing.T) {
		b.t = t
		p := b.get("/admin/activity?type=" + url.QueryEscape("feature.*")).wantStatus(http.StatusOK)
		p.wantValue("type", "feature.*")
		got := rowTypes(activityRows(p))
		if len(got) != len(seedFeatures)+3 || got[0] != "feature.deleted" {
			t.Fatalf("types %v", got)
		}
		for _, typ := range got {
			if !strings.HasPrefix(typ, "feature.") {
				t.Fatalf("types %v", got)
			}
		}
		got = rowTypes(activityRows(b.get("/admin/activity?type=" + url.QueryEscape("user_package.*"))))
		if !slices.Equal(got, []string{"user_package.assigned"}) {
			t.Fatalf("user_package.* types %v", got)
		}
	})

	t.Run("actor", func(t *testing.T) {
		b.t = t
		for _, actor := range []string{"alice", "ALICE", itoa(w.user.ID)} {
			rows := activityRows(b.get("/admin/activity?actor=" + actor).wantStatus(http.StatusOK))
			// Her API sign-in, and the session it issued her.
			if !slices.Equal(rowTypes(rows), []string{"session.issued", "login.succeeded"}) {
				t.Fatalf("actor %s: types %v", actor, rowTypes(rows))
			}
			if txt := rowText(rows[1]); !strings.Contains(txt, "USER") || !strings.Contains(txt, "alice") {
				t.Fatalf("alice's row: %s", txt)
			}
		}
		rows := activityRows(b.get("/admin/activity?actor=root&type=feature.deleted"))
		if !slices.Equal(rowTypes(rows), []string{"feature.deleted"}) {
			t.Fatalf("root's deletions %v", rowTypes(rows))
		}
		b.get("/admin/activity?actor=nobody").wantStatus(http.StatusOK).wantText("No events match these filters.")
	})

	t.Run("subject", func(t *testing.T) {
		b.t = t
		rows := activityRows(b.get("/admin/activity?subjectType=package&subjectID=" + itoa(w.pkg.ID)).wantStatus(http.StatusOK))
		if !slices.Equal(rowTypes(rows), []string{"package.created"}) {
			t.Fatalf("types %v", rowTypes(rows))
		}
		if !slices.Contains(rowLinks(rows[0]), "/admin/packages/"+itoa(w.pkg.ID)) || !strings.Contains(rowText(rows[0]), "Gold") {
			t.Fatalf("subject not linked: %s %v", rowText(rows[0]), rowLinks(rows[0]))
		}
		// Every event of a kind of object.
		for _, r := range activityRows(b.get("/admin/activity?subjectType=session&size=100")) {
			if !strings.HasPrefix(r.typ, "session.") {
				t.Fatalf("a session's events: %s", r.typ)
			}
		}
		// An object that is gone is named, not linked.
		rows = activityRows(b.get("/admin/activity?subjectType=feature&subjectID=" + itoa(doomed.ID)))
		if !slices.Equal(rowTypes(rows), []string{"feature.deleted", "feature.created"}) {
			t.Fatalf("doomed's events %v", rowTypes(rows))
		}
		for _, r := range rows {
			if txt := rowText(r); !strings.Contains(txt, "#"+itoa(doomed.ID)+" (gone)") {
				t.Fatalf("gone subject shown as %q", txt)
			}
			for _, l := range rowLinks(r) {
				if strings.HasPrefix(l, "/admin/features/") {
					t.Fatalf("gone subject linked: %s", l)
				}
			}
		}
	})

	t.Run("dates", func(t *testing.T) {
		b.t = t
		rows := activityRows(b.get("/admin/activity?since=2025-01-15&until=2025-01-15").wantStatus(http.StatusOK))
		if len(rows) != 1 || rows[0].typ != "feature.created" || !strings.Contains(rowText(rows[0]), "vintage") {
			t.Fatalf("that day: %v", rowTypes(rows))
		}
		b.get("/admin/activity?until=2025-01-14").wantStatus(http.StatusOK).wantText("No events match these filters.")
		rows = activityRows(b.get("/admin/activity?since=2025-01-16&size=100"))
		if len(rows) != len(all)-1 {
			t.Fatalf("since the next day: %d rows, want %d", len(rows), len(all)-1)
		}
		rows = activityRows(b.get("/admin/activity?since=2025-01-15T11:00&until=2025-01-15T12:00"))
		if len(rows) != 0 {
			t.Fatalf("until is exclusive: %v", rowTypes(rows))
		}
		rows = activityRows(b.get("/admin/activity?since=2025-01-15T12:00&until=2025-01-15T12:01"))
		if len(rows) != 1 {
			t.Fatalf("since is inclusive: %v", rowTypes(rows))
		}
	})

	t.Run("bad filters", func(t *testing.T) {
		b.t = t
		for _, tc := range []struct{ query, field, want string }{
			{"since=yesterday", "since", "must be a date such as 2026-11-30"},
			{"until=2025-13-45", "until", "must be a date"},
			{"since=2025-02-01&until=2025-01-01", "until", "must be after the start"},
			{"type=" + url.QueryEscape("Not A Type"), "type", "must be an event type"},
			{"type=" + strings.Repeat("a", 101), "type", "at most 100 characters"},
			{"subjectType=planet", "subjectType", "not a known kind of object"},
			{"subjectType=user&subjectID=abc", "subjectID", "must be a record's id"},
			{"subjectID=3", "subjectID", "choose the kind of object too"},
			{"actor=-4", "actor", "must be a user's id or username"},
			{"size=1000", "size", "from 1 to 100"},
		} {
			p := b.get("/admin/activity?" + tc.query).wantStatus(http.StatusUnprocessableEntity)
			p.wantFieldError(tc.field, tc.want)
			p.wantText("Correct the filters to see events.")
			if len(activityRows(p)) != 0 {
				t.Fatalf("%s: rows shown", tc.query)
			}
		}
		b.get("/admin/activity?after=not-a-cursor").wantStatus(http.StatusUnprocessableEntity).wantText("The link to this page is damaged")
	})

	t.Run("keyset pages", func(t *testing.T) {
		b.t = t
		// Walk every page of 3 toward older events, then back.
		var seen []int
		var pages []string
		next := "/admin/activity?size=3"
		for next != "" {
			if len(pages) > len(all) {
				t.Fatal("paging does not end")
			}
			p := b.get(next).wantStatus(http.StatusOK)
			pages = append(pages, next)
			rows := activityRows(p)
			if len(rows) == 0 || len(rows) > 3 {
				t.Fatalf("page %s has %d rows", next, len(rows))
			}
			for _, r := range rows {
				seen = append(seen, r.id)
			}
			next = ""
			if ls := p.links("Older →"); len(ls) > 0 {
				next = ls[0]
				if !strings.Contains(next, "size=3") || !strings.Contains(next, "after=") {
					t.Fatalf("older link %q", next)
				}
			}
		}
		want := make([]int, len(all))
		for i, e := range all {
			want[i] = e.ID
		}
		if !slices.Equal(seen, want) {
			t.Fatalf("paged through %v, want %v", seen, want)
		}
		// Back from the last page: the newer link shows the page before.
		last := b.get(pages[len(pages)-1])
		prev := activityRows(b.get(last.link("← Newer")))
		before := activityRows(b.get(pages[len(pages)-2]))
		if len(prev) != len(before) || prev[0].id != before[0].id {
			t.Fatalf("newer page %v, want %v", prev, before)
		}
		if got := last.link("Newest"); got != "/admin/activity?size=3" {
			t.Fatalf("newest link %q", got)
		}
		// Filters stay on every page.
		p := b.get("/admin/activity?type=" + url.QueryEscape("feature.*") + "&size=2")
		older := p.link("Older →")
		if !strings.Contains(older, "type=feature.%2A") {
			t.Fatalf("older link loses the filter: %q", older)
		}
		for _, r := range activityRows(b.get(older)) {
			if !strings.HasPrefix(r.typ, "feature.") {
				t.Fatalf("second page: %s", r.typ)
			}
		}
	})

	t.Run("every stored type is offered", func(t *testing.T) {
		b.t = t
		p := b.get("/admin/activity").wantStatus(http.StatusOK)
		var offered []string
		for _, o := range findAll(p.doc, func(n *html.Node) bool { return n.Data == "option" && n.Parent != nil && n.Parent.Data == "datalist" }) {
			v, _ := attr(o, "value")
			offered = append(offered, v)
		}
		for _, e := range all {
			prefix, _, _ := strings.Cut(e.Type, ".")
			if !slices.Contains(offered, e.Type) || !slices.Contains(offered, prefix+".*") {
				t.Fatalf("type %s is not offered: %v", e.Type, offered)
			}
		}
	})

	t.Run("diff", func(t *testing.T) {
		b.t = t
		// A change through the dashboard: from → to.
		b.post("/admin/features/"+itoa(w.feature.ID)+"/edit", url.Values{"name": {"Moe gatherer pro"}, "description": {""}}).wantRedirect("/admin/features/")
		rows := activityRows(b.get("/admin/activity?type=feature.updated"))
		if len(rows) != 1 {
			t.Fatalf("types %v", rowTypes(rows))
		}
		if txt := rowText(rows[0]); !strings.Contains(txt, "name : Moe gatherer → changed to Moe gatherer pro") {
			t.Fatalf("diff shown as %q", txt)
		}
		// A creation shows the new values alone.
		rows = activityRows(b.get("/admin/activity?type=feature.created&subjectType=feature&subjectID=" + itoa(w.feature.ID)))
		txt := rowText(rows[0])
		if !strings.Contains(txt, "key : moe_gatherer") || strings.Contains(txt, "→") {
			t.Fatalf("creation shown as %q", txt)
		}
	})
}
