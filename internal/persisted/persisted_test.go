package persisted_test

import (
	"context"
	"sync"
	"testing"

	"gatehouse/ent/persistedquery"
	"gatehouse/graph/generated"
	"gatehouse/internal/persisted"
	"gatehouse/internal/testdb"
	"gatehouse/internal/viewer"
)

// Deploy steps registering the same document at once (replicas starting
// together, say) all succeed, one of them registers it, and the database
// holds it once.
func TestAddAtOnce(t *testing.T) {
	d := testdb.Open(t)
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	reg := persisted.NewRegistry(d.Ent)
	const n = 8
	var wg sync.WaitGroup
	added := make([]persisted.Added, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { added[i], errs[i] = reg.Add(context.Background(), s, "query Me { me { id } }") })
	}
	wg.Wait()
	news := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("add %d: %v", i, errs[i])
		}
		if added[i].New {
			news++
		}
	}
	if news != 1 {
		t.Errorf("%d adds say they registered it, want 1", news)
	}
	if c := d.Ent.PersistedQuery.Query().Where(persistedquery.Hash(persisted.Hash("query Me { me { id } }"))).CountX(viewer.System(context.Background())); c != 1 {
		t.Errorf("%d rows, want 1", c)
	}
}

// The automatic persisted queries' store is bounded: a client sending new
// documents pushes the oldest out.
func TestCacheIsBounded(t *testing.T) {
	d := testdb.Open(t)
	c := persisted.NewCache(persisted.NewRegistry(d.Ent), false)
	ctx := context.Background()
	first := persisted.Hash("q0")
	c.Add(ctx, first, "q0")
	if _, ok := c.Get(ctx, first); !ok {
		t.Fatal("a document just sent is not kept")
	}
	for i := 1; i <= 1000; i++ {
		q := "q" + string(rune('a'+i%26)) + string(rune(i))
		c.Add(ctx, persisted.Hash(q), q)
	}
	if _, ok := c.Get(ctx, first); ok {
		t.Fatal("the oldest of 1,001 documents is still kept")
	}
	// With only registered documents, clients keep nothing.
	only := persisted.NewCache(persisted.NewRegistry(d.Ent), true)
	only.Add(ctx, first, "q0")
	if _, ok := only.Get(ctx, first); ok {
		t.Fatal("a client registered a document on a persisted-only server")
	}
}
