package live

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// Change is one message of the accessChanged stream: the viewer's active
// features after a change and why, or the error the stream ends with.
type Change struct {
	at       time.Time
	reason   string
	features []*service.ActiveFeature
	err      error
	told     atomic.Bool
}

// At is when the change was seen. It, Reason and ActiveFeatures return
// the error of a Change that ends the stream, the first of them asked
// only, so that the answer holds the error once.
func (c *Change) At() (time.Time, error) { return c.at, c.failed() }

// Reason says why.
func (c *Change) Reason() (string, error) { return c.reason, c.failed() }

// ActiveFeatures are the active features after the change.
func (c *Change) ActiveFeatures() ([]*service.ActiveFeature, error) { return c.features, c.failed() }

// Err is the error the stream ends with, or nil.
func (c *Change) Err() error { return c.err }

func (c *Change) failed() error {
	if c.err != nil && c.told.CompareAndSwap(false, true) {
		return c.err
	}
	return nil
}

// ErrSessionEnded ends a stream whose session was revoked or expired, or
// whose user was disabled or deleted.
var ErrSessionEnded = apperr.New(apperr.Unauthenticated, "your session has ended (revoked, expired, or the account disabled); sign in again")

// Reasons of changes that no event names.
const (
	ReasonSubscribed = "subscribed"
	ReasonStarted    = "user_package.started"
	ReasonExpired    = "user_package.expired"
	ReasonGraceEnded = "user_package.grace_ended"
)

// maxWait bounds how long a subscription sleeps without looking (a timer
// further out is set again when it fires).
const maxWait = time.Hour

// sub is one open subscription.
type sub struct {
	h         *Hub
	userID    int
	sessionID int
	cancel    context.CancelFunc
	kicks     chan struct{}

	// Guarded by h.mu.
	reasons  []string
	packages []int
}

func (s *sub) kick(types []string) {
	for _, t := range types {
		if !slices.Contains(s.reasons, t) && len(s.reasons) < maxTypes {
			s.reasons = append(s.reasons, t)
		}
	}
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

func (s *sub) holdsAny(packages []int) bool {
	for _, p := range packages {
		if slices.Contains(s.packages, p) {
			return true
		}
	}
	return false
}

// takeReasons returns the reasons gathered since the last look.
func (s *sub) takeReasons() []string {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	r := s.reasons
	s.reasons = nil
	return r
}

func (s *sub) setPackages(p []int) {
	s.h.mu.Lock()
	s.packages = p
	s.h.mu.Unlock()
}

// Subscribe opens the viewer's accessChanged stream: the first message
// tells the active features now; the stream closes when ctx ends, after a
// message with Err when the session ends.
func (h *Hub) Subscribe(ctx context.Context) (<-chan *Change, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "sign in with an API session first")
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &sub{h: h, userID: v.UserID, sessionID: v.SessionID, cancel: cancel, kicks: make(chan struct{}, 1)}
	if err := h.add(ctx, s); err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *Change, 1)
	go func() {
		defer close(out)
		defer cancel()
		defer h.remove(s)
		s.run(ctx, out)
	}()
	return out, nil
}

// look is what a subscription found when it looked.
type look struct {
	features []service.ActiveFeature
	// next is the next moment an assignment starts, expires or leaves
	// its grace period (zero: none); sessionEnds when the session does.
	next, sessionEnds time.Time
	nextReason        string
	ended             bool
}

func (s *sub) run(ctx context.Context, out chan<- *Change) {
	send := func(c *Change) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	l, err := s.look(ctx)
	if err != nil {
		s.fail(ctx, send, err)
		return
	}
	if l.ended {
		send(&Change{at: s.h.service.Now(), err: ErrSessionEnded})
		return
	}
	last := l.features
	if !send(&Change{at: s.h.service.Now(), reason: ReasonSubscribed, features: pointers(last)}) {
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake, timed := l.wake(s.h.service.Now())
		timer.Reset(wake)
		var reasons []string
		select {
		case <-ctx.Done():
			return
		case <-s.kicks:
			// More notices may follow at once: one look for them all.
			select {
			case <-time.After(Debounce):
			case <-ctx.Done():
				return
			}
			select {
			case <-s.kicks:
			default:
			}
			reasons = s.takeReasons()
		case <-timer.C:
			if timed != "" {
				reasons = []string{timed}
			}
		}
		if l, err = s.look(ctx); err != nil {
			s.fail(ctx, send, err)
			return
		}
		if l.ended {
			send(&Change{at: s.h.service.Now(), err: ErrSessionEnded})
			return
		}
		if Same(l.features, last) {
			continue
		}
		last = l.features
		if len(reasons) == 0 {
			reasons = []string{"changed"}
		}
		sort.Strings(reasons)
		if !send(&Change{at: s.h.service.Now(), reason: strings.Join(reasons, ","), features: pointers(last)}) {
			return
		}
	}
}

