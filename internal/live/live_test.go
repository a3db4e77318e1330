package live_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"gatehouse/ent/feature"
	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/config"
	"gatehouse/internal/events"
	"gatehouse/internal/live"
	"gatehouse/internal/service"
	"gatehouse/internal/viewer"
)

// wait bounds how long a test waits for a message that must come: a
// guard against a hang, not a measure (a message that comes late by the
// issue's second still passes).
const wait = 15 * time.Second

const subscription = `subscription { accessChanged { at reason activeFeatures { key limit inGrace expiresAt } } }`

// message is one graphql-transport-ws message.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// event is one accessChanged answer.
type event struct {
	Data *struct {
		AccessChanged struct {
			At             time.Time
			Reason         string
			ActiveFeatures []struct {
				Key     string
				Limit   *int
				InGrace bool
			}
		}
	}
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
	// Complete: the stream ended.
	Complete bool
}

func (e event) keys() []string {
	var out []string
	if e.Data != nil {
		for _, f := range e.Data.AccessChanged.ActiveFeatures {
			out = append(out, f.Key)
		}
	}
	return out
}

func (e event) code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	c, _ := e.Errors[0].Extensions["code"].(string)
	return c
}

// wsClient is a graphql-transport-ws client with one subscription.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan message
}

// dialWS opens a WebSocket to base's /graphql and sends connection_init
// with the token (none when empty).
func dialWS(t *testing.T, base, token string, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &wsClient{t: t, conn: conn, msgs: make(chan message, 16)}
	t.Cleanup(func() { conn.CloseNow() })
	go func() {
		defer close(c.msgs)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m message
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			if m.Type == "ping" {
				_ = c.send(message{Type: "pong"})
				continue
			}
			c.msgs <- m
		}
	}()
	init := map[string]any{}
	if token != "" {
		init["Authorization"] = "Bearer " + token
	}
	p, _ := json.Marshal(init)
	if err := c.send(message{Type: "connection_init", Payload: p}); err != nil {
		t.Fatal(err)
	}
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v", m)
	}
	return c
}

func (c *wsClient) send(m message) error {
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *wsClient) read() message {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatal("the connection closed")
		}
		return m
	case <-time.After(wait):
		c.t.Fatalf("no message within %s", wait)
	}
	return message{}
}

