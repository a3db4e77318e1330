package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// envTestPrefix starts the environment variables reserved for
// Gatehouse's own test suite (GATEHOUSE_TEST_POSTGRES): the server never
// reads them, and they do not stop it.
const envTestPrefix = "GATEHOUSE_TEST_"

// knownEnv reports whether Gatehouse accepts the environment variable
// name: any variable outside GATEHOUSE_*, and of those a key's
// GATEHOUSE_<SECTION>_<KEY>, GATEHOUSE_CONFIG, and those reserved for the
// test suite (GATEHOUSE_TEST_*).
func knownEnv(name string) bool {
	if !strings.HasPrefix(name, envPrefix) || name == EnvConfig || name == EnvSigningSecret || strings.HasPrefix(name, envTestPrefix) {
		return true
	}
	var c Config
	for _, f := range fields(&c) {
		if f.env == name {
			return true
		}
	}
	return false
}

// checkEnvNames reports every non-empty GATEHOUSE_* variable that
// Gatehouse does not know, each with the closest known name: a misspelt
// variable would otherwise be silently ignored.
func checkEnvNames(environ Environ) error {
	var unknown []string
	for k, v := range environ {
		if v != "" && !knownEnv(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	msgs := make([]string, len(unknown))
	for i, k := range unknown {
		msgs[i] = "unknown environment variable " + k
		if s := suggestEnv(k); s != "" {
			msgs[i] += "; did you mean " + s + "?"
		}
	}
	return fmt.Errorf("%s (variables are GATEHOUSE_<SECTION>_<KEY> for the keys in config/config.toml, and %s)",
		strings.Join(msgs, "; "), EnvConfig)
}

// suggestEnv returns the known variable closest to an unknown one, or "".
func suggestEnv(name string) string {
	var c Config
	cands := []string{EnvConfig}
	for _, f := range fields(&c) {
		cands = append(cands, f.env)
	}
	if s := closest(name, cands); s != "" {
		return s
	}
	// A key's name without its section (GATEHOUSE_BCRYPT_COST) or with
	// another one (GATEHOUSE_DB_DSN), when only one section has it.
	rest := strings.TrimPrefix(name, envPrefix)
	var match []string
	for _, f := range fields(&c) {
		_, k, _ := strings.Cut(f.key, ".")
		if k = strings.ToUpper(k); rest == k || strings.HasSuffix(rest, "_"+k) {
			match = append(match, f.env)
		}
	}
	if len(match) == 1 {
		return match[0]
	}
	return ""
}

// suggest returns the known key or section closest to an unknown key of
// the config file ("servr", "server.lisen", "listen" outside its
// section), or "".
func suggest(unknown string) string {
	var c Config
	var sections, keys []string
	for _, f := range fields(&c) {
		sec, _, _ := strings.Cut(f.key, ".")
		if len(sections) == 0 || sections[len(sections)-1] != sec {
			sections = append(sections, sec)
		}
		keys = append(keys, f.key)
	}
	inSection := func(sec string) []string {
		var out []string
		for _, k := range keys {
			if strings.HasPrefix(k, sec+".") {
				out = append(out, k)
			}
		}
		return out
	}
	// name alone, in any section: "listen" -> "server.listen", if only
	// one section has a key like it.
	anySection := func(name string) string {
		var exact, near []string
		for _, k := range keys {
			_, kn, _ := strings.Cut(k, ".")
			switch d := editDistance(name, kn); {
			case d == 0:
				exact = append(exact, k)
			case d <= maxEdits(name):
				near = append(near, k)
			}
		}
		if len(exact) == 1 {
			return exact[0]
		}
		if len(exact) == 0 && len(near) == 1 {
			return near[0]
		}
		return ""
	}

	sec, name, dotted := strings.Cut(unknown, ".")
	if !dotted {
		if s := closest(unknown, sections); s != "" {
			return s
		}
		return anySection(unknown)
	}
	if strings.Contains(name, ".") {
		return closest(unknown, keys)
	}
	known := false
	for _, s := range sections {
		known = known || s == sec
	}
	if known {
		if s := closest(unknown, inSection(sec)); s != "" {
			return s
		}
		return anySection(name)
	}
	s := closest(sec, sections)
	if s == "" {
		return anySection(name)
	}
	if k := closest(s+"."+name, inSection(s)); k != "" {
		return k
	}
	return s
}

// maxEdits is how many edits a suggestion may be away from word.
func maxEdits(word string) int {
	if len(word) <= 4 {
		return 1
	}
	return 2
}

// closest returns the candidate nearest to word within maxEdits(word)
// edits (the first of equally near ones), or "".
func closest(word string, cands []string) string {
	best, bestDist := "", maxEdits(word)+1
	for _, c := range cands {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ErrDSNScheme is wrapped by the error for a database.dsn of the form
// scheme://... whose scheme Gatehouse does not support. Such a DSN is not
// taken for a SQLite path, which would create a file named after it.
var ErrDSNScheme = errors.New("unsupported database DSN scheme")

var dsnScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*)://`)

// CheckDSNScheme returns an error wrapping ErrDSNScheme when dsn starts
// with scheme:// and the scheme is not postgres, postgresql or file
// (case-insensitively). The error quotes only the scheme, never the rest,
// which may hold a password.
func CheckDSNScheme(dsn string) error {
	m := dsnScheme.FindStringSubmatch(strings.TrimSpace(dsn))
	if m == nil {
		return nil
	}
	switch strings.ToLower(m[1]) {
	case "postgres", "postgresql", "file":
		return nil
	}
	hint := ""
	if s := closest(strings.ToLower(m[1]), []string{"postgres", "postgresql"}); s != "" {
		hint = " (did you mean " + s + "://?)"
	}
	return &dsnSchemeError{msg: fmt.Sprintf("the scheme %q is not supported%s: use a SQLite file path, a file: URI, or a postgres:// or postgresql:// URL",
		m[1]+"://", hint)}
}

type dsnSchemeError struct{ msg string }

func (e *dsnSchemeError) Error() string { return e.msg }
func (e *dsnSchemeError) Unwrap() error { return ErrDSNScheme }
