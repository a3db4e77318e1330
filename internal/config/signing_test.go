package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSigningValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Signing)
		key    string // "" = valid
	}{
		{"defaults", func(*Signing) {}, ""},
		{"empty issuer", func(s *Signing) { s.Issuer = " " }, "signing.issuer"},
		{"long issuer", func(s *Signing) { s.Issuer = strings.Repeat("x", MaxIssuerLen+1) }, "signing.issuer"},
		{"default ttl 0", func(s *Signing) { s.DefaultTTL.Duration = 0 }, "signing.default_ttl"},
		{"default ttl over max", func(s *Signing) { s.DefaultTTL.Duration = s.MaxTTL.Duration + time.Second }, "signing.default_ttl"},
		{"max ttl over a year", func(s *Signing) { s.MaxTTL.Duration = MaxSigningMaxTTL + time.Hour }, "signing.max_ttl"},
		{"max ttl under a minute", func(s *Signing) { s.MaxTTL.Duration = time.Second; s.DefaultTTL.Duration = time.Second }, "signing.max_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c.Signing)
			err := c.Validate()
			switch {
			case tt.key == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.key != "" && (err == nil || !strings.Contains(err.Error(), tt.key+":")):
				t.Errorf("Validate() = %v, want an error about %s", err, tt.key)
			}
		})
	}
}

// GATEHOUSE_SIGNING_SECRET is accepted, read into Signing.Secret and never
// printed.
func TestSigningSecretFromEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
	cfg, _, err := Load("", env(map[string]string{EnvSigningSecret: secret}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Signing.Secret != secret {
		t.Errorf("Signing.Secret = %q, want the variable's value", cfg.Signing.Secret)
	}
	var buf bytes.Buffer
	if err := cfg.Print(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) {
		t.Errorf("Print shows the signing secret:\n%s", buf.String())
	}
	if r := cfg.Redacted(); strings.Contains(r.Signing.Secret, secret) {
		t.Errorf("Redacted keeps the signing secret")
	}
	// It is no key of the file.
	if _, _, err := Load(writeFile(t, "c.toml", "[signing]\nsecret = \"x\"\n"), nil); err == nil || !strings.Contains(err.Error(), "unknown key signing.secret") {
		t.Errorf("a secret in the config file: %v, want an unknown key", err)
	}
}
