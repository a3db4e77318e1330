package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/metrics"
	"gatehouse/internal/viewer"
	"gatehouse/internal/webhooks"
)

func TestMetricsHooks(t *testing.T) {
	t.Parallel()

	t.Run("throttled sign-ins", func(t *testing.T) {
		t.Parallel()
		s := apptest.Start(t, func(c *config.Config) { c.Throttle.MaxFailures = 1 }, app.Options{})
		ms := httptest.NewServer(s.App.Metrics.Handler())
		t.Cleanup(ms.Close)
		s.CreateUser("carol", "correct-horse-battery", user.RoleUSER)
		for _, want := range []string{"UNAUTHENTICATED", "RATE_LIMITED"} {
			if r := s.Do("", loginOp, map[string]any{"u": "carol", "p": "wrong-password-1"}); r.Code() != want {
				t.Fatalf("sign-in: code %q, want %s", r.Code(), want)
			}
		}
		f := scrape(t, ms.URL+"/metrics")
		for outcome, want := range map[string]float64{"succeeded": 0, "failed": 1, "throttled": 1} {
			if got := value(f, "gatehouse_logins_total", map[string]string{"outcome": outcome}); got != want {
				t.Errorf("gatehouse_logins_total{outcome=%q} = %v, want %v", outcome, got, want)
			}
		}
	})

	t.Run("job runs", func(t *testing.T) {
		t.Parallel()
		m := metrics.New(nil)
		ms := httptest.NewServer(m.Handler())
		t.Cleanup(ms.Close)
		ok := m.WrapJob("demo", func(context.Context) error { return nil })
		bad := m.WrapJob("demo", func(context.Context) error { return errors.New("boom") })
		_ = ok(context.Background())
		_ = ok(context.Background())
		if err := bad(context.Background()); err == nil || err.Error() != "boom" {
			t.Fatalf("the wrapped job returned %v, want its own error", err)
		}
		f := scrape(t, ms.URL+"/metrics")
		for result, want := range map[string]float64{"ok": 2, "error": 1} {
			if got := value(f, "gatehouse_job_runs_total", map[string]string{"job": "demo", "result": result}); got != want {
				t.Errorf("job_runs{demo, %s} = %v, want %v", result, got, want)
			}
		}
		if got := value(f, "gatehouse_job_duration_seconds", map[string]string{"job": "demo"}); got != 3 {
			t.Errorf("job_duration{demo} count = %v, want 3", got)
		}
	})

	t.Run("webhook deliveries and the app's jobs", func(t *testing.T) {
		t.Parallel()
		s := apptest.Start(t, func(c *config.Config) { c.Webhooks.AllowPrivateTargets = true }, app.Options{})
		ms := httptest.NewServer(s.App.Metrics.Handler())
		t.Cleanup(ms.Close)
		good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		t.Cleanup(good.Close)
		broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
		t.Cleanup(broken.Close)
		sys := viewer.System(context.Background())
		eps := webhooks.NewEndpoints(s.App.DB.Ent, s.App.Service.Events())
		for _, u := range []string{good.URL, broken.URL} {
			if _, err := eps.Create(sys, webhooks.CreateEndpointInput{URL: u, EventTypes: []string{"user.created"}}); err != nil {
				t.Fatal(err)
			}
		}
		s.CreateUser("dave", "correct-horse-battery", user.RoleUSER)
		if n, err := s.App.Webhooks.RunBatch(sys); err != nil || n != 2 {
			t.Fatalf("RunBatch = %d, %v; want 2 deliveries", n, err)
		}
		f := scrape(t, ms.URL+"/metrics")
		for outcome, want := range map[string]float64{"delivered": 1, "retry": 1, "failed": 0} {
			if got := value(f, "gatehouse_webhook_delivery_attempts_total", map[string]string{"outcome": outcome}); got != want {
				t.Errorf("webhook_delivery_attempts{%s} = %v, want %v", outcome, got, want)
			}
		}

		// The app's jobs are counted as they run.
		s.App.StartJobs(context.Background())
		deadline := time.Now().Add(30 * time.Second)
		for value(scrape(t, ms.URL+"/metrics"), "gatehouse_job_runs_total", map[string]string{"job": webhooks.JobName}) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no run of the webhooks job counted within 30s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := s.App.StopJobs(time.Minute); err != nil {
			t.Fatal(err)
		}
	})
}