// subscribe starts the subscription as id "1".
func (c *wsClient) subscribe() {
	c.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": subscription})
	if err := c.send(message{ID: "1", Type: "subscribe", Payload: p}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the subscription's next event (or its end).
func (c *wsClient) next() event {
	c.t.Helper()
	for {
		m := c.read()
		switch m.Type {
		case "next":
			var e event
			if err := json.Unmarshal(m.Payload, &e); err != nil {
				c.t.Fatalf("next %s: %v", m.Payload, err)
			}
			return e
		case "error":
			var e event
			if err := json.Unmarshal(m.Payload, &e.Errors); err != nil {
				c.t.Fatalf("error %s: %v", m.Payload, err)
			}
			return e
		case "complete":
			return event{Complete: true}
		case "pong", "ka":
		default:
			c.t.Fatalf("unexpected message %+v", m)
		}
	}
}

// world is a server with an admin context, a user alice signed in, and a
// package "pro" granting the SWITCH feature "export".
type world struct {
	s      *apptest.Server
	admin  context.Context
	alice  *int
	token  string
	pro    int
	basic  int
	svc    *service.Service
	userID int
}

func newWorld(t *testing.T, adjust func(*config.Config)) *world {
	t.Helper()
	s := apptest.Start(t, adjust, app.Options{})
	return setUp(t, s)
}

func setUp(t *testing.T, s *apptest.Server) *world {
	t.Helper()
	admin := viewer.System(context.Background())
	svc := s.App.Service
	u := s.CreateUser("alice", "alice-password", user.RoleUSER)
	for _, f := range []service.CreateFeatureInput{
		{Key: "export", Name: "Export", Kind: feature.KindSWITCH},
		{Key: "seats", Name: "Seats", Kind: feature.KindLIMIT},
	} {
		if _, err := svc.CreateFeature(admin, f); err != nil {
			t.Fatal(err)
		}
	}
	five := 5
	pro, err := svc.CreatePackage(admin, service.CreatePackageInput{Name: "pro", Days: 30, Contents: []*service.PackageContentInput{
		{Name: "Export", FeatureKey: "export"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	basic, err := svc.CreatePackage(admin, service.CreatePackageInput{Name: "basic", Days: 30, Contents: []*service.PackageContentInput{
		{Name: "Seats", FeatureKey: "seats", Limit: &five},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &world{s: s, admin: admin, token: s.Login("alice", "alice-password"), pro: pro.ID, basic: basic.ID, svc: svc, userID: u.ID}
}

func (w *world) assign(t *testing.T, pkg int, startsAt *time.Time) int {
	t.Helper()
	up, err := w.svc.AssignPackage(w.admin, service.AssignPackageInput{UserID: w.userID, PackageID: pkg, StartsAt: startsAt})
	if err != nil {
		t.Fatal(err)
	}
	return up.ID
}

// subscribed opens alice's subscription and reads its first message.
func (w *world) subscribed(t *testing.T) *wsClient {
	t.Helper()
	c := dialWS(t, w.s.URL, w.token, nil)
	c.subscribe()
	if e := c.next(); e.Data == nil || e.Data.AccessChanged.Reason != "subscribed" {
		t.Fatalf("first message: %+v", e)
	}
	return c
}

func TestAccessChangedOverWebsocket(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	c := dialWS(t, w.s.URL, w.token, nil)
	c.subscribe()
	e := c.next()
	if e.Data == nil || e.Data.AccessChanged.Reason != "subscribed" || len(e.keys()) != 0 {
		t.Fatalf("first message: %+v", e)
	}

	w.assign(t, w.pro, nil)
	e = c.next()
	if got := strings.Join(e.keys(), ","); got != "export" || e.Data.AccessChanged.Reason != "user_package.assigned" {
		t.Fatalf("after assigning pro: %+v", e.Data)
	}

	// A change that alters nothing of alice's access is not told: the
	// next message is the one of the change after it, which does.
	detail := "renamed"
	if _, err := w.svc.UpdatePackage(w.admin, w.pro, service.UpdatePackageInput{Detail: &detail}); err != nil {
		t.Fatal(err)
	}
	w.s.CreateUser("bob", "bob-password", user.RoleUSER)
	up := w.assign(t, w.basic, nil)
	e = c.next()
	if got := strings.Join(e.keys(), ","); got != "export,seats" || !strings.Contains(e.Data.AccessChanged.Reason, "user_package.assigned") {
		t.Fatalf("after assigning basic: %+v", e)
	}

	// A package's contents changing reaches its holders.
	ten := 10
	if _, err := w.svc.UpdatePackage(w.admin, w.basic, service.UpdatePackageInput{Contents: []*service.PackageContentInput{
		{Name: "Seats", FeatureKey: "seats", Limit: &ten},
	}}); err != nil {
		t.Fatal(err)
	}
	e = c.next()
	if f := e.Data.AccessChanged.ActiveFeatures; len(f) != 2 || f[1].Limit == nil || *f[1].Limit != 10 {
		t.Fatalf("after the limit changed: %+v", e)
	}

	if _, err := w.svc.SuspendUserPackage(w.admin, up, nil); err != nil {
		t.Fatal(err)
	}
	e = c.next()
	if got := strings.Join(e.keys(), ","); got != "export" || e.Data.AccessChanged.Reason != "user_package.suspended" {
		t.Fatalf("after suspending basic: %+v", e)
	}
}

func TestStreamEndsWhenTheSessionEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, w *world)
	}{
		{"revokeSession", func(t *testing.T, w *world) {
			r := w.s.MustDo(w.token, `{ me { sessions { id current } } }`, nil)
			var d struct {
				Me struct {
					Sessions []struct {
						ID      string
						Current bool
					}
				}
			}
			r.Decode(t, &d)
			var id string
			for _, s := range d.Me.Sessions {
				if s.Current {
					id = s.ID
				}
			}
			w.s.MustDo(w.token, `mutation($id: ID!) { revokeSession(id: $id) { id } }`, map[string]any{"id": id})
		}},
		{"logout", func(t *testing.T, w *world) {
			w.s.MustDo(w.token, `mutation { logout }`, nil)
		}},
		{"user disabled", func(t *testing.T, w *world) {
			yes := true
			if _, err := w.svc.UpdateUser(w.admin, w.userID, service.UpdateUserInput{Disabled: &yes}); err != nil {
				t.Fatal(err)
			}
		}},
		{"user deleted", func(t *testing.T, w *world) {
			if _, err := w.svc.DeleteUser(w.admin, w.userID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, nil)
			c := w.subscribed(t)
			tc.end(t, w)
			e := c.next()
			if e.code() != "UNAUTHENTICATED" || len(e.keys()) != 0 {
				t.Fatalf("after the session ended: %+v", e)
			}
			if e := c.next(); !e.Complete {
				t.Fatalf("after the error: %+v", e)
			}
		})
	}
}

func TestStreamEndsWhenTheSessionExpires(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	c := w.subscribed(t)
	// The session's expiry moves to a moment just past: the subscription's
	// timer, not a notice, must notice it.
	r := w.s.MustDo(w.token, `{ me { sessions { id current } } }`, nil)
	var d struct {
		Me struct {
			Sessions []struct {
				ID      string
				Current bool
			}
		}
	}
	r.Decode(t, &d)
	soon := time.Now().Add(time.Second)
	for _, s := range d.Me.Sessions {
		id, _ := strconv.Atoi(s.ID)
		if err := w.s.App.DB.Ent.UserSession.UpdateOneID(id).SetExpiresAt(soon).Exec(w.admin); err != nil {
			t.Fatal(err)
		}
	}
	// The session changed behind the hub's back (no event): a later
	// notice makes the subscription look again and set its timer.
	w.assign(t, w.pro, nil)
	e := c.next()
	if e.code() == "" {
		// The assignment's message, unless the session had expired by
		// the time the subscription looked (a slow machine).
		if strings.Join(e.keys(), ",") != "export" {
			t.Fatalf("after assigning: %+v", e)
		}
		e = c.next()
	}
	if e.code() != "UNAUTHENTICATED" {
		t.Fatalf("after the session expired: %+v", e)
	}
	if at := time.Now(); at.Before(soon) {
		t.Fatalf("ended at %s, before the expiry %s", at, soon)
	}
}

func TestTimeBasedChanges(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	c := w.subscribed(t)
	start := time.Now().Add(time.Second)
	w.assign(t, w.pro, &start)
	// Not started yet: the assignment alters nothing now, so nothing is
	// sent until it starts.
	e := c.next()
	if got := strings.Join(e.keys(), ","); got != "export" || e.Data.AccessChanged.Reason != "user_package.started" {
		t.Fatalf("when the assignment started: %+v", e)
	}
	if e.Data.AccessChanged.At.Before(start) {
		t.Fatalf("told at %s, before the start %s", e.Data.AccessChanged.At, start)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key    string
		adjust func(*config.Config)
	}{
		{"live.max_per_user", func(c *config.Config) { c.Live.MaxPerUser = 1 }},
		{"live.max_subscriptions", func(c *config.Config) { c.Live.MaxSubscriptions = 1 }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.adjust)
			w.subscribed(t)
			c := dialWS(t, w.s.URL, w.token, nil)
			c.subscribe()
			e := c.next()
			if e.code() != "RATE_LIMITED" || !strings.Contains(e.Errors[0].Message, tc.key) {
				t.Fatalf("second subscription: %+v", e)
			}
			if n := w.s.App.Live.Count(); n != 1 {
				t.Fatalf("%d subscriptions open, want 1", n)
			}
		})
	}
}

// TestUnauthenticated: a WebSocket whose connection_init carries no good
// token is closed at once (4403, UNAUTHENTICATED); an SSE request without
// one is refused with UNAUTHENTICATED.
func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	for name, init := range map[string]map[string]any{
		"no token":     {},
		"bad token":    {"Authorization": "Bearer gh_" + strings.Repeat("x", 40)},
		"not a bearer": {"Authorization": "Basic YWxpY2U6cHc="},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.s.URL, "http")+"/graphql", &websocket.DialOptions{
				Subprotocols: []string{"graphql-transport-ws"},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			p, _ := json.Marshal(message{Type: "connection_init", Payload: mustJSON(init)})
			if err := conn.Write(ctx, websocket.MessageText, p); err != nil {
				t.Fatal(err)
			}
			for {
				_, b, err := conn.Read(ctx)
				if err == nil {
					if strings.Contains(string(b), "connection_ack") {
						t.Fatalf("acknowledged: %s", b)
					}
					continue
				}
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != 4403 || ce.Reason != "UNAUTHENTICATED" {
					t.Fatalf("closed with %v, want 4403 UNAUTHENTICATED", err)
				}
				return
			}
		})
	}
	t.Run("SSE", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"query": subscription})
		req, _ := http.NewRequest(http.MethodPost, w.s.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if !strings.Contains(string(b), `"code":"UNAUTHENTICATED"`) || !strings.Contains(string(b), "event: complete") {
			t.Fatalf("%s", b)
		}
	})
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func TestWebsocketOrigins(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(c *config.Config) { c.Server.CORSOrigins = []string{"https://app.example.com"} })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"https://app.example.com", true},
		{w.s.URL, true},
		{"https://evil.example.com", false},
		{"http://app.example.com", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.s.URL, "http")+"/graphql", &websocket.DialOptions{
				Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h,
			})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.CloseNow()
				return
			}
			if err == nil {
				conn.CloseNow()
				t.Fatal("accepted")
			}
			if res == nil || res.StatusCode != http.StatusForbidden {
				t.Fatalf("want 403, got %v, %v", res, err)
			}
		})
	}
}

