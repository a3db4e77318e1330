package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"gatehouse/graph/generated"
)

// TestDepthWalksEachFragmentOnce: 40 fragments that each spread the next
// twice are 2^40 paths; the depth limit measures each fragment once.
func TestDepthWalksEachFragmentOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("{me{...F0}}")
	for i := 0; i < 39; i++ {
		fmt.Fprintf(&b, " fragment F%d on User{id ...F%d sessions{...G} ...F%d}", i, i+1, i+1)
	}
	b.WriteString(" fragment F39 on User{id} fragment G on UserSession{user{id}}")
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	doc, err := gqlparser.LoadQueryWithRules(schema, b.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := (&depthWalker{}).depth(doc.Operations[0].SelectionSet); d != 4 {
		t.Fatalf("depth %d, want 4 (me, sessions, user, id)", d)
	}
}
