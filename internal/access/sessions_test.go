package access_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// TestSessionPredicatesMatchSessionActive holds the session rules' SQL
// forms to SessionActive on random sessions in a real database: at any
// moment a session is active, revoked or expired.
func TestSessionPredicatesMatchSessionActive(t *testing.T) {
	d := testdb.Open(t)
	ctx := viewer.System(context.Background())
	u := d.Ent.User.Create().SetUsername("holder").SetPasswordHash("unused").SaveX(ctx)
	rng := rand.New(rand.NewSource(3))
	hour := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	const rows = 200
	bulk := make([]*ent.UserSessionCreate, rows)
	for i := range bulk {
		created := hour(rng.Intn(10) - 10)
		maxExp := created.Add(time.Duration(1+rng.Intn(20)) * time.Hour)
		exp := created.Add(time.Duration(1+rng.Intn(20)) * time.Hour)
		if exp.After(maxExp) {
			exp = maxExp
		}
		c := d.Ent.UserSession.Create().SetUserID(u.ID).SetTokenHash(string(rune('a'+i%26)) + time.Duration(i).String()).
			SetCreatedAt(created).SetLastSeenAt(created).SetExpiresAt(exp).SetMaxExpiresAt(maxExp)
		if rng.Intn(4) == 0 {
			c.SetRevokedAt(created.Add(time.Minute))
		}
		bulk[i] = c
	}
	d.Ent.UserSession.CreateBulk(bulk...).ExecX(ctx)
	all := d.Ent.UserSession.Query().Order(usersession.ByID()).AllX(ctx)
	for k := -11; k <= 12; k++ {
		for _, now := range []time.Time{hour(k), hour(k).Add(time.Microsecond), hour(k).Add(-time.Microsecond)} {
			var active, revoked, expired []int
			for _, s := range all {
				switch {
				case access.SessionActive(s, now):
					active = append(active, s.ID)
				case s.RevokedAt != nil:
					revoked = append(revoked, s.ID)
				default:
					expired = append(expired, s.ID)
				}
			}
			for _, c := range []struct {
				name string
				got  []int
				want []int
			}{
				{"active", d.Ent.UserSession.Query().Where(access.SessionActiveAt(now)).Order(usersession.ByID()).IDsX(ctx), active},
				{"revoked", d.Ent.UserSession.Query().Where(access.SessionRevoked()).Order(usersession.ByID()).IDsX(ctx), revoked},
				{"expired", d.Ent.UserSession.Query().Where(access.SessionExpiredAt(now)).Order(usersession.ByID()).IDsX(ctx), expired},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Fatalf("at %v %s: SQL %v, SessionActive %v", now, c.name, c.got, c.want)
				}
			}
		}
	}
}
