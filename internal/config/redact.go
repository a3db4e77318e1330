package config

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// Mask replaces secrets in Redacted and Print output.
const Mask = "****"

// Redacted returns a copy of c that is safe to print or log: the password
// in Database.DSN is replaced by "****", whether the DSN is a URL
// (postgres://user:pass@host/db, or a password query parameter) or a
// key=value string (password=...). Other DSNs, such as SQLite paths, are
// unchanged.
func (c Config) Redacted() Config {
	c.Server.TrustedProxies = slices.Clone(c.Server.TrustedProxies)
	c.Server.CORSOrigins = slices.Clone(c.Server.CORSOrigins)
	c.Database.DSN = RedactDSN(c.Database.DSN)
	if c.Signing.Secret != "" {
		c.Signing.Secret = Mask
	}
	return c
}

// Print writes the configuration as TOML, in the config file's format,
// with secrets masked as in Redacted.
func (c Config) Print(w io.Writer) error {
	r := c.Redacted()
	if r.Server.TrustedProxies == nil {
		r.Server.TrustedProxies = []string{}
	}
	if r.Server.CORSOrigins == nil {
		r.Server.CORSOrigins = []string{}
	}
	if err := toml.NewEncoder(w).Encode(r); err != nil {
		return fmt.Errorf("config: printing: %w", err)
	}
	return nil
}

var (
	// kvPassword matches password=value (or sslpassword=...) in a
	// key=value DSN; the value is a single-quoted string (with backslash
	// escapes) or runs to the next space.
	kvPassword = regexp.MustCompile(`(?i)(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s]*)`)
	// kvDSN recognises a key=value DSN ("host=db user=app ...").
	kvDSN = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)
)

// RedactDSN masks the password in a database DSN; see Config.Redacted.
func RedactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		return redactURL(dsn, i+len("://"))
	}
	if strings.HasPrefix(dsn, "file:") {
		// SQLite URI: only query parameters can hold a secret
		// (_auth_pass for go-sqlite3's user authentication).
		return redactQuery(dsn)
	}
	if kvDSN.MatchString(dsn) {
		return kvPassword.ReplaceAllString(dsn, "${1}"+Mask)
	}
	return dsn
}

// redactURL masks the password of userinfo in a URL whose authority starts
// at offset start, and any password-like query parameter. It works on the
// string rather than through net/url so that the rest of the DSN is
// printed exactly as written and so that malformed (unescaped) passwords
// are masked too.
func redactURL(dsn string, start int) string {
	rest := dsn[start:]
	// The userinfo ends at an '@'. An unescaped password may itself
	// contain '@', '/' or '?', so use the last '@' of the remainder: in
	// the rare DSN with an '@' in its query this masks too much, never
	// too little.
	at := strings.LastIndexByte(rest, '@')
	if at >= 0 {
		userinfo := rest[:at]
		if colon := strings.IndexByte(userinfo, ':'); colon >= 0 {
			rest = userinfo[:colon+1] + Mask + rest[at:]
		}
	}
	return redactQuery(dsn[:start] + rest)
}

// redactQuery masks the values of query parameters whose name contains
// "pass" (password, sslpassword, _auth_pass).
func redactQuery(dsn string) string {
	q := strings.IndexByte(dsn, '?')
	if q < 0 {
		return dsn
	}
	query, frag, hasFrag := strings.Cut(dsn[q+1:], "#")
	params := strings.Split(query, "&")
	changed := false
	for i, p := range params {
		name, _, ok := strings.Cut(p, "=")
		if ok && strings.Contains(strings.ToLower(name), "pass") {
			params[i] = name + "=" + Mask
			changed = true
		}
	}
	if !changed {
		return dsn
	}
	out := dsn[:q+1] + strings.Join(params, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}
