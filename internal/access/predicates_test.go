package access_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/userpackage"
	"gatehouse/internal/access"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// TestPredicatesMatchStateOf writes many random assignments to a real
// database and checks, at many moments (exact boundaries among them), that
// each state's SQL predicate keeps exactly the rows StateOf puts in that
// state, so that the states split the rows.
func TestPredicatesMatchStateOf(t *testing.T) {
	d := testdb.Open(t)
	ctx := viewer.System(context.Background())
	u := d.Ent.User.Create().SetUsername("holder").SetPasswordHash("unused").SaveX(ctx)
	p := d.Ent.Pkg.Create().SetName("plan").SetDays(30).SaveX(ctx)

	rng := rand.New(rand.NewSource(10))
	// Times fall on whole days around t0, or a microsecond off one, so
	// that many rows share boundaries and the moments below hit them.
	at := func() time.Time {
		t := day(rng.Intn(30) - 15)
		switch rng.Intn(4) {
		case 0:
			t = t.Add(time.Microsecond)
		case 1:
			t = t.Add(-time.Microsecond)
		}
		return t
	}
	const rows = 400
	bulk := make([]*ent.UserPackageCreate, rows)
	for i := range bulk {
		start := at()
		exp := start.Add(time.Duration(1+rng.Intn(12))*access.Day + time.Duration(rng.Intn(2))*time.Microsecond)
		c := d.Ent.UserPackage.Create().SetUserID(u.ID).SetPackageID(p.ID).
			SetStartsAt(start).SetExpiresAt(exp).SetGraceEndsAt(access.GraceEnd(exp, rng.Intn(4)))
		if rng.Intn(3) == 0 {
			c.SetSuspendedAt(t0).SetSuspendReason("random")
		}
		bulk[i] = c
	}
	d.Ent.UserPackage.CreateBulk(bulk...).ExecX(ctx)
	// Rows written by an older release have no grace end.
	if _, err := d.SQL.ExecContext(ctx, `UPDATE user_packages SET grace_ends_at = NULL WHERE id % 9 = 0`); err != nil {
		t.Fatal(err)
	}
	all := d.Ent.UserPackage.Query().Order(userpackage.ByID()).AllX(ctx)
	if len(all) != rows {
		t.Fatalf("%d rows, want %d", len(all), rows)
	}

	var nows []time.Time
	for k := -16; k <= 32; k++ {
		nows = append(nows, day(k), day(k).Add(time.Microsecond), day(k).Add(-time.Microsecond), day(k).Add(7*time.Hour))
	}
	seen := map[access.State]int{}
	for _, now := range nows {
		want := map[access.State][]int{}
		for _, up := range all {
			s := access.StateOf(access.FromUserPackage(up), now)
			want[s] = append(want[s], up.ID)
			seen[s]++
		}
		total := 0
		for _, s := range access.States() {
			got := d.Ent.UserPackage.Query().Where(access.StateAt(s, now)).Order(userpackage.ByID()).IDsX(ctx)
			total += len(got)
			if !slices.Equal(got, want[s]) {
				t.Fatalf("at %s, %s: SQL keeps %d rows %v, StateOf %d rows %v", now.Format(time.RFC3339Nano), s, len(got), got, len(want[s]), want[s])
			}
		}
		if total != rows {
			t.Fatalf("at %s the states hold %d rows, want %d", now, total, rows)
		}
		granting := d.Ent.UserPackage.Query().Where(access.GrantingAt(now)).Order(userpackage.ByID()).IDsX(ctx)
		wantGranting := append(slices.Clone(want[access.StateActive]), want[access.StateInGrace]...)
		slices.Sort(wantGranting)
		if !slices.Equal(granting, wantGranting) {
			t.Fatalf("at %s GrantingAt keeps %v, want %v", now, granting, wantGranting)
		}
	}
	// The cases cover every state.
	for _, s := range access.States() {
		if seen[s] == 0 {
			t.Errorf("no case in state %s", s)
		}
	}
}
