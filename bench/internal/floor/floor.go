// Package floor is the benchmark's yardstick: a minimal hand-written
// net/http + database/sql server over Gatehouse's database that answers
// W1 (`me` with packages, contents and sessions) and W4 (`checkAccess`)
// with the same data as Gatehouse, in as few statements as a person
// would write: W1 in 4 (the session with its user, the assignments with
// their packages, the contents with their features, the sessions), W4
// in 3 (the session, the feature, the assignments with the feature's
// contents). The access rules are Gatehouse's own (internal/access).
package floor

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	_ "github.com/mattn/go-sqlite3"    // "sqlite3"

	"gatehouse/internal/access"
)

// Open opens the database as Gatehouse does by default: SQLite in WAL
// mode with a busy timeout, or PostgreSQL through pgx; a pool of 10.
func Open(driver, dsn string) (*sql.DB, error) {
	var (
		d   *sql.DB
		err error
	)
	switch driver {
	case "postgres":
		d, err = sql.Open("pgx", dsn)
	case "sqlite", "":
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		d, err = sql.Open("sqlite3", "file:"+path+"?_foreign_keys=1&_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL")
	default:
		return nil, errors.New("unknown driver " + driver)
	}
	if err != nil {
		return nil, err
	}
	d.SetMaxOpenConns(10)
	d.SetMaxIdleConns(10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Server answers GET /me, GET /check?feature=KEY and GET /readyz.
type Server struct {
	db *sql.DB
	q  queries
}

type queries struct {
	session, packages, contents, sessions, feature, grants string
}

// New returns the floor over d; driver is "sqlite" or "postgres".
func New(d *sql.DB, driver string) *Server {
	q := queries{
		session: `SELECT s.id, s.user_id, s.expires_at, s.max_expires_at, s.revoked_at, u.username, u.role, u.disabled
			FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`,
		packages: `SELECT up.starts_at, up.expires_at, up.grace_ends_at, up.suspended_at, p.id, p.name
			FROM user_packages up JOIN packages p ON p.id = up.package_id WHERE up.user_id = ? ORDER BY up.id`,
		contents: `SELECT pc.package_id, pc.name, pc."limit", f.key
			FROM package_contents pc JOIN features f ON f.id = pc.feature_id
			WHERE pc.package_id IN (SELECT package_id FROM user_packages WHERE user_id = ?) ORDER BY pc.id`,
		sessions: `SELECT id, expires_at, max_expires_at, revoked_at FROM user_sessions WHERE user_id = ? ORDER BY id`,
		feature:  `SELECT id FROM features WHERE key = ?`,
		grants: `SELECT up.starts_at, up.expires_at, up.grace_ends_at, up.suspended_at, pc.id, pc."limit"
			FROM user_packages up LEFT JOIN package_contents pc ON pc.package_id = up.package_id AND pc.feature_id = ?
			WHERE up.user_id = ?`,
	}
	if driver == "postgres" {
		for _, s := range []*string{&q.session, &q.packages, &q.contents, &q.sessions, &q.feature, &q.grants} {
			*s = dollars(*s)
		}
	}
	return &Server{db: d, q: q}
}

// dollars turns ? placeholders into $1, $2, ...
func dollars(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/me":
		s.me(w, r)
	case "/check":
		s.check(w, r)
	case "/readyz":
		if err := s.db.PingContext(r.Context()); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	default:
		http.NotFound(w, r)
	}
}

type viewer struct {
	sessionID, userID int
	username, role    string
}

var errUnauthenticated = errors.New("unauthenticated")

// authenticate looks the bearer token's hash up with its user.
func (s *Server) authenticate(r *http.Request, now time.Time) (*viewer, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return nil, errUnauthenticated
	}
	sum := sha256.Sum256([]byte(tok))
	var (
		v               viewer
		expires, maxExp time.Time
		revoked         sql.NullTime
		disabled        bool
	)
	err := s.db.QueryRowContext(r.Context(), s.q.session, hex.EncodeToString(sum[:])).
		Scan(&v.sessionID, &v.userID, &expires, &maxExp, &revoked, &v.username, &v.role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !sessionActive(revoked, expires, maxExp, now) || disabled {
		return nil, errUnauthenticated
	}
	return &v, nil
}

func sessionActive(revoked sql.NullTime, expires, maxExp, now time.Time) bool {
	return !revoked.Valid && now.Before(expires) && now.Before(maxExp)
}

// The answers, shaped as Gatehouse's.
type (
	meOut struct {
		Username string       `json:"username"`
		Role     string       `json:"role"`
		Packages []assignOut  `json:"packages"`
		Sessions []sessionOut `json:"sessions"`
	}
	assignOut struct {
		ExpiresAt time.Time    `json:"expiresAt"`
		State     access.State `json:"state"`
		Package   *packageOut  `json:"package"`
	}
	packageOut struct {
		Name     string       `json:"name"`
		Contents []contentOut `json:"contents"`
	}
	contentOut struct {
		Name    string `json:"name"`
		Limit   *int   `json:"limit"`
		Feature struct {
			Key string `json:"key"`
		} `json:"feature"`
	}
	sessionOut struct {
		ID        string    `json:"id"`
		Active    bool      `json:"active"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	checkOut struct {
		Feature    string      `json:"feature"`
		Granted    bool        `json:"granted"`
		Code       access.Code `json:"code"`
		Limit      *int        `json:"limit"`
		ExpiresAt  *time.Time  `json:"expiresAt"`
		StartsAt   *time.Time  `json:"startsAt"`
		GraceUntil *time.Time  `json:"graceUntil"`
	}
)

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), time.Now()
	v, err := s.authenticate(r, now)
	if err != nil {
		fail(w, err)
		return
	}
	out := meOut{Username: v.username, Role: v.role, Packages: []assignOut{}, Sessions: []sessionOut{}}

	rows, err := s.db.QueryContext(ctx, s.q.packages, v.userID)
	if err != nil {
		fail(w, err)
		return
	}
	byID := map[int]*packageOut{}
	var order []int
	for rows.Next() {
		var (
			a         access.Assignment
			grace     sql.NullTime
			suspended sql.NullTime
			pid       int
			name      string
		)
		if err := rows.Scan(&a.StartsAt, &a.ExpiresAt, &grace, &suspended, &pid, &name); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		a.GraceEndsAt, a.Suspended = a.ExpiresAt, suspended.Valid
		if grace.Valid {
			a.GraceEndsAt = grace.Time
		}
		// Each assignment has its own package object (as GraphQL
		// answers), filled with the package's contents below.
		p := &packageOut{Name: name, Contents: []contentOut{}}
		out.Packages = append(out.Packages, assignOut{ExpiresAt: a.ExpiresAt, State: access.StateOf(a, now), Package: p})
		order = append(order, pid)
		byID[pid] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}

	if len(out.Packages) > 0 {
		rows, err = s.db.QueryContext(ctx, s.q.contents, v.userID)
		if err != nil {
			fail(w, err)
			return
		}
		contents := map[int][]contentOut{}
		for rows.Next() {
			var (
				c     contentOut
				pid   int
				limit sql.NullInt64
			)
			if err := rows.Scan(&pid, &c.Name, &limit, &c.Feature.Key); err != nil {
				rows.Close()
				fail(w, err)
				return
			}
			if limit.Valid {
				l := int(limit.Int64)
				c.Limit = &l
			}
			contents[pid] = append(contents[pid], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			fail(w, err)
			return
		}
		for i, pid := range order {
			if cs := contents[pid]; cs != nil {
				out.Packages[i].Package.Contents = cs
			}
		}
	}

	rows, err = s.db.QueryContext(ctx, s.q.sessions, v.userID)
	if err != nil {
		fail(w, err)
		return
	}
	for rows.Next() {
		var (
			id              int
			expires, maxExp time.Time
			revoked         sql.NullTime
		)
		if err := rows.Scan(&id, &expires, &maxExp, &revoked); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		out.Sessions = append(out.Sessions, sessionOut{ID: strconv.Itoa(id), Active: sessionActive(revoked, expires, maxExp, now), ExpiresAt: expires})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	write(w, map[string]any{"data": map[string]any{"me": out}})
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), time.Now()
	v, err := s.authenticate(r, now)
	if err != nil {
		fail(w, err)
		return
	}
	key := strings.TrimSpace(r.URL.Query().Get("feature"))
	out := checkOut{Feature: key}
	var fid int
	err = s.db.QueryRowContext(ctx, s.q.feature, key).Scan(&fid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		out.Code = access.CodeUnknownFeature
		write(w, map[string]any{"data": map[string]any{"checkAccess": out}})
		return
	case err != nil:
		fail(w, err)
		return
	}
	rows, err := s.db.QueryContext(ctx, s.q.grants, fid, v.userID)
	if err != nil {
		fail(w, err)
		return
	}
	var (
		holds bool
		with  []access.Assignment
	)
	for rows.Next() {
		var (
			a         access.Assignment
			grace     sql.NullTime
			suspended sql.NullTime
			content   sql.NullInt64
			limit     sql.NullInt64
		)
		if err := rows.Scan(&a.StartsAt, &a.ExpiresAt, &grace, &suspended, &content, &limit); err != nil {
			rows.Close()
			fail(w, err)
			return
		}
		holds = true
		if !content.Valid {
			continue
		}
		a.GraceEndsAt, a.Suspended = a.ExpiresAt, suspended.Valid
		if grace.Valid {
			a.GraceEndsAt = grace.Time
		}
		if limit.Valid {
			l := int(limit.Int64)
			a.Limit = &l
		}
		with = append(with, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		fail(w, err)
		return
	}
	c := access.Decide(holds, with, now)
	out.Granted, out.Code, out.Limit, out.ExpiresAt, out.StartsAt, out.GraceUntil = c.Granted, c.Code, c.Limit, c.ExpiresAt, c.StartsAt, c.GraceUntil
	write(w, map[string]any{"data": map[string]any{"checkAccess": out}})
}

func write(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func fail(w http.ResponseWriter, err error) {
	if errors.Is(err, errUnauthenticated) {
		http.Error(w, `{"errors":[{"message":"sign in first"}]}`, http.StatusUnauthorized)
		return
	}
	http.Error(w, `{"errors":[{"message":"internal error"}]}`, http.StatusInternalServerError)
}
