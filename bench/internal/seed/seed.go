// Package seed fills a fresh Gatehouse database with the benchmark's data
// set through Gatehouse's own code (internal/db to open and migrate, ent
// to write): users, features, packages with their contents, assignments
// and sessions whose tokens are known, so that the load run can send them.
package seed

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/access"
	"gatehouse/internal/auth"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// Password is every seeded user's password.
const Password = "bench-password-1"

// BcryptCost is the cost of the one hash every user shares (and the cost
// the server is run with).
const BcryptCost = 10

// AccessFeature is the feature every package holds: W4 asks about it.
const AccessFeature = "moe_gatherer"

// Options say how much to seed.
type Options struct {
	Driver string // db.SQLite or db.Postgres
	DSN    string
	// Users are plain users (besides the one admin); each has 2
	// assignments of different packages (while Assignments lasts) and
	// Sessions/Users sessions.
	Users       int
	Packages    int
	Contents    int // per package
	Assignments int
	Sessions    int
	// Tokens is how many users' first sessions W1 signs in with.
	Tokens int
	// DeepUsers are extra users, inserted in bulk after the others: a
	// deep page of W2 lands among them. The last 200 of them get
	// assignments and sessions as the first users have (so both pages
	// read the same nesting); the rest have none.
	DeepUsers int
}

// Default is the data set of the issue: 1,000 users, 20 packages × 3
// contents, 2,000 assignments, 3,000 sessions, 200 tokens for W1.
func Default() Options {
	return Options{Users: 1000, Packages: 20, Contents: 3, Assignments: 2000, Sessions: 3000, Tokens: 200}
}

// Data is what the load run needs of the seeded database.
type Data struct {
	AdminToken string
	// Tokens are W1's tokens: the first session of users 0..Tokens-1.
	Tokens []string
	// LoginUsers sign in during W3 (users no read workload looks at).
	LoginUsers []string
	// WriteUsers get assignments during W5 (ditto).
	WriteUsers []int
	Packages   []int
	// Cursors of W2: page 1 starts at the beginning (no cursor); the
	// deep page starts after DeepCursor, 150 users before the end.
	DeepCursor string
	TotalUsers int
	Took       time.Duration
}

// Seed migrates the database at o.DSN (which must be empty) and fills it.
func Seed(ctx context.Context, o Options) (*Data, error) {
	start := time.Now()
	d, err := db.Open(ctx, db.Options{Driver: o.Driver, DSN: o.DSN, MaxOpenConns: 4})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), BcryptCost)
	if err != nil {
		return nil, err
	}
	out := &Data{}
	sys := viewer.System(ctx)
	tx, err := d.Ent.Tx(sys)
	if err != nil {
		return nil, err
	}
	if err := fill(sys, tx.Client(), o, string(hash), out); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if o.DeepUsers > 0 {
		if err := deepUsers(ctx, d.SQL, o.Driver, o.DeepUsers, string(hash)); err != nil {
			return nil, fmt.Errorf("deep users: %w", err)
		}
		if err := decorateLast(sys, d); err != nil {
			return nil, fmt.Errorf("deep page users: %w", err)
		}
	}
	if err := cursors(ctx, d.SQL, o.Driver, out); err != nil {
		return nil, err
	}
	if o.Driver == db.SQLite {
		if _, err := d.SQL.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return nil, err
		}
		if _, err := d.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
			return nil, err
		}
	} else if _, err := d.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
		return nil, err
	}
	out.Took = time.Since(start)
	return out, nil
}

