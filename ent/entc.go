//go:build ignore

// entc.go generates the ent client and graph/ent.graphql from ent/schema.
// Run through `go generate ./...` at the repository root.
package main

import (
	"fmt"
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("graph/ent.graphql"),
		entgql.WithConfigPath("gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(requireAuthOnNode),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	opts := []entc.Option{
		entc.Extensions(ex),
		entc.FeatureNames(
			"privacy",
			"entql",
			"intercept",
			"namedges",
			"sql/globalid",
			"sql/upsert",
			"sql/lock",
			"sql/execquery",
		),
		entc.TemplateDir("./ent/template"),
	}
	if err := entc.Generate("./ent/schema", &gen.Config{Target: "./ent", Package: "gatehouse/ent"}, opts...); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// requireAuthOnNode puts @auth on the generated node and nodes fields: only a
// signed-in user may look anything up by id (privacy rules then decide what).
func requireAuthOnNode(_ *gen.Graph, s *ast.Schema) error {
	q, ok := s.Types["Query"]
	if !ok {
		return fmt.Errorf("no Query type in the generated schema")
	}
	for _, name := range []string{"node", "nodes"} {
		f := q.Fields.ForName(name)
		if f == nil {
			return fmt.Errorf("no Query.%s in the generated schema", name)
		}
		f.Directives = append(f.Directives, &ast.Directive{Name: "auth"})
	}
	return nil
}
