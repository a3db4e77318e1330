package graph

import (
	"time"

	"gatehouse/internal/apperr"
	"gatehouse/internal/signing"
)

// signer is the entitlement token signer, or an error when the server was
// assembled without one.
func (r *Resolver) signer() (*signing.Signer, error) {
	if r.Signer == nil {
		return nil, apperr.New(apperr.Internal, "entitlement tokens are not available on this server")
	}
	return r.Signer, nil
}

// ttlOf is the lifetime a Duration argument asks for (nil: the default).
func ttlOf(d *signing.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	t := time.Duration(*d)
	return &t
}
