package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatehouse/ent"
	"gatehouse/ent/usersession"
	"gatehouse/internal/db"
	"gatehouse/internal/viewer"
)

// WatchDB registers the database pools' statistics: database/sql's
// (go_sql_*, db_name "writer", and "reader" when reads have a pool of
// their own) and, on PostgreSQL, pgx's pool (gatehouse_db_pool_*).
func (m *Metrics) WatchDB(d *db.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(d.SQL, "writer"))
	if d.Read != nil && d.Read != d.SQL {
		m.reg.MustRegister(collectors.NewDBStatsCollector(d.Read, "reader"))
	}
	if d.Pool != nil {
		m.reg.MustRegister(pgxPoolCollector{d.Pool})
	}
	if _, _, ok := d.SQLiteCommits(); ok {
		m.reg.MustRegister(sqliteCommitCollector{d})
	}
}

var (
	sqliteWrites = prometheus.NewDesc(Namespace+"_sqlite_write_transactions_total",
		"Write transactions committed on SQLite.", nil, nil)
	sqliteCommits = prometheus.NewDesc(Namespace+"_sqlite_commits_total",
		"COMMITs on SQLite (write transactions that queue for their turn share one).", nil, nil)
)

// sqliteCommitCollector reports how SQLite's write transactions share
// their COMMITs.
type sqliteCommitCollector struct{ d *db.DB }

func (c sqliteCommitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sqliteWrites
	ch <- sqliteCommits
}

func (c sqliteCommitCollector) Collect(ch chan<- prometheus.Metric) {
	writes, commits, _ := c.d.SQLiteCommits()
	ch <- prometheus.MustNewConstMetric(sqliteWrites, prometheus.CounterValue, float64(writes))
	ch <- prometheus.MustNewConstMetric(sqliteCommits, prometheus.CounterValue, float64(commits))
}

var (
	poolAcquired = prometheus.NewDesc(Namespace+"_db_pool_acquired_connections",
		"PostgreSQL connections in use (pgx pool).", nil, nil)
	poolIdle = prometheus.NewDesc(Namespace+"_db_pool_idle_connections",
		"PostgreSQL connections idle (pgx pool).", nil, nil)
	poolMax = prometheus.NewDesc(Namespace+"_db_pool_max_connections",
		"Most PostgreSQL connections the pgx pool opens.", nil, nil)
	poolAcquires = prometheus.NewDesc(Namespace+"_db_pool_acquires_total",
		"Connections acquired from the pgx pool.", nil, nil)
	poolEmptyAcquires = prometheus.NewDesc(Namespace+"_db_pool_empty_acquires_total",
		"Acquisitions from the pgx pool that had to wait for a connection.", nil, nil)
	poolWait = prometheus.NewDesc(Namespace+"_db_pool_acquire_wait_seconds_total",
		"Time spent waiting for a connection from the pgx pool.", nil, nil)
)

type pgxPoolCollector struct{ p *pgxpool.Pool }

func (c pgxPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolMax, poolAcquires, poolEmptyAcquires, poolWait} {
		ch <- d
	}
}

func (c pgxPoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolEmptyAcquires, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

// SessionsCacheFor is how long a count of the active API sessions is
// reused: scrapes more frequent than that cost no query.
const SessionsCacheFor = 5 * time.Second

// WatchSessions registers gatehouse_api_sessions_active, the API sessions
// neither expired nor revoked, counted with one query at most every
// SessionsCacheFor (and within two seconds; a failed count keeps the
// last value).
func (m *Metrics) WatchSessions(client *ent.Client, now func() time.Time) {
	sc := &sessionCount{client: client, now: now}
	m.GaugeFunc("api_sessions_active", "API sessions neither expired nor revoked (all replicas; counted at most every 5s).", sc.value)
}

type sessionCount struct {
	client *ent.Client
	now    func() time.Time

	mu   sync.Mutex
	at   time.Time
	last float64
}

func (s *sessionCount) value() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.at.IsZero() && now.Sub(s.at) < SessionsCacheFor && now.After(s.at) {
		return s.last
	}
	ctx, cancel := context.WithTimeout(viewer.System(context.Background()), 2*time.Second)
	defer cancel()
	n, err := s.client.UserSession.Query().
		Where(usersession.RevokedAtIsNil(), usersession.ExpiresAtGT(now)).
		Count(ctx)
	if err == nil {
		s.last, s.at = float64(n), now
	}
	return s.last
}
