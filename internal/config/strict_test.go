package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnknownEnvironmentVariables(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error; nil: Load succeeds
	}{
		{name: "misspelt key", env: map[string]string{"GATEHOUSE_SERVER_LISTN": ":9000"},
			want: []string{"unknown environment variable GATEHOUSE_SERVER_LISTN", "did you mean GATEHOUSE_SERVER_LISTEN?"}},
		{name: "misspelt section", env: map[string]string{"GATEHOUSE_SERVR_LISTEN": ":9000"},
			want: []string{"GATEHOUSE_SERVR_LISTEN", "did you mean GATEHOUSE_SERVER_LISTEN?"}},
		{name: "key without its section", env: map[string]string{"GATEHOUSE_BCRYPT_COST": "11"},
			want: []string{"GATEHOUSE_BCRYPT_COST", "did you mean GATEHOUSE_AUTH_BCRYPT_COST?"}},
		{name: "key under another section's name", env: map[string]string{"GATEHOUSE_DB_DSN": "x.db"},
			want: []string{"GATEHOUSE_DB_DSN", "did you mean GATEHOUSE_DATABASE_DSN?"}},
		{name: "key in two sections", env: map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "1h"},
			want: []string{"unknown environment variable GATEHOUSE_SESSION_IDLE_TIMEOUT (variables are"}},
		{name: "misspelt GATEHOUSE_CONFIG", env: map[string]string{"GATEHOUSE_CONFG": "x.toml"},
			want: []string{"GATEHOUSE_CONFG", "did you mean GATEHOUSE_CONFIG?"}},
		{name: "nothing close", env: map[string]string{"GATEHOUSE_FROBNICATE_EVERYTHING": "1"},
			want: []string{"unknown environment variable GATEHOUSE_FROBNICATE_EVERYTHING"}},
		{name: "all unknown ones are named", env: map[string]string{"GATEHOUSE_LOG_LEVL": "debug", "GATEHOUSE_LOG_FORMT": "json"},
			want: []string{"GATEHOUSE_LOG_FORMT", "GATEHOUSE_LOG_LEVL", "GATEHOUSE_LOG_FORMAT?", "GATEHOUSE_LOG_LEVEL?"}},
		{name: "lower case is another variable", env: map[string]string{"gatehouse_server_listn": ":9000"}},
		{name: "the test suite's database", env: map[string]string{"GATEHOUSE_TEST_POSTGRES": "postgres://postgres@127.0.0.1/test"}},
		{name: "other test-suite variables", env: map[string]string{"GATEHOUSE_TEST_ANYTHING": "1"}},
		{name: "an empty unknown variable counts as unset", env: map[string]string{"GATEHOUSE_SERVER_LISTN": ""}},
		{name: "known keys", env: map[string]string{"GATEHOUSE_SERVER_LISTEN": ":9000", "GATEHOUSE_LOG_LEVEL": "debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // no ./config/config.toml
			_, _, err := Load("", env(tt.env))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct {
		name, file string
		want       string // the suggestion, "" for none
	}{
		{"misspelt section with keys", "[servr]\nlisten = \":1\"\n", "server"},
		{"misspelt empty section", "[servr]\n", "server"},
		{"misspelt section, misspelt key", "[servr]\nlistn = \":1\"\n", "server"},
		{"misspelt key", "[server]\nlistn = \":1\"\n", "server.listen"},
		{"key outside its section", "shutdown_grace = \"1s\"\n", "server.shutdown_grace"},
		{"key of two sections outside them", "listen = \":1\"\n", ""},
		{"misspelt key outside its section", "bcrypt_cst = 11\n", "auth.bcrypt_cost"},
		{"section for a key of another section", "[auth]\nmax_body_bytes = 4096\n", "server.max_body_bytes"},
		{"dotted key", "database.dnss = \"x\"\n", "database.dsn"},
		{"nothing close", "[frobnicate]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			_, _, err := Load(writeFile(t, filepath.Join(dir, "c.toml"), tt.file), env(nil))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "unknown key") {
				t.Fatalf("error %q does not say unknown key", msg)
			}
			switch {
			case tt.want == "" && strings.Contains(msg, "did you mean"):
				t.Errorf("error %q suggests something", msg)
			case tt.want != "" && !strings.Contains(msg, "(did you mean "+tt.want+"?)"):
				t.Errorf("error %q does not suggest %s", msg, tt.want)
			}
		})
	}
}

func TestDSNScheme(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		refused string // the scheme refused, "" when Load succeeds
		hint    string
	}{
		{name: "misspelt postgres in the file", file: "[database]\ndsn = \"postgress://u:s3cret@db.example/x\"\n",
			refused: "postgress", hint: "did you mean postgres://?"},
		{name: "mysql from the environment", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "mysql://root:s3cret@db/x"},
			refused: "mysql"},
		{name: "sqlite:// is not a SQLite DSN", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "sqlite:///var/lib/x.db"},
			refused: "sqlite"},
		{name: "explicit postgres driver does not help", file: "[database]\ndriver = \"postgres\"\ndsn = \"mysql://x\"\n",
			refused: "mysql"},
		{name: "upper-case scheme", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "MYSQL://x"},
			refused: "MYSQL"},
		{name: "postgres", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "postgres://u:s3cret@db/x"}},
		{name: "postgresql", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "postgresql://u:s3cret@db/x"}},
		{name: "upper-case postgres", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "POSTGRES://u@db/x"}},
		{name: "file URI", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "file:///var/lib/gatehouse/x.db?_busy_timeout=1"}},
		{name: "file: path", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "file:data/x.db"}},
		{name: "plain path", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "data/x.db"}},
		{name: "key=value PostgreSQL DSN", env: map[string]string{"GATEHOUSE_DATABASE_DSN": "host=db user=u password=s3cret dbname=x",
			"GATEHOUSE_DATABASE_DRIVER": "postgres"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			flag := ""
			if tt.file != "" {
				flag = writeFile(t, filepath.Join(dir, "c.toml"), tt.file)
			}
			_, _, err := Load(flag, env(tt.env))
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want the DSN refused")
			}
			msg := err.Error()
			if !errors.Is(err, ErrDSNScheme) {
				t.Errorf("error %q is not ErrDSNScheme", msg)
			}
			for _, w := range []string{"database.dsn", `"` + tt.refused + `://"`, tt.hint} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
	// A DSN set after Load (a --db flag) is checked by Validate too.
	c := Default()
	c.Database.DSN = "mysql://u:s3cret@x/y"
	if err := c.ValidateFlags(map[string]string{"database.dsn": "--db"}); !errors.Is(err, ErrDSNScheme) ||
		!strings.Contains(err.Error(), "--db") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ValidateFlags = %v", err)
	}
}
