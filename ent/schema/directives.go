package schema

import (
	"entgo.io/contrib/entgql"
	"github.com/vektah/gqlparser/v2/ast"
)

// adminOnly is the @hasRole(role: ADMIN) directive on a generated field.
func adminOnly() entgql.Directive {
	return entgql.NewDirective("hasRole", &ast.Argument{
		Name:  "role",
		Value: &ast.Value{Raw: "ADMIN", Kind: ast.EnumValue},
	})
}
