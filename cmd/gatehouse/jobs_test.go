package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gatehouse/ent/joblease"
	"gatehouse/internal/app"
	"gatehouse/internal/jobs"
	"gatehouse/internal/viewer"
)

// TestServeRunsJobsAndHandsThemOverOnShutdown: serve starts the background
// jobs registered on it, under their leases; a graceful shutdown cancels
// a running job, waits for it, and releases its lease, so another replica
// takes it over at once.
func TestServeRunsJobsAndHandsThemOverOnShutdown(t *testing.T) {
	dsn := testDSN(t)
	started := make(chan struct{}, 1)
	ended := make(chan error, 1)
	var holder string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs,
		environ: baseEnv(map[string]string{"GATEHOUSE_JOBS_LEASE_TTL": "20s"}), testBcryptCost: bcrypt.MinCost,
		testJobs: func(a *app.App) {
			if a.Jobs.TTL() != 20*time.Second {
				t.Errorf("the runner's lease TTL is %s, want jobs.lease_ttl (20s)", a.Jobs.TTL())
			}
			holder = a.Jobs.Holder()
			a.Jobs.Register("test.blocking", time.Hour, func(ctx context.Context) error {
				started <- struct{}{}
				<-ctx.Done()
				ended <- context.Cause(ctx)
				return nil
			})
		}}
	done := make(chan int, 1)
	go func() { done <- e.run([]string{"serve", "--listen", "127.0.0.1:0", "--db", dsn}) }()
	select {
	case <-started:
	case code := <-done:
		t.Fatalf("serve exited with %d:\n%s", code, logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("the job never started:\n%s", logs.String())
	}
	side := openSide(t, dsn)
	sys := viewer.System(context.Background())
	l, err := side.Ent.JobLease.Query().Where(joblease.Name("test.blocking")).Only(sys)
	if err != nil || l.Holder != holder || !l.ExpiresAt.After(time.Now()) {
		t.Fatalf("while the job runs, its lease: %+v (%v), want held by %s", l, err, holder)
	}

	cancel() // SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	select {
	case err := <-ended:
		if !errors.Is(err, jobs.ErrStopping) {
			t.Errorf("the job's context ended with %v, want ErrStopping", err)
		}
	default:
		t.Fatal("serve returned while its job was still running")
	}
	l, err = side.Ent.JobLease.Query().Where(joblease.Name("test.blocking")).Only(sys)
	if err != nil || l.Holder != holder || l.ExpiresAt.After(time.Now()) {
		t.Fatalf("after the shutdown, the lease: %+v (%v), want released", l, err)
	}
	for _, want := range []string{`"msg":"job lease taken","job":"test.blocking"`, `"msg":"job lease released","job":"test.blocking"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, logs.String())
		}
	}
}
