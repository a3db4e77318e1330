package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"gatehouse/internal/auth"
	"gatehouse/internal/logging"
	"gatehouse/internal/viewer"
)

// The transports of subscriptions (accessChanged): graphql-ws over
// WebSocket and SSE, gqlgen's own, set up for Gatehouse.

// wsInitTimeout is how long a WebSocket may stay open before its
// connection_init.
const wsInitTimeout = 10 * time.Second

// websocketTransport speaks graphql-transport-ws and the older graphql-ws.
// The bearer token comes in the connection_init payload
// ({"Authorization": "Bearer …"}), or for clients that can send one, in
// the upgrade request's Authorization header. A connection without a
// good one is closed at once (4403, the reason starting UNAUTHENTICATED):
// no socket stays open for nobody. Origins are checked before the
// upgrade, by the server (internal/server), against server.cors_origins:
// coder/websocket's own check (host patterns) is off.
func websocketTransport(a *auth.Service, keepalive time.Duration) transport.Websocket {
	refuse := func(ctx context.Context, msg string) (context.Context, *transport.InitPayload, error) {
		ctx = transport.WithWebsocketCloseCode(ctx, wsCloseForbidden)
		return transport.AppendCloseReason(ctx, "UNAUTHENTICATED"), nil, errors.New("UNAUTHENTICATED: " + msg)
	}
	return transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{InsecureSkipVerify: true},
		},
		InitTimeout:           wsInitTimeout,
		KeepAlivePingInterval: keepalive,
		PingPongInterval:      keepalive,
		MissingPongOk:         true,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			h := p.Authorization()
			if h == "" {
				if viewer.FromContext(ctx) != nil {
					return ctx, nil, nil // the upgrade request's header
				}
				return refuse(ctx, `send {"Authorization": "Bearer <token>"} in connection_init`)
			}
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || a == nil {
				return refuse(ctx, `the Authorization value must be "Bearer <token>"`)
			}
			v, u, err := a.AuthenticateUser(ctx, strings.TrimSpace(token))
			switch {
			case err == nil, v != nil && errors.Is(err, auth.ErrTouch):
			case errors.Is(err, auth.ErrInvalidToken):
				return refuse(ctx, "the token is not valid (expired or revoked); sign in again")
			default:
				return ctx, nil, errors.New("could not check the session; try again")
			}
			logging.Info(ctx).SetViewer(v.UserID)
			return auth.WithUser(viewer.NewContext(ctx, v), u), nil, nil
		},
	}
}

// wsCloseForbidden is the close code graphql-transport-ws servers refuse
// a connection_init with.
const wsCloseForbidden = 4403

// sseTransport is gqlgen's SSE transport (POST with Accept:
// text/event-stream and a JSON body; the Authorization header as for any
// request) for a stream that outlives the server's write timeout, and
// without gqlgen's logging of a body it cannot decode (which could hold
// a password).
type sseTransport struct{ transport.SSE }

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "could not read the request body")
		return
	}
	if !json.Valid(body) {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "the body must be a JSON object {\"query\", \"variables\", …}")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	t.SSE.Do(flushWriter{w, rc}, r, exec)
}

// flushWriter flushes through whatever wraps the connection (the
// server's middleware wraps the ResponseWriter; gqlgen asks for an
// http.Flusher).
type flushWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w flushWriter) Flush() { _ = w.rc.Flush() }

func (w flushWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
