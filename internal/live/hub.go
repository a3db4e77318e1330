// Package live tells signed-in users, while they listen, when their
// access changes: an outbox on the event recorder says after each commit
// whose access a change may have altered, a hub in each process holds the
// open subscriptions, and each subscription recomputes its user's active
// features and sends them only when they differ from what it sent last.
// On PostgreSQL notices travel by NOTIFY, so that a change made on one
// replica reaches subscribers on all of them.
package live

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"gatehouse/ent"
	"gatehouse/ent/packagecontent"
	"gatehouse/ent/userpackage"
	"gatehouse/ent/usersession"
	"gatehouse/internal/apperr"
	"gatehouse/internal/events"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// Options configure a hub.
type Options struct {
	// MaxPerUser bounds one user's open subscriptions in this process.
	MaxPerUser int
	// MaxSubscriptions bounds the open subscriptions in this process.
	MaxSubscriptions int
	// Pool, when set (PostgreSQL), is whose connection settings the
	// LISTEN connection uses; nil: notices stay in this process.
	Pool   *pgxpool.Pool
	Logger *slog.Logger
}

// Debounce is how long a subscription waits after a notice for more
// before it recomputes: a burst of changes costs one recomputation.
const Debounce = 30 * time.Millisecond

// Hub holds a process's subscriptions.
type Hub struct {
	client  *ent.Client
	service *service.Service
	opts    Options
	log     *slog.Logger
	outbox  *outbox

	mu     sync.Mutex
	byUser map[int]map[*sub]struct{}
	total  int
	lis    *listener
	closed bool
	// onDeliver, when set (tests), sees every notice this process gets.
	onDeliver func(*Notice)
}

// New returns a hub over client; svc computes active features (as
// `me { activeFeatures }` does) and tells the time.
func New(client *ent.Client, svc *service.Service, o Options) *Hub {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Hub{client: client, service: svc, opts: o, log: o.Logger, byUser: map[int]map[*sub]struct{}{}}
	h.outbox = newOutbox(h)
	return h
}

// Outbox is what to register on the event recorder (AddOutbox).
func (h *Hub) Outbox() events.Outbox { return h.outbox }

// Count is how many subscriptions are open in this process.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Close ends every subscription (each stream ends as its context would)
// and stops listening.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*sub
	for _, subs := range h.byUser {
		for s := range subs {
			all = append(all, s)
		}
	}
	lis := h.lis
	h.lis = nil
	h.mu.Unlock()
	for _, s := range all {
		s.cancel()
	}
	if lis != nil {
		lis.stop()
	}
}

// errors told to clients.
var (
	errUnavailable = apperr.New(apperr.Internal, "live updates are unavailable right now; try again")
	errClosing     = apperr.New(apperr.Internal, "the server is shutting down; reconnect")
)

// add registers s, within the limits, and makes sure this process
// listens for notices (PostgreSQL) before s looks at anything.
func (h *Hub) add(ctx context.Context, s *sub) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errClosing
	}
	if h.total >= h.opts.MaxSubscriptions {
		h.mu.Unlock()
		return apperr.New(apperr.RateLimited, "this server holds the most live subscriptions it may (%d, live.max_subscriptions); try again later or on another server", h.opts.MaxSubscriptions)
	}
	if len(h.byUser[s.userID]) >= h.opts.MaxPerUser {
		h.mu.Unlock()
		return apperr.New(apperr.RateLimited, "you have %d live subscriptions open on this server, the most one user may (live.max_per_user); close one first", h.opts.MaxPerUser)
	}
	if h.byUser[s.userID] == nil {
		h.byUser[s.userID] = map[*sub]struct{}{}
	}
	h.byUser[s.userID][s] = struct{}{}
	h.total++
	var lis *listener
	if h.opts.Pool != nil {
		if h.lis == nil {
			h.lis = startListener(h, h.opts.Pool)
		}
		lis = h.lis
	}
	h.mu.Unlock()
	if lis != nil {
		if err := lis.wait(ctx); err != nil {
			h.remove(s)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.log.ErrorContext(ctx, "live updates: cannot listen for notices", "err", err)
			return errUnavailable
		}
	}
	return nil
}

