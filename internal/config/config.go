// Package config defines Gatehouse's configuration: the built-in defaults,
// the strict TOML config file, GATEHOUSE_* environment overrides, validation
// and printing with secrets masked.
//
// Precedence, lowest first: built-in defaults, the config file, environment
// variables, then command-line flags (applied by the caller after Load, which
// must call Validate again afterwards).
package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is the complete Gatehouse configuration. Each field's toml tag is
// also the basis of its environment variable: GATEHOUSE_<SECTION>_<KEY>.
type Config struct {
	Server    Server    `toml:"server"`
	Database  Database  `toml:"database"`
	Auth      Auth      `toml:"auth"`
	Throttle  Throttle  `toml:"throttle"`
	GraphQL   GraphQL   `toml:"graphql"`
	Dashboard Dashboard `toml:"dashboard"`
	Log       Log       `toml:"log"`
	Webhooks  Webhooks  `toml:"webhooks"`
	Jobs      Jobs      `toml:"jobs"`
	Events    Events    `toml:"events"`
	Signing   Signing   `toml:"signing"`
	Live      Live      `toml:"live"`
	Tracing   Tracing   `toml:"tracing"`
	Metrics   Metrics   `toml:"metrics"`
}

// Tracing configures OpenTelemetry traces (internal/tracing); off unless
// OTLPEndpoint is set.
type Tracing struct {
	// OTLPEndpoint receives the spans: a URL (http://host:4318 for OTLP
	// over HTTP without TLS) or host:port (TLS). Empty: no tracing.
	OTLPEndpoint string `toml:"otlp_endpoint"`
	// Protocol is "http" (OTLP/HTTP, protobuf) or "grpc".
	Protocol string `toml:"protocol"`
	// SampleRatio is the share of traces started here that are kept
	// (0 to 1); a caller's sampled traceparent is always followed.
	SampleRatio float64 `toml:"sample_ratio"`
	// FieldThreshold: a field resolver that takes at least this long gets
	// a span of its own.
	FieldThreshold Duration `toml:"field_threshold"`
}

// Metrics configures the Prometheus metrics listener.
type Metrics struct {
	// Listen is the host:port /metrics is served on, a listener of its
	// own (never the public one). Empty or "off": no metrics at all ("off"
	// is for the environment, where an empty variable counts as unset).
	Listen string `toml:"listen"`
}

// Enabled reports whether metrics are collected and served.
func (m Metrics) Enabled() bool { return m.Listen != "" && m.Listen != MetricsOff }

// MetricsOff as metrics.listen turns the metrics off, as "" does.
const MetricsOff = "off"

// Signing configures signed entitlement tokens (internal/signing).
type Signing struct {
	// Issuer is the tokens' iss claim.
	Issuer string `toml:"issuer"`
	// DefaultTTL is a token's lifetime when the request names none.
	DefaultTTL Duration `toml:"default_ttl"`
	// MaxTTL is the longest lifetime a token may be asked for; a key
	// stays published this long after it stops signing.
	MaxTTL Duration `toml:"max_ttl"`
	// SecretFile holds the 32-byte secret that seals the private keys in
	// the database (base64 or hex). Empty: GATEHOUSE_SIGNING_SECRET, else
	// (SQLite only) a file made beside the database.
	SecretFile string `toml:"secret_file"`
	// Secret is the value of GATEHOUSE_SIGNING_SECRET: never read from a
	// file, never printed.
	Secret string `toml:"-"`
}

// EnvSigningSecret names the environment variable that may hold the
// signing secret itself (base64 or hex) instead of [signing] secret_file.
const EnvSigningSecret = "GATEHOUSE_SIGNING_SECRET"

// Bounds of the [signing] keys.
const (
	// MinSigningTTL bounds signing.default_ttl and signing.max_ttl below.
	MinSigningTTL = time.Minute
	// MaxSigningMaxTTL bounds signing.max_ttl above.
	MaxSigningMaxTTL = 365 * 24 * time.Hour
	// MaxIssuerLen bounds signing.issuer.
	MaxIssuerLen = 200
)

