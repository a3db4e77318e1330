package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"gatehouse/internal/metrics"
)

// listenMetrics binds metrics.listen, explaining the usual failures.
func listenMetrics(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("metrics.listen: cannot listen on %s: address already in use; choose another address "+
			"with metrics.listen (GATEHOUSE_METRICS_LISTEN), or \"\" for no metrics", addr)
	case err != nil:
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	return ln, nil
}

// serveMetrics serves m's /metrics on ln (and nothing else) until the
// returned function is called, which closes it.
func serveMetrics(m *metrics.Metrics, ln net.Listener, log *slog.Logger) (stop func()) {
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      metrics.ScrapeTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "metrics_addr", ln.Addr().String())
	return func() {
		_ = srv.Close()
		<-done
	}
}
