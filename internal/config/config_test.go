package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// env returns the environment m, so tests never depend on the real
// environment.
func env(m map[string]string) Environ { return Environ(m) }

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// examplePath is the repository's example config file.
const examplePath = "../../config/config.toml"

func TestLoadFileLookup(t *testing.T) {
	tests := []struct {
		name string
		// setup runs in an empty temporary working directory and returns
		// Load's arguments and the path Load should report.
		setup      func(t *testing.T, dir string) (flag string, envm map[string]string, wantPath string)
		wantListen string
	}{
		{
			name: "no file: built-in defaults",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				return "", nil, ""
			},
			wantListen: "127.0.0.1:8080",
		},
		{
			name: "file named by flag",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				p := writeFile(t, filepath.Join(dir, "elsewhere", "flag.toml"), "[server]\nlisten = \":9001\"\n")
				return p, nil, p
			},
			wantListen: ":9001",
		},
		{
			name: "file named by GATEHOUSE_CONFIG",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				p := writeFile(t, filepath.Join(dir, "env.toml"), "[server]\nlisten = \":9002\"\n")
				return "", map[string]string{"GATEHOUSE_CONFIG": p}, p
			},
			wantListen: ":9002",
		},
		{
			name: "./config/config.toml",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				writeFile(t, filepath.Join(dir, "config", "config.toml"), "[server]\nlisten = \":9003\"\n")
				return "", nil, DefaultPath
			},
			wantListen: ":9003",
		},
		{
			name: "flag beats GATEHOUSE_CONFIG and ./config/config.toml",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				writeFile(t, filepath.Join(dir, "config", "config.toml"), "[server]\nlisten = \":9003\"\n")
				e := writeFile(t, filepath.Join(dir, "env.toml"), "[server]\nlisten = \":9002\"\n")
				f := writeFile(t, filepath.Join(dir, "flag.toml"), "[server]\nlisten = \":9001\"\n")
				return f, map[string]string{"GATEHOUSE_CONFIG": e}, f
			},
			wantListen: ":9001",
		},
		{
			name: "GATEHOUSE_CONFIG beats ./config/config.toml",
			setup: func(t *testing.T, dir string) (string, map[string]string, string) {
				writeFile(t, filepath.Join(dir, "config", "config.toml"), "[server]\nlisten = \":9003\"\n")
				e := writeFile(t, filepath.Join(dir, "env.toml"), "[server]\nlisten = \":9002\"\n")
				return "", map[string]string{"GATEHOUSE_CONFIG": e}, e
			},
			wantListen: ":9002",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			flag, envm, wantPath := tt.setup(t, dir)
			cfg, path, err := Load(flag, env(envm))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if path != wantPath {
				t.Errorf("path = %q, want %q", path, wantPath)
			}
			if cfg.Server.Listen != tt.wantListen {
				t.Errorf("server.listen = %q, want %q", cfg.Server.Listen, tt.wantListen)
			}
			// Everything the file does not set keeps its default.
			want := Default()
			want.Server.Listen = tt.wantListen
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("config differs from defaults beyond server.listen:\n got %+v\nwant %+v", cfg, want)
			}
		})
	}
}

