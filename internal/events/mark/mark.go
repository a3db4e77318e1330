// Package mark holds the context markers that let the event log write its
// own table: one for recording an event, one for pruning old ones. The ent
// schema of Event checks them; only internal/events sets them (a test
// keeps every other package from importing this one).
package mark

import "context"

type recordKey struct{}

type pruneKey struct{}

// Record returns ctx allowed to create events.
func Record(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordKey{}, true)
}

// Prune returns ctx allowed to delete events.
func Prune(ctx context.Context) context.Context {
	return context.WithValue(ctx, pruneKey{}, true)
}

// Recording reports whether ctx came from Record.
func Recording(ctx context.Context) bool {
	ok, _ := ctx.Value(recordKey{}).(bool)
	return ok
}

// Pruning reports whether ctx came from Prune.
func Pruning(ctx context.Context) bool {
	ok, _ := ctx.Value(pruneKey{}).(bool)
	return ok
}
