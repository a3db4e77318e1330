package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"gatehouse/ent"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apperr"
	"gatehouse/internal/config"
	"gatehouse/internal/db"
	"gatehouse/internal/events"
	"gatehouse/internal/logging"
	"gatehouse/internal/server"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		return "gatehouse " + v + " " + bi.GoVersion
	}
	return "gatehouse " + v
}

var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// flags is a command's flag set, with --config and --db when the command
// reads the configuration.
type flags struct {
	*flag.FlagSet
	e        *env
	synopsis string
	about    string
	config   *string
	db       *string
	// set records the flags given on the command line.
	set map[string]bool
}

// newFlags makes a command's flag set; synopsis follows "gatehouse " in
// the usage line and about says what the command does.
func (e *env) newFlags(name, synopsis, about string, withConfig bool) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), e: e, synopsis: synopsis, about: about}
	f.Usage = func() {
		w := f.Output()
		fmt.Fprintf(w, "Usage: gatehouse %s\n\n%s\n", f.synopsis, f.about)
		n := 0
		f.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			f.PrintDefaults()
		}
	}
	if withConfig {
		f.config = f.String("config", "", "config file (default: $GATEHOUSE_CONFIG, else ./config/config.toml if present)")
		f.db = f.String("db", "", "database: a SQLite path or a postgres:// DSN (overrides the config)")
	}
	return f
}

// parse parses args, flags and positional arguments in any order, and
// checks the number of positional arguments. --help prints the usage to
// standard output (errHelp); a usage error prints to standard error
// (errUsage).
func (f *flags) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	var out bytes.Buffer
	f.SetOutput(&out)
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.e.stdout.Write(out.Bytes())
				return nil, errHelp
			}
			f.e.stderr.Write(out.Bytes())
			return nil, errUsage
		}
		if f.NArg() == 0 {
			break
		}
		pos = append(pos, f.Arg(0))
		args = f.Args()[1:]
	}
	f.SetOutput(f.e.stderr)
	if len(pos) < minArgs || len(pos) > maxArgs {
		if len(pos) > maxArgs {
			fmt.Fprintf(f.e.stderr, "unexpected arguments: %s\n", strings.Join(pos[maxArgs:], " "))
		} else {
			fmt.Fprintln(f.e.stderr, "missing arguments")
		}
		f.Usage()
		return nil, errUsage
	}
	f.set = map[string]bool{}
	f.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return pos, nil
}

// usageError prints msg and the usage and returns errUsage.
func (f *flags) usageError(format string, args ...any) error {
	fmt.Fprintf(f.e.stderr, format+"\n", args...)
	f.Usage()
	return errUsage
}

// overrides are the configuration flags serve (and config print) take.
type overrides struct {
	listen    *string
	noMigrate *bool
}

func (f *flags) serveFlags() overrides {
	return overrides{
		listen:    f.String("listen", "", "address to listen on, e.g. 127.0.0.1:8080 or :8080 (overrides the config)"),
		noMigrate: f.Bool("no-migrate", false, "do not migrate the schema at start; refuse to start unless it is current (run \"gatehouse migrate\" first)"),
	}
}

// loadConfig reads the configuration (defaults < file < environment) and
// applies the command's flags on top. It returns the config file used
// ("" for none).
func (e *env) loadConfig(f *flags, o overrides) (config.Config, string, error) {
	cfg, path, err := config.Load(*f.config, e.environ)
	if err != nil {
		return cfg, path, err
	}
	byFlag := map[string]string{}
	if f.set["db"] {
		cfg.Database.DSN = *f.db
		// The flag chooses the database outright: its form decides the driver.
		if config.IsPostgresURL(*f.db) {
			cfg.Database.Driver = config.DriverPostgres
		} else {
			cfg.Database.Driver = config.DriverSQLite
		}
		byFlag["database.dsn"] = "--db"
		byFlag["database.driver"] = "--db"
	}
	if o.listen != nil && f.set["listen"] {
		cfg.Server.Listen = *o.listen
		byFlag["server.listen"] = "--listen"
	}
	if o.noMigrate != nil && *o.noMigrate {
		cfg.Database.AutoMigrate = false
	}
	if err := cfg.ValidateFlags(byFlag); err != nil {
		return cfg, path, fmt.Errorf("config: %w", err)
	}
	return cfg, path, nil
}

func (e *env) logger(cfg config.Config) (*slog.Logger, error) {
	return logging.New(e.stderr, cfg.Log.Format, cfg.Log.Level)
}

const serveAbout = `Serves the GraphQL API (/graphql), the playground (/playground), the admin
dashboard (/admin/) and the health checks (/healthz, /readyz). It binds its
address first (an address in use stops it before it opens the database), then
migrates the schema unless --no-migrate (or database.auto_migrate = false) is
given, in which case it refuses to start on a schema that is not current. On a
database without an admin it creates the user "admin" and logs its password
once. SIGTERM or Ctrl-C stops it gracefully: no new connections, and requests
in flight get server.shutdown_grace to finish; then background jobs get as long
to stop and hand their leases to another replica.`

