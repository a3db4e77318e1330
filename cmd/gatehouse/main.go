// Command gatehouse is the Gatehouse server and its administration tool.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"gatehouse/internal/app"
	"gatehouse/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first SIGTERM or Ctrl-C starts a graceful shutdown; from then
		// on the default handling is back, so a second one ends the
		// process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `gatehouse: sells and checks access to an app's features.

Usage:
  gatehouse serve         [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]
  gatehouse migrate       [--config FILE] [--db PATH_OR_DSN]
  gatehouse user create   [--config FILE] [--db PATH_OR_DSN] --username NAME [--role admin|user] --password-stdin
  gatehouse user passwd   [--config FILE] [--db PATH_OR_DSN] --username NAME --password-stdin
  gatehouse user disable  [--config FILE] [--db PATH_OR_DSN] --username NAME
  gatehouse user enable   [--config FILE] [--db PATH_OR_DSN] --username NAME
  gatehouse keys list     [--config FILE] [--db PATH_OR_DSN]
  gatehouse keys rotate   [--config FILE] [--db PATH_OR_DSN]
  gatehouse keys retire   [--config FILE] [--db PATH_OR_DSN] [--] KID
  gatehouse queries add   [--config FILE] [--db PATH_OR_DSN] FILE...
  gatehouse queries list  [--config FILE] [--db PATH_OR_DSN]
  gatehouse queries remove [--config FILE] [--db PATH_OR_DSN] HASH
  gatehouse backup        [--config FILE] [--db PATH] FILE
  gatehouse config print  [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]
  gatehouse healthcheck   [--config FILE] [--url URL]
  gatehouse schema print  [--out FILE]
  gatehouse version

The config file is --config, else $GATEHOUSE_CONFIG, else ./config/config.toml
if present, else the built-in defaults; GATEHOUSE_<SECTION>_<KEY> environment
variables override the file and flags override both.

Exit status: 0 on success, 1 when the command failed, 2 for bad usage
(including a database DSN of a kind Gatehouse does not support).
Run "gatehouse COMMAND --help" for a command's flags.
`

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// environ is the environment the configuration is read from.
	environ config.Environ
	// testBcryptCost is set only by tests that run commands in-process:
	// see auth.Config.TestBcryptCost. main never sets it.
	testBcryptCost int
	// testJobs, set only by tests, registers background jobs on the
	// assembled server before serve starts them. main never sets it.
	testJobs func(a *app.App)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, environ: config.OSEnviron()}).run(args)
}

// command is a (sub)command: its name as typed and what it does.
type command struct {
	name string
	run  func(e *env, args []string) error
}

var commands = []command{
	{"serve", (*env).serve},
	{"migrate", (*env).migrate},
	{"user", (*env).user},
	{"keys", (*env).keys},
	{"queries", (*env).queries},
	{"backup", (*env).backup},
	{"config", (*env).config},
	{"healthcheck", (*env).healthcheck},
	{"schema", (*env).schema},
	{"version", (*env).version},
}

func (e *env) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	name := args[0]
	var err error
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(e.stdout, usage)
		return 0
	case "--version", "-version":
		name = "version"
	}
	found := false
	for _, c := range commands {
		if c.name == name {
			found = true
			err = c.run(e, args[1:])
			break
		}
	}
	if !found {
		fmt.Fprintf(e.stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return e.exit(name, err)
}

// exit turns a command's error into its exit status, printing a failure as
// one line that names the command.
func (e *env) exit(name string, err error) int {
	var ce *cmdError
	if errors.As(err, &ce) {
		name, err = ce.cmd, ce.err
	}
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintf(e.stderr, "gatehouse %s: %s\n", name, msg)
	if errors.Is(err, config.ErrDSNScheme) {
		// A database Gatehouse cannot use at all is bad usage.
		return 2
	}
	return 1
}

// cmdError names the subcommand that failed ("user passwd").
type cmdError struct {
	cmd string
	err error
}

func (c *cmdError) Error() string { return c.cmd + ": " + c.err.Error() }
func (c *cmdError) Unwrap() error { return c.err }
