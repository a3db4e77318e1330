package graph_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"gatehouse/ent/user"
	"gatehouse/graph/generated"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// `me` reads only the columns its selection needs. Each field of each
// type in its tree, asked alone (with the ids that order lists), answers
// as an admin reading the same user through user(id:) sees it, which
// reads every column: a field whose column `me` left out would answer a
// zero value. New fields are covered as they are added to the schema.
func TestMeReadsTheColumnsEachFieldNeeds(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	seedFeatures(t, s.App.Service)
	s.CreateUser("root", adminPW, user.RoleADMIN)
	aliceTok, alice := seedVaried(t, s, "alice")
	admin := s.Login("root", adminPW)

	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	// Where each type sits under a User, the field's selection in %s.
	paths := map[string]string{
		"UserPackage":    `packages { id %s }`,
		"Package":        `packages { id package { id %s } }`,
		"PackageContent": `packages { id package { id contents { id %s } } }`,
		"Feature":        `packages { id package { id contents { id feature { id %s } } } }`,
		"UserSession":    `sessions { id %s }`,
	}
	skip := map[string]bool{
		"UserSession.current":  true, // whose request it is: differs for the admin
		"Package.userPackages": true, // admins only
	}
	selections := []string{`activeFeatures { key name kind limit expiresAt inGrace }`}
	for typ, path := range paths {
		def := schema.Types[typ]
		if def == nil {
			t.Fatalf("no type %s in the schema", typ)
		}
		for _, f := range def.Fields {
			if skip[typ+"."+f.Name] || strings.HasPrefix(f.Name, "__") {
				continue
			}
			sel := f.Name
			if k := schema.Types[f.Type.Name()].Kind; k == ast.Object || k == ast.Interface {
				sel += " { id }"
			}
			selections = append(selections, strings.Replace(path, "%s", sel, 1))
		}
	}
	if len(selections) < 40 {
		t.Fatalf("only %d selections: the schema's fields were not found", len(selections))
	}
	for _, sel := range selections {
		var got struct{ Me json.RawMessage }
		s.MustDo(aliceTok, `{ me { `+sel+` } }`, nil).Decode(t, &got)
		var want struct{ User json.RawMessage }
		s.MustDo(admin, `query($id: ID!) { user(id: $id) { `+sel+` } }`, map[string]any{"id": id(alice.ID)}).Decode(t, &want)
		if g, w := canonical(t, got.Me), canonical(t, want.User); g != w {
			t.Errorf("me { %s } answers\n%s\nan admin reading the same user answers\n%s", sel, g, w)
		}
	}
}
