// Package change holds the shape of an event's changes, apart from the
// event log so that the ent schema can name it without importing ent.
package change

// Redacted is the only value a secret (password, hash, token) ever has in
// an event's changes.
const Redacted = "[redacted]"

// Change is one field's value before and after a change.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// Set maps field names to their changes.
type Set = map[string]Change
