package live

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// listener is a process's LISTEN connection: one, while any subscription
// is open. It connects with the pool's settings but outside the pool (a
// connection held forever would starve it, and closing the pool would
// wait for it).
type listener struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	ready chan struct{} // closed after the first attempt
	err   error         // the last attempt's error, nil while listening
	// settled: ready is closed; listened: it has listened once.
	settled, listened bool
}

// retryEvery is how long the listener waits before it connects again.
const retryEvery = time.Second

func startListener(h *Hub, pool *pgxpool.Pool) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			err := l.run(ctx, h, pool)
			if ctx.Err() != nil {
				return
			}
			l.settle(err)
			h.log.Warn("live updates: the LISTEN connection failed; reconnecting", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryEvery):
			}
		}
	}()
	return l
}

// run listens until the connection fails or ctx ends.
func (l *listener) run(ctx context.Context, h *Hub, pool *pgxpool.Pool) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, pool.Config().ConnConfig.Copy())
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	if l.settle(nil) {
		// Notices sent while this process was not listening are lost:
		// every subscription looks again.
		h.kickAll("reconnected")
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var nt Notice
		if err := json.Unmarshal([]byte(n.Payload), &nt); err != nil {
			h.log.Warn("live updates: a notice could not be read", "err", err)
			continue
		}
		h.deliver(&nt)
	}
}

// settle records whether the listener listens (err nil) and reports
// whether it had listened before.
func (l *listener) settle(err error) (before bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before = l.listened
	l.err = err
	if err == nil {
		l.listened = true
	}
	if !l.settled {
		l.settled = true
		close(l.ready)
	}
	return before
}

// wait returns once the listener listens, or with why it could not.
func (l *listener) wait(ctx context.Context) error {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return errStopped
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// stop ends the listener and waits for it.
func (l *listener) stop() {
	l.cancel()
	<-l.done
}
