package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"gatehouse/internal/config"
	"gatehouse/internal/testdb"
)

func TestHelpAndUsageExitCodes(t *testing.T) {
	help := [][]string{
		{"help"}, {"--help"}, {"-h"},
		{"serve", "--help"}, {"migrate", "--help"}, {"migrate", "-h"},
		{"user", "--help"}, {"user", "create", "--help"}, {"user", "passwd", "--help"},
		{"user", "disable", "--help"}, {"user", "enable", "--help"},
		{"backup", "--help"}, {"config", "--help"}, {"config", "print", "--help"},
		{"healthcheck", "--help"}, {"version", "--help"},
	}
	for _, args := range help {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := cli(t, baseEnv(nil), "", args...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "Usage") {
				t.Errorf("help is not on standard output: stdout %q stderr %q", r.stdout, r.stderr)
			}
			want := "gatehouse " + args[0]
			if args[0] != "help" && !strings.HasPrefix(args[0], "-") && !strings.Contains(r.stdout, want) {
				t.Errorf("help does not show %q:\n%s", want, r.stdout)
			}
		})
	}

	bad := []struct {
		args []string
		want string // on standard error
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, "unexpected arguments: extra"},
		{[]string{"migrate", "--db"}, "flag needs an argument"},
		{[]string{"user"}, "Usage"},
		{[]string{"user", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"user", "create", "--username", "bob"}, "--username and --password-stdin are required"},
		{[]string{"user", "create", "--password-stdin"}, "--username and --password-stdin are required"},
		{[]string{"user", "create", "--username", "bob", "--password-stdin", "--role", "root"}, `--role must be admin or user, not "root"`},
		{[]string{"user", "passwd", "--username", "bob"}, "--username and --password-stdin are required"},
		{[]string{"user", "disable"}, "--username is required"},
		{[]string{"user", "enable", "bob"}, "unexpected arguments: bob"},
		{[]string{"backup"}, "missing arguments"},
		{[]string{"backup", "a.db", "b.db"}, "unexpected arguments: b.db"},
		{[]string{"config"}, "Usage"},
		{[]string{"config", "show"}, `unknown command "show"`},
		{[]string{"config", "print", "--nope"}, "flag provided but not defined"},
		{[]string{"version", "now"}, "unexpected arguments: now"},
	}
	for _, tt := range bad {
		t.Run("bad "+strings.Join(tt.args, " "), func(t *testing.T) {
			r := cli(t, baseEnv(nil), "", tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("bad usage wrote to standard output: %q", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := cli(t, baseEnv(nil), "", args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "gatehouse dev") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q; want one line starting with \"gatehouse dev\"", args, r.code, r.stdout)
		}
	}
}

// printed runs `gatehouse config print` and decodes what it printed.
func printed(t *testing.T, m map[string]string, args ...string) (config.Config, string) {
	t.Helper()
	r := mustCLI(t, m, "", append([]string{"config", "print"}, args...)...)
	var c config.Config
	if err := toml.NewDecoder(strings.NewReader(r.stdout)).DisallowUnknownFields().Decode(&c); err != nil {
		t.Fatalf("config print output is not a valid config file: %v\n%s", err, r.stdout)
	}
	return c, r.stdout
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("file.toml", "[server]\nlisten = \"127.0.0.1:7001\"\n[database]\ndsn = \"file.db\"\n[log]\nlevel = \"warn\"\n")
	other := write("other.toml", "[server]\nlisten = \"127.0.0.1:7009\"\n")

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantListen string
		wantDSN    string
		wantDriver string
		wantLevel  string
		wantSource string
	}{
		{
			name:       "built-in defaults",
			wantListen: "127.0.0.1:8080", wantDSN: "data/gatehouse.db", wantDriver: "sqlite", wantLevel: "info",
			wantSource: "# config file: none",
		},
		{
			name:       "file named by --config beats defaults",
			args:       []string{"--config", file},
			wantListen: "127.0.0.1:7001", wantDSN: "file.db", wantDriver: "sqlite", wantLevel: "warn",
			wantSource: "# config file: " + file,
		},
		{
			name:       "file named by GATEHOUSE_CONFIG",
			env:        map[string]string{"GATEHOUSE_CONFIG": file},
			wantListen: "127.0.0.1:7001", wantDSN: "file.db", wantDriver: "sqlite", wantLevel: "warn",
			wantSource: "# config file: " + file,
		},
		{
			name:       "--config beats GATEHOUSE_CONFIG",
			env:        map[string]string{"GATEHOUSE_CONFIG": other},
			args:       []string{"--config", file},
			wantListen: "127.0.0.1:7001", wantDSN: "file.db", wantDriver: "sqlite", wantLevel: "warn",
			wantSource: "# config file: " + file,
		},
		{
			name: "environment beats file",
			env: map[string]string{
				"GATEHOUSE_SERVER_LISTEN": "127.0.0.1:7002",
				"GATEHOUSE_DATABASE_DSN":  "env.db",
			},
			args:       []string{"--config", file},
			wantListen: "127.0.0.1:7002", wantDSN: "env.db", wantDriver: "sqlite", wantLevel: "warn",
		},
		{
			name: "flags beat environment and file",
			env: map[string]string{
				"GATEHOUSE_SERVER_LISTEN": "127.0.0.1:7002",
				"GATEHOUSE_DATABASE_DSN":  "env.db",
			},
			args:       []string{"--config", file, "--listen", "127.0.0.1:7003", "--db", "flag.db"},
			wantListen: "127.0.0.1:7003", wantDSN: "flag.db", wantDriver: "sqlite", wantLevel: "warn",
		},
		{
			name:       "a postgres --db selects the postgres driver over the file's sqlite",
			args:       []string{"--config", write("pg.toml", "[database]\ndriver = \"sqlite\"\ndsn = \"x.db\"\n"), "--db", "postgres://gh@db.internal:5432/gh"},
			wantListen: "127.0.0.1:8080", wantDSN: "postgres://gh@db.internal:5432/gh", wantDriver: "postgres", wantLevel: "info",
		},
		{
			name:       "a sqlite --db over a postgres environment DSN",
			env:        map[string]string{"GATEHOUSE_DATABASE_DSN": "postgres://gh@db.internal/gh"},
			args:       []string{"--db", "local.db"},
			wantListen: "127.0.0.1:8080", wantDSN: "local.db", wantDriver: "sqlite", wantLevel: "info",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out := printed(t, baseEnv(tt.env), tt.args...)
			if c.Server.Listen != tt.wantListen {
				t.Errorf("server.listen = %q, want %q", c.Server.Listen, tt.wantListen)
			}
			if c.Database.DSN != tt.wantDSN || c.Database.Driver != tt.wantDriver {
				t.Errorf("database = %s %q, want %s %q", c.Database.Driver, c.Database.DSN, tt.wantDriver, tt.wantDSN)
			}
			if c.Log.Level != tt.wantLevel {
				t.Errorf("log.level = %q, want %q", c.Log.Level, tt.wantLevel)
			}
			if c.Auth.BcryptCost != 10 {
				t.Errorf("auth.bcrypt_cost = %d, want 10 from GATEHOUSE_AUTH_BCRYPT_COST", c.Auth.BcryptCost)
			}
			if tt.wantSource != "" && !strings.HasPrefix(out, tt.wantSource) {
				t.Errorf("output does not start with %q:\n%s", tt.wantSource, out)
			}
		})
	}

	t.Run("--no-migrate turns auto_migrate off", func(t *testing.T) {
		c, _ := printed(t, baseEnv(nil))
		if !c.Database.AutoMigrate {
			t.Fatal("auto_migrate is off by default")
		}
		if c, _ = printed(t, baseEnv(nil), "--no-migrate"); c.Database.AutoMigrate {
			t.Error("auto_migrate still on with --no-migrate")
		}
	})

	t.Run("./config/config.toml when nothing names a file", func(t *testing.T) {
		wd := t.TempDir()
		if err := os.MkdirAll(filepath.Join(wd, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wd, "config", "config.toml"), []byte("[server]\nlisten = \"127.0.0.1:7004\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(wd)
		c, out := printed(t, baseEnv(nil))
		if c.Server.Listen != "127.0.0.1:7004" || !strings.HasPrefix(out, "# config file: config/config.toml") {
			t.Errorf("listen %q from %q; want ./config/config.toml used", c.Server.Listen, strings.SplitN(out, "\n", 2)[0])
		}
		c, _ = printed(t, baseEnv(map[string]string{"GATEHOUSE_CONFIG": other}))
		if c.Server.Listen != "127.0.0.1:7009" {
			t.Errorf("GATEHOUSE_CONFIG did not win over ./config/config.toml: listen %q", c.Server.Listen)
		}
	})

}

func TestConfigPrintMasksSecrets(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"postgres URL from the environment", map[string]string{"GATEHOUSE_DATABASE_DSN": "postgres://gh:" + pw + "@db.internal:5432/gh?sslmode=require"}, nil,
			"postgres://gh:****@db.internal:5432/gh?sslmode=require"},
		{"postgres URL from --db", nil, []string{"--db", "postgresql://gh:" + pw + "@db.internal/gh"},
			"postgresql://gh:****@db.internal/gh"},
		{"key=value DSN", map[string]string{"GATEHOUSE_DATABASE_DRIVER": "postgres", "GATEHOUSE_DATABASE_DSN": "host=db user=gh password=" + pw + " dbname=gh"}, nil,
			"host=db user=gh password=**** dbname=gh"},
		{"password query parameter", map[string]string{"GATEHOUSE_DATABASE_DSN": "postgres://gh@db/gh?password=" + pw}, nil,
			"postgres://gh@db/gh?password=****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out := printed(t, baseEnv(tt.env), tt.args...)
			if strings.Contains(out, pw) {
				t.Fatalf("config print shows the password:\n%s", out)
			}
			if c.Database.DSN != tt.want {
				t.Errorf("dsn printed as %q, want %q", c.Database.DSN, tt.want)
			}
		})
	}
}

