package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gatehouse/internal/config"
)

// No Docker engine runs where the tests run, so TestDockerImage checks the
// Dockerfile's promises by reading it and then running the real binary the
// way the image would.
//
// How the image's absolute paths are mapped onto the test machine: every
// path under /etc/gatehouse, /var/lib/gatehouse and /usr/local/bin inside
// the image becomes the same path under a temporary root directory (so
// GATEHOUSE_CONFIG=/etc/gatehouse/config.toml becomes
// $ROOT/etc/gatehouse/config.toml), in the ENV values, in the WORKDIR and in
// the copied config file's contents; the binary at /usr/local/bin/gatehouse
// is the one `go build` makes of ./cmd/gatehouse. The container's port is
// "published" on a free local port by changing only the port of the config
// file's listen address, as `docker run -p PORT:8080` would. The process
// gets exactly the Dockerfile's ENV variables plus what Docker itself sets
// (PATH and HOME) and nothing of the test's own environment.

const (
	dockerfilePath   = "../../Dockerfile"
	dockerignorePath = "../../.dockerignore"
	repoRoot         = "../.."
)

// dockerInstr is one Dockerfile instruction.
type dockerInstr struct {
	cmd   string // upper case: FROM, ENV, ...
	args  string
	stage int // index of the FROM stage it belongs to
}

// parseDockerfile reads instructions, joining continuation lines and
// dropping comments.
func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	stage := -1
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstr{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
	}
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

// final returns the instructions of the last (runtime) stage.
func finalStage(all []dockerInstr) []dockerInstr {
	last := all[len(all)-1].stage
	var out []dockerInstr
	for _, in := range all {
		if in.stage == last {
			out = append(out, in)
		}
	}
	return out
}

func instrs(all []dockerInstr, cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range all {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// parseEnv reads an ENV instruction: KEY=VALUE pairs (values may be
// double-quoted) or the old "KEY VALUE" form.
func parseEnv(t *testing.T, args string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if !strings.Contains(strings.Fields(args)[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		out[k] = strings.TrimSpace(v)
		return out
	}
	for rest := strings.TrimSpace(args); rest != ""; rest = strings.TrimSpace(rest) {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("cannot parse ENV %s", args)
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				t.Fatalf("unterminated quote in ENV %s", args)
			}
			out[k] = v[1 : end+1]
			rest = v[end+2:]
			continue
		}
		val, tail, _ := strings.Cut(v, " ")
		out[k] = val
		rest = tail
	}
	return out
}

// execForm parses a JSON-array (exec form) argument list.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Fatalf("%s %s is not in exec form (a JSON array), so signals would not reach gatehouse: %v", what, args, err)
	}
	return out
}

