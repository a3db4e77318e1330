// Command gatehouse is the Gatehouse server and its administration tool.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `gatehouse: sells and checks access to an app's features.

Usage:
  gatehouse serve        [--config FILE] [--listen ADDR] [--db PATH_OR_DSN] [--no-migrate]
  gatehouse migrate      [--config FILE] [--db PATH_OR_DSN]
  gatehouse user create  [--config FILE] [--db PATH_OR_DSN] --username NAME [--role admin|user] --password-stdin
  gatehouse version

Run "gatehouse COMMAND --help" for a command's flags.
`

// env is what a command runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = e.serve(args[1:])
	case "migrate":
		err = e.migrate(args[1:])
	case "user":
		err = e.user(args[1:])
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		if err == errHelp {
			return 0
		}
		fmt.Fprintf(stderr, "gatehouse %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
