// Package viewer carries who is making a request through a context.
//
// It imports nothing else of Gatehouse so that the ent
// schema's privacy rules, the API and the dashboard can all read it.
package viewer

import (
	"context"

	"entgo.io/ent/privacy"
)

// Roles, spelled as the schema's role enum spells them.
const (
	RoleAdmin = "ADMIN"
	RoleUser  = "USER"
)

// Viewer is a signed-in, enabled user.
type Viewer struct {
	UserID int
	Role   string
	// SessionID is the API session the request authenticated with; 0 for a
	// dashboard cookie session.
	SessionID int
	// Username is the user's name when the viewer was made ("" when not
	// known: the event log then reads it).
	Username string
}

// IsAdmin reports whether v may administer everything.
func (v *Viewer) IsAdmin() bool { return v != nil && v.Role == RoleAdmin }

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil for an anonymous request.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// System returns ctx allowed past every privacy rule. Only the few
// operations that must act beyond the viewer's own rights use it (signing
// in, checking a token, bootstrapping the first admin, a user changing their
// own password); each says why at the call.
func System(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}