func (e *env) serve(args []string) error {
	f := e.newFlags("serve", "serve [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]", serveAbout, true)
	o := f.serveFlags()
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	cfg, path, err := e.loadConfig(f, o)
	if err != nil {
		return err
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	if path == "" {
		path = "none (built-in defaults and environment)"
	}
	log.Info("gatehouse starting", "version", version, "config_file", path,
		"db", cfg.Database.Driver, "dsn", config.RedactDSN(cfg.Database.DSN))

	// Bind first: a server that cannot serve must not create (and
	// announce) the first admin, nor touch the database at all.
	ln, err := listen(cfg.Server.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if cfg.Metrics.Enabled() {
		if mln, err = listenMetrics(cfg.Metrics.Listen); err != nil {
			return err
		}
		defer mln.Close()
	}

	d, err := app.OpenDB(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, w := range d.Warnings {
		log.Warn("database file permissions", "problem", w)
	}
	if cfg.Database.AutoMigrate {
		if err := d.Migrate(e.ctx); err != nil {
			return err
		}
	} else if err := d.CheckSchema(e.ctx); err != nil {
		return err
	}
	a, err := app.Assemble(e.ctx, cfg, d, log, app.Options{Dashboard: dashboardFactory, TestBcryptCost: e.testBcryptCost})
	if err != nil {
		return err
	}
	pw, err := a.Auth.EnsureAdmin(e.ctx)
	if err != nil {
		return err
	}
	if pw != "" {
		// Shown once: the database keeps only its hash.
		log.Warn("created the first admin; sign in and change this password", "username", "admin", "password", pw)
	}
	// Background jobs run while the server serves, and stop after the
	// requests in flight (before the database closes), handing their
	// leases over to another replica.
	if e.testJobs != nil {
		e.testJobs(a)
	}
	a.StartJobs(e.ctx)
	defer func() {
		if err := a.StopJobs(cfg.Server.ShutdownGrace.Duration); err != nil {
			log.Error("shutdown", "err", err)
		}
	}()
	if a.Metrics != nil {
		defer serveMetrics(a.Metrics, mln, log)()
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "db", cfg.Database.Driver, "version", version)
	srv := server.HTTPServer(cfg.Server, a.Handler, log)
	// Open subscription streams end at shutdown (clients reconnect to
	// another replica) instead of holding it up for the whole grace.
	srv.RegisterOnShutdown(a.Live.Close)
	return server.Serve(e.ctx, srv, ln, cfg.Server.ShutdownGrace.Duration, log)
}

// listen binds addr, explaining the usual failures.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("server.listen: cannot listen on %s: address already in use (another process, perhaps another Gatehouse, "+
			"is listening there); stop it or choose another address with --listen or server.listen", addr)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("server.listen: cannot listen on %s: permission denied (ports below 1024 need privileges); "+
			"choose a port above 1023 with --listen or server.listen", addr)
	case err != nil:
		return nil, fmt.Errorf("server.listen: %w", err)
	}
	return ln, nil
}

func (e *env) migrate(args []string) error {
	f := e.newFlags("migrate", "migrate [--config FILE] [--db PATH_OR_DSN]",
		"Creates or upgrades the database schema and exits. Run it before starting\nservers with `serve --no-migrate` (on PostgreSQL, replicas may also migrate\nat start: a lock makes them take turns).", true)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	cfg, _, err := e.loadConfig(f, overrides{})
	if err != nil {
		return err
	}
	d, err := app.OpenDB(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Migrate(e.ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "schema is up to date")
	return nil
}

const userUsage = `Usage:
  gatehouse user create   [--config FILE] [--db PATH_OR_DSN] --username NAME [--role admin|user] --password-stdin
  gatehouse user passwd   [--config FILE] [--db PATH_OR_DSN] --username NAME --password-stdin
  gatehouse user disable  [--config FILE] [--db PATH_OR_DSN] --username NAME
  gatehouse user enable   [--config FILE] [--db PATH_OR_DSN] --username NAME

Manages users from the console, with full rights. Run "gatehouse user COMMAND --help" for details.
`

func (e *env) user(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, userUsage)
		return errUsage
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, userUsage)
		return nil
	case "create":
		err = e.userCreate(args[1:])
	case "passwd":
		err = e.userPasswd(args[1:])
	case "disable":
		err = e.userSetDisabled(args[1:], true)
	case "enable":
		err = e.userSetDisabled(args[1:], false)
	default:
		fmt.Fprintf(e.stderr, "gatehouse user: unknown command %q\n\n%s", args[0], userUsage)
		return errUsage
	}
	return &cmdError{cmd: "user " + args[0], err: err}
}

