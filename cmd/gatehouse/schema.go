package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"gatehouse/graph/generated"
)

const schemaUsage = `Usage:
  gatehouse schema print [--out FILE]

Prints the GraphQL schema (SDL) for client code generators. Run "gatehouse schema print --help" for details.
`

func (e *env) schema(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, schemaUsage)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, schemaUsage)
		return nil
	case "print":
		return &cmdError{cmd: "schema print", err: e.schemaPrint(args[1:])}
	}
	fmt.Fprintf(e.stderr, "gatehouse schema: unknown command %q\n\n%s", args[0], schemaUsage)
	return errUsage
}

func (e *env) schemaPrint(args []string) error {
	f := e.newFlags("schema print", "schema print [--out FILE]",
		"Prints the GraphQL schema this binary serves at /graphql, as SDL: the\ngenerated and the hand-written parts merged, with descriptions and\ndirectives, without GraphQL's built-in types. Client code generators\n(graphql-codegen, Apollo iOS/Kotlin) read it without a running server:\n  gatehouse schema print > schema.graphql", false)
	out := f.String("out", "", "write the schema to FILE instead of standard output")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	sdl := SchemaSDL()
	if *out == "" {
		_, err := e.stdout.Write(sdl)
		return err
	}
	return writeFileAtomic(*out, sdl)
}

// SchemaSDL is the schema the server executes, formatted as SDL.
func SchemaSDL() []byte {
	return formatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
}

func formatSchema(s *ast.Schema) []byte {
	var b bytes.Buffer
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(s)
	return b.Bytes()
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so a reader never sees half a schema.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".schema-*.graphql")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
