// Package persisted keeps the GraphQL documents a deployment registers
// (`gatehouse queries add`) in the database, by their SHA-256, so that
// every replica knows them: clients then send the hash alone (Apollo's
// automatic persisted queries), and with [graphql] persisted_only the
// server runs nothing else.
package persisted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"gatehouse/ent"
	"gatehouse/ent/persistedquery"
	"gatehouse/ent/schema"
	"gatehouse/internal/viewer"
)

// Hash is a document's id: the lowercase hex SHA-256 of its exact text.
func Hash(query string) string {
	b := sha256.Sum256([]byte(query))
	return hex.EncodeToString(b[:])
}

// Registry is the registered documents in the database.
type Registry struct {
	client *ent.Client
}

// NewRegistry returns the documents registered in client's database.
func NewRegistry(client *ent.Client) *Registry { return &Registry{client: client} }

// Lookup returns the document registered under hash.
func (r *Registry) Lookup(ctx context.Context, hash string) (string, bool, error) {
	q, err := r.client.PersistedQuery.Query().Where(persistedquery.Hash(hash)).Only(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return q.Query, true, nil
}

// Check parses and validates a document against the schema: the errors,
// with their lines, or nil.
func Check(s *ast.Schema, query string) gqlerror.List {
	_, errs := load(s, query)
	return errs
}

// load parses and validates a document against the schema.
func load(s *ast.Schema, query string) (*ast.QueryDocument, gqlerror.List) {
	if len(query) > schema.PersistedQueryMaxLen {
		return nil, gqlerror.List{gqlerror.Errorf("the document is longer than %d bytes", schema.PersistedQueryMaxLen)}
	}
	doc, errs := gqlparser.LoadQuery(s, query)
	if len(errs) > 0 {
		return nil, errs
	}
	if len(doc.Operations) == 0 {
		return nil, gqlerror.List{gqlerror.Errorf("the document has no operation")}
	}
	return doc, nil
}

// Added is one document registered by Add.
type Added struct {
	Hash string
	Name string
	// New is false when the document was registered already.
	New bool
}

// Add registers a document (checked against s first); registering it
// again changes nothing.
func (r *Registry) Add(ctx context.Context, s *ast.Schema, query string) (Added, error) {
	doc, errs := load(s, query)
	if len(errs) > 0 {
		return Added{}, errs
	}
	var names []string
	for _, op := range doc.Operations {
		n := op.Name
		if n == "" {
			n = "(unnamed " + string(op.Operation) + ")"
		}
		names = append(names, n)
	}
	name := strings.Join(names, ", ")
	if len(name) > schema.PersistedQueryNameMaxLen {
		name = name[:schema.PersistedQueryNameMaxLen]
	}
	a := Added{Hash: Hash(query), Name: name}
	sys := viewer.System(ctx)
	exists, err := r.client.PersistedQuery.Query().Where(persistedquery.Hash(a.Hash)).Exist(sys)
	if err != nil || exists {
		return a, err
	}
	err = r.client.PersistedQuery.Create().SetHash(a.Hash).SetQuery(query).SetName(name).Exec(sys)
	if ent.IsConstraintError(err) {
		// Registered meanwhile (another deploy step): the same text.
		return a, nil
	}
	a.New = err == nil
	return a, err
}

// List returns the registered documents, oldest first.
func (r *Registry) List(ctx context.Context) ([]*ent.PersistedQuery, error) {
	return r.client.PersistedQuery.Query().Order(ent.Asc(persistedquery.FieldID)).All(viewer.System(ctx))
}

// Remove unregisters the document with hash; false when there was none.
func (r *Registry) Remove(ctx context.Context, hash string) (bool, error) {
	n, err := r.client.PersistedQuery.Delete().Where(persistedquery.Hash(hash)).Exec(viewer.System(ctx))
	return n > 0, err
}

// Cache is the automatic persisted queries' store (gqlgen's
// extension.AutomaticPersistedQuery): documents clients sent with their
// hash, in memory and bounded, and behind them the registered ones. With
// onlyRegistered, clients register nothing: only the registry answers.
type Cache struct {
	reg            *Registry
	onlyRegistered bool
	auto           *lru.LRU[string]
	known          *lru.LRU[string]
}

// Bounds of the cache.
const (
	autoEntries  = 1000
	knownEntries = 1000
)

var _ graphql.Cache[string] = (*Cache)(nil)

// NewCache returns the store over reg.
func NewCache(reg *Registry, onlyRegistered bool) *Cache {
	return &Cache{reg: reg, onlyRegistered: onlyRegistered, auto: lru.New[string](autoEntries), known: lru.New[string](knownEntries)}
}

// Get finds a document by hash: one a client sent (unless only registered
// ones count), else a registered one.
func (c *Cache) Get(ctx context.Context, hash string) (string, bool) {
	if !c.onlyRegistered {
		if q, ok := c.auto.Get(ctx, hash); ok {
			return q, true
		}
	}
	return c.registered(ctx, hash)
}

// Add keeps a document a client sent with its (checked) hash, unless only
// registered documents count.
func (c *Cache) Add(ctx context.Context, hash, query string) {
	if !c.onlyRegistered {
		c.auto.Add(ctx, hash, query)
	}
}

// Registered reports whether query is a registered document.
func (c *Cache) Registered(ctx context.Context, query string) bool {
	q, ok := c.registered(ctx, Hash(query))
	return ok && q == query
}

// registered finds a registered document by hash: one found before, else
// from the registry (then kept). An unknown hash costs one lookup by a
// unique index, as any request does; nothing remembers misses, so a query
// registered a moment ago is found at once.
func (c *Cache) registered(ctx context.Context, hash string) (string, bool) {
	if q, ok := c.known.Get(ctx, hash); ok {
		return q, true
	}
	if len(hash) != 64 {
		return "", false
	}
	q, ok, err := c.reg.Lookup(ctx, hash)
	if err != nil || !ok {
		return "", false
	}
	c.known.Add(ctx, hash, q)
	return q, true
}

// CodeRequired is the error code of a document that is not registered
// when only registered ones run.
const CodeRequired = "PERSISTED_QUERY_REQUIRED"

// Only is the handler extension that, with [graphql] persisted_only,
// refuses every document that is not registered. It runs after the
// automatic persisted queries' extension has found a hash's document.
type Only struct{ Cache *Cache }

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = Only{}

// ExtensionName names the extension.
func (Only) ExtensionName() string { return "PersistedOnly" }

// Validate checks the extension's settings.
func (o Only) Validate(graphql.ExecutableSchema) error {
	if o.Cache == nil {
		return errors.New("persisted.Only needs a Cache")
	}
	return nil
}

// MutateOperationParameters refuses a document that is not registered.
func (o Only) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query != "" && o.Cache.Registered(ctx, p.Query) {
		return nil
	}
	err := gqlerror.Errorf("this server runs registered (persisted) queries only: send a registered query's hash in extensions.persistedQuery")
	err.Extensions = map[string]any{"code": CodeRequired}
	return err
}