func TestLoadEnvOverrides(t *testing.T) {
	file := `
[server]
listen = "0.0.0.0:7000"
trusted_proxies = ["127.0.0.1"]
[auth]
bcrypt_cost = 11
[graphql]
introspection = true
`
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "file values without env",
			check: func(t *testing.T, c Config) {
				if c.Server.Listen != "0.0.0.0:7000" || c.Auth.BcryptCost != 11 {
					t.Errorf("listen=%q bcrypt_cost=%d, want file values", c.Server.Listen, c.Auth.BcryptCost)
				}
			},
		},
		{
			name: "string beats file",
			env:  map[string]string{"GATEHOUSE_SERVER_LISTEN": ":8443"},
			check: func(t *testing.T, c Config) {
				if c.Server.Listen != ":8443" {
					t.Errorf("listen = %q, want :8443", c.Server.Listen)
				}
			},
		},
		{
			name: "int beats file",
			env:  map[string]string{"GATEHOUSE_AUTH_BCRYPT_COST": "14"},
			check: func(t *testing.T, c Config) {
				if c.Auth.BcryptCost != 14 {
					t.Errorf("bcrypt_cost = %d, want 14", c.Auth.BcryptCost)
				}
			},
		},
		{
			name: "bool beats file",
			env:  map[string]string{"GATEHOUSE_GRAPHQL_INTROSPECTION": "false"},
			check: func(t *testing.T, c Config) {
				if c.GraphQL.Introspection {
					t.Error("introspection = true, want false")
				}
			},
		},
		{
			name: "string list beats file",
			env:  map[string]string{"GATEHOUSE_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"},
			check: func(t *testing.T, c Config) {
				want := []string{"10.0.0.0/8", "192.168.1.1"}
				if !reflect.DeepEqual(c.Server.TrustedProxies, want) {
					t.Errorf("trusted_proxies = %q, want %q", c.Server.TrustedProxies, want)
				}
			},
		},
		{
			name: "duration over default",
			env:  map[string]string{"GATEHOUSE_THROTTLE_LOCKOUT": "1h30m"},
			check: func(t *testing.T, c Config) {
				if c.Throttle.Lockout.Duration != 90*time.Minute {
					t.Errorf("lockout = %s, want 1h30m", c.Throttle.Lockout)
				}
			},
		},
		{
			name: "jobs lease ttl from env",
			env:  map[string]string{"GATEHOUSE_JOBS_LEASE_TTL": "45s"},
			check: func(t *testing.T, c Config) {
				if c.Jobs.LeaseTTL.Duration != 45*time.Second {
					t.Errorf("lease_ttl = %s, want 45s", c.Jobs.LeaseTTL)
				}
			},
		},
		{
			name: "postgres DSN from env infers driver",
			env:  map[string]string{"GATEHOUSE_DATABASE_DSN": "postgres://gate:pw@db/gate"},
			check: func(t *testing.T, c Config) {
				if c.Database.Driver != DriverPostgres {
					t.Errorf("driver = %q, want postgres", c.Database.Driver)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), file)
			cfg, _, err := Load(p, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

// TestEnvEveryKey sets every key through its environment variable to a
// valid non-default value, so a key added to Config without env support
// (an unsupported type) fails here.
func TestEnvEveryKey(t *testing.T) {
	def := Default()
	strs := map[string]string{
		"server.listen":   ":1234",
		"database.driver": DriverPostgres,
		"database.dsn":    "host=db user=gate",
		"log.level":       "debug",
		"log.format":      "json",
		// [signing]
		"signing.issuer":      "https://gate.example",
		"signing.secret_file": "/run/secrets/gatehouse-signing",
		// [tracing]
		"tracing.otlp_endpoint": "http://127.0.0.1:4318",
		"tracing.protocol":      "grpc",
		"metrics.listen":        "127.0.0.1:9999",
	}
	m := map[string]string{}
	for _, f := range fields(&def) {
		var s string
		switch v := f.v.Interface().(type) {
		case Duration:
			s = (v.Duration + time.Second).String()
		case bool:
			s = "true"
			if v {
				s = "false"
			}
		case int:
			s = "13"
		case int64:
			s = "4096"
		case float64:
			s = "0.25"
		case []string:
			s = "10.0.0.0/8"
			if f.key == "server.cors_origins" {
				s = "https://app.example.com"
			}
		case string:
			var ok bool
			if s, ok = strs[f.key]; !ok {
				t.Fatalf("no test value for string key %s", f.key)
			}
		default:
			t.Fatalf("no test value for %s of type %T", f.key, v)
		}
		m[f.env] = s
	}
	if len(m) < 20 {
		t.Fatalf("only %d keys found by reflection", len(m))
	}
	t.Chdir(t.TempDir())
	cfg, _, err := Load("", env(m))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := fields(&cfg)
	for i, f := range fields(&def) {
		if reflect.DeepEqual(got[i].v.Interface(), f.v.Interface()) {
			t.Errorf("%s=%q did not change %s (still %v)", f.env, m[f.env], f.key, f.v.Interface())
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string            // config file content; "" = no file
		flag string            // flag path relative to the temp dir, overrides file
		env  map[string]string // values may contain {dir}
		want []string          // substrings of the error; {dir} is the temp dir
	}{
		{name: "flag names missing file", flag: "nope.toml",
			want: []string{"{dir}/nope.toml", "does not exist"}},
		{name: "GATEHOUSE_CONFIG names missing file", env: map[string]string{"GATEHOUSE_CONFIG": "{dir}/missing.toml"},
			want: []string{"{dir}/missing.toml", "GATEHOUSE_CONFIG", "does not exist"}},
		{name: "unknown key", file: "[server]\nlisten = \":1\"\nlistn = \":2\"\n",
			want: []string{"unknown key server.listn", "line 3", "did you mean server.listen"}},
		{name: "unknown section", file: "[servr]\nlisten = \":1\"\n",
			want: []string{"unknown key servr"}},
		{name: "unknown dotted key", file: "auth.bcrypt = 12\n",
			want: []string{"unknown key auth.bcrypt"}},
		{name: "syntax error", file: "[server\nlisten = 1\n",
			want: []string{"line 1"}},
		{name: "bad duration", file: "[server]\nread_timeout = \"30 seconds\"\n",
			want: []string{"server.read_timeout", "30 seconds", "line 2"}},
		{name: "duration without unit", file: "[auth]\nsession_idle_timeout = 30\n",
			want: []string{"auth.session_idle_timeout", "invalid duration"}},
		{name: "bad int", file: "[auth]\nbcrypt_cost = \"twelve\"\n",
			want: []string{"auth.bcrypt_cost", "expected an integer"}},
		{name: "bad bool", file: "[graphql]\nplayground = \"yes\"\n",
			want: []string{"graphql.playground", "expected true or false"}},
		{name: "section not a table", file: "log = \"debug\"\n",
			want: []string{"log", "expected a table"}},
		{name: "bcrypt cost too low", file: "[auth]\nbcrypt_cost = 9\n",
			want: []string{"auth.bcrypt_cost", "between 10 and 16", "got 9"}},
		{name: "bcrypt cost too high", file: "[auth]\nbcrypt_cost = 17\n",
			want: []string{"auth.bcrypt_cost", "got 17"}},
		{name: "max body too small", file: "[server]\nmax_body_bytes = 1023\n",
			want: []string{"server.max_body_bytes"}},
		{name: "max body too large", file: "[server]\nmax_body_bytes = 67108865\n",
			want: []string{"server.max_body_bytes"}},
		{name: "bad driver", file: "[database]\ndriver = \"mysql\"\n",
			want: []string{"database.driver", "mysql"}},
		{name: "explicit sqlite with postgres URL", file: "[database]\ndriver = \"sqlite\"\ndsn = \"postgres://u@h/d\"\n",
			want: []string{"database.driver"}},
		{name: "bad CIDR", file: "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
			want: []string{"server.trusted_proxies", "10.0.0.0/33"}},
		{name: "bad IP", file: "[server]\ntrusted_proxies = [\"proxy.local\"]\n",
			want: []string{"server.trusted_proxies", "proxy.local"}},
		{name: "bad level", file: "[log]\nlevel = \"verbose\"\n",
			want: []string{"log.level", "verbose"}},
		{name: "bad format", file: "[log]\nformat = \"xml\"\n",
			want: []string{"log.format", "xml"}},
		{name: "bad listen", file: "[server]\nlisten = \"8080\"\n",
			want: []string{"server.listen"}},
		{name: "absolute shorter than idle", file: "[dashboard]\nsession_idle_timeout = \"13h\"\n",
			want: []string{"dashboard.session_absolute_timeout"}},
		{name: "negative max_open_conns", file: "[database]\nmax_open_conns = -1\n",
			want: []string{"database.max_open_conns"}},
		{name: "validation error names file", file: "[graphql]\nmax_depth = 0\n",
			want: []string{"graphql.max_depth", "set in {dir}/c.toml"}},
		{name: "env bad int", env: map[string]string{"GATEHOUSE_AUTH_BCRYPT_COST": "abc"},
			want: []string{"GATEHOUSE_AUTH_BCRYPT_COST", `"abc"`}},
		{name: "env bad bool", env: map[string]string{"GATEHOUSE_GRAPHQL_PLAYGROUND": "maybe"},
			want: []string{"GATEHOUSE_GRAPHQL_PLAYGROUND", "maybe"}},
		{name: "env bad duration", env: map[string]string{"GATEHOUSE_THROTTLE_WINDOW": "15"},
			want: []string{"GATEHOUSE_THROTTLE_WINDOW", "invalid duration"}},
		{name: "lease ttl out of range", file: "[jobs]\nlease_ttl = \"1s\"\n",
			want: []string{"jobs.lease_ttl", "between 5s and 10m", "set in {dir}/c.toml"}},
		{name: "env lease ttl out of range", env: map[string]string{"GATEHOUSE_JOBS_LEASE_TTL": "1h"},
			want: []string{"GATEHOUSE_JOBS_LEASE_TTL", "jobs.lease_ttl"}},
		{name: "env out of range", env: map[string]string{"GATEHOUSE_AUTH_BCRYPT_COST": "31"},
			want: []string{"GATEHOUSE_AUTH_BCRYPT_COST", "auth.bcrypt_cost"}},
		{name: "env bad CIDR", env: map[string]string{"GATEHOUSE_SERVER_TRUSTED_PROXIES": "10.0.0.0/8,300.1.1.1"},
			want: []string{"GATEHOUSE_SERVER_TRUSTED_PROXIES", "300.1.1.1"}},
		{name: "env bad value beats good file", file: "[log]\nlevel = \"warn\"\n", env: map[string]string{"GATEHOUSE_LOG_LEVEL": "loud"},
			want: []string{"GATEHOUSE_LOG_LEVEL", "log.level", "loud"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // no ./config/config.toml
			flag := ""
			if tt.file != "" {
				flag = writeFile(t, filepath.Join(dir, "c.toml"), tt.file)
			}
			if tt.flag != "" {
				flag = filepath.Join(dir, tt.flag)
			}
			envm := map[string]string{}
			for k, v := range tt.env {
				envm[k] = strings.ReplaceAll(v, "{dir}", dir)
			}
			cfg, _, err := Load(flag, env(envm))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", cfg)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "{dir}", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
	}{
		{"negative read timeout", func(c *Config) { c.Server.ReadTimeout.Duration = -time.Second }, "server.read_timeout"},
		{"empty dsn", func(c *Config) { c.Database.DSN = "" }, "database.dsn"},
		{"touch interval not below idle", func(c *Config) { c.Auth.SessionTouchInterval.Duration = 24 * time.Hour }, "auth.session_touch_interval"},
		{"auth absolute below idle", func(c *Config) { c.Auth.SessionAbsoluteTimeout.Duration = time.Hour }, "auth.session_absolute_timeout"},
		{"zero max failures", func(c *Config) { c.Throttle.MaxFailures = 0 }, "throttle.max_failures"},
		{"zero complexity", func(c *Config) { c.GraphQL.MaxComplexity = 0 }, "graphql.max_complexity"},
		{"empty driver", func(c *Config) { c.Database.Driver = "" }, "database.driver"},
		{"negative hash concurrency", func(c *Config) { c.Auth.PasswordHashConcurrency = -1 }, "auth.password_hash_concurrency"},
		{"zero hash wait", func(c *Config) { c.Auth.PasswordHashWait.Duration = 0 }, "auth.password_hash_wait"},
		{"hash wait over a minute", func(c *Config) { c.Auth.PasswordHashWait.Duration = 2 * time.Minute }, "auth.password_hash_wait"},
		{"lease ttl below 5s", func(c *Config) { c.Jobs.LeaseTTL.Duration = 4 * time.Second }, "jobs.lease_ttl"},
		{"lease ttl over 10m", func(c *Config) { c.Jobs.LeaseTTL.Duration = 11 * time.Minute }, "jobs.lease_ttl"},
		{"zero lease ttl", func(c *Config) { c.Jobs.LeaseTTL.Duration = 0 }, "jobs.lease_ttl"},
		{"zero expiring lead", func(c *Config) { c.Events.ExpiringLead.Duration = 0 }, "events.expiring_lead"},
		{"expiring lead over 90 days", func(c *Config) { c.Events.ExpiringLead.Duration = 91 * 24 * time.Hour }, "events.expiring_lead"},
		{"timed events every 0s", func(c *Config) { c.Events.TimedEvery.Duration = 0 }, "events.timed_every"},
		{"timed events every 2h", func(c *Config) { c.Events.TimedEvery.Duration = 2 * time.Hour }, "events.timed_every"},
		{"webhook timeout below 1s", func(c *Config) { c.Webhooks.Timeout.Duration = 500 * time.Millisecond }, "webhooks.timeout"},
		{"webhook timeout over 1m", func(c *Config) { c.Webhooks.Timeout.Duration = 61 * time.Second }, "webhooks.timeout"},
		{"zero webhook timeout", func(c *Config) { c.Webhooks.Timeout.Duration = 0 }, "webhooks.timeout"},
		{"webhook claim equal to the timeout", func(c *Config) { c.Webhooks.ClaimTimeout = c.Webhooks.Timeout }, "webhooks.claim_timeout"},
		{"webhook claim below the timeout", func(c *Config) {
			c.Webhooks.Timeout.Duration, c.Webhooks.ClaimTimeout.Duration = 30*time.Second, 20*time.Second
		}, "webhooks.claim_timeout"},
		{"webhook claim a timeout of 1m does not outlast", func(c *Config) { c.Webhooks.Timeout.Duration = time.Minute }, "webhooks.claim_timeout"},
		{"webhook claim over 10m", func(c *Config) { c.Webhooks.ClaimTimeout.Duration = 11 * time.Minute }, "webhooks.claim_timeout"},
		{"metrics listen not host:port", func(c *Config) { c.Metrics.Listen = "9464" }, "metrics.listen"},
		{"metrics listen bad port", func(c *Config) { c.Metrics.Listen = "127.0.0.1:99999" }, "metrics.listen"},
		{"metrics on the public listener", func(c *Config) { c.Metrics.Listen = c.Server.Listen }, "metrics.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+":") {
				t.Errorf("Validate() = %v, want an error about %s", err, tt.key)
			}
		})
	}

	// An empty metrics.listen turns the metrics off.
	for _, l := range []string{"", MetricsOff} {
		off := Default()
		off.Metrics.Listen = l
		if err := off.Validate(); err != nil || off.Metrics.Enabled() {
			t.Errorf("metrics.listen %q: Validate() = %v, Enabled() = %v; want nil, false", l, err, off.Metrics.Enabled())
		}
	}

	// Several problems are all reported.
	c := Default()
	c.Auth.BcryptCost = 4
	c.Log.Format = "xml"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "auth.bcrypt_cost") || !strings.Contains(err.Error(), "log.format") {
		t.Errorf("Validate() = %v, want both auth.bcrypt_cost and log.format", err)
	}
}

func TestExampleConfig(t *testing.T) {
	abs, err := filepath.Abs(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cfg, path, err := Load(abs, env(nil))
	if err != nil {
		t.Fatalf("Load(%s): %v", abs, err)
	}
	if path != abs {
		t.Errorf("path = %q, want %q", path, abs)
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("example config differs from Default():\n got %+v\nwant %+v", cfg, want)
	}

	// The example lists every key, so that it documents all of them.
	data, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var c Config
	for _, f := range fields(&c) {
		sec, key, _ := strings.Cut(f.key, ".")
		if _, ok := raw[sec][key]; !ok {
			t.Errorf("example config lacks %s", f.key)
		}
	}
}

func TestPrint(t *testing.T) {
	const secret = "s3cr3t-Pw"
	c := Default()
	c.Database.DSN = "postgres://gate:" + secret + "@db.example:5432/gatehouse?sslmode=disable"
	c.Database.Infer()
	c.Server.TrustedProxies = []string{"10.0.0.0/8"}

	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("Print output contains the password:\n%s", out)
	}
	for _, want := range []string{
		"postgres://gate:****@db.example:5432/gatehouse?sslmode=disable",
		"[server]", "[log]", "session_absolute_timeout = '720h'", "driver = 'postgres'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(c.Database.DSN, secret) {
		t.Error("Print modified the receiver's DSN")
	}

	// The printed config is a valid config file describing the same
	// configuration, password aside.
	p := writeFile(t, filepath.Join(t.TempDir(), "printed.toml"), out)
	got, _, err := Load(p, env(nil))
	if err != nil {
		t.Fatalf("loading printed config: %v", err)
	}
	if want := c.Redacted(); !reflect.DeepEqual(got, want) {
		t.Errorf("printed config loads as\n%+v\nwant\n%+v", got, want)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		dsn, want, secret string
	}{
		{"postgres://gate:hunter2@db:5432/gate", "postgres://gate:****@db:5432/gate", "hunter2"},
		{"postgresql://gate:hunter2@db/gate?sslmode=require", "postgresql://gate:****@db/gate?sslmode=require", "hunter2"},
		{"postgres://gate:p%40ss@db/gate", "postgres://gate:****@db/gate", "p%40ss"},
		{"postgres://gate:p@ss/w?rd@db/gate", "postgres://gate:****@db/gate", "ss/w?rd"},
		{"postgres://gate@db/gate?password=hunter2&sslmode=disable", "postgres://gate@db/gate?password=****&sslmode=disable", "hunter2"},
		{"postgres://db/gate", "postgres://db/gate", ""},
		{"host=db user=gate password=hunter2 dbname=gate", "host=db user=gate password=**** dbname=gate", "hunter2"},
		{"host=db password = 'hun ter2' dbname=gate", "host=db password = **** dbname=gate", "hun ter2"},
		{"host=db sslpassword=hunter2", "host=db sslpassword=****", "hunter2"},
		{"data/gatehouse.db", "data/gatehouse.db", ""},
		{"file:data/gatehouse.db?_busy_timeout=5000&mode=rwc", "file:data/gatehouse.db?_busy_timeout=5000&mode=rwc", ""},
		{"file:g.db?_auth&_auth_user=admin&_auth_pass=hunter2", "file:g.db?_auth&_auth_user=admin&_auth_pass=****", "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got := RedactDSN(tt.dsn)
			if got != tt.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if tt.secret != "" && strings.Contains(got, tt.secret) {
				t.Errorf("RedactDSN(%q) = %q still contains %q", tt.dsn, got, tt.secret)
			}
			c := Default()
			c.Database.DSN = tt.dsn
			if r := c.Redacted(); r.Database.DSN != tt.want {
				t.Errorf("Redacted().Database.DSN = %q, want %q", r.Database.DSN, tt.want)
			}
		})
	}
}

func TestInfer(t *testing.T) {
	tests := []struct {
		driver, dsn, want string
	}{
		{"", "postgres://gate@db/gate", DriverPostgres},
		{"", "postgresql://gate@db/gate", DriverPostgres},
		{"", "POSTGRES://gate@db/gate", DriverPostgres},
		{DriverSQLite, "postgres://gate@db/gate", DriverPostgres}, // default driver, then --db URL
		{"", "data/gatehouse.db", DriverSQLite},
		{"", "file:data/gatehouse.db?mode=rwc", DriverSQLite},
		{DriverSQLite, "data/postgres.db", DriverSQLite},
		{DriverPostgres, "host=db user=gate", DriverPostgres},
	}
	for _, tt := range tests {
		t.Run(tt.driver+"/"+tt.dsn, func(t *testing.T) {
			d := Database{Driver: tt.driver, DSN: tt.dsn}
			d.Infer()
			if d.Driver != tt.want {
				t.Errorf("Infer() driver = %q, want %q", d.Driver, tt.want)
			}
		})
	}

	// Through Load: a file with a postgres DSN and no driver.
	p := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), "[database]\ndsn = \"postgresql://gate:pw@db/gate\"\n")
	cfg, _, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.Driver != DriverPostgres {
		t.Errorf("Load: driver = %q, want postgres", cfg.Database.Driver)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"24h", 24 * time.Hour, "24h"},
		{"720h", 720 * time.Hour, "720h"},
		{"90s", 90 * time.Second, "1m30s"},
		{"15m", 15 * time.Minute, "15m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"0s", 0, "0s"},
	}
	for _, tt := range tests {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		if d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tt.in, d.Duration, tt.want)
		}
		b, _ := d.MarshalText()
		if string(b) != tt.out {
			t.Errorf("MarshalText(%v) = %q, want %q", tt.want, b, tt.out)
		}
	}
	for _, bad := range []string{"", "5", "five minutes", "1d"} {
		var d Duration
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestValidateFlags(t *testing.T) {
	c := Default()
	c.Server.Listen = "nowhere"
	c.Log.Format = "xml"
	err := c.ValidateFlags(map[string]string{"server.listen": "--listen"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`server.listen: "nowhere" is not host:port`, "(set by flag --listen)", "log.format"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not contain %q", msg, want)
		}
	}
	if strings.Count(msg, "set by flag") != 1 {
		t.Errorf("only server.listen came from a flag: %q", msg)
	}
	if err := Default().ValidateFlags(map[string]string{"server.listen": "--listen"}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in, want string
		err      string
	}{
		{in: "https://app.example.com", want: "https://app.example.com"},
		{in: "HTTP://LocalHost:5173", want: "http://localhost:5173"},
		{in: "https://app.example.com:443", want: "https://app.example.com"},
		{in: "http://[::1]:8081", want: "http://[::1]:8081"},
		{in: "*", err: "wildcards are refused"},
		{in: "https://*.example.com", err: "wildcards are refused"},
		{in: "https://app.example.com/", err: "without user, path"},
		{in: "https://app.example.com/app", err: "without user, path"},
		{in: "https://app.example.com?x=1", err: "without user, path"},
		{in: "ftp://app.example.com", err: "scheme must be http or https"},
		{in: "app.example.com", err: "is not an origin"},
		{in: "https://app.example.com:99999", err: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOrigin(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseOrigin(%q) = %q, %v; want error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	c := Default()
	c.Server.CORSOrigins = []string{"*"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "server.cors_origins") {
		t.Fatalf("Validate with * = %v", err)
	}
}

// TestWebhookTimeouts: webhooks.timeout and webhooks.claim_timeout keep
// today's 10 s and 60 s unless set; the claim must outlast the timeout by
// a second at least, and an error about it names both keys and the source.
func TestWebhookTimeouts(t *testing.T) {
	d := Default().Webhooks
	if d.Timeout.Duration != 10*time.Second || d.ClaimTimeout.Duration != time.Minute {
		t.Errorf("defaults: timeout %s, claim_timeout %s; want 10s, 1m", d.Timeout, d.ClaimTimeout)
	}
	for _, ok := range []struct{ timeout, claim time.Duration }{
		{time.Second, 2 * time.Second},
		{time.Second, 3 * time.Second},
		{time.Minute, time.Minute + time.Second},
		{time.Minute, 10 * time.Minute},
	} {
		c := Default()
		c.Webhooks.Timeout.Duration, c.Webhooks.ClaimTimeout.Duration = ok.timeout, ok.claim
		if err := c.Validate(); err != nil {
			t.Errorf("timeout %s, claim %s: %v", ok.timeout, ok.claim, err)
		}
	}

	t.Chdir(t.TempDir())
	cfg, _, err := Load("", env(map[string]string{"GATEHOUSE_WEBHOOKS_TIMEOUT": "1s", "GATEHOUSE_WEBHOOKS_CLAIM_TIMEOUT": "3s"}))
	if err != nil || cfg.Webhooks.Timeout.Duration != time.Second || cfg.Webhooks.ClaimTimeout.Duration != 3*time.Second {
		t.Errorf("from the environment: %+v, %v; want 1s and 3s", cfg.Webhooks, err)
	}

	_, _, err = Load("", env(map[string]string{"GATEHOUSE_WEBHOOKS_TIMEOUT": "1m"}))
	want := "webhooks.claim_timeout: must be at least 1s longer than webhooks.timeout (1m), so a delivery stays claimed for the whole attempt, got 1m"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("timeout 1m with the default claim: %v; want %q", err, want)
	}
	p := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), "[webhooks]\ntimeout = \"5s\"\nclaim_timeout = \"5s\"\n")
	if _, _, err = Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "webhooks.claim_timeout") || !strings.Contains(err.Error(), p) {
		t.Errorf("claim equal to the timeout in a file: %v; want an error naming webhooks.claim_timeout and %s", err, p)
	}
}
