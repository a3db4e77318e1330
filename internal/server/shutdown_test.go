package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/config"
)

// slowServer serves /slow, which answers only when release is closed, on a
// real listener through Serve. It returns the address, the channel closed
// when /slow has started, release, cancel (which starts the shutdown) and
// Serve's result.
func slowServer(t *testing.T, grace time.Duration) (addr string, started <-chan struct{}, release chan struct{}, cancel context.CancelFunc, result <-chan error) {
	t.Helper()
	st := make(chan struct{})
	rel := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(st)
		<-rel
		io.WriteString(w, "finished after shutdown began\n")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast\n") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Server
	srv := HTTPServer(cfg, mux, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancelFn := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- Serve(ctx, srv, ln, grace, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancelFn()
		select {
		case <-rel:
		default:
			close(rel)
		}
	})
	return ln.Addr().String(), st, rel, cancelFn, res
}

// waitRefused waits until addr refuses connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after the shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServeDrainsRequestsInFlight(t *testing.T) {
	addr, started, release, cancel, result := slowServer(t, time.Minute)

	// A keep-alive connection that is idle when the shutdown begins.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	idleReader := bufio.NewReader(idle)
	if res, err := http.ReadResponse(idleReader, nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("fast request: %v", err)
	} else {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}

	type answer struct {
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		slow <- answer{string(b), err}
	}()
	<-started
	cancel() // as SIGTERM does
	waitRefused(t, addr)

	// The idle connection is closed rather than kept open.
	idle.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := idleReader.ReadByte(); err == nil {
		t.Error("an idle keep-alive connection stayed open during the shutdown")
	}
	select {
	case err := <-result:
		t.Fatalf("Serve returned (%v) while a request was still in flight", err)
	default:
	}

	close(release)
	a := <-slow
	if a.err != nil || a.body != "finished after shutdown began\n" {
		t.Fatalf("the request in flight got %q, %v", a.body, a.err)
	}
	if err := <-result; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServeCutsOffAfterGrace(t *testing.T) {
	addr, started, _, cancel, result := slowServer(t, 50*time.Millisecond)
	slow := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		slow <- err
	}()
	<-started
	cancel()
	err := <-result
	if err == nil || !strings.Contains(err.Error(), "server.shutdown_grace") {
		t.Fatalf("Serve returned %v; want an error about the grace period", err)
	}
	if err := <-slow; err == nil {
		t.Error("the request that outlived the grace period got a complete answer")
	}
}

func TestServeReturnsListenerErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	srv := HTTPServer(config.Default().Server, http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	err = Serve(context.Background(), srv, ln, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve on a closed listener: %v", err)
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	cfg := config.Default().Server
	cfg.ReadHeaderTimeout = config.Duration{Duration: 1 * time.Second}
	cfg.ReadTimeout = config.Duration{Duration: 2 * time.Second}
	cfg.WriteTimeout = config.Duration{Duration: 3 * time.Second}
	cfg.IdleTimeout = config.Duration{Duration: 4 * time.Second}
	srv := HTTPServer(cfg, http.NotFoundHandler(), slog.Default())
	if srv.ReadHeaderTimeout != time.Second || srv.ReadTimeout != 2*time.Second ||
		srv.WriteTimeout != 3*time.Second || srv.IdleTimeout != 4*time.Second || srv.MaxHeaderBytes <= 0 {
		t.Fatalf("timeouts not taken from the config: %+v", srv)
	}

	// A client that never finishes its headers is disconnected.
	cfg.ReadHeaderTimeout = config.Duration{Duration: 100 * time.Millisecond}
	srv = HTTPServer(cfg, http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // no blank line: headers never end
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection whose headers never ended")
	}
}