func TestAccessChangedOverSSE(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	body, _ := json.Marshal(map[string]any{"query": subscription})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+w.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan event, 8)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "event: complete" {
				events <- event{Complete: true}
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var e event
			if json.Unmarshal([]byte(data), &e) == nil {
				events <- e
			}
		}
	}()
	next := func() event {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream closed")
			}
			return e
		case <-time.After(wait):
			t.Fatalf("no event within %s", wait)
		}
		return event{}
	}
	if e := next(); e.Data == nil || e.Data.AccessChanged.Reason != "subscribed" {
		t.Fatalf("first event: %+v", e)
	}
	w.assign(t, w.pro, nil)
	if e := next(); strings.Join(e.keys(), ",") != "export" {
		t.Fatalf("after assigning: %+v", e)
	}
	w.s.MustDo(w.token, `mutation { logout }`, nil)
	if e := next(); e.code() != "UNAUTHENTICATED" {
		t.Fatalf("after logout: %+v", e)
	}
	if e := next(); !e.Complete {
		t.Fatalf("after the error: %+v", e)
	}
}

func TestSubscriptionOverPlainPOSTIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	r := w.s.Do(w.token, subscription, nil)
	if r.Status != http.StatusBadRequest || r.Code() != "BAD_REQUEST" || !strings.Contains(r.Errors[0].Message, "graphql-ws") {
		t.Fatalf("%d %+v", r.Status, r.Errors)
	}
	if n := w.s.App.Live.Count(); n != 0 {
		t.Fatalf("%d subscriptions open", n)
	}
}