// Live configures live access updates (the accessChanged subscription).
type Live struct {
	// MaxPerUser bounds one user's open subscriptions on one server.
	MaxPerUser int `toml:"max_per_user"`
	// MaxSubscriptions bounds the open subscriptions on one server.
	MaxSubscriptions int `toml:"max_subscriptions"`
	// Keepalive is how often an idle stream gets a keep-alive message.
	Keepalive Duration `toml:"keepalive"`
}

// Bounds of the [live] keys.
const (
	MaxLivePerUser       = 1000
	MaxLiveSubscriptions = 1000000
	MinLiveKeepalive     = time.Second
	MaxLiveKeepalive     = 10 * time.Minute
)

// Events configures the event log.
type Events struct {
	// Retention: events older than this are pruned (default 365 days).
	Retention Duration `toml:"retention"`
	// ExpiringLead is how long before an assignment expires its
	// user_package.expiring event is written (default 72h).
	ExpiringLead Duration `toml:"expiring_lead"`
	// TimedEvery is how often the server looks for time-based events due
	// (started, expiring, expired, grace ended; default 30s).
	TimedEvery Duration `toml:"timed_every"`
}

// Bounds of the [events] keys.
const (
	// MinEventRetention bounds events.retention from below.
	MinEventRetention = 24 * time.Hour
	// MinExpiringLead and MaxExpiringLead bound events.expiring_lead.
	MinExpiringLead = time.Minute
	MaxExpiringLead = 90 * 24 * time.Hour
	// MinTimedEvery and MaxTimedEvery bound events.timed_every.
	MinTimedEvery = time.Second
	MaxTimedEvery = time.Hour
)