func TestDockerImage(t *testing.T) {
	all := parseDockerfile(t, dockerfilePath)
	if len(all) == 0 || all[0].cmd != "FROM" {
		t.Fatal("the Dockerfile does not start with FROM")
	}
	froms := instrs(all, "FROM")
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(froms))
	}
	if !strings.HasPrefix(froms[0].args, "golang:1.26-bookworm") {
		t.Errorf("build stage FROM %s; want golang:1.26-bookworm", froms[0].args)
	}
	if !strings.HasPrefix(froms[len(froms)-1].args, "debian:bookworm") {
		t.Errorf("runtime stage FROM %s; want Debian bookworm (the glibc the cgo binary was built against)", froms[len(froms)-1].args)
	}
	cgo := false
	for _, in := range instrs(all, "RUN") {
		if in.stage == 0 && strings.Contains(in.args, "CGO_ENABLED=1") && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/gatehouse") {
			cgo = true
		}
	}
	if !cgo {
		t.Error("the build stage does not build ./cmd/gatehouse with CGO_ENABLED=1 (SQLite needs cgo)")
	}

	run := finalStage(all)
	users := instrs(run, "USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	if u, _, _ := strings.Cut(users[len(users)-1].args, ":"); u == "root" || u == "0" {
		t.Errorf("the runtime stage runs as %s", users[len(users)-1].args)
	}

	env := map[string]string{}
	for _, in := range instrs(run, "ENV") {
		for k, v := range parseEnv(t, in.args) {
			env[k] = v
		}
	}
	const confInImage = "/etc/gatehouse/config.toml"
	const dataInImage = "/var/lib/gatehouse"
	if env["GATEHOUSE_CONFIG"] != confInImage {
		t.Fatalf("ENV GATEHOUSE_CONFIG = %q, want %s", env["GATEHOUSE_CONFIG"], confInImage)
	}
	volumes := ""
	for _, in := range instrs(run, "VOLUME") {
		volumes += " " + in.args
	}
	if !strings.Contains(volumes, `"`+dataInImage+`"`) && !strings.Contains(volumes+" ", " "+dataInImage+" ") {
		t.Errorf("no VOLUME %s (VOLUME lines: %s)", dataInImage, volumes)
	}

	// The image's config file: which repository file lands where
	// GATEHOUSE_CONFIG points.
	confSrc, binSrc := "", false
	for _, in := range instrs(run, "COPY") {
		f := strings.Fields(in.args)
		if len(f) >= 2 && f[len(f)-1] == confInImage {
			confSrc = f[len(f)-2]
		}
		if strings.Contains(in.args, "--from=") && strings.HasSuffix(in.args, " /usr/local/bin/gatehouse") {
			binSrc = true
		}
	}
	if confSrc != "config/docker.toml" {
		t.Fatalf("COPY to %s comes from %q, want config/docker.toml", confInImage, confSrc)
	}
	if !binSrc {
		t.Fatal("the binary is not copied from the build stage to /usr/local/bin/gatehouse")
	}
	entry := execForm(t, "ENTRYPOINT", instrs(run, "ENTRYPOINT")[0].args)
	cmdArgs := execForm(t, "CMD", instrs(run, "CMD")[0].args)
	if entry[0] != "/usr/local/bin/gatehouse" || len(cmdArgs) == 0 || cmdArgs[0] != "serve" {
		t.Fatalf("ENTRYPOINT %v CMD %v; want /usr/local/bin/gatehouse serve", entry, cmdArgs)
	}
	hc := instrs(run, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatal("no HEALTHCHECK")
	}
	_, hcCmd, ok := strings.Cut(hc[0].args, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s has no CMD", hc[0].args)
	}
	healthArgs := execForm(t, "HEALTHCHECK CMD", hcCmd)
	workdir := ""
	if w := instrs(run, "WORKDIR"); len(w) > 0 {
		workdir = w[len(w)-1].args
	}
	exposed := instrs(run, "EXPOSE")
	if len(exposed) == 0 {
		t.Fatal("no EXPOSE")
	}
	port := strings.TrimSuffix(strings.Fields(exposed[0].args)[0], "/tcp")

	// The image's config, as Gatehouse reads it inside the container.
	confText, err := os.ReadFile(filepath.Join(repoRoot, confSrc))
	if err != nil {
		t.Fatal(err)
	}
	inImage, err := os.CreateTemp(t.TempDir(), "docker-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	inImage.Write(confText)
	inImage.Close()
	icfg, _, err := config.Load(inImage.Name(), nil)
	if err != nil {
		t.Fatalf("%s: %v", confSrc, err)
	}
	if host, p, _ := net.SplitHostPort(icfg.Server.Listen); (host != "0.0.0.0" && host != "") || p != port {
		t.Errorf("%s listens on %s; want all interfaces on the EXPOSEd port %s", confSrc, icfg.Server.Listen, port)
	}
	if icfg.Database.Driver != config.DriverSQLite || !strings.HasPrefix(icfg.Database.DSN, dataInImage+"/") {
		t.Errorf("%s keeps the database at %s %q; want SQLite in the %s volume", confSrc, icfg.Database.Driver, icfg.Database.DSN, dataInImage)
	}
	if g := icfg.Server.ShutdownGrace.Duration.Seconds(); g >= 10 {
		t.Errorf("%s: server.shutdown_grace = %s; docker stop sends SIGKILL after 10 s", confSrc, icfg.Server.ShutdownGrace)
	}

	// Map the image's filesystem onto a temporary root.
	root := t.TempDir()
	mapPath := func(p string) string {
		for _, prefix := range []string{"/etc/gatehouse", dataInImage, "/usr/local/bin"} {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				return filepath.Join(root, p)
			}
		}
		return p
	}
	for _, d := range []string{"/etc/gatehouse", dataInImage} {
		if err := os.MkdirAll(mapPath(d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	hostPort := freePort(t)
	mapped := strings.ReplaceAll(string(confText), dataInImage, mapPath(dataInImage))
	mapped = strings.Replace(mapped, ":"+port+`"`, ":"+hostPort+`"`, 1)
	if err := os.WriteFile(mapPath(confInImage), []byte(mapped), 0o644); err != nil {
		t.Fatal(err)
	}
	procEnv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + mapPath(dataInImage)}
	for k, v := range env {
		procEnv = append(procEnv, k+"="+mapPath(v))
	}
	dir := root
	if workdir != "" {
		dir = mapPath(workdir)
	}
	bin := gatehouseBinary(t)

	p := startProcess(t, bin, dir, procEnv, append(entry[1:], cmdArgs...)...)
	lines := logLines(t, p.logs.String()) // config/docker.toml asks for JSON logs
	if len(lines) == 0 {
		t.Fatal("no log lines")
	}
	url := "http://127.0.0.1:" + hostPort
	if code, body := httpGet(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, url+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if _, err := os.Stat(mapPath(icfg.Database.DSN)); err != nil {
		t.Errorf("the database is not in the volume: %v", err)
	}
	var adminPW string
	for _, l := range logLines(t, p.logs.String()) {
		if pw, ok := l["password"].(string); ok {
			adminPW = pw
		}
	}
	if adminPW == "" {
		t.Fatalf("the first admin's password was not logged:\n%s", p.logs.String())
	}
	token, _ := login(t, url, "admin", adminPW)
	if code := meCode(t, url, token); code != "" {
		t.Errorf("me with the admin's token: %s", code)
	}

	health := func() int {
		c := exec.Command(mapPath(healthArgs[0]), healthArgs[1:]...)
		if healthArgs[0] == "/usr/local/bin/gatehouse" {
			c = exec.Command(bin, healthArgs[1:]...)
		}
		c.Env, c.Dir = procEnv, dir
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("HEALTHCHECK %v: %v %s", healthArgs, err, out)
		}
		return 0
	}
	if code := health(); code != 0 {
		t.Errorf("HEALTHCHECK exits %d while the server runs", code)
	}

	// docker stop: STOPSIGNAL (SIGTERM by default), then a clean exit.
	sig := syscall.SIGTERM
	if s := instrs(run, "STOPSIGNAL"); len(s) > 0 && s[0].args != "SIGTERM" {
		t.Fatalf("STOPSIGNAL %s; gatehouse drains on SIGTERM", s[0].args)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if ws := p.wait(t); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("after SIGTERM gatehouse ended with %v:\n%s", ws, p.logs.String())
	}
	if code := health(); code == 0 {
		t.Error("HEALTHCHECK passes with the server stopped")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(dockerignorePath)
	if err != nil {
		t.Fatal(err)
	}
	patterns := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns[l] = true
		}
	}
	for _, must := range []string{".git", "*.db", "data/"} {
		if !patterns[must] {
			t.Errorf(".dockerignore does not exclude %s (local databases and history stay out of the image)", must)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd", "internal", "ent", "graph", "views", "config", "config/docker.toml", "*.go"} {
		if patterns[keep] || patterns[keep+"/"] || patterns["/"+keep] {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}