// TestNoticesOnlyAfterCommit: a change that rolls back tells nobody; one
// that commits tells about its user once, however many events it wrote.
func TestNoticesOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.subscribed(t) // on PostgreSQL the hub listens only while someone does
	notices := make(chan *live.Notice, 16)
	w.s.App.Live.OnDeliver(func(n *live.Notice) { notices <- n })

	client := w.s.App.DB.Ent
	rec := w.svc.Events()
	write := func(typ string, commit bool) {
		t.Helper()
		tx, err := client.Tx(w.admin)
		if err != nil {
			t.Fatal(err)
		}
		up, err := tx.UserPackage.Create().SetUserID(w.userID).SetPackageID(w.pro).
			SetStartsAt(time.Now()).SetExpiresAt(time.Now().Add(time.Hour)).SetGraceEndsAt(time.Now().Add(time.Hour)).Save(w.admin)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := rec.Record(w.admin, tx, events.Entry{Type: typ, SubjectType: events.SubjectUserPackage, SubjectID: up.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	write("user_package.suspended", false)
	write("user_package.updated", true)
	// The first notice is the committed change's: the rolled-back one,
	// written before it, sent nothing.
	select {
	case n := <-notices:
		if len(n.Users) != 1 || n.Users[0] != w.userID || len(n.Types) != 1 || n.Types[0] != "user_package.updated" {
			t.Fatalf("notice %+v", n)
		}
	case <-time.After(wait):
		t.Fatal("no notice after the commit")
	}
}

// TestTokenInUpgradeHeader: a client that can send headers on the upgrade
// request (not a browser) may authenticate there instead.
func TestTokenInUpgradeHeader(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	c := dialWS(t, w.s.URL, "", http.Header{"Authorization": {"Bearer " + w.token}})
	c.subscribe()
	if e := c.next(); e.Data == nil || e.Data.AccessChanged.Reason != "subscribed" {
		t.Fatalf("first message: %+v", e)
	}
}

func TestExpiryIsTold(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	up := w.assign(t, w.pro, nil)
	c := w.subscribed(t)
	soon := time.Now().Add(time.Second)
	if _, err := w.svc.UpdateUserPackage(w.admin, up, service.UpdateUserPackageInput{ExpiresAt: &soon}); err != nil {
		t.Fatal(err)
	}
	if e := c.next(); strings.Join(e.keys(), ",") != "export" || e.Data.AccessChanged.Reason != "user_package.updated" {
		t.Fatalf("after moving the expiry: %+v", e.Data)
	}
	e := c.next()
	if len(e.keys()) != 0 || e.Data.AccessChanged.Reason != "user_package.expired" {
		t.Fatalf("at the expiry: %+v", e.Data)
	}
}
