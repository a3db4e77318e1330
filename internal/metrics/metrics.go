// Package metrics holds Gatehouse's Prometheus metrics: a registry owned
// by the app (never the global default) with the Go runtime and process
// collectors, the HTTP and GraphQL instruments, the counters the other
// packages feed through small hooks (logins, jobs, webhook deliveries),
// and the collectors read at scrape time (database pools, active API
// sessions, subscriptions). It is served on its own listener
// ([metrics] listen), never on the public one.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes Gatehouse's own metric names.
const Namespace = "gatehouse"

// Login outcomes (the outcome label of gatehouse_logins_total).
const (
	LoginSucceeded = "succeeded"
	LoginFailed    = "failed"
	LoginThrottled = "throttled"
)

// Metrics is one process's metrics.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpMu       sync.RWMutex
	httpCache    map[seriesKey]httpSeries

	gqlOps      *prometheus.CounterVec
	gqlDuration *prometheus.HistogramVec
	gqlErrors   *prometheus.CounterVec
	names       *nameSet
	opMu        sync.RWMutex
	opCache     map[opKey]opSeries

	logins      *prometheus.CounterVec
	jobRuns     *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	deliveries  *prometheus.CounterVec

	log *slog.Logger
}

// Latency buckets, in seconds: from a cached read (~100µs) to a slow
// request (10s).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// jobBuckets, in seconds: background jobs run from milliseconds to minutes.
var jobBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300}

// New returns the metrics with their own registry, holding the Go runtime
// and process collectors. log receives scrape errors (nil: the default).
func New(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m := &Metrics{reg: reg, log: log, names: newNameSet(MaxOperationNames), httpCache: map[seriesKey]httpSeries{}, opCache: map[opKey]opSeries{}}
	f := factory{reg}
	m.httpRequests = f.counterVec("http_requests_total",
		"HTTP requests answered, by method, route pattern and status code.", "method", "route", "status")
	m.httpDuration = f.histogramVec("http_request_duration_seconds",
		"Time to answer an HTTP request, by method and route pattern.", latencyBuckets, "method", "route")
	m.gqlOps = f.counterVec("graphql_operations_total",
		"GraphQL operations executed, by operation name (bounded: see README) and type.", "operation", "type")
	m.gqlDuration = f.histogramVec("graphql_operation_duration_seconds",
		"Time to execute a GraphQL query or mutation, by operation name and type.", latencyBuckets, "operation", "type")
	m.gqlErrors = f.counterVec("graphql_errors_total",
		"GraphQL errors answered, by extensions.code.", "code")
	m.logins = f.counterVec("logins_total",
		"Sign-in attempts (API and dashboard), by outcome: succeeded, failed, throttled.", "outcome")
	for _, o := range []string{LoginSucceeded, LoginFailed, LoginThrottled} {
		m.logins.WithLabelValues(o)
	}
	m.jobRuns = f.counterVec("job_runs_total",
		"Background job runs in this process, by job and result (ok, error).", "job", "result")
	m.jobDuration = f.histogramVec("job_duration_seconds",
		"Time a background job run took, by job.", jobBuckets, "job")
	m.deliveries = f.counterVec("webhook_delivery_attempts_total",
		"Webhook delivery attempts recorded, by outcome: delivered, retry (failed, tried again later), failed (given up).", "outcome")
	for _, o := range []string{"delivered", "retry", "failed"} {
		m.deliveries.WithLabelValues(o)
	}
	return m
}

type factory struct{ reg prometheus.Registerer }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// Registry is the registry every Gatehouse metric is in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats (for
// the metrics listener only). At most a few scrapes run at once, each
// within ScrapeTimeout.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             ScrapeTimeout,
	}))
	return mux
}

// ScrapeTimeout bounds one scrape.
const ScrapeTimeout = 10 * time.Second

// Login counts a sign-in attempt by its outcome (LoginSucceeded,
// LoginFailed, LoginThrottled).
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// WebhookDelivery counts a recorded delivery attempt by its outcome
// (delivered, retry, failed).
func (m *Metrics) WebhookDelivery(outcome string) { m.deliveries.WithLabelValues(outcome).Inc() }

// WrapJob returns run counted and timed as the background job name.
func (m *Metrics) WrapJob(name string, run func(context.Context) error) func(context.Context) error {
	ok := m.jobRuns.WithLabelValues(name, "ok")
	failed := m.jobRuns.WithLabelValues(name, "error")
	dur := m.jobDuration.WithLabelValues(name)
	return func(ctx context.Context) error {
		start := time.Now()
		err := run(ctx)
		dur.Observe(time.Since(start).Seconds())
		if err != nil {
			failed.Inc()
		} else {
			ok.Inc()
		}
		return err
	}
}

// GaugeFunc registers a gauge gatehouse_<name> read from f at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, f))
}