func fill(ctx context.Context, c *ent.Client, o Options, hash string, out *Data) error {
	now := time.Now().UTC().Truncate(time.Second)

	// Features: the one every package holds, then switches and limits.
	nf := o.Contents*4 + 1
	features := make([]*ent.FeatureCreate, nf)
	for i := range features {
		key, kind := fmt.Sprintf("feature_%02d", i), feature.KindSWITCH
		if i == 0 {
			key = AccessFeature
		} else if i%2 == 1 {
			kind = feature.KindLIMIT
		}
		features[i] = c.Feature.Create().SetKey(key).SetName("Feature " + key).SetKind(kind)
	}
	fs, err := c.Feature.CreateBulk(features...).Save(ctx)
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}

	pkgs := make([]*ent.PkgCreate, o.Packages)
	for p := range pkgs {
		pkgs[p] = c.Pkg.Create().SetName(fmt.Sprintf("Package %02d", p)).SetDetail("Seeded for the benchmark").
			SetDays(30).SetGraceDays(p % 3)
	}
	ps, err := c.Pkg.CreateBulk(pkgs...).Save(ctx)
	if err != nil {
		return fmt.Errorf("packages: %w", err)
	}
	var contents []*ent.PackageContentCreate
	for p, pk := range ps {
		out.Packages = append(out.Packages, pk.ID)
		for j := range o.Contents {
			// Content 0 grants AccessFeature; the others spread over the
			// rest, distinct within a package.
			fi := 0
			if j > 0 {
				fi = 1 + (p*(o.Contents-1)+j-1)%(nf-1)
			}
			f := fs[fi]
			cc := c.PackageContent.Create().SetPackageID(pk.ID).SetFeatureID(f.ID).
				SetName(fmt.Sprintf("%s in %s", f.Key, pk.Name))
			if f.Kind == feature.KindLIMIT {
				cc.SetLimit(10 * (p + j + 1))
			}
			contents = append(contents, cc)
		}
	}
	if _, err := c.PackageContent.CreateBulk(contents...).Save(ctx); err != nil {
		return fmt.Errorf("contents: %w", err)
	}

	users := make([]*ent.UserCreate, 0, o.Users+1)
	users = append(users, c.User.Create().SetUsername("admin").SetPasswordHash(hash).SetRole(user.RoleADMIN))
	for i := range o.Users {
		users = append(users, c.User.Create().SetUsername(userName(i)).SetPasswordHash(hash))
	}
	us, err := bulk(ctx, users, 500, func(b []*ent.UserCreate) ([]*ent.User, error) { return c.User.CreateBulk(b...).Save(ctx) })
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	admin, plain := us[0], us[1:]

	ids := make([]int, len(plain))
	for i, u := range plain {
		ids[i] = u.ID
	}
	if err := assign(ctx, c, ids, o.Assignments, ps, now); err != nil {
		return err
	}
	adminTok, err := sessions(ctx, c, []int{admin.ID}, 1, now)
	if err != nil {
		return err
	}
	out.AdminToken = adminTok[0]
	toks, err := sessions(ctx, c, ids, o.Sessions, now)
	if err != nil {
		return err
	}
	out.Tokens = toks[:min(o.Tokens, len(toks))]

	// Writers and sign-ins use users that W1 and both W2 pages never read:
	// from the middle of the list (W1: the first Tokens, W2: the first
	// 100 and the 150 before the last).
	lo := max(o.Tokens, 100)
	hi := len(plain) - 150
	if hi <= lo {
		lo, hi = 0, len(plain)
	}
	mid := lo + (hi-lo)/2
	for i := lo; i < mid; i++ {
		out.WriteUsers = append(out.WriteUsers, plain[i].ID)
	}
	for i := mid; i < hi; i++ {
		out.LoginUsers = append(out.LoginUsers, plain[i].Username)
	}
	return nil
}

// assign gives users n assignments, two per user of different packages
// while they last. Most are active; every 10th has expired (some in
// grace, by the package's grace days), every 25th is suspended, every
// 40th starts later.
func assign(ctx context.Context, c *ent.Client, users []int, n int, ps []*ent.Pkg, now time.Time) error {
	var ups []*ent.UserPackageCreate
	for k := 0; k < n && len(users) > 0; k++ {
		i := k % len(users)
		p := (i + (k/len(users))*max(1, len(ps)/2)) % len(ps)
		starts, expires := now.Add(-24*time.Hour), now.Add(30*24*time.Hour)
		switch {
		case k%10 == 9:
			starts, expires = now.Add(-40*24*time.Hour), now.Add(-time.Duration(k%3)*12*time.Hour-time.Hour)
		case k%40 == 7:
			starts, expires = now.Add(5*24*time.Hour), now.Add(35*24*time.Hour)
		}
		uc := c.UserPackage.Create().SetUserID(users[i]).SetPackageID(ps[p].ID).
			SetStartsAt(starts).SetExpiresAt(expires).SetGraceEndsAt(access.GraceEnd(expires, ps[p].GraceDays))
		if k%25 == 3 {
			uc.SetSuspendedAt(now.Add(-time.Hour)).SetSuspendReason("seeded")
		}
		ups = append(ups, uc)
	}
	if _, err := bulk(ctx, ups, 500, func(b []*ent.UserPackageCreate) ([]*ent.UserPackage, error) {
		return c.UserPackage.CreateBulk(b...).Save(ctx)
	}); err != nil {
		return fmt.Errorf("assignments: %w", err)
	}
	return nil
}

