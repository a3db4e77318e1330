package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent"
	"gatehouse/ent/schema"
	"gatehouse/ent/user"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/events/change"
	"gatehouse/internal/viewer"
)

// Config tunes passwords, sessions and throttling.
type Config struct {
	BcryptCost int
	// TestBcryptCost, when not zero, is the bcrypt cost used instead of
	// BcryptCost, and may be below MinBcryptCost. It exists for tests
	// only (apptest sets bcrypt.MinCost), so that suites signing in
	// hundreds of times do not spend their time hashing; no configuration
	// key, environment variable or flag reaches it.
	TestBcryptCost int
	// IdleTimeout: a session expires this long after it was last used.
	IdleTimeout time.Duration
	// AbsoluteTimeout caps a session's life however much it is used.
	AbsoluteTimeout time.Duration
	// TouchInterval: a session's last-seen time is written at most this often.
	TouchInterval time.Duration
	Throttle      ThrottleConfig
	// Hashing bounds how many passwords are hashed or compared at once.
	Hashing HashingConfig
}

// DefaultConfig is the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		BcryptCost:      12,
		IdleTimeout:     24 * time.Hour,
		AbsoluteTimeout: 30 * 24 * time.Hour,
		TouchInterval:   time.Minute,
		Throttle:        DefaultThrottleConfig(),
		Hashing:         HashingConfig{Wait: DefaultHashWait},
	}
}

// Service signs users in and checks their tokens.
type Service struct {
	client    *ent.Client
	cfg       Config
	cost      int // bcrypt cost of new hashes
	now       func() time.Time
	dummyHash string
	throttle  *Throttle
	hashes    *hashGate

	lookupOnce sync.Once
	lookupSQL  string

	events *events.Recorder

	throttledNotes throttledNotes
	onLogin        func(outcome string) // ObserveLogins
}

// throttledNoteEvery is how often the refusals of one username from one
// address are recorded as login.throttled.
const throttledNoteEvery = time.Minute

// throttledNotes remembers when refusals were last recorded, per username
// and address, for at most maxThrottledNotes keys (forgotten all at once
// when full: a forgotten key is recorded once more, no harm done).
type throttledNotes struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const maxThrottledNotes = 4096

// due reports whether a refusal for key at now is to be recorded, and if
// so notes it.
func (n *throttledNotes) due(key string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if last, ok := n.m[key]; ok && now.Sub(last) < throttledNoteEvery {
		return false
	}
	if n.m == nil || len(n.m) >= maxThrottledNotes {
		n.m = map[string]time.Time{}
	}
	n.m[key] = now
	return true
}