// wake is how long to sleep before the next moment that may change
// something, and which reason that moment gives.
func (l *look) wake(now time.Time) (time.Duration, string) {
	d, why := maxWait, ""
	if !l.next.IsZero() {
		if w := l.next.Sub(now); w < d {
			d, why = w, l.nextReason
		}
	}
	if !l.sessionEnds.IsZero() {
		if w := l.sessionEnds.Sub(now); w < d {
			d, why = w, ""
		}
	}
	// A little past the moment, so that the moment has passed by the
	// database's clock too.
	d += 5 * time.Millisecond
	if d < 0 {
		d = 0
	}
	return d, why
}

// fail ends a stream on an error it cannot get past.
func (s *sub) fail(ctx context.Context, send func(*Change) bool, err error) {
	if ctx.Err() != nil {
		return
	}
	if _, ok := apperr.As(err); !ok {
		s.h.log.ErrorContext(ctx, "live updates: looking at a subscriber's access failed", "user_id", s.userID, "err", err)
		err = errUnavailable
	}
	send(&Change{at: s.h.service.Now(), err: err})
}

// look checks the session and reads the active features (with the code
// `me { activeFeatures }` uses) and the next moments to look again.
func (s *sub) look(ctx context.Context) (*look, error) {
	sys := viewer.System(ctx)
	now := s.h.service.Now()
	sess, err := s.h.client.UserSession.Query().
		Where(usersession.ID(s.sessionID)).
		WithUser().
		Only(sys)
	if ent.IsNotFound(err) {
		return &look{ended: true}, nil
	}
	if err != nil {
		return nil, err
	}
	if !access.SessionActive(sess, now) || sess.Edges.User == nil || sess.Edges.User.Disabled {
		return &look{ended: true}, nil
	}
	l := &look{sessionEnds: sess.ExpiresAt}
	if sess.MaxExpiresAt.Before(l.sessionEnds) {
		l.sessionEnds = sess.MaxExpiresAt
	}
	ups, err := s.h.client.UserPackage.Query().
		Where(userpackage.UserID(s.userID)).
		Select(userpackage.FieldPackageID, userpackage.FieldStartsAt, userpackage.FieldExpiresAt, userpackage.FieldGraceEndsAt).
		All(sys)
	if err != nil {
		return nil, err
	}
	var pkgs []int
	for _, up := range ups {
		if !slices.Contains(pkgs, up.PackageID) {
			pkgs = append(pkgs, up.PackageID)
		}
		a := access.FromUserPackage(up)
		for _, m := range []struct {
			at  time.Time
			why string
		}{{a.StartsAt, ReasonStarted}, {a.ExpiresAt, ReasonExpired}, {a.GraceEndsAt, ReasonGraceEnded}} {
			if m.at.After(now) && (l.next.IsZero() || m.at.Before(l.next)) {
				l.next, l.nextReason = m.at, m.why
			}
		}
	}
	s.setPackages(pkgs)
	if l.features, err = s.h.service.ActiveFeatures(viewer.NewContext(ctx, &viewer.Viewer{UserID: s.userID, Role: string(sess.Edges.User.Role), SessionID: s.sessionID, Username: sess.Edges.User.Username}), s.userID); err != nil {
		return nil, err
	}
	return l, nil
}

func pointers(fs []service.ActiveFeature) []*service.ActiveFeature {
	out := make([]*service.ActiveFeature, len(fs))
	for i := range fs {
		out[i] = &fs[i]
	}
	return out
}

// Same reports whether two lists of active features (ordered by key, as
// ActiveFeatures answers) tell the same access.
func Same(a, b []service.ActiveFeature) bool {
	return slices.EqualFunc(a, b, func(x, y service.ActiveFeature) bool {
		return x.Key == y.Key && x.Name == y.Name && x.Kind == y.Kind && x.InGrace == y.InGrace &&
			x.ExpiresAt.Equal(y.ExpiresAt) &&
			(x.Limit == nil) == (y.Limit == nil) && (x.Limit == nil || *x.Limit == *y.Limit)
	})
}
