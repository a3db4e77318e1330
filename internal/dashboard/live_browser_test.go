package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/service"
)

// clientPage is a client app's page on another origin: it signs in with
// fetch, reads me, and listens to accessChanged over a graphql-ws
// WebSocket, with a client small enough to write here. Each function
// returns a promise the test awaits (no polling).
const clientPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>client</title></head><body>
<script>
const api = new URLSearchParams(location.search).get("api");
let token = "", events = [], waiting = [];
async function gql(query, variables) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers["Authorization"] = "Bearer " + token;
  const r = await fetch(api + "/graphql", {method: "POST", headers, body: JSON.stringify({query, variables})});
  return r.json();
}
async function signIn(username, password) {
  try {
    const l = await gql("mutation($u:String!,$p:String!){login(input:{username:$u,password:$p}){token}}", {u: username, p: password});
    token = l.data.login.token;
    const me = await gql("{ me { username } }");
    return "me: " + me.data.me.username;
  } catch (e) {
    return "refused: " + e.name;
  }
}
function pushEvent(e) {
  events.push(e);
  waiting = waiting.filter(w => {
    if (w.n > events.length) return true;
    w.resolve(JSON.stringify(events[w.n - 1]));
    return false;
  });
}
function event(n) {
  if (events.length >= n) return Promise.resolve(JSON.stringify(events[n - 1]));
  return new Promise(resolve => waiting.push({n, resolve}));
}
function listen(withToken) {
  return new Promise(resolve => {
    const ws = new WebSocket(api.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
    ws.onerror = () => resolve("websocket refused");
    ws.onopen = () => ws.send(JSON.stringify({type: "connection_init", payload: {Authorization: "Bearer " + withToken}}));
    ws.onmessage = m => {
      const msg = JSON.parse(m.data);
      if (msg.type === "connection_ack") {
        ws.send(JSON.stringify({id: "1", type: "subscribe", payload: {query: "subscription { accessChanged { reason activeFeatures { key } } }"}}));
        resolve("listening");
      } else if (msg.type === "ping") {
        ws.send(JSON.stringify({type: "pong"}));
      } else if (msg.type === "next") {
        pushEvent(msg.payload.data ? msg.payload.data.accessChanged : msg.payload);
      }
    };
  });
}
</script></body></html>`

// servePage serves clientPage from a server of its own (its own origin).
func servePage(t *testing.T) *httptest.Server {
	t.Helper()
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(clientPage))
	}))
	t.Cleanup(ps.Close)
	return ps
}

// TestBrowserClientOnAnotherOrigin: a page from an origin in
// server.cors_origins signs in with fetch, reads me and receives
// accessChanged over a WebSocket, in Chromium; the same page from an
// origin not listed can neither fetch nor open the WebSocket.
func TestBrowserClientOnAnotherOrigin(t *testing.T) {
	t.Parallel()
	allowed, other := servePage(t), servePage(t)
	s := apptest.Start(t, func(c *config.Config) { c.Server.CORSOrigins = []string{allowed.URL} }, app.Options{})
	u := s.CreateUser("alice", userPW, user.RoleUSER)
	if _, err := s.App.Service.CreateFeature(sys(), service.CreateFeatureInput{Key: "export", Name: "Export", Kind: feature.KindSWITCH}); err != nil {
		t.Fatal(err)
	}
	pro, err := s.App.Service.CreatePackage(sys(), service.CreatePackageInput{Name: "pro", Days: 30,
		Contents: []*service.PackageContentInput{{Name: "Export", FeatureKey: "export"}}})
	if err != nil {
		t.Fatal(err)
	}

	page := "/?api=" + url.QueryEscape(s.URL)
	b := newTab(t, allowed.URL, 800, 600)
	b.open(page, 200)
	eval := func(b *tab, expr string) string {
		t.Helper()
		var out string
		b.step(expr, func(ctx context.Context) error {
			var err error
			out, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
			return err
		})
		return out
	}
	if got := eval(b, fmt.Sprintf("signIn(%q, %q)", "alice", userPW)); got != "me: alice" {
		t.Fatalf("sign in from an allowed origin: %s", got)
	}
	if got := eval(b, "listen(token)"); got != "listening" {
		t.Fatalf("WebSocket from an allowed origin: %s", got)
	}
	if got := eval(b, "event(1)"); !strings.Contains(got, `"reason":"subscribed"`) {
		t.Fatalf("first event: %s", got)
	}
	if _, err := s.App.Service.AssignPackage(sys(), service.AssignPackageInput{UserID: u.ID, PackageID: pro.ID}); err != nil {
		t.Fatal(err)
	}
	if got := eval(b, "event(2)"); !strings.Contains(got, `"activeFeatures":[{"key":"export"}]`) {
		t.Fatalf("after assigning: %s", got)
	}

	// The same page from an origin not listed.
	o := newTab(t, other.URL, 800, 600)
	o.open(page, 200)
	if got := eval(o, fmt.Sprintf("signIn(%q, %q)", "alice", userPW)); got != "refused: TypeError" {
		t.Fatalf("sign in from another origin: %s", got)
	}
	// Even with a good token, its WebSocket is refused.
	token := s.Login("alice", userPW)
	if got := eval(o, fmt.Sprintf("listen(%q)", token)); got != "websocket refused" {
		t.Fatalf("WebSocket from another origin: %s", got)
	}
}

// TestDashboardCookieIsNoUseOnGraphQL: the dashboard's session cookie of
// a signed-in admin does not sign anyone in on /graphql.
func TestDashboardCookieIsNoUseOnGraphQL(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.CreateUser("root", adminPW, user.RoleADMIN)
	b := signIn(t, s, "root", adminPW)
	u, _ := url.Parse(s.URL)
	if len(b.c.Jar.Cookies(u)) == 0 {
		t.Fatal("no dashboard cookie after signing in")
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ me { username } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.URL)
	p := b.do(req)
	if !strings.Contains(p.Body, `"UNAUTHENTICATED"`) {
		t.Fatalf("me with the dashboard's cookie: %d %s", p.Status, p.Body)
	}
}
