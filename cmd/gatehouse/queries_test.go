package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/persisted"
)

// TestQueriesCommands registers persisted queries from files (each checked
// against the schema first), lists and removes them.
func TestQueriesCommands(t *testing.T) {
	dsn := testDSN(t)
	m := baseEnv(nil)
	mustCLI(t, m, "", "migrate", "--db", dsn)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	me := "query Me { me { username } }\n"
	good := write("me.graphql", me)
	login := write("login.graphql", "mutation SignIn($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }\n")
	bad := write("bad.graphql", "query Bad {\n  me { nosuchfield }\n}\n")

	if r := mustCLI(t, m, "", "queries", "list", "--db", dsn); !strings.Contains(r.stdout, "no persisted queries") {
		t.Errorf("list on a new database: %q", r.stdout)
	}
	r := cli(t, m, "", "queries", "add", "--db", dsn, good, bad)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.graphql:2:") || !strings.Contains(r.stderr, "nosuchfield") {
		t.Fatalf("adding a document that does not validate: exit %d, %q", r.code, r.stderr)
	}
	if r := mustCLI(t, m, "", "queries", "list", "--db", dsn); !strings.Contains(r.stdout, "no persisted queries") {
		t.Fatalf("a failed add registered something: %q", r.stdout)
	}
	out := mustCLI(t, m, "", "queries", "add", "--db", dsn, good, login).stdout
	hash := persisted.Hash(me)
	if !strings.Contains(out, hash+"  "+good+"  Me (added)") || !strings.Contains(out, "SignIn (added)") {
		t.Fatalf("add: %q", out)
	}
	if out := mustCLI(t, m, "", "queries", "add", "--db", dsn, good).stdout; !strings.Contains(out, "already registered") {
		t.Fatalf("adding again: %q", out)
	}
	list := mustCLI(t, m, "", "queries", "list", "--db", dsn).stdout
	if !regexp.MustCompile(`(?m)^`+hash+`\s+Me\s+\d{4}-`).MatchString(list) || strings.Count(strings.TrimSpace(list), "\n") != 2 {
		t.Fatalf("list:\n%s", list)
	}
	mustCLI(t, m, "", "queries", "remove", "--db", dsn, hash)
	if list := mustCLI(t, m, "", "queries", "list", "--db", dsn).stdout; strings.Contains(list, hash) {
		t.Fatalf("list after remove:\n%s", list)
	}
	if r := cli(t, m, "", "queries", "remove", "--db", dsn, hash); r.code != 1 || !strings.Contains(r.stderr, "no persisted query") {
		t.Errorf("removing it again: exit %d, %q", r.code, r.stderr)
	}
}
