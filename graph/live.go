package graph

import "gatehouse/internal/apperr"

// errNoLive answers a subscription on a server assembled without a hub.
var errNoLive = apperr.New(apperr.Internal, "live updates are not served here")