// New returns a Service over client.
func New(client *ent.Client, cfg Config) (*Service, error) {
	if cfg.BcryptCost < MinBcryptCost {
		return nil, fmt.Errorf("bcrypt cost %d is below the minimum %d", cfg.BcryptCost, MinBcryptCost)
	}
	cost := cfg.BcryptCost
	if cfg.TestBcryptCost != 0 {
		if cfg.TestBcryptCost < bcrypt.MinCost || cfg.TestBcryptCost > bcrypt.MaxCost {
			return nil, fmt.Errorf("test bcrypt cost %d is outside %d..%d", cfg.TestBcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
		}
		cost = cfg.TestBcryptCost
	}
	if cfg.IdleTimeout <= 0 || cfg.AbsoluteTimeout < cfg.IdleTimeout {
		return nil, errors.New("session timeouts: idle must be positive and at most the absolute timeout")
	}
	// Unknown usernames are compared against this hash, so they take as
	// long as wrong passwords.
	dummy, err := dummyHash(cost)
	if err != nil {
		return nil, err
	}
	hashes := newHashGate(cfg.Hashing)
	s := &Service{client: client, cfg: cfg, cost: cost, now: schema.Now, dummyHash: dummy, hashes: hashes}
	s.events = events.New(func(ctx context.Context) string { return ClientInfoFrom(ctx).IP })
	// An attempt that finds its key full waits for the attempts being
	// compared, and those may first wait their turn to hash.
	s.throttle = newThrottle(client, cfg.Throttle, hashes.turns.Wait(), func() time.Time { return s.now() })
	return s, nil
}

// SetClock replaces the clock (for tests of expiry).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Events is the event log every change is recorded in.
func (s *Service) Events() *events.Recorder { return s.events }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Hash hashes a new password with the configured cost, in its turn among
// the password operations (see HashingConfig); HashContext with a
// context that does not end.
func (s *Service) Hash(field, pw string) (string, error) {
	return s.HashContext(context.Background(), field, pw)
}

// HashContext checks a new password against the rules and hashes it with
// the configured cost once it is its turn. It answers RATE_LIMITED when
// the turn does not come within the wait, and ctx's error when ctx ends
// first.
func (s *Service) HashContext(ctx context.Context, field, pw string) (string, error) {
	if err := CheckPassword(field, pw); err != nil {
		return "", err
	}
	return s.hashes.hash(ctx, pw, s.cost)
}

// ClientInfo is what a request tells about its client.
type ClientInfo struct {
	IP        string
	UserAgent string
}

// Payload is a new session with its token, shown once.
type Payload struct {
	Token     string
	ExpiresAt time.Time
	Session   *ent.UserSession
	User      *ent.User
	// SignedIn is the viewer of a session opened by signing in: the rest
	// of the answer to a login is read as that user.
	SignedIn *viewer.Viewer
}

var errBadCredentials = apperr.New(apperr.Unauthenticated, "invalid username or password")

// ErrInvalidToken is the one answer to a token that does not work, whatever
// the reason (unknown, expired, revoked, disabled user).
var ErrInvalidToken = apperr.New(apperr.Unauthenticated, "invalid or expired session token")

// Login checks a username and password and opens an API session.
func (s *Service) Login(ctx context.Context, username, password string, ci ClientInfo) (*Payload, error) {
	u, err := s.CheckCredentials(ctx, username, password, ci)
	if err != nil {
		return nil, err
	}
	// Opening the session of a user who just proved who they are, as
	// that user.
	sys := viewer.System(viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID, Role: string(u.Role), Username: u.Username}))
	var p *Payload
	err = WithTx(sys, s.client, func(tx *ent.Tx) error {
		if err := tx.User.UpdateOne(u).SetLastLoginAt(s.now()).Exec(sys); err != nil {
			return err
		}
		if err := s.RecordLogin(sys, tx, u); err != nil {
			return err
		}
		var err error
		p, err = s.openUntil(sys, tx, u, ci, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Session = p.Session.Unwrap()
	p.SignedIn = &viewer.Viewer{UserID: u.ID, Role: string(u.Role), SessionID: p.Session.ID, Username: u.Username}
	return p, nil
}

// CheckCredentials checks a username and password, throttled per username
// and per client address, and returns the user. Unknown usernames, wrong
// passwords and disabled users get the same error in about the same time.
// The API's login and the dashboard's sign-in both go through it.
func (s *Service) CheckCredentials(ctx context.Context, username, password string, ci ClientInfo) (*ent.User, error) {
	// Signing in happens before there is a viewer.
	sys := viewer.System(ctx)
	fold := strings.ToLower(strings.TrimSpace(username))
	keys := []string{userThrottleKey(fold)}
	if ci.IP != "" {
		keys = append(keys, "ip:"+ci.IP)
	}
	// The attempt is counted before the password is compared, so that
	// simultaneous guesses cannot all pass the limit.
	res, err := s.throttle.Reserve(sys, keys...)
	if err != nil {
		return nil, err
	}
	if !res.Admitted {
		// A refused attempt costs its sender nothing (no password is
		// compared): record the refusals of a username from an address
		// once a minute, not once per request, so that a flood of them is
		// not a flood of writes.
		if s.throttledNotes.due(fold+"\x00"+ci.IP, s.now()) {
			if err := s.RecordAttempt(ctx, "login.throttled", username, nil); err != nil {
				return nil, err
			}
		}
		s.observeLogin("throttled")
		return nil, refused(res)
	}
	u, err := s.client.User.Query().Where(user.UsernameFold(fold)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		// Not an attempt at a password: give it back.
		_ = s.throttle.Release(sys, res)
		return nil, err
	}
	hash := s.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	matched, err := s.hashes.compare(ctx, hash, password)
	if err != nil {
		// Refused before any comparison (the server is busy hashing, or
		// the client left): not an attempt at a password.
		_ = s.throttle.Release(sys, res)
		return nil, err
	}
	ok := matched && u != nil && !u.Disabled
	if !ok {
		// The reservation stays: it was a failure.
		if err := s.throttle.Fail(sys, res); err != nil {
			return nil, err
		}
		if err := s.RecordAttempt(ctx, "login.failed", username, u); err != nil {
			return nil, err
		}
		s.throttle.slow(ctx, res.Failures)
		s.observeLogin("failed")
		return nil, errBadCredentials
	}
	if err := s.throttle.Release(sys, res); err != nil {
		return nil, err
	}
	s.observeLogin("succeeded")
	return u, nil
}

// IssueSession opens a session for a user without their password, as an
// admin does for a headless client. expiresAt, when set, must be in the
// future and is capped at the absolute timeout.
func (s *Service) IssueSession(ctx context.Context, userID int, expiresAt *time.Time, label string, ci ClientInfo) (*Payload, error) {
	// The admin viewer may read the user; privacy refuses anyone else.
	u, err := s.client.User.Get(ctx, userID)
	if err != nil {
		if ent.IsNotFound(err) {
			e := apperr.NotFoundf("user not found")
			e.Field = "userID"
			return nil, e
		}
		return nil, err
	}
	if u.Disabled {
		return nil, apperr.Invalid("userID", "user is disabled")
	}
	if label != "" {
		ci.UserAgent = label
	}
	var p *Payload
	err = WithTx(ctx, s.client, func(tx *ent.Tx) error {
		p, err = s.openUntil(ctx, tx, u, ci, expiresAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Session = p.Session.Unwrap()
	return p, nil
}

// RecordLogin records that u signed in (in the transaction of its
// effects). The API's login and the dashboard's sign-in call it.
func (s *Service) RecordLogin(ctx context.Context, tx *ent.Tx, u *ent.User) error {
	id := u.ID
	kind := events.KindUser
	if u.Role == user.RoleADMIN {
		kind = events.KindAdmin
	}
	_, err := s.events.Record(ctx, tx, events.Entry{
		Type: "login.succeeded", SubjectType: events.SubjectUser, SubjectID: u.ID,
		Actor: &events.Actor{ID: &id, Name: u.Username, Kind: kind},
	})
	return err
}

// RecordAttempt records a refused sign-in (type login.failed or
// login.throttled), which changes nothing else, in
// a transaction of its own: the username as typed (cut short), never the
// password; the user when one has that name.
func (s *Service) RecordAttempt(ctx context.Context, typ, username string, u *ent.User) error {
	e := events.Entry{
		Type: typ, SubjectType: events.SubjectUser,
		Actor: &events.Actor{Name: events.Truncate(strings.TrimSpace(username), schema.EventActorNameMaxLen), Kind: events.KindUser},
	}
	if u != nil {
		e.SubjectID = u.ID
	}
	return s.events.RecordAlone(viewer.System(ctx), s.client, e)
}

func (s *Service) openUntil(ctx context.Context, tx *ent.Tx, u *ent.User, ci ClientInfo, until *time.Time) (*Payload, error) {
	now := s.now()
	maxExp := now.Add(s.cfg.AbsoluteTimeout)
	exp := minTime(now.Add(s.cfg.IdleTimeout), maxExp)
	if until != nil {
		if !until.After(now) {
			return nil, apperr.Invalid("expiresAt", "must be in the future")
		}
		if until.After(maxExp) {
			return nil, apperr.Invalid("expiresAt", "must be within %s from now", s.cfg.AbsoluteTimeout)
		}
		exp = schema.Timestamp(*until)
		maxExp = exp
	}
	token, hash, err := newToken()
	if err != nil {
		return nil, err
	}
	sess, err := tx.UserSession.Create().
		SetUserID(u.ID).
		SetTokenHash(hash).
		SetCreatedAt(now).
		SetLastSeenAt(now).
		SetExpiresAt(exp).
		SetMaxExpiresAt(maxExp).
		SetIP(truncate(ci.IP, 64)).
		SetUserAgent(truncate(ci.UserAgent, 512)).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.events.Record(ctx, tx, events.Entry{
		Type: "session.issued", SubjectType: events.SubjectSession, SubjectID: sess.ID,
		Changes: events.Created(map[string]any{"userID": u.ID, "expiresAt": exp, "token": events.Redacted}).Set(),
	}); err != nil {
		return nil, err
	}
	return &Payload{Token: token, ExpiresAt: exp, Session: sess, User: u}, nil
}

// Authenticate turns a bearer token into a viewer, sliding the session's
// expiry forward (written at most once per TouchInterval). When only that
// write fails, it returns the viewer and an error wrapping ErrTouch.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	v, _, err := s.AuthenticateUser(ctx, token)
	return v, err
}

// AuthenticateUser is Authenticate that also returns the viewer's user, as
// read with the session (all of its fields, no edges loaded). It reads the
// session and its user in one statement.
func (s *Service) AuthenticateUser(ctx context.Context, token string) (*viewer.Viewer, *ent.User, error) {
	if !wellFormed(token) {
		return nil, nil, ErrInvalidToken
	}
	// Checking a token happens before there is a viewer.
	sys := viewer.System(ctx)
	sess, u, err := s.sessionByHash(sys, HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if sess == nil || !SessionActive(sess, now) || u.Disabled {
		return nil, nil, ErrInvalidToken
	}
	v := &viewer.Viewer{UserID: u.ID, Role: string(u.Role), SessionID: sess.ID, Username: u.Username}
	if now.Sub(sess.LastSeenAt) >= s.cfg.TouchInterval {
		if err := s.client.UserSession.UpdateOneID(sess.ID).
			SetLastSeenAt(now).
			SetExpiresAt(s.slide(sess, now)).
			Exec(sys); err != nil {
			// The token is good: a database that cannot take the write
			// (full disk, read-only file) must not turn the viewer away.
			return v, u, fmt.Errorf("%w: %w", ErrTouch, err)
		}
	}
	return v, u, nil
}

// lookupColumns are the session's columns that authenticating reads (its
// id, user, and what says whether it works and how it slides): not the
// token's hash, times of creation, address or user agent.
var lookupColumns = []string{
	usersession.FieldID, usersession.FieldUserID, usersession.FieldLastSeenAt,
	usersession.FieldExpiresAt, usersession.FieldMaxExpiresAt, usersession.FieldRevokedAt,
}

// sessionByHash reads the session with this token hash (lookupColumns
// only) joined with its user (all of its fields), or nils when there is
// none.
func (s *Service) sessionByHash(ctx context.Context, hash string) (*ent.UserSession, *ent.User, error) {
	s.lookupOnce.Do(func() {
		b := sql.Dialect(s.client.Dialect())
		st, ut := sql.Table(usersession.Table).As("s"), sql.Table(user.Table).As("u")
		s.lookupSQL, _ = b.Select(append(st.Columns(lookupColumns...), ut.Columns(user.Columns...)...)...).
			From(st).
			Join(ut).On(st.C(usersession.FieldUserID), ut.C(user.FieldID)).
			Where(sql.EQ(st.C(usersession.FieldTokenHash), db.Param(""))).
			Query()
	})
	var (
		sess *ent.UserSession
		u    *ent.User
	)
	err := s.client.ReadRows(ctx, s.lookupSQL, []any{hash}, func(rows *sql.Rows) error {
		if !rows.Next() {
			return nil
		}
		ss, us := s.client.UserSession.Scanner(lookupColumns...), s.client.User.Scanner(user.Columns...)
		sd, err := ss.Dest()
		if err != nil {
			return err
		}
		ud, err := us.Dest()
		if err != nil {
			return err
		}
		if err := rows.Scan(append(sd, ud...)...); err != nil {
			return err
		}
		if sess, err = ss.Node(); err != nil {
			return err
		}
		u, err = us.Node()
		return err
	})
	if err != nil || sess == nil {
		return nil, nil, err
	}
	sess.Edges.SetUser(u)
	return sess, u, nil
}

// ErrTouch marks an error of Authenticate that only failed to record the
// session's use: the token is good, and the viewer comes with the error.
// The caller serves the request as that viewer and reports the error. The
// session's expiry then slides on the next use that can be recorded.
var ErrTouch = errors.New("could not record the use of the session")

// slide is the new expiry of a session used at now.
func (s *Service) slide(sess *ent.UserSession, now time.Time) time.Time {
	exp := minTime(now.Add(s.cfg.IdleTimeout), sess.MaxExpiresAt)
	if exp.Before(sess.ExpiresAt) {
		// An admin may have set a later expiry (still within the cap).
		return sess.ExpiresAt
	}
	return exp
}

// SessionActive reports whether a session works at now (the rule is
// access.SessionActive).
func SessionActive(sess *ent.UserSession, now time.Time) bool {
	return access.SessionActive(sess, now)
}

// Refresh extends the viewer's current session.
func (s *Service) Refresh(ctx context.Context) (*ent.UserSession, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "no API session to refresh")
	}
	// A user may extend their own session (the viewer's rights are read-only).
	sys := viewer.System(ctx)
	sess, err := s.client.UserSession.Get(sys, v.SessionID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.client.UserSession.UpdateOne(sess).
		SetLastSeenAt(now).
		SetExpiresAt(minTime(now.Add(s.cfg.IdleTimeout), sess.MaxExpiresAt)).
		Save(sys)
}

// Logout revokes the viewer's current session.
func (s *Service) Logout(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == 0 {
		return apperr.New(apperr.Unauthenticated, "no API session to end")
	}
	// A user may revoke their own session.
	sys := viewer.System(ctx)
	return WithTx(sys, s.client, func(tx *ent.Tx) error {
		now := s.now()
		n, err := tx.UserSession.Update().
			Where(usersession.ID(v.SessionID), usersession.RevokedAtIsNil()).
			SetRevokedAt(now).
			Save(sys)
		if err != nil || n == 0 {
			return err
		}
		return s.recordRevoked(sys, tx, v.SessionID, now)
	})
}

func (s *Service) recordRevoked(ctx context.Context, tx *ent.Tx, id int, now time.Time) error {
	_, err := s.events.Record(ctx, tx, events.Entry{
		Type: "session.revoked", SubjectType: events.SubjectSession, SubjectID: id,
		Changes: change.Set{"revokedAt": {From: nil, To: now}},
	})
	return err
}

// LogoutEverywhere revokes all of the viewer's active sessions.
func (s *Service) LogoutEverywhere(ctx context.Context) (int, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return 0, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	// A user may revoke their own sessions.
	sys := viewer.System(ctx)
	var n int
	err := WithTx(sys, s.client, func(tx *ent.Tx) error {
		var err error
		n, err = s.RevokeUserSessions(sys, tx, v.UserID, 0, s.now())
		return err
	})
	return n, err
}

// RevokeSession revokes one session: a user their own, an admin anyone's.
func (s *Service) RevokeSession(ctx context.Context, id int) (*ent.UserSession, error) {
	// Reading with the viewer's rights finds only sessions they may see
	// (inside a Batch, in its transaction: on SQLite it holds the one
	// connection that could answer).
	sess, err := ClientOf(ctx, s.client).UserSession.Get(ctx, id)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, apperr.NotFoundf("session not found")
		}
		return nil, err
	}
	if sess.RevokedAt != nil {
		return sess, nil
	}
	// The viewer may see it, so they may revoke it.
	sys := viewer.System(ctx)
	var out *ent.UserSession
	err = WithTx(sys, s.client, func(tx *ent.Tx) error {
		now := s.now()
		var err error
		if out, err = tx.UserSession.UpdateOne(sess).SetRevokedAt(now).Save(sys); err != nil {
			return err
		}
		return s.recordRevoked(sys, tx, sess.ID, now)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// ChangePassword changes the viewer's password after checking the current
// one, and revokes their other sessions.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	v := viewer.FromContext(ctx)
	if v == nil {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	// The rules first; the hash only once the current password is known
	// to be right, so that guesses cost no hashing.
	if err := CheckPassword("newPassword", next); err != nil {
		return err
	}
	// A user may change their own password, and nothing else of theirs.
	sys := viewer.System(ctx)
	u, err := s.client.User.Get(sys, v.UserID)
	if err != nil {
		return err
	}
	// Guessing the current password through a stolen session is throttled
	// like signing in.
	res, err := s.throttle.Reserve(sys, userThrottleKey(u.UsernameFold))
	if err != nil {
		return err
	}
	if !res.Admitted {
		return refused(res)
	}
	matched, err := s.hashes.compare(ctx, u.PasswordHash, current)
	if err != nil {
		// Not compared: not a failure.
		_ = s.throttle.Release(sys, res)
		return err
	}
	if !matched {
		// The reservation stays: it was a failure.
		if err := s.throttle.Fail(sys, res); err != nil {
			return err
		}
		return apperr.Invalid("currentPassword", "is not your current password")
	}
	if err := s.throttle.Release(sys, res); err != nil {
		return err
	}
	hash, err := s.HashContext(ctx, "newPassword", next)
	if err != nil {
		return err
	}
	return WithTx(sys, s.client, func(tx *ent.Tx) error {
		if err := tx.User.UpdateOneID(u.ID).SetPasswordHash(hash).Exec(sys); err != nil {
			return err
		}
		d := events.Diff{}
		events.Secret(d, "password")
		if _, err := s.events.Record(sys, tx, events.Entry{
			Type: "user.password_changed", SubjectType: events.SubjectUser, SubjectID: u.ID, Changes: d.Set(),
		}); err != nil {
			return err
		}
		_, err := s.RevokeUserSessions(sys, tx, u.ID, v.SessionID, s.now())
		return err
	})
}

// RevokeUserSessions revokes a user's active API sessions except keep (0:
// all) and returns how many it revoked. It also ends all of the user's
// dashboard sessions, by moving the user's session epoch on (a dashboard
// that keeps its own session re-stores the new value). Every path that ends
// a user's sessions (password change, disable, logout everywhere) calls it,
// within the transaction of the change, tx, which records each revoked
// session's event.
func (s *Service) RevokeUserSessions(ctx context.Context, tx *ent.Tx, userID, keep int, now time.Time) (int, error) {
	if err := tx.User.Update().Where(user.ID(userID)).AddSessionEpoch(1).Exec(ctx); err != nil {
		return 0, err
	}
	q := tx.UserSession.Query().Where(usersession.UserID(userID), access.SessionActiveAt(now))
	if keep != 0 {
		q = q.Where(usersession.IDNEQ(keep))
	}
	if tx.Client().Dialect() == dialect.Postgres {
		// Each session is revoked, and its event written, once: a
		// revocation running at the same time waits for this one.
		q = q.ForUpdate()
	}
	ids, err := q.IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n, err := tx.UserSession.Update().Where(usersession.IDIn(ids...), usersession.RevokedAtIsNil()).SetRevokedAt(now).Save(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.recordRevoked(ctx, tx, id, now); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// batchKey carries the transaction of a Batch in its context.
type batchKey struct{}

// Batch runs fn in one transaction: every WithTx called with fn's context
// (every change of internal/service and of this package) joins it instead
// of committing on its own, so that fn's changes all happen or none does.
// It commits when fn returns nil.
func Batch(ctx context.Context, c *ent.Client, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(batchKey{}).(*ent.Tx); ok {
		return fn(ctx)
	}
	return WithTx(ctx, c, func(tx *ent.Tx) error {
		return fn(context.WithValue(ctx, batchKey{}, tx))
	})
}

// ClientOf is the client to read with in ctx: the Batch's transaction
// when ctx runs in one, else c.
func ClientOf(ctx context.Context, c *ent.Client) *ent.Client {
	if tx, ok := ctx.Value(batchKey{}).(*ent.Tx); ok {
		return tx.Client()
	}
	return c
}

// WithTx runs fn in a transaction, committing when it returns nil; inside
// a Batch, fn runs in the batch's transaction.
func WithTx(ctx context.Context, c *ent.Client, fn func(tx *ent.Tx) error) error {
	if tx, ok := ctx.Value(batchKey{}).(*ent.Tx); ok {
		return fn(tx)
	}
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// userThrottleKey is the throttle key of a (lower-cased) username.
func userThrottleKey(fold string) string { return "user:" + truncate(fold, 100) }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// refused is the answer to an attempt the throttle did not admit.
func refused(r *Reservation) error {
	if r.Busy {
		return apperr.New(apperr.RateLimited, "too many sign-in attempts at once; try again in a moment")
	}
	return rateLimited(r.Wait)
}

func rateLimited(wait time.Duration) error {
	mins := int(wait.Round(time.Minute) / time.Minute)
	if mins < 1 {
		return apperr.New(apperr.RateLimited, "too many failed sign-ins; try again in less than a minute")
	}
	return apperr.New(apperr.RateLimited, "too many failed sign-ins; try again in %d minutes", mins)
}

// LoginInput is a username and password.
type LoginInput struct {
	Username string
	Password string
}

type clientInfoKey struct{}

// WithClientInfo returns ctx carrying what the request told about its client.
func WithClientInfo(ctx context.Context, ci ClientInfo) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, ci)
}

// ClientInfoFrom returns the client info in ctx.
func ClientInfoFrom(ctx context.Context) ClientInfo {
	ci, _ := ctx.Value(clientInfoKey{}).(ClientInfo)
	return ci
}

type userKey struct{}

// WithUser returns ctx carrying the viewer's user as AuthenticateUser read it.
func WithUser(ctx context.Context, u *ent.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user carried in ctx when it is the one with this id
// (the viewer's), else nil. The user's edges are not loaded.
func UserFrom(ctx context.Context, id int) *ent.User {
	u, _ := ctx.Value(userKey{}).(*ent.User)
	if u == nil || u.ID != id {
		return nil
	}
	return u
}