// readPassword reads one line from standard input.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

// openApp loads the configuration and assembles Gatehouse for a console
// command. Unless create is set, the database must already exist and have
// a current schema: a typo in a path must not make a new, empty database.
func (e *env) openApp(f *flags, create bool) (*app.App, error) {
	cfg, _, err := e.loadConfig(f, overrides{})
	if err != nil {
		return nil, err
	}
	if !create {
		if err := sqliteMustExist(cfg); err != nil {
			return nil, err
		}
	}
	log, err := e.logger(cfg)
	if err != nil {
		return nil, err
	}
	d, err := app.OpenDB(e.ctx, cfg)
	if err != nil {
		return nil, err
	}
	if create {
		err = d.Migrate(e.ctx)
	} else {
		err = d.CheckSchema(e.ctx)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	a, err := app.Assemble(e.ctx, cfg, d, log, app.Options{TestBcryptCost: e.testBcryptCost, NoSigning: true})
	if err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

// sqliteMustExist reports an error when cfg names a SQLite file that does
// not exist.
func sqliteMustExist(cfg config.Config) error {
	if cfg.Database.Driver != config.DriverSQLite {
		return nil
	}
	p := db.SQLiteFile(cfg.Database.DSN)
	if p == "" {
		return nil
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("database file %s does not exist (check --db, database.dsn or GATEHOUSE_DATABASE_DSN)", p)
	} else if err != nil {
		return fmt.Errorf("database file: %w", err)
	}
	return nil
}

// describe turns a service error into a message for the console.
func describe(ctx context.Context, err error) error {
	if ae := service.Classify(ctx, err); ae != nil {
		return ae
	}
	return err
}

func (e *env) userCreate(args []string) error {
	f := e.newFlags("user create", "user create [--config FILE] [--db PATH_OR_DSN] --username NAME [--role admin|user] --password-stdin",
		"Creates a user, reading the password from the first line of standard input.\nIt migrates the schema first, so it can make the first admin of a new database.", true)
	username := f.String("username", "", "the new user's username (required)")
	role := f.String("role", "user", "admin or user")
	stdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" || !*stdin {
		return f.usageError("--username and --password-stdin are required")
	}
	r := user.Role(strings.ToUpper(*role))
	if user.RoleValidator(r) != nil {
		return f.usageError("--role must be admin or user, not %q", *role)
	}
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	a, err := e.openApp(f, true)
	if err != nil {
		return err
	}
	defer a.Close()
	// The operator at the console acts with full rights.
	ctx := events.CLI(viewer.System(e.ctx))
	u, err := a.Service.CreateUser(ctx, service.CreateUserInput{Username: *username, Password: pw, Role: &r})
	if err != nil {
		return describe(ctx, err)
	}
	fmt.Fprintf(e.stdout, "created %s %q (id %d)\n", strings.ToLower(string(u.Role)), u.Username, u.ID)
	return nil
}

// findUser looks a user up by name for a console command.
func findUser(ctx context.Context, a *app.App, name string) (*ent.User, error) {
	u, err := a.Service.FindUser(ctx, nil, &name)
	if apperr.CodeOf(err) == apperr.NotFound || err == nil && u == nil {
		return nil, fmt.Errorf("no user named %q", name)
	}
	if err != nil {
		return nil, describe(ctx, err)
	}
	return u, nil
}

func (e *env) userPasswd(args []string) error {
	f := e.newFlags("user passwd", "user passwd [--config FILE] [--db PATH_OR_DSN] --username NAME --password-stdin",
		"Sets a user's password, read from the first line of standard input, and\nrevokes all of that user's sessions.", true)
	username := f.String("username", "", "the user (required)")
	stdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" || !*stdin {
		return f.usageError("--username and --password-stdin are required")
	}
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	a, err := e.openApp(f, false)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := events.CLI(viewer.System(e.ctx))
	u, err := findUser(ctx, a, *username)
	if err != nil {
		return err
	}
	if _, err := a.Service.UpdateUser(ctx, u.ID, service.UpdateUserInput{Password: &pw}); err != nil {
		return describe(ctx, err)
	}
	fmt.Fprintf(e.stdout, "changed the password of %q and revoked their sessions\n", u.Username)
	return nil
}

