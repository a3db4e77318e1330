package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/metrics"
	"gatehouse/internal/testdb"
)

// scrape fetches url over HTTP and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// want (0 when there is none).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// labelValues lists the values of label in family name.
func labelValues(fams map[string]*dto.MetricFamily, name, label string) map[string]bool {
	out := map[string]bool{}
	if f := fams[name]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out
}

type env struct {
	s       *apptest.Server
	metrics string // the /metrics URL
}

func start(t *testing.T) env {
	t.Helper()
	s := apptest.Start(t, nil, app.Options{Dashboard: apptest.Dashboard})
	if s.App.Metrics == nil {
		t.Fatal("metrics are off with the default metrics.listen")
	}
	ms := httptest.NewServer(s.App.Metrics.Handler())
	t.Cleanup(ms.Close)
	return env{s: s, metrics: ms.URL + "/metrics"}
}

func get(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

const loginOp = `mutation SignIn($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}`

func TestMetrics(t *testing.T) {
	t.Parallel()

	t.Run("logins by outcome", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		e.s.CreateUser("alice", "correct-horse-battery", user.RoleUSER)
		e.s.Login("alice", "correct-horse-battery")
		if r := e.s.Do("", loginOp, map[string]any{"u": "alice", "p": "wrong-password-1"}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password: code %q", r.Code())
		}
		f := scrape(t, e.metrics)
		for outcome, want := range map[string]float64{"succeeded": 1, "failed": 1, "throttled": 0} {
			if got := value(f, "gatehouse_logins_total", map[string]string{"outcome": outcome}); got != want {
				t.Errorf("gatehouse_logins_total{outcome=%q} = %v, want %v", outcome, got, want)
			}
		}
		if got := value(f, "gatehouse_api_sessions_active", nil); got != 1 {
			t.Errorf("gatehouse_api_sessions_active = %v, want 1", got)
		}
	})

	t.Run("graphql operations and errors", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		e.s.CreateUser("bob", "correct-horse-battery", user.RoleUSER)
		tok := e.s.Login("bob", "correct-horse-battery")
		e.s.MustDo(tok, `query MyName { me { username } }`, nil)
		e.s.MustDo(tok, `query MyName { me { username } }`, nil)
		if r := e.s.Do("", `query MyName { me { username } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous me: code %q", r.Code())
		}
		if r := e.s.Do("", `{ me { nosuchfield } }`, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("invalid query: code %q", r.Code())
		}
		f := scrape(t, e.metrics)
		q := map[string]string{"operation": "MyName", "type": "query"}
		if got := value(f, "gatehouse_graphql_operations_total", q); got != 3 {
			t.Errorf("operations{MyName, query} = %v, want 3", got)
		}
		if got := value(f, "gatehouse_graphql_operation_duration_seconds", q); got != 3 {
			t.Errorf("duration{MyName, query} count = %v, want 3", got)
		}
		if got := value(f, "gatehouse_graphql_operations_total", map[string]string{"operation": "unnamed", "type": "mutation"}); got != 1 {
			t.Errorf("operations{unnamed, mutation} (apptest's login) = %v, want 1", got)
		}
		for code, want := range map[string]float64{"UNAUTHENTICATED": 1, "GRAPHQL_VALIDATION_FAILED": 1} {
			if got := value(f, "gatehouse_graphql_errors_total", map[string]string{"code": code}); got != want {
				t.Errorf("errors{code=%s} = %v, want %v", code, got, want)
			}
		}
		for status, want := range map[string]float64{"200": 4, "422": 1} {
			if got := value(f, "gatehouse_http_requests_total", map[string]string{"method": "POST", "route": "/graphql", "status": status}); got != want {
				t.Errorf("http_requests{POST /graphql %s} = %v, want %v", status, got, want)
			}
		}
	})

	t.Run("http route patterns", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		for _, id := range []string{"123", "456"} {
			if st := get(t, e.s.URL+"/admin/users/"+id); st != http.StatusSeeOther && st != http.StatusFound {
				t.Fatalf("GET /admin/users/%s anonymously: status %d, want a redirect to the sign-in", id, st)
			}
		}
		get(t, e.s.URL+"/healthz")
		get(t, e.s.URL+"/no/such/page/789")
		f := scrape(t, e.metrics)
		routes := labelValues(f, "gatehouse_http_requests_total", "route")
		for _, want := range []string{"/admin/users/{id}", "/healthz", "unmatched"} {
			if !routes[want] {
				t.Errorf("no route label %q in %v", want, routes)
			}
		}
		for r := range routes {
			if strings.ContainsAny(r, "0123456789") {
				t.Errorf("route label %q holds a raw path", r)
			}
		}
		if got := value(f, "gatehouse_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/admin/users/{id}"}); got != 2 {
			t.Errorf("duration{GET /admin/users/{id}} count = %v, want 2", got)
		}
		if got := value(f, "gatehouse_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}); got != 1 {
			t.Errorf("requests{unmatched, 404} = %v, want 1", got)
		}
	})

	t.Run("operation names are bounded", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		for i := range 500 {
			e.s.MustDo("", fmt.Sprintf(`query Invented%d { __typename }`, i), nil)
		}
		e.s.MustDo("", `query Invented0 { __typename }`, nil)
		f := scrape(t, e.metrics)
		names := labelValues(f, "gatehouse_graphql_operations_total", "operation")
		if len(names) > metrics.MaxOperationNames+2 {
			t.Errorf("%d operation label values after 500 names, want at most %d", len(names), metrics.MaxOperationNames+2)
		}
		if got := value(f, "gatehouse_graphql_operations_total", map[string]string{"operation": "other"}); got != 500-metrics.MaxOperationNames {
			t.Errorf("operations{other} = %v, want %d", got, 500-metrics.MaxOperationNames)
		}
		if got := value(f, "gatehouse_graphql_operations_total", map[string]string{"operation": "Invented0"}); got != 2 {
			t.Errorf("operations{Invented0} = %v, want 2 (a name admitted keeps its label)", got)
		}
		if n := len(f["gatehouse_graphql_operation_duration_seconds"].GetMetric()); n > metrics.MaxOperationNames+2 {
			t.Errorf("%d duration series, want at most %d", n, metrics.MaxOperationNames+2)
		}
	})

	t.Run("runtime, process, pool and subscription metrics", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		f := scrape(t, e.metrics)
		for _, name := range []string{
			"go_goroutines", "process_cpu_seconds_total", "go_sql_open_connections",
			"gatehouse_live_subscriptions", "gatehouse_api_sessions_active", "gatehouse_webhook_delivery_attempts_total",
		} {
			if f[name] == nil {
				t.Errorf("no %s in the scrape", name)
			}
		}
		if testdb.Postgres() && value(f, "gatehouse_db_pool_max_connections", nil) < 1 {
			t.Errorf("no pgx pool statistics on PostgreSQL")
		}
		if !testdb.Postgres() {
			// apptest's admin and its login wrote.
			writes, commits := value(f, "gatehouse_sqlite_write_transactions_total", nil), value(f, "gatehouse_sqlite_commits_total", nil)
			if commits < 1 || writes < commits {
				t.Errorf("SQLite: %v write transactions in %v commits, want at least one, and no more commits than writes", writes, commits)
			}
		}
	})

	t.Run("not on the public listener", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		if st := get(t, e.s.URL+"/metrics"); st != http.StatusNotFound {
			t.Errorf("GET /metrics on the public listener: status %d, want 404", st)
		}
	})

	t.Run("off with an empty listen", func(t *testing.T) {
		t.Parallel()
		s := apptest.Start(t, func(c *config.Config) { c.Metrics.Listen = "" }, app.Options{})
		if s.App.Metrics != nil {
			t.Fatal("metrics assembled with metrics.listen empty")
		}
		s.MustDo("", `query Q { __typename }`, nil)
	})
}
