package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/config"
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

// flags is a command's flag set with the flags every command shares.
type flags struct {
	*flag.FlagSet
	config string
	db     string
}

func (e *env) newFlags(name, synopsis string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(e.stderr)
	f.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: gatehouse %s\n\nFlags:\n", synopsis)
		f.PrintDefaults()
	}
	f.StringVar(&f.config, "config", "", "config file (default: $GATEHOUSE_CONFIG, else ./config/config.toml if present)")
	f.StringVar(&f.db, "db", "", "database: a SQLite path or a postgres:// DSN (overrides the config)")
	return f
}

func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected arguments: %s\n", strings.Join(f.Args(), " "))
		f.Usage()
		return errUsage
	}
	return nil
}

// loadConfig reads the config and applies the shared flags.
func (e *env) loadConfig(f *flags, apply func(*config.Config)) (config.Config, error) {
	cfg, _, err := config.Load(f.config, e.getenv)
	if err != nil {
		return cfg, err
	}
	if f.db != "" {
		cfg.Database.DSN = f.db
		if config.IsPostgresURL(f.db) {
			cfg.Database.Driver = config.DriverPostgres
		} else {
			cfg.Database.Driver = config.DriverSQLite
		}
	}
	if apply != nil {
		apply(&cfg)
	}
	return cfg, cfg.Validate()
}

func (e *env) logger(cfg config.Config) (*slog.Logger, error) {
	return logging.New(e.stderr, cfg.Log.Format, cfg.Log.Level)
}

func (e *env) serve(args []string) error {
	f := e.newFlags("serve", "serve [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]")
	listen := f.String("listen", "", "address to listen on, e.g. 127.0.0.1:8080 (overrides the config)")
	noMigrate := f.Bool("no-migrate", false, "do not migrate the schema at start (run `gatehouse migrate` first)")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(f, func(c *config.Config) {
		if *listen != "" {
			c.Server.Listen = *listen
		}
		if *noMigrate {
			c.Database.AutoMigrate = false
		}
	})
	if err != nil {
		return err
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	a, err := app.New(e.ctx, cfg, log, app.Options{Migrate: cfg.Database.AutoMigrate, Dashboard: dashboardFactory})
	if err != nil {
		return err
	}
	defer a.Close()
	if !cfg.Database.AutoMigrate {
		if err := a.DB.CheckSchema(e.ctx); err != nil {
			return err
		}
	}
	pw, err := a.Auth.EnsureAdmin(e.ctx)
	if err != nil {
		return err
	}
	if pw != "" {
		// Shown once: the database keeps only its hash.
		log.Warn("created the first admin; sign in and change this password", "username", "admin", "password", pw)
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "db", cfg.Database.Driver, "version", version)
	srv := server.HTTPServer(cfg.Server, a.Handler, log)
	return server.Serve(e.ctx, srv, ln, cfg.Server.ShutdownGrace.Duration, log)
}

func (e *env) migrate(args []string) error {
	f := e.newFlags("migrate", "migrate [--config FILE] [--db PATH_OR_DSN]")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(f, nil)
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

func (e *env) user(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, "Usage: gatehouse user create --username NAME [--role admin|user] --password-stdin\n")
		return errUsage
	}
	switch args[0] {
	case "create":
		return e.userCreate(args[1:])
	}
	fmt.Fprintf(e.stderr, "gatehouse user: unknown command %q (want create)\n", args[0])
	return errUsage
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

func (e *env) userCreate(args []string) error {
	f := e.newFlags("user create", "user create [--config FILE] [--db PATH_OR_DSN] --username NAME [--role admin|user] --password-stdin")
	username := f.String("username", "", "the new user's username")
	role := f.String("role", "user", "admin or user")
	stdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := f.parse(args); err != nil {
		return err
	}
	if *username == "" || !*stdin {
		fmt.Fprintln(e.stderr, "--username and --password-stdin are required")
		f.Usage()
		return errUsage
	}
	r := user.Role(strings.ToUpper(*role))
	if user.RoleValidator(r) != nil {
		return fmt.Errorf("--role must be admin or user, not %q", *role)
	}
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	cfg, err := e.loadConfig(f, nil)
	if err != nil {
		return err
	}
	log, err := e.logger(cfg)
	if err != nil {
		return err
	}
	a, err := app.New(e.ctx, cfg, log, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	// The operator at the console acts with full rights.
	u, err := a.Service.CreateUser(viewer.System(e.ctx), service.CreateUserInput{Username: *username, Password: pw, Role: &r})
	if err != nil {
		if ae := service.Classify(e.ctx, err); ae != nil {
			return ae
		}
		return err
	}
	fmt.Fprintf(e.stdout, "created %s %q (id %d)\n", strings.ToLower(string(u.Role)), u.Username, u.ID)
	return nil
}