func (e *env) userSetDisabled(args []string, disabled bool) error {
	name, about := "user enable", "Enables a disabled user, who may sign in again."
	if disabled {
		name, about = "user disable", "Disables a user: they can no longer sign in, and their sessions are revoked.\nThe last enabled admin cannot be disabled."
	}
	f := e.newFlags(name, name+" [--config FILE] [--db PATH_OR_DSN] --username NAME", about, true)
	username := f.String("username", "", "the user (required)")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if *username == "" {
		return f.usageError("--username is required")
	}
	a, err := e.openApp(f, false)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx := events.CLI(viewer.System(e.ctx))
	u, err := findUser(ctx, a, *username)
	if err != nil {
		return err
	}
	state := "enabled"
	if disabled {
		state = "disabled"
	}
	if u.Disabled == disabled {
		fmt.Fprintf(e.stdout, "user %q is already %s\n", u.Username, state)
		return nil
	}
	if _, err := a.Service.UpdateUser(ctx, u.ID, service.UpdateUserInput{Disabled: &disabled}); err != nil {
		return describe(ctx, err)
	}
	if disabled {
		fmt.Fprintf(e.stdout, "disabled %q and revoked their sessions\n", u.Username)
	} else {
		fmt.Fprintf(e.stdout, "enabled %q\n", u.Username)
	}
	return nil
}

const backupAbout = `Writes a consistent copy of the SQLite database to FILE, a new file (an
existing one is never overwritten), while the server keeps running. Restore
by stopping the server and putting the copy in the database's place, or start
from it directly with "gatehouse serve --db FILE". PostgreSQL databases are
backed up with pg_dump instead.`

func (e *env) backup(args []string) error {
	f := e.newFlags("backup", "backup [--config FILE] [--db PATH] FILE", backupAbout, true)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	cfg, _, err := e.loadConfig(f, overrides{})
	if err != nil {
		return err
	}
	if cfg.Database.Driver == config.DriverPostgres {
		// Explained without connecting: it works with the server down.
		return db.PostgresBackupError(cfg.Database.DSN, pos[0])
	}
	src := db.SQLiteFile(cfg.Database.DSN)
	if src == "" {
		return errors.New("the database is in memory; there is nothing to back up")
	}
	if err := sqliteMustExist(cfg); err != nil {
		return err
	}
	d, err := app.OpenDB(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(e.ctx, pos[0]); err != nil {
		return err
	}
	size := ""
	if fi, err := os.Stat(pos[0]); err == nil {
		size = fmt.Sprintf(" (%d bytes)", fi.Size())
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s%s\n", src, pos[0], size)
	return nil
}

const configUsage = `Usage:
  gatehouse config print [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]

Prints the effective configuration with secrets masked. Run "gatehouse config print --help" for details.
`

func (e *env) config(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, configUsage)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, configUsage)
		return nil
	case "print":
		return &cmdError{cmd: "config print", err: e.configPrint(args[1:])}
	}
	fmt.Fprintf(e.stderr, "gatehouse config: unknown command %q\n\n%s", args[0], configUsage)
	return errUsage
}

func (e *env) configPrint(args []string) error {
	f := e.newFlags("config print", "config print [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]",
		"Prints the configuration serve would run with (built-in defaults, then the\nconfig file, then GATEHOUSE_* environment variables, then these flags) as\nTOML, with the database password masked. It fails, naming the key, when the\nconfiguration is invalid.", true)
	o := f.serveFlags()
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	cfg, path, err := e.loadConfig(f, o)
	if err != nil {
		return err
	}
	if path == "" {
		fmt.Fprintln(e.stdout, "# config file: none (built-in defaults and environment)")
	} else {
		fmt.Fprintf(e.stdout, "# config file: %s\n", path)
	}
	return cfg.Print(e.stdout)
}

func (e *env) healthcheck(args []string) error {
	f := e.newFlags("healthcheck", "healthcheck [--config FILE] [--url URL]",
		"Asks a running server whether it is ready (GET /readyz) and exits 0 if it is,\n1 if not, with the reason /readyz gives (database unreachable, or cannot take\nwrites): for container HEALTHCHECKs. The address comes from server.listen.", false)
	f.config = f.String("config", "", "config file (default: $GATEHOUSE_CONFIG, else ./config/config.toml if present)")
	u := f.String("url", "", "the URL to check (default: /readyz on server.listen, via 127.0.0.1 for a wildcard address)")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	target := *u
	if target == "" {
		cfg, _, err := e.loadConfig(f, overrides{})
		if err != nil {
			return err
		}
		target, err = readyURL(cfg.Server.Listen)
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		// /readyz says why in its first line ("database cannot take
		// writes: disk full").
		why, _ := bufio.NewReader(io.LimitReader(res.Body, 200)).ReadString('\n')
		why = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return -1
			}
			return r
		}, why)
		if why != "" {
			why = ": " + why
		}
		return fmt.Errorf("not ready: GET %s answered %s%s", target, res.Status, why)
	}
	fmt.Fprintln(e.stdout, "ready")
	return nil
}

// readyURL is the /readyz URL of a server listening on addr.
func readyURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("server.listen: %w", err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

func (e *env) version(args []string) error {
	f := e.newFlags("version", "version", "Prints the version of this binary.", false)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, versionString())
	return nil
}