// sessions gives users n sessions, round robin, and returns the tokens of
// each user's first, the active one (the second has run out, the third
// is revoked).
func sessions(ctx context.Context, c *ent.Client, users []int, n int, now time.Time) ([]string, error) {
	var (
		ss   []*ent.UserSessionCreate
		toks []string
	)
	for k := 0; k < n && len(users) > 0; k++ {
		tok, err := newToken()
		if err != nil {
			return nil, err
		}
		created, expires := now, now.Add(24*time.Hour)
		sc := c.UserSession.Create().SetUserID(users[k%len(users)]).SetTokenHash(auth.HashToken(tok)).
			SetIP("198.18.0.1").SetUserAgent("gatehouse-bench")
		switch (k / len(users)) % 3 {
		case 0:
			toks = append(toks, tok)
		case 1:
			created, expires = now.Add(-72*time.Hour), now.Add(-48*time.Hour)
		case 2:
			created = now.Add(-2 * time.Hour)
			sc.SetRevokedAt(now.Add(-time.Hour))
		}
		sc.SetCreatedAt(created).SetLastSeenAt(created).SetExpiresAt(expires).SetMaxExpiresAt(created.Add(30 * 24 * time.Hour))
		ss = append(ss, sc)
	}
	if _, err := bulk(ctx, ss, 500, func(b []*ent.UserSessionCreate) ([]*ent.UserSession, error) {
		return c.UserSession.CreateBulk(b...).Save(ctx)
	}); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return toks, nil
}

// deepPageUsers are the last users of the list, which the deep page of W2
// reads: they get assignments and sessions as the first users have, so
// that both pages read the same nesting.
const deepPageUsers = 200

// decorateLast gives the last deepPageUsers users two assignments and
// three sessions each.
func decorateLast(ctx context.Context, d *db.DB) error {
	c := d.Ent
	last, err := c.User.Query().Order(ent.Desc(user.FieldID)).Limit(deepPageUsers).IDs(ctx)
	if err != nil {
		return err
	}
	ps, err := c.Pkg.Query().Order(ent.Asc("id")).All(ctx)
	if err != nil {
		return err
	}
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := assign(ctx, tx.Client(), last, 2*len(last), ps, now); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := sessions(ctx, tx.Client(), last, 3*len(last), now); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func bulk[B, T any](ctx context.Context, all []B, size int, save func([]B) ([]T, error)) ([]T, error) {
	var out []T
	for len(all) > 0 {
		n := min(size, len(all))
		got, err := save(all[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		all = all[n:]
	}
	return out, nil
}

func userName(i int) string { return fmt.Sprintf("user%04d", i) }

// newToken is a session token as Gatehouse issues them: "gate_" and 32
// random bytes, base64url.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "gate_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// deepUsers inserts n plain users with multi-row INSERTs in one
// transaction per 50,000 (the ent hooks only fold the username, done here).
func deepUsers(ctx context.Context, sdb *sql.DB, driver string, n int, hash string) error {
	const cols = 8
	const perStmt = 500
	now := time.Now().UTC().Truncate(time.Second)
	stmtFor := func(rows int) string {
		var b strings.Builder
		b.WriteString(`INSERT INTO users (created_at, updated_at, username, username_fold, password_hash, role, disabled, session_epoch) VALUES `)
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := range cols {
				if c > 0 {
					b.WriteByte(',')
				}
				if driver == db.Postgres {
					b.WriteString("$" + strconv.Itoa(r*cols+c+1))
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
		}
		return b.String()
	}
	full := stmtFor(perStmt)
	args := make([]any, 0, perStmt*cols)
	for done := 0; done < n; {
		tx, err := sdb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, full)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		for end := min(n, done+50_000); done < end; {
			rows := min(perStmt, end-done)
			args = args[:0]
			for r := range rows {
				name := fmt.Sprintf("deep%07d", done+r)
				args = append(args, now, now, name, name, hash, "USER", false, 0)
			}
			if rows == perStmt {
				_, err = st.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, stmtFor(rows), args...)
			}
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			done += rows
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// cursors finds the cursor W2's deep page starts after: the user 150
// before the last, in the list's order (by id).
func cursors(ctx context.Context, sdb *sql.DB, driver string, out *Data) error {
	if err := sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&out.TotalUsers); err != nil {
		return err
	}
	q := `SELECT id FROM users ORDER BY id LIMIT 1 OFFSET ?`
	if driver == db.Postgres {
		q = `SELECT id FROM users ORDER BY id LIMIT 1 OFFSET $1`
	}
	var id int
	if err := sdb.QueryRowContext(ctx, q, max(0, out.TotalUsers-151)).Scan(&id); err != nil {
		return err
	}
	var b bytes.Buffer
	ent.Cursor{ID: id}.MarshalGQL(&b)
	c, err := strconv.Unquote(b.String())
	if err != nil {
		return err
	}
	out.DeepCursor = c
	return nil
}
