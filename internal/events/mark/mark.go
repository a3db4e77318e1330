// Package mark holds the context marker that lets the event log prune
// its own table. The ent schema of Event checks it; only internal/events
// sets it (a test keeps every other package from importing this one).
package mark

import "context"

type pruneKey struct{}

// Prune returns ctx allowed to delete events.
func Prune(ctx context.Context) context.Context {
	return context.WithValue(ctx, pruneKey{}, true)
}

// Pruning reports whether ctx came from Prune.
func Pruning(ctx context.Context) bool {
	ok, _ := ctx.Value(pruneKey{}).(bool)
	return ok
}
