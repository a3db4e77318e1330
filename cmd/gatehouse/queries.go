package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/graph/generated"
	"gatehouse/internal/persisted"
)

const queriesUsage = `Usage:
  gatehouse queries add     [--config FILE] [--db PATH_OR_DSN] FILE...
  gatehouse queries list    [--config FILE] [--db PATH_OR_DSN]
  gatehouse queries remove  [--config FILE] [--db PATH_OR_DSN] HASH

Registers the GraphQL documents clients may send by their SHA-256 hash
(persisted queries), in the database, so that every replica knows them; with
graphql.persisted_only only these run.
`

func (e *env) queries(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, queriesUsage)
		return errUsage
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, queriesUsage)
		return nil
	case "add":
		err = e.queriesAdd(args[1:])
	case "list":
		err = e.queriesList(args[1:])
	case "remove":
		err = e.queriesRemove(args[1:])
	default:
		fmt.Fprintf(e.stderr, "gatehouse queries: unknown command %q\n\n%s", args[0], queriesUsage)
		return errUsage
	}
	return &cmdError{cmd: "queries " + args[0], err: err}
}

// maxQueryFile bounds a document file, maxQueryFiles the files of one add.
const (
	maxQueryFile  = 1 << 20
	maxQueryFiles = 10000
)

func (e *env) queriesAdd(args []string) error {
	f := e.newFlags("queries add", "queries add [--config FILE] [--db PATH_OR_DSN] FILE...",
		"Registers each file as one persisted query: its exact text, checked against\nthe schema, under the SHA-256 of that text (the hash clients send). A file\nregistered already is left as it is. Nothing is registered if a file fails.", true)
	files, err := f.parse(args, 1, maxQueryFiles)
	if err != nil {
		return err
	}
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	texts := make([]string, len(files))
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if len(b) > maxQueryFile {
			return fmt.Errorf("%s: larger than %d bytes", name, maxQueryFile)
		}
		if errs := persisted.Check(s, string(b)); len(errs) > 0 {
			var lines []string
			for _, e := range errs {
				line := 0
				if len(e.Locations) > 0 {
					line = e.Locations[0].Line
				}
				lines = append(lines, fmt.Sprintf("%s:%d: %s", name, line, e.Message))
			}
			return fmt.Errorf("%s", strings.Join(lines, "\n"))
		}
		texts[i] = string(b)
	}
	a, err := e.openApp(f, false)
	if err != nil {
		return err
	}
	defer a.Close()
	reg := persisted.NewRegistry(a.DB.Ent)
	for i, text := range texts {
		added, err := reg.Add(e.ctx, s, text)
		if err != nil {
			return fmt.Errorf("%s: %w", files[i], err)
		}
		state := "added"
		if !added.New {
			state = "already registered"
		}
		fmt.Fprintf(e.stdout, "%s  %s  %s (%s)\n", added.Hash, files[i], added.Name, state)
	}
	return nil
}

func (e *env) queriesList(args []string) error {
	f := e.newFlags("queries list", "queries list [--config FILE] [--db PATH_OR_DSN]",
		"Lists the registered persisted queries: hash, operations, when registered.", true)
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	a, err := e.openApp(f, false)
	if err != nil {
		return err
	}
	defer a.Close()
	qs, err := persisted.NewRegistry(a.DB.Ent).List(e.ctx)
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		fmt.Fprintln(e.stdout, "no persisted queries")
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HASH\tOPERATIONS\tREGISTERED")
	for _, q := range qs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", q.Hash, q.Name, q.CreatedAt.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}

func (e *env) queriesRemove(args []string) error {
	f := e.newFlags("queries remove", "queries remove [--config FILE] [--db PATH_OR_DSN] HASH",
		"Unregisters a persisted query. Replicas that ran it lately may keep running\nit until they restart.", true)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	a, err := e.openApp(f, false)
	if err != nil {
		return err
	}
	defer a.Close()
	ok, err := persisted.NewRegistry(a.DB.Ent).Remove(e.ctx, pos[0])
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no persisted query has the hash %q", pos[0])
	}
	fmt.Fprintf(e.stdout, "removed %s\n", pos[0])
	return nil
}