// remove unregisters s; the last one out stops the listener.
func (h *Hub) remove(s *sub) {
	h.mu.Lock()
	subs := h.byUser[s.userID]
	if _, ok := subs[s]; !ok {
		h.mu.Unlock()
		return
	}
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.byUser, s.userID)
	}
	h.total--
	var lis *listener
	if h.total == 0 && h.lis != nil {
		lis, h.lis = h.lis, nil
	}
	h.mu.Unlock()
	if lis != nil {
		lis.stop()
	}
}

// deliver kicks the subscriptions a notice concerns.
func (h *Hub) deliver(n *Notice) {
	h.mu.Lock()
	idle := h.total == 0 && h.onDeliver == nil
	h.mu.Unlock()
	if idle {
		// Nobody listens here: nothing to look up, nobody to tell.
		return
	}
	if err := h.resolve(n); err != nil {
		h.log.Warn("live: looking up whom a change concerns failed; every subscription looks again", "err", err)
		h.kickAll(firstType(n.Types))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.onDeliver != nil {
		h.onDeliver(n)
	}
	for _, u := range n.Users {
		for s := range h.byUser[u] {
			s.kick(n.Types)
		}
	}
	if len(n.Packages) == 0 {
		return
	}
	for _, subs := range h.byUser {
		for s := range subs {
			if s.holdsAny(n.Packages) {
				s.kick(n.Types)
			}
		}
	}
}

// resolve turns the rows a notice names into their owners: assignments
// and sessions into users, contents and features into packages. It runs
// after the commit, in a process with subscriptions only.
func (h *Hub) resolve(n *Notice) error {
	if len(n.Assignments)+len(n.Sessions)+len(n.Contents)+len(n.Features) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(viewer.System(context.Background()), resolveTimeout)
	defer cancel()
	add := func(dst *[]int, ids []int, err error) error {
		for _, id := range ids {
			*dst = addInt(*dst, id)
		}
		return err
	}
	if len(n.Assignments) > 0 {
		ids, err := h.client.UserPackage.Query().Where(userpackage.IDIn(n.Assignments...)).Unique(true).Select(userpackage.FieldUserID).Ints(ctx)
		if err := add(&n.Users, ids, err); err != nil {
			return err
		}
	}
	if len(n.Sessions) > 0 {
		ids, err := h.client.UserSession.Query().Where(usersession.IDIn(n.Sessions...)).Unique(true).Select(usersession.FieldUserID).Ints(ctx)
		if err := add(&n.Users, ids, err); err != nil {
			return err
		}
	}
	if len(n.Contents) > 0 {
		ids, err := h.client.PackageContent.Query().Where(packagecontent.IDIn(n.Contents...)).Unique(true).Select(packagecontent.FieldPackageID).Ints(ctx)
		if err := add(&n.Packages, ids, err); err != nil {
			return err
		}
	}
	if len(n.Features) > 0 {
		ids, err := h.client.PackageContent.Query().Where(packagecontent.FeatureIDIn(n.Features...)).Unique(true).Select(packagecontent.FieldPackageID).Ints(ctx)
		if err := add(&n.Packages, ids, err); err != nil {
			return err
		}
	}
	n.Assignments, n.Sessions, n.Contents, n.Features = nil, nil, nil, nil
	return nil
}

// resolveTimeout bounds resolve's queries.
const resolveTimeout = 5 * time.Second

func firstType(types []string) string {
	if len(types) == 0 {
		return "changed"
	}
	return types[0]
}

// kickAll makes every subscription look again (notices may have been
// missed while the listener reconnected).
func (h *Hub) kickAll(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.byUser {
		for s := range subs {
			s.kick([]string{reason})
		}
	}
}

var errStopped = errors.New("live: listener stopped")
