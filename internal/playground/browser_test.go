package playground_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// chromiumPath finds Debian's chromium.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// offlineTab opens a browser in which every request to an origin other
// than origin fails, as with the network unplugged; blocked lists the
// requests (and WebSockets) that tried.
func offlineTab(t *testing.T, origin string) (ctx context.Context, blocked func() []string) {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "" {
			t.Skip("chromium is not installed (apt-get install -y chromium); CI installs it")
		}
		t.Fatal("chromium is not installed, and CI must run the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	// Everything the browser does is bounded.
	root, cancelRoot := context.WithTimeout(context.Background(), 2*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelRoot() })

	var mu sync.Mutex
	var tried []string
	record := func(u string) {
		mu.Lock()
		defer mu.Unlock()
		tried = append(tried, u)
	}
	sameOrigin := func(raw string) bool {
		u, err := url.Parse(raw)
		if err != nil {
			return false
		}
		if u.Scheme == "data" {
			return true
		}
		if u.Scheme == "ws" {
			u.Scheme = "http"
		}
		return u.Scheme+"://"+u.Host == origin
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	sockets := chromedp.Events(ctx, network.WebSocketCreated)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatalf("intercept requests: %v", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if sameOrigin(ev.Request.URL) {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			record(ev.Request.URL)
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonInternetDisconnected})
		}
	}()
	go func() {
		for ev, err := range sockets {
			if err != nil {
				return
			}
			if !sameOrigin(ev.URL) {
				record(ev.URL)
			}
		}
	}()
	// Content-Security-Policy violations are recorded by the page itself.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), tried...)
	}
}

// TestBrowserPlayground loads the playground with every other origin
// blocked, signs in through the token field and runs a query and a
// subscription from GraphiQL.
func TestBrowserPlayground(t *testing.T) {
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("ada", "correct horse battery", user.RoleUSER)
	token := s.Login("ada", "correct horse battery")
	ctx, blocked := offlineTab(t, s.URL)

	step := func(t *testing.T, what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, a); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: %v\npage: %s\nblocked: %v", what, err, body, blocked())
		}
	}
	// run opens the playground with query in the editor, types the token,
	// clicks run and returns the response pane's text once it holds want.
	run := func(t *testing.T, query, want string) string {
		t.Helper()
		res, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.URL+"/playground?query="+url.QueryEscape(query)))
		if err != nil || res.Status != 200 {
			t.Fatalf("open the playground: %v %v", err, res)
		}
		csp, _ := res.Headers["Content-Security-Policy"].(string)
		if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "http") {
			t.Fatalf("the playground's CSP: %q", csp)
		}
		step(t, "wait for GraphiQL", chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")))
		step(t, "type the token", chromedp.SendKeys(chromedp.CSS("#token"), token))
		step(t, "run", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
		var out string
		step(t, "read the response", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			var err error
			out, err = chromedp.Poll[string](fmt.Sprintf(`(() => {
				const e = document.querySelector(".graphiql-response");
				return e && e.innerText.includes(%q) ? e.innerText : "";
			})()`, want))(ctx, tg)
			return chromedp.Void{}, err
		})
		violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations`))
		if err != nil || len(violations) > 0 {
			t.Fatalf("CSP violations: %v %v", violations, err)
		}
		return out
	}

	t.Run("query me with the token", func(t *testing.T) {
		got := run(t, "{ me { username } }", `"username": "ada"`)
		if !strings.Contains(got, `"me"`) {
			t.Fatalf("response: %s", got)
		}
	})
	t.Run("subscription over the WebSocket", func(t *testing.T) {
		got := run(t, "subscription { accessChanged { reason activeFeatures { key } } }", `"reason": "subscribed"`)
		if !strings.Contains(got, `"activeFeatures": []`) {
			t.Fatalf("response: %s", got)
		}
	})
	t.Run("panels", func(t *testing.T) {
		run(t, "{ me { username } }", `"username": "ada"`)
		for _, p := range []struct{ button, shows string }{
			{`[aria-label="Show Documentation Explorer"]`, ".graphiql-doc-explorer"},
			{`[aria-label="Show History"]`, ".graphiql-history"},
			{`[aria-label="Open settings dialog"]`, ".graphiql-dialog"},
		} {
			step(t, "open "+p.button, chromedp.Click(chromedp.CSS(p.button)))
			step(t, "see "+p.shows, chromedp.WaitVisible(chromedp.CSS(p.shows)))
			step(t, "close", chromedp.KeyEvent("\x1b"))
		}
		violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations`))
		if err != nil || len(violations) > 0 {
			t.Fatalf("CSP violations: %v %v", violations, err)
		}
	})
	if b := blocked(); len(b) > 0 {
		t.Fatalf("the playground tried other origins: %v", b)
	}
	// The token is kept nowhere the page's storage outlives it, and what
	// GraphiQL keeps is under the playground's own prefix.
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.assign({}, localStorage, sessionStorage)`))
	if err != nil || len(stored) == 0 {
		t.Fatalf("the browser's storage: %v %v", err, stored)
	}
	for k, v := range stored {
		if strings.Contains(k+v, token) || !strings.HasPrefix(k, "gatehouse-playground:") {
			t.Errorf("stored %s = %.200s", k, v)
		}
	}
}