// Server configures the HTTP listener.
type Server struct {
	Listen            string   `toml:"listen"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	ShutdownGrace     Duration `toml:"shutdown_grace"`
	MaxBodyBytes      int64    `toml:"max_body_bytes"`
	// TrustedProxies lists CIDRs or single IPs whose X-Forwarded-For
	// header is believed. Empty: the TCP peer address is the client.
	TrustedProxies []string `toml:"trusted_proxies"`
	// CORSOrigins lists the exact origins (scheme://host[:port]) whose
	// pages may call /graphql from a browser, and open its WebSocket.
	CORSOrigins []string `toml:"cors_origins"`
}

// Database selects and tunes the database.
type Database struct {
	Driver string `toml:"driver"` // DriverSQLite or DriverPostgres
	// DSN is a SQLite path ("data/gatehouse.db", "file:...") or a
	// PostgreSQL URL / key=value string. It may hold a password: print it
	// only through Config.Redacted or Config.Print.
	DSN          string   `toml:"dsn"`
	MaxOpenConns int      `toml:"max_open_conns"`
	BusyTimeout  Duration `toml:"busy_timeout"` // SQLite only
	AutoMigrate  bool     `toml:"auto_migrate"`
}

// Auth configures password hashing and API sessions.
type Auth struct {
	BcryptCost             int      `toml:"bcrypt_cost"`
	SessionIdleTimeout     Duration `toml:"session_idle_timeout"`
	SessionAbsoluteTimeout Duration `toml:"session_absolute_timeout"`
	// SessionTouchInterval is the minimum time between two writes of a
	// session's last-seen time.
	SessionTouchInterval Duration `toml:"session_touch_interval"`
	// PasswordHashConcurrency is how many passwords are hashed or
	// compared at once; 0: half the CPUs Go uses (GOMAXPROCS), at least 1.
	PasswordHashConcurrency int `toml:"password_hash_concurrency"`
	// PasswordHashWait is how long a password waits for its turn before
	// the request is refused with RATE_LIMITED.
	PasswordHashWait Duration `toml:"password_hash_wait"`
}

// Throttle limits failed logins: after MaxFailures failures for one
// username or one client address within Window, further attempts are
// refused with RATE_LIMITED for Lockout.
type Throttle struct {
	MaxFailures int      `toml:"max_failures"`
	Window      Duration `toml:"window"`
	Lockout     Duration `toml:"lockout"`
}

// GraphQL configures the GraphQL endpoint.
type GraphQL struct {
	Introspection bool `toml:"introspection"`
	Playground    bool `toml:"playground"`
	MaxComplexity int  `toml:"max_complexity"`
	MaxDepth      int  `toml:"max_depth"`
	// PersistedOnly runs registered (persisted) queries only: those
	// `gatehouse queries add` stored, sent by hash or in full.
	PersistedOnly bool `toml:"persisted_only"`
}

// Dashboard configures the admin dashboard's cookie sessions.
type Dashboard struct {
	// CookieSecure marks the site as served over HTTPS: the session
	// cookie gets the Secure attribute and the __Host- prefix.
	CookieSecure           bool     `toml:"cookie_secure"`
	SessionIdleTimeout     Duration `toml:"session_idle_timeout"`
	SessionAbsoluteTimeout Duration `toml:"session_absolute_timeout"`
}

// Log configures logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn or error
	Format string `toml:"format"` // text or json
}

// Webhooks configures the delivery of webhooks.
type Webhooks struct {
	// AllowPrivateTargets lets deliveries reach loopback, private,
	// link-local and other internal addresses. Off by default: an admin's
	// endpoint URL must not become a way into the server's own network.
	AllowPrivateTargets bool `toml:"allow_private_targets"`
	// Timeout bounds one delivery attempt: connecting, sending and
	// reading the answer (MinWebhookTimeout to MaxWebhookTimeout).
	Timeout Duration `toml:"timeout"`
	// ClaimTimeout is how long a delivery a sender took is kept from
	// other senders. It must outlast an attempt (Timeout plus recording
	// the outcome), so it is at least MinWebhookClaimMargin longer than
	// Timeout; a sender that dies mid-attempt (kill -9, a lost machine)
	// leaves the delivery due again this long after it took it.
	ClaimTimeout Duration `toml:"claim_timeout"`
}

// Jobs configures the background jobs (time-based events, the webhook
// sender, pruning), which one replica at a time runs under a lease in the
// database.
type Jobs struct {
	// LeaseTTL is how long a job's lease lasts unless its holder renews it
	// (every third of it): after a crash, another replica takes the job
	// over this long after the last renewal. Replicas' clocks must agree
	// to well within a fifth of it.
	LeaseTTL Duration `toml:"lease_ttl"`
}

// Database drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Limits enforced by Validate.
const (
	MinMaxBodyBytes = 1 << 10 // 1 KiB
	MaxMaxBodyBytes = 64 << 20
	MinBcryptCost   = 10
	MaxBcryptCost   = 16
	// MaxPasswordHashConcurrency bounds auth.password_hash_concurrency.
	MaxPasswordHashConcurrency = 1024
	// MaxPasswordHashWait bounds auth.password_hash_wait.
	MaxPasswordHashWait = time.Minute
	// MinLeaseTTL and MaxLeaseTTL bound jobs.lease_ttl.
	MinLeaseTTL = 5 * time.Second
	MaxLeaseTTL = 10 * time.Minute
	// MinWebhookTimeout and MaxWebhookTimeout bound webhooks.timeout.
	MinWebhookTimeout = time.Second
	MaxWebhookTimeout = time.Minute
	// MinWebhookClaimMargin is how much longer than webhooks.timeout
	// webhooks.claim_timeout must be at least (time to record the
	// outcome); MaxWebhookClaimTimeout bounds it.
	MinWebhookClaimMargin  = time.Second
	MaxWebhookClaimTimeout = 10 * time.Minute
)

// Default returns the built-in configuration used for every key that
// neither the config file nor the environment sets.
func Default() Config {
	return Config{
		Server: Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: Duration{5 * time.Second},
			ReadTimeout:       Duration{30 * time.Second},
			WriteTimeout:      Duration{30 * time.Second},
			IdleTimeout:       Duration{120 * time.Second},
			ShutdownGrace:     Duration{20 * time.Second},
			MaxBodyBytes:      1 << 20,
			TrustedProxies:    []string{},
			CORSOrigins:       []string{},
		},
		Database: Database{
			Driver:       DriverSQLite,
			DSN:          "data/gatehouse.db",
			MaxOpenConns: 0,
			BusyTimeout:  Duration{5 * time.Second},
			AutoMigrate:  true,
		},
		Auth: Auth{
			BcryptCost:             12,
			SessionIdleTimeout:     Duration{24 * time.Hour},
			SessionAbsoluteTimeout: Duration{30 * 24 * time.Hour},
			SessionTouchInterval:   Duration{time.Minute},
			PasswordHashWait:       Duration{5 * time.Second},
		},
		Throttle: Throttle{
			MaxFailures: 5,
			Window:      Duration{15 * time.Minute},
			Lockout:     Duration{15 * time.Minute},
		},
		GraphQL: GraphQL{
			Introspection: true,
			Playground:    true,
			MaxComplexity: 5000,
			MaxDepth:      12,
		},
		Dashboard: Dashboard{
			CookieSecure:           false,
			SessionIdleTimeout:     Duration{2 * time.Hour},
			SessionAbsoluteTimeout: Duration{12 * time.Hour},
		},
		Log: Log{Level: "info", Format: "text"},
		Webhooks: Webhooks{
			AllowPrivateTargets: false,
			Timeout:             Duration{10 * time.Second},
			ClaimTimeout:        Duration{time.Minute},
		},
		Jobs: Jobs{
			LeaseTTL: Duration{30 * time.Second},
		},
		Events: Events{
			Retention:    Duration{365 * 24 * time.Hour},
			ExpiringLead: Duration{72 * time.Hour},
			TimedEvery:   Duration{30 * time.Second},
		},
		Signing: Signing{
			Issuer:     "gatehouse",
			DefaultTTL: Duration{24 * time.Hour},
			MaxTTL:     Duration{30 * 24 * time.Hour},
			SecretFile: "",
		},
		Live:    Live{MaxPerUser: 5, MaxSubscriptions: 10000, Keepalive: Duration{25 * time.Second}},
		Tracing: Tracing{Protocol: "http", SampleRatio: 1, FieldThreshold: Duration{time.Millisecond}},
		Metrics: Metrics{Listen: "127.0.0.1:9464"},
	}
}

// Infer derives Driver from DSN when the driver was not chosen on purpose:
// an empty Driver becomes "postgres" for a postgres:// or postgresql:// DSN
// and "sqlite" otherwise, and a "sqlite" Driver (the default) becomes
// "postgres" for such a URL. Load calls it unless the file or environment
// set database.driver; callers call it after replacing DSN (a --db flag)
// and before applying an explicit driver flag, if they have one.
func (d *Database) Infer() {
	switch {
	case IsPostgresURL(d.DSN) && (d.Driver == "" || d.Driver == DriverSQLite):
		d.Driver = DriverPostgres
	case d.Driver == "":
		d.Driver = DriverSQLite
	}
}

// IsPostgresURL reports whether dsn starts with postgres:// or
// postgresql:// (case-insensitively).
func IsPostgresURL(dsn string) bool {
	s := strings.ToLower(strings.TrimSpace(dsn))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// TrustedPrefixes returns TrustedProxies parsed, single addresses as /32
// or /128 prefixes. Entries that do not parse (Validate rejects them) are
// skipped.
func (s Server) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.TrustedProxies))
	for _, p := range s.TrustedProxies {
		if pfx, err := parseProxy(p); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FieldError reports an invalid value for one key.
type FieldError struct {
	Key    string // "section.key", e.g. "auth.bcrypt_cost"
	Msg    string // what is wrong with the value
	Source string // where the value came from ("GATEHOUSE_AUTH_BCRYPT_COST", a file path, a flag such as "--listen"); "" if unknown
	Err    error  // the underlying error (such as one wrapping ErrDSNScheme), or nil
}

// Unwrap returns the underlying error, if any.
func (e *FieldError) Unwrap() error { return e.Err }

func (e *FieldError) Error() string {
	switch {
	case strings.HasPrefix(e.Source, "-"):
		return fmt.Sprintf("%s: %s (set by flag %s)", e.Key, e.Msg, e.Source)
	case strings.HasPrefix(e.Source, envPrefix):
		return fmt.Sprintf("%s: %s (set by environment variable %s)", e.Key, e.Msg, e.Source)
	case e.Source != "":
		return fmt.Sprintf("%s: %s (set in %s)", e.Key, e.Msg, e.Source)
	}
	return e.Key + ": " + e.Msg
}

// Validate checks every value and reports all problems at once, each as a
// *FieldError naming its key (the result can be unwrapped with
// errors.As).
func (c Config) Validate() error {
	return joinFieldErrors(c.problems())
}

// ValidateFlags is Validate for a configuration that command-line flags
// changed after Load: flags maps each key a flag set ("server.listen") to
// the flag ("--listen"), and a problem with that key says the flag set it.
func (c Config) ValidateFlags(flags map[string]string) error {
	probs := c.problems()
	for _, p := range probs {
		if f, ok := flags[p.Key]; ok {
			p.Source = f
		}
	}
	return joinFieldErrors(probs)
}

func (c Config) problems() []*FieldError {
	var errs []*FieldError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	positive := func(key string, d Duration) {
		if d.Duration <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}

	s := c.Server
	if err := validateListen(s.Listen); err != nil {
		bad("server.listen", "%v", err)
	}
	positive("server.read_header_timeout", s.ReadHeaderTimeout)
	positive("server.read_timeout", s.ReadTimeout)
	positive("server.write_timeout", s.WriteTimeout)
	positive("server.idle_timeout", s.IdleTimeout)
	positive("server.shutdown_grace", s.ShutdownGrace)
	if s.MaxBodyBytes < MinMaxBodyBytes || s.MaxBodyBytes > MaxMaxBodyBytes {
		bad("server.max_body_bytes", "must be between %d (1 KiB) and %d (64 MiB), got %d",
			MinMaxBodyBytes, MaxMaxBodyBytes, s.MaxBodyBytes)
	}
	for _, p := range s.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			bad("server.trusted_proxies", "%v", err)
		}
	}

	for _, o := range s.CORSOrigins {
		if _, err := ParseOrigin(o); err != nil {
			bad("server.cors_origins", "%v", err)
		}
	}

	d := c.Database
	switch d.Driver {
	case DriverSQLite:
		if IsPostgresURL(d.DSN) {
			bad("database.driver", `is "sqlite" but database.dsn is a PostgreSQL URL`)
		}
	case DriverPostgres:
	default:
		bad("database.driver", `must be "sqlite" or "postgres", got %q`, d.Driver)
	}
	if strings.TrimSpace(d.DSN) == "" {
		bad("database.dsn", "must not be empty")
	}
	if err := CheckDSNScheme(d.DSN); err != nil {
		errs = append(errs, &FieldError{Key: "database.dsn", Msg: err.Error(), Err: err})
	}
	if d.MaxOpenConns < 0 {
		bad("database.max_open_conns", "must be 0 (automatic) or more, got %d", d.MaxOpenConns)
	}
	if d.BusyTimeout.Duration < 0 {
		bad("database.busy_timeout", "must not be negative, got %s", d.BusyTimeout)
	}

	a := c.Auth
	if a.BcryptCost < MinBcryptCost || a.BcryptCost > MaxBcryptCost {
		bad("auth.bcrypt_cost", "must be between %d and %d, got %d", MinBcryptCost, MaxBcryptCost, a.BcryptCost)
	}
	positive("auth.session_idle_timeout", a.SessionIdleTimeout)
	positive("auth.session_absolute_timeout", a.SessionAbsoluteTimeout)
	if a.SessionAbsoluteTimeout.Duration < a.SessionIdleTimeout.Duration {
		bad("auth.session_absolute_timeout", "must not be shorter than auth.session_idle_timeout (%s), got %s",
			a.SessionIdleTimeout, a.SessionAbsoluteTimeout)
	}
	positive("auth.session_touch_interval", a.SessionTouchInterval)
	if a.PasswordHashConcurrency < 0 || a.PasswordHashConcurrency > MaxPasswordHashConcurrency {
		bad("auth.password_hash_concurrency", "must be between 0 (half the CPUs) and %d, got %d", MaxPasswordHashConcurrency, a.PasswordHashConcurrency)
	}
	if a.PasswordHashWait.Duration <= 0 || a.PasswordHashWait.Duration > MaxPasswordHashWait {
		bad("auth.password_hash_wait", "must be a positive duration of at most %s, got %s", MaxPasswordHashWait, a.PasswordHashWait)
	}
	if a.SessionTouchInterval.Duration >= a.SessionIdleTimeout.Duration && a.SessionIdleTimeout.Duration > 0 {
		bad("auth.session_touch_interval", "must be shorter than auth.session_idle_timeout (%s), got %s",
			a.SessionIdleTimeout, a.SessionTouchInterval)
	}

	if r := c.Events.Retention.Duration; r < MinEventRetention {
		bad("events.retention", "must be at least %s, got %s", Duration{MinEventRetention}, c.Events.Retention)
	}
	if l := c.Events.ExpiringLead; l.Duration < MinExpiringLead || l.Duration > MaxExpiringLead {
		bad("events.expiring_lead", "must be between %s and %s, got %s", Duration{MinExpiringLead}, Duration{MaxExpiringLead}, l)
	}
	if e := c.Events.TimedEvery; e.Duration < MinTimedEvery || e.Duration > MaxTimedEvery {
		bad("events.timed_every", "must be between %s and %s, got %s", Duration{MinTimedEvery}, Duration{MaxTimedEvery}, e)
	}

	t := c.Throttle
	if t.MaxFailures < 1 {
		bad("throttle.max_failures", "must be at least 1, got %d", t.MaxFailures)
	}
	positive("throttle.window", t.Window)
	positive("throttle.lockout", t.Lockout)

	g := c.GraphQL
	if g.MaxComplexity < 1 {
		bad("graphql.max_complexity", "must be at least 1, got %d", g.MaxComplexity)
	}
	if g.MaxDepth < 1 {
		bad("graphql.max_depth", "must be at least 1, got %d", g.MaxDepth)
	}

	db := c.Dashboard
	positive("dashboard.session_idle_timeout", db.SessionIdleTimeout)
	positive("dashboard.session_absolute_timeout", db.SessionAbsoluteTimeout)
	if db.SessionAbsoluteTimeout.Duration < db.SessionIdleTimeout.Duration {
		bad("dashboard.session_absolute_timeout", "must not be shorter than dashboard.session_idle_timeout (%s), got %s",
			db.SessionIdleTimeout, db.SessionAbsoluteTimeout)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", `must be "debug", "info", "warn" or "error", got %q`, c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", `must be "text" or "json", got %q`, c.Log.Format)
	}
	wh := c.Webhooks
	if to := wh.Timeout; to.Duration < MinWebhookTimeout || to.Duration > MaxWebhookTimeout {
		bad("webhooks.timeout", "must be between %s and %s, got %s", Duration{MinWebhookTimeout}, Duration{MaxWebhookTimeout}, to)
	}
	switch cl := wh.ClaimTimeout; {
	case cl.Duration > MaxWebhookClaimTimeout:
		bad("webhooks.claim_timeout", "must be at most %s, got %s", Duration{MaxWebhookClaimTimeout}, cl)
	case cl.Duration < wh.Timeout.Duration+MinWebhookClaimMargin:
		bad("webhooks.claim_timeout", "must be at least %s longer than webhooks.timeout (%s), so a delivery stays claimed for the whole attempt, got %s",
			Duration{MinWebhookClaimMargin}, wh.Timeout, cl)
	}
	if l := c.Jobs.LeaseTTL; l.Duration < MinLeaseTTL || l.Duration > MaxLeaseTTL {
		bad("jobs.lease_ttl", "must be between %s and %s, got %s", Duration{MinLeaseTTL}, Duration{MaxLeaseTTL}, l)
	}
	sg := c.Signing
	if iss := strings.TrimSpace(sg.Issuer); iss == "" || len(sg.Issuer) > MaxIssuerLen {
		bad("signing.issuer", "must be a non-empty string of at most %d bytes", MaxIssuerLen)
	}
	if m := sg.MaxTTL; m.Duration < MinSigningTTL || m.Duration > MaxSigningMaxTTL {
		bad("signing.max_ttl", "must be between %s and %s, got %s", Duration{MinSigningTTL}, Duration{MaxSigningMaxTTL}, m)
	}
	if d := sg.DefaultTTL; d.Duration < MinSigningTTL || d.Duration > sg.MaxTTL.Duration {
		bad("signing.default_ttl", "must be between %s and signing.max_ttl (%s), got %s", Duration{MinSigningTTL}, sg.MaxTTL, d)
	}
	tr := c.Tracing
	if tr.Protocol != "http" && tr.Protocol != "grpc" {
		bad("tracing.protocol", `must be "http" or "grpc", got %q`, tr.Protocol)
	}
	if tr.SampleRatio < 0 || tr.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", tr.SampleRatio)
	}
	if tr.FieldThreshold.Duration < 0 {
		bad("tracing.field_threshold", "must not be negative, got %s", tr.FieldThreshold)
	}
	if e := tr.OTLPEndpoint; e != "" && (len(e) > 2000 || strings.ContainsAny(e, " \t\n")) {
		bad("tracing.otlp_endpoint", "must be a URL or host:port")
	}
	lv := c.Live
	if lv.MaxPerUser < 1 || lv.MaxPerUser > MaxLivePerUser {
		bad("live.max_per_user", "must be between 1 and %d, got %d", MaxLivePerUser, lv.MaxPerUser)
	}
	if lv.MaxSubscriptions < 1 || lv.MaxSubscriptions > MaxLiveSubscriptions {
		bad("live.max_subscriptions", "must be between 1 and %d, got %d", MaxLiveSubscriptions, lv.MaxSubscriptions)
	}
	if k := lv.Keepalive; k.Duration < MinLiveKeepalive || k.Duration > MaxLiveKeepalive {
		bad("live.keepalive", "must be between %s and %s, got %s", Duration{MinLiveKeepalive}, Duration{MaxLiveKeepalive}, k)
	}
	if ml := c.Metrics.Listen; c.Metrics.Enabled() {
		if err := validateListen(ml); err != nil {
			bad("metrics.listen", "%v (or \"\" or \"off\" to serve no metrics)", err)
		} else if _, port, _ := net.SplitHostPort(ml); ml == s.Listen && port != "0" {
			bad("metrics.listen", "must differ from server.listen: metrics are never served on the public listener")
		}
	}
	return errs
}

func validateListen(addr string) error {
	if addr == "" {
		return fmt.Errorf("must not be empty")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port %q", addr, port)
	}
	return nil
}
