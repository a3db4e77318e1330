// Package graph is Gatehouse's GraphQL API: the hand-written schema beside
// the generated ent.graphql, thin resolvers over internal/auth and
// internal/service, the @auth/@hasRole directives, the error presenter and
// the handler with its limits.
package graph

import (
	"gatehouse/ent"
	"gatehouse/internal/auth"
	"gatehouse/internal/live"
	"gatehouse/internal/service"
	"gatehouse/internal/signing"
)

// Resolver is the root resolver: what every resolver may call.
type Resolver struct {
	Client  *ent.Client
	Auth    *auth.Service
	Service *service.Service
	// Signer signs entitlement tokens (nil: the API answers that it
	// cannot).
	Signer *signing.Signer
	// Live holds the accessChanged subscriptions (nil: none are served).
	Live *live.Hub
}