func TestServeStopsOnConfigErrors(t *testing.T) {
	dir := t.TempDir()
	// A case that wrongly starts a server must not leave data/ here.
	t.Chdir(t.TempDir())
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.toml")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dsn := testDSN(t)

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // all in the one-line message
	}{
		{"unknown key in the file", nil, []string{"--config", write("unknown.toml", "[server]\nlisen = \"127.0.0.1:1\"\n")},
			[]string{"unknown.toml", "unknown key server.lisen", "did you mean server.listen"}},
		{"unknown section in the file", nil, []string{"--config", write("section.toml", "[serverr]\nlisten = \"127.0.0.1:1\"\n")},
			[]string{"section.toml", "serverr"}},
		{"wrong type in the file", nil, []string{"--config", write("type.toml", "[server]\nlisten = 8080\n")},
			[]string{"type.toml", "server.listen", "expected a string"}},
		{"bad duration in the file", nil, []string{"--config", write("dur.toml", "[server]\nshutdown_grace = \"soon\"\n")},
			[]string{"dur.toml", "server.shutdown_grace", "invalid duration"}},
		{"out-of-range value in the file", nil, []string{"--config", write("throttle.toml", "[throttle]\nmax_failures = 0\n")},
			[]string{"throttle.max_failures", "must be at least 1", "throttle.toml"}},
		{"TOML syntax error", nil, []string{"--config", write("syntax.toml", "[server\nlisten = \n")},
			[]string{"syntax.toml", "line 1"}},
		{"--config names a missing file", nil, []string{"--config", missing},
			[]string{missing, "does not exist"}},
		{"GATEHOUSE_CONFIG names a missing file", map[string]string{"GATEHOUSE_CONFIG": missing}, nil,
			[]string{missing, "GATEHOUSE_CONFIG", "does not exist"}},
		{"--config names a directory", nil, []string{"--config", dir},
			[]string{dir, "is a directory"}},
		{"unparsable environment value", map[string]string{"GATEHOUSE_THROTTLE_MAX_FAILURES": "many"}, nil,
			[]string{"GATEHOUSE_THROTTLE_MAX_FAILURES", "throttle.max_failures", "invalid integer"}},
		{"invalid environment value", map[string]string{"GATEHOUSE_LOG_FORMAT": "xml"}, nil,
			[]string{"log.format", "GATEHOUSE_LOG_FORMAT"}},
		{"invalid environment value overriding a valid file", map[string]string{"GATEHOUSE_SERVER_LISTEN": "nowhere"},
			[]string{"--config", write("ok.toml", "[server]\nlisten = \"127.0.0.1:1\"\n")},
			[]string{"server.listen", "GATEHOUSE_SERVER_LISTEN"}},
		{"sqlite driver with a postgres DSN", nil, []string{"--config", write("drv.toml", "[database]\ndriver = \"sqlite\"\ndsn = \"postgres://x@y/z\"\n")},
			[]string{"database.driver", "drv.toml"}},
		{"timeouts that contradict each other", map[string]string{"GATEHOUSE_AUTH_SESSION_IDLE_TIMEOUT": "48h", "GATEHOUSE_AUTH_SESSION_ABSOLUTE_TIMEOUT": "24h"}, nil,
			[]string{"auth.session_absolute_timeout"}},
		{"bad --listen", nil, []string{"--listen", "localhost"},
			[]string{"server.listen", "--listen"}},
		{"empty --db", nil, []string{"--db="},
			[]string{"database.dsn", "must not be empty", "--db"}},
		{"address in use", nil, []string{"--listen", busy.Addr().String(), "--db", dsn},
			[]string{"server.listen", "address already in use"}},
		{"unreachable PostgreSQL", nil, []string{"--db", "postgres://gatehouse@127.0.0.1:1/gatehouse?connect_timeout=5"},
			[]string{"PostgreSQL", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliTimeout(t, 20*time.Second, baseEnv(tt.env), "", append([]string{"serve"}, tt.args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, "gatehouse listening") {
				t.Fatalf("serve listened despite the error:\n%s", r.stderr)
			}
			msg := lastLine(r.stderr)
			if !strings.HasPrefix(msg, "gatehouse serve: ") {
				t.Errorf("last line %q does not name the command", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestMigrateThenServeNoMigrate(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)

	// A fresh database: --no-migrate refuses to serve it.
	r := cli(t, m, "", "serve", "--no-migrate", "--db", dsn)
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "schema is not current: run `gatehouse migrate` first") {
		t.Fatalf("serve --no-migrate on a fresh database: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// So does database.auto_migrate = false from the environment.
	r = cli(t, baseEnv(map[string]string{"GATEHOUSE_DATABASE_AUTO_MIGRATE": "false"}), "", "serve", "--db", dsn)
	if r.code != 1 || !strings.Contains(r.stderr, "gatehouse migrate") {
		t.Fatalf("serve with auto_migrate=false on a fresh database: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	for i := 0; i < 2; i++ { // migrate is idempotent
		r = mustCLI(t, m, "", "migrate", "--db", dsn)
		if strings.TrimSpace(r.stdout) != "schema is up to date" {
			t.Fatalf("migrate said %q", r.stdout)
		}
	}

	s := startServe(t, m, "--no-migrate", "--db", dsn)
	if code, body := httpGet(t, s.url+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	// The first admin was created, its password logged once, and it works.
	var pw string
	n := 0
	for _, l := range logLines(t, s.logs.String()) {
		if p, ok := l["password"].(string); ok {
			pw = p
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the first admin's password was logged %d times:\n%s", n, s.logs.String())
	}
	tok, _ := login(t, s.url, "admin", pw)
	if code := meCode(t, s.url, tok); code != "" {
		t.Fatalf("me as the first admin: %s", code)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, s.logs.String())
	}
}

func TestUserCommands(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	db := []string{"--db", dsn}
	user := func(stdin string, args ...string) cliResult {
		return cli(t, m, stdin, append(append([]string{"user"}, args...), db...)...)
	}

	r := user("alice-password-1\n", "create", "--username", "alice", "--role", "admin", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, `created admin "alice"`) {
		t.Fatalf("create alice: %+v", r)
	}
	if r = user("bob-password-1\n", "create", "--username", "bob", "--password-stdin"); r.code != 0 || !strings.Contains(r.stdout, `created user "bob"`) {
		t.Fatalf("create bob: %+v", r)
	}
	failures := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate username", "another-password\n", []string{"create", "--username", "BOB", "--password-stdin"}, "username: is already taken"},
		{"short password", "short\n", []string{"create", "--username", "carol", "--password-stdin"}, "password: must be at least 8 characters"},
		{"no password on stdin", "", []string{"create", "--username", "carol", "--password-stdin"}, "no password on standard input"},
		{"bad username", "carol-password\n", []string{"create", "--username", "no spaces", "--password-stdin"}, "username:"},
		{"passwd of nobody", "new-password-1\n", []string{"passwd", "--username", "nobody", "--password-stdin"}, `no user named "nobody"`},
		{"short new password", "short\n", []string{"passwd", "--username", "bob", "--password-stdin"}, "password: must be at least 8 characters"},
		{"disable nobody", "", []string{"disable", "--username", "nobody"}, `no user named "nobody"`},
		{"disable the last enabled admin", "", []string{"disable", "--username", "alice"}, "last enabled admin"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			r := user(tt.stdin, tt.args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1: %+v", r.code, r)
			}
			msg := lastLine(r.stderr)
			if !strings.HasPrefix(msg, "gatehouse user "+tt.args[0]+": ") || !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to name the command and contain %q", msg, tt.want)
			}
		})
	}

	s := startServe(t, m, db...)
	if strings.Contains(s.logs.String(), "created the first admin") {
		t.Fatal("serve made a bootstrap admin although alice is one")
	}
	tok1, _ := login(t, s.url, "bob", "bob-password-1")
	if code := meCode(t, s.url, tok1); code != "" {
		t.Fatalf("bob's token: %s", code)
	}

	// passwd: new password works, the old one and bob's sessions do not.
	if r = user("bob-password-2\n", "passwd", "--username", "bob", "--password-stdin"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	if code := meCode(t, s.url, tok1); code != "UNAUTHENTICATED" {
		t.Errorf("bob's session after passwd: %q, want UNAUTHENTICATED", code)
	}
	if code := loginCode(t, s.url, "bob", "bob-password-1"); code != "UNAUTHENTICATED" {
		t.Errorf("login with the old password: %q, want UNAUTHENTICATED", code)
	}
	tok2, _ := login(t, s.url, "bob", "bob-password-2")

	// disable: bob's session ends and he cannot sign in.
	if r = user("", "disable", "--username", "bob"); r.code != 0 || !strings.Contains(r.stdout, `disabled "bob"`) {
		t.Fatalf("disable: %+v", r)
	}
	if code := meCode(t, s.url, tok2); code != "UNAUTHENTICATED" {
		t.Errorf("bob's session after disable: %q, want UNAUTHENTICATED", code)
	}
	if code := loginCode(t, s.url, "bob", "bob-password-2"); code == "" {
		t.Error("a disabled user signed in")
	}
	if r = user("", "disable", "--username", "bob"); r.code != 0 || !strings.Contains(r.stdout, "already disabled") {
		t.Errorf("disable twice: %+v", r)
	}

	// enable: he can sign in again.
	if r = user("", "enable", "--username", "bob"); r.code != 0 || !strings.Contains(r.stdout, `enabled "bob"`) {
		t.Fatalf("enable: %+v", r)
	}
	tok3, _ := login(t, s.url, "bob", "bob-password-2")
	if code := meCode(t, s.url, tok3); code != "" {
		t.Errorf("bob after enable: %s", code)
	}
	// Alice is still the only admin and enabled.
	login(t, s.url, "alice", "alice-password-1")
}

func TestUserCommandsNeedAnExistingDatabase(t *testing.T) {
	if testdb.Postgres() {
		t.Skip("a missing SQLite file: SQLite only")
	}
	path := filepath.Join(t.TempDir(), "typo", "gatehouse.db")
	for _, args := range [][]string{
		{"user", "passwd", "--username", "bob", "--password-stdin", "--db", path},
		{"user", "disable", "--username", "bob", "--db", path},
		{"user", "enable", "--username", "bob", "--db", path},
		{"backup", "--db", path, filepath.Join(t.TempDir(), "b.db")},
	} {
		r := cli(t, baseEnv(nil), "new-password-1\n", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "database file "+path+" does not exist") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%v created the database file", args)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	dsn := testDSN(t)
	s := startServe(t, baseEnv(nil), "--db", dsn)
	addr := strings.TrimPrefix(s.url, "http://")
	m := baseEnv(map[string]string{"GATEHOUSE_SERVER_LISTEN": addr})
	if r := cli(t, m, "", "healthcheck"); r.code != 0 || strings.TrimSpace(r.stdout) != "ready" {
		t.Fatalf("healthcheck of a running server: %+v", r)
	}
	if r := cli(t, baseEnv(nil), "", "healthcheck", "--url", s.url+"/healthz"); r.code != 0 {
		t.Fatalf("healthcheck --url: %+v", r)
	}
	s.stop(t)
	if r := cli(t, m, "", "healthcheck"); r.code != 1 || !strings.Contains(r.stderr, "not ready") {
		t.Fatalf("healthcheck of a stopped server: %+v", r)
	}
	if r := cli(t, baseEnv(nil), "", "healthcheck", "--url", s.url+"/nothing-here"); r.code != 1 {
		t.Fatalf("healthcheck of a 404: %+v", r)
	}
	// The reason /readyz gives is shown.
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database cannot take writes: disk full\n\x1b[2Jmore"))
	}))
	defer notReady.Close()
	r := cli(t, baseEnv(nil), "", "healthcheck", "--url", notReady.URL+"/readyz")
	if want := "503 Service Unavailable: database cannot take writes: disk full\n"; r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Fatalf("healthcheck of a server that cannot take writes: %+v, want the message to end with %q", r, want)
	}
}

func TestReadyURL(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":9000":          "http://127.0.0.1:9000/readyz",
		"[::]:8080":      "http://[::1]:8080/readyz",
		"10.1.2.3:80":    "http://10.1.2.3:80/readyz",
		"127.0.0.1:8080": "http://127.0.0.1:8080/readyz",
	} {
		if got, err := readyURL(in); err != nil || got != want {
			t.Errorf("readyURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
