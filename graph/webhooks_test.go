package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/ent/schema"
	"gatehouse/internal/apptest"
	"gatehouse/internal/webhooks"
)

type endpointAnswer struct {
	ID                  string
	URL                 string
	Description         string
	EventTypes          []string
	Enabled             bool
	PreviousSecretUntil *time.Time
}

const endpointFields = `id url description eventTypes enabled previousSecretUntil`

type withSecret struct {
	Endpoint endpointAnswer
	Secret   string
}

// noSecret fails if the raw answer holds any of the secrets.
func noSecret(t *testing.T, r *apptest.Response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		key := strings.TrimPrefix(s, webhooks.SecretPrefix)
		if strings.Contains(string(r.Data), key) || strings.Contains(fmt.Sprint(r.Errors), key) {
			t.Fatalf("an answer shows a signing secret: %s", r.Data)
		}
	}
}

func TestWebhookEndpoints(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	alice := w.tokenFor("alice", alicePW)
	create := `mutation($in:CreateWebhookEndpointInput!){createWebhookEndpoint(input:$in){secret endpoint{` + endpointFields + `}}}`
	update := `mutation($id:ID!,$in:UpdateWebhookEndpointInput!){updateWebhookEndpoint(id:$id,input:$in){` + endpointFields + `}}`
	get := `query($id:ID!){webhookEndpoint(id:$id){` + endpointFields + `}}`

	var c struct{ CreateWebhookEndpoint withSecret }
	w.MustDo(admin, create, map[string]any{"in": map[string]any{
		"url": " https://hooks.example.com/gatehouse?team=7 ", "description": " CRM ", "eventTypes": []string{"user.created", "user_package.*", "user.created"},
	}}).Decode(t, &c)
	ep, secret := c.CreateWebhookEndpoint.Endpoint, c.CreateWebhookEndpoint.Secret
	if ep.URL != "https://hooks.example.com/gatehouse?team=7" || ep.Description != "CRM" || !ep.Enabled ||
		strings.Join(ep.EventTypes, ",") != "user.created,user_package.*" || ep.PreviousSecretUntil != nil {
		t.Fatalf("created %+v", ep)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 24 || len(key) > 32 {
		t.Fatalf("secret %q is not whsec_ and 24 to 32 bytes in base64", secret)
	}
	// The secret shown is the one that signs.
	row := w.App.DB.Ent.WebhookEndpoint.GetX(sys(), mustInt(t, ep.ID))
	if row.Secret != secret {
		t.Fatal("the secret shown is not the one stored")
	}
	if strings.Contains(fmt.Sprint(row), strings.TrimPrefix(secret, "whsec_")) {
		t.Fatal("the endpoint's String() shows its secret")
	}

	var other struct{ CreateWebhookEndpoint withSecret }
	w.MustDo(admin, create, map[string]any{"in": map[string]any{"url": "http://billing.example.org:8443/in", "enabled": false}}).Decode(t, &other)
	if o := other.CreateWebhookEndpoint; o.Endpoint.Enabled || len(o.Endpoint.EventTypes) != 0 || o.Secret == secret {
		t.Fatalf("second endpoint %+v", o)
	}

	t.Run("reads never show the secret", func(t *testing.T) {
		for _, q := range []string{
			`{webhookEndpoints{totalCount edges{node{` + endpointFields + `}}}}`,
			`query($id:ID!){node(id:$id){id ... on WebhookEndpoint{` + endpointFields + `}}}`,
			get,
		} {
			r := w.MustDo(admin, q, map[string]any{"id": ep.ID})
			noSecret(t, r, secret, other.CreateWebhookEndpoint.Secret)
		}
		var d struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		w.MustDo(admin, `{__type(name:"WebhookEndpoint"){fields{name}}}`, nil).Decode(t, &d)
		for _, f := range d.Type.Fields {
			if strings.Contains(strings.ToLower(f.Name), "secret") && f.Name != "previousSecretUntil" {
				t.Errorf("WebhookEndpoint has a field %s", f.Name)
			}
		}
		var in struct {
			Type struct{ InputFields []struct{ Name string } } `json:"__type"`
		}
		for _, typ := range []string{"WebhookEndpointWhereInput", "WebhookEndpointOrderField", "CreateWebhookEndpointInput", "UpdateWebhookEndpointInput"} {
			r := w.MustDo(admin, `query($n:String!){__type(name:$n){inputFields{name} enumValues{name}}}`, map[string]any{"n": typ})
			r.Decode(t, &in)
			if strings.Contains(strings.ToLower(string(r.Data)), `secret"`) || strings.Contains(strings.ToLower(string(r.Data)), `"secret`) {
				t.Errorf("%s takes a secret: %s", typ, r.Data)
			}
		}
	})

	t.Run("list and filter", func(t *testing.T) {
		var d struct {
			WebhookEndpoints struct {
				TotalCount int
				Edges      []struct{ Node endpointAnswer }
			}
		}
		w.MustDo(admin, `{webhookEndpoints(where:{enabled:true}){totalCount edges{node{`+endpointFields+`}}}}`, nil).Decode(t, &d)
		if d.WebhookEndpoints.TotalCount != 1 || d.WebhookEndpoints.Edges[0].Node.ID != ep.ID {
			t.Fatalf("enabled endpoints: %+v", d.WebhookEndpoints)
		}
		wantCode(t, w.Do(admin, `{webhookEndpoints(first:1000){totalCount}}`, nil), "BAD_USER_INPUT")
	})

	t.Run("update validation", func(t *testing.T) {
		many := make([]string, 51)
		for i := range many {
			many[i] = fmt.Sprintf("type%d.x", i)
		}
		for _, tt := range []struct {
			name  string
			in    map[string]any
			field string
		}{
			{"empty url", map[string]any{"url": " "}, "url"},
			{"relative url", map[string]any{"url": "/hooks"}, "url"},
			{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "url"},
			{"javascript url", map[string]any{"url": "javascript:alert(1)"}, "url"},
			{"credentials in url", map[string]any{"url": "https://user:pw@example.com/x"}, "url"},
			{"user in url", map[string]any{"url": "https://user@example.com/x"}, "url"},
			{"no host", map[string]any{"url": "https:///x"}, "url"},
			{"fragment", map[string]any{"url": "https://example.com/x#frag"}, "url"},
			{"bad port", map[string]any{"url": "https://example.com:99999/x"}, "url"},
			{"url too long", map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2000)}, "url"},
			{"description too long", map[string]any{"description": strings.Repeat("d", 1001)}, "description"},
			{"upper-case type", map[string]any{"eventTypes": []string{"User.created"}}, "eventTypes"},
			{"trailing dot", map[string]any{"eventTypes": []string{"user."}}, "eventTypes"},
			{"bare star", map[string]any{"eventTypes": []string{"*"}}, "eventTypes"},
			{"star inside", map[string]any{"eventTypes": []string{"user.*.x"}}, "eventTypes"},
			{"star without dot", map[string]any{"eventTypes": []string{"user*"}}, "eventTypes"},
			{"empty type", map[string]any{"eventTypes": []string{""}}, "eventTypes"},
			{"too many types", map[string]any{"eventTypes": many}, "eventTypes"},
			{"type too long", map[string]any{"eventTypes": []string{"a" + strings.Repeat(".b", 50)}}, "eventTypes"},
			{"list and clear", map[string]any{"eventTypes": []string{"user.created"}, "clearEventTypes": true}, "clearEventTypes"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := w.Do(admin, update, map[string]any{"id": ep.ID, "in": tt.in})
				wantCode(t, r, "BAD_USER_INPUT")
				if field(r) != tt.field {
					t.Fatalf("field %q, want %q (%s)", field(r), tt.field, r.Errors[0].Message)
				}
				// Creating with the same value is refused alike.
				in := map[string]any{"url": "https://example.com/ok"}
				for k, v := range tt.in {
					in[k] = v
				}
				if tt.field != "clearEventTypes" {
					r = w.Do(admin, create, map[string]any{"in": in})
					wantCode(t, r, "BAD_USER_INPUT")
					if field(r) != tt.field {
						t.Fatalf("create: field %q, want %q", field(r), tt.field)
					}
				}
			})
		}
		var d struct{ WebhookEndpoint endpointAnswer }
		w.MustDo(admin, get, map[string]any{"id": ep.ID}).Decode(t, &d)
		if d.WebhookEndpoint.URL != ep.URL || len(d.WebhookEndpoint.EventTypes) != 2 {
			t.Fatalf("refused updates changed the endpoint: %+v", d.WebhookEndpoint)
		}
	})

	t.Run("update", func(t *testing.T) {
		var d struct{ UpdateWebhookEndpoint endpointAnswer }
		r := w.MustDo(admin, update, map[string]any{"id": ep.ID, "in": map[string]any{"url": "https://hooks.example.com/v2", "enabled": false, "eventTypes": []string{"login.failed"}}})
		r.Decode(t, &d)
		if got := d.UpdateWebhookEndpoint; got.URL != "https://hooks.example.com/v2" || got.Enabled || strings.Join(got.EventTypes, ",") != "login.failed" || got.Description != "CRM" {
			t.Fatalf("updated %+v", got)
		}
		noSecret(t, r, secret)
		w.MustDo(admin, update, map[string]any{"id": ep.ID, "in": map[string]any{"clearEventTypes": true, "enabled": true}}).Decode(t, &d)
		if got := d.UpdateWebhookEndpoint; len(got.EventTypes) != 0 || !got.Enabled {
			t.Fatalf("cleared %+v", got)
		}
		if row := w.App.DB.Ent.WebhookEndpoint.GetX(sys(), mustInt(t, ep.ID)); row.Secret != secret || row.PreviousSecret != nil {
			t.Fatal("an update changed the secrets")
		}
		wantCode(t, w.Do(admin, update, map[string]any{"id": "999999", "in": map[string]any{"enabled": true}}), "NOT_FOUND")
	})

	t.Run("rotate", func(t *testing.T) {
		rotate := `mutation($id:ID!){rotateWebhookSecret(id:$id){secret endpoint{` + endpointFields + `}}}`
		before := time.Now()
		var d struct{ RotateWebhookSecret withSecret }
		r := w.MustDo(admin, rotate, map[string]any{"id": ep.ID})
		after := time.Now()
		r.Decode(t, &d)
		noSecret(t, r, secret)
		next := d.RotateWebhookSecret.Secret
		until := d.RotateWebhookSecret.Endpoint.PreviousSecretUntil
		if next == secret || !strings.HasPrefix(next, "whsec_") {
			t.Fatalf("rotated to %q", next)
		}
		if until == nil || until.Before(before.Add(24*time.Hour).Add(-time.Second)) || until.After(after.Add(24*time.Hour)) {
			t.Fatalf("the old secret signs until %v, want 24h after the rotation (%v..%v)", until, before, after)
		}
		row := w.App.DB.Ent.WebhookEndpoint.GetX(sys(), mustInt(t, ep.ID))
		if got := webhooks.LiveSecrets(row, time.Now()); len(got) != 2 || got[0] != next || got[1] != secret {
			t.Fatal("during the overlap the new and the old secret do not both sign")
		}
		if got := webhooks.LiveSecrets(row, until.Add(time.Second)); len(got) != 1 || got[0] != next {
			t.Fatal("after the overlap the old secret still signs")
		}
		// Reads after the rotation show neither secret.
		noSecret(t, w.MustDo(admin, get, map[string]any{"id": ep.ID}), secret, next)
		// Rotating again retires the first secret at once.
		var again struct{ RotateWebhookSecret withSecret }
		w.MustDo(admin, rotate, map[string]any{"id": ep.ID}).Decode(t, &again)
		row = w.App.DB.Ent.WebhookEndpoint.GetX(sys(), mustInt(t, ep.ID))
		if got := webhooks.LiveSecrets(row, time.Now()); len(got) != 2 || got[0] != again.RotateWebhookSecret.Secret || got[1] != next {
			t.Fatal("a second rotation does not sign with the two latest secrets")
		}
		wantCode(t, w.Do(admin, rotate, map[string]any{"id": "999999"}), "NOT_FOUND")
	})

	t.Run("users may not manage webhooks", func(t *testing.T) {
		for _, q := range []string{
			`mutation{createWebhookEndpoint(input:{url:"https://evil.example.com"}){secret}}`,
			`mutation($id:ID!){updateWebhookEndpoint(id:$id,input:{enabled:false}){id}}`,
			`mutation($id:ID!){deleteWebhookEndpoint(id:$id)}`,
			`mutation($id:ID!){rotateWebhookSecret(id:$id){secret}}`,
			`query($id:ID!){webhookEndpoint(id:$id){id}}`,
			`{webhookEndpoints{totalCount}}`,
		} {
			r := w.Do(alice, q, map[string]any{"id": ep.ID})
			wantCode(t, r, "FORBIDDEN")
			noSecret(t, r, secret)
		}
		// node(id:) lets the privacy rules decide: no endpoint for a user.
		r := w.Do(alice, `query($id:ID!){node(id:$id){id ... on WebhookEndpoint{url}}}`, map[string]any{"id": ep.ID})
		if strings.Contains(string(r.Data), "hooks.example.com") || len(r.Errors) == 0 {
			t.Fatalf("a user read an endpoint through node: %s %+v", r.Data, r.Errors)
		}
		wantCode(t, w.Do("", `{webhookEndpoints{totalCount}}`, nil), "UNAUTHENTICATED")
		if n := w.App.DB.Ent.WebhookEndpoint.Query().CountX(sys()); n != 2 {
			t.Fatalf("%d endpoints after the user's attempts, want 2", n)
		}
	})

	t.Run("delete", func(t *testing.T) {
		var d struct{ DeleteWebhookEndpoint string }
		w.MustDo(admin, `mutation($id:ID!){deleteWebhookEndpoint(id:$id)}`, map[string]any{"id": ep.ID}).Decode(t, &d)
		if d.DeleteWebhookEndpoint != ep.ID {
			t.Fatalf("deleted %q, want %q", d.DeleteWebhookEndpoint, ep.ID)
		}
		wantCode(t, w.Do(admin, get, map[string]any{"id": ep.ID}), "NOT_FOUND")
		wantCode(t, w.Do(admin, `mutation($id:ID!){deleteWebhookEndpoint(id:$id)}`, map[string]any{"id": ep.ID}), "NOT_FOUND")
		if n := w.App.DB.Ent.WebhookEndpoint.Query().CountX(sys()); n != 1 {
			t.Fatalf("%d endpoints left, want 1", n)
		}
	})
}

// TestWebhookURLRule: what the schema's URL rule accepts.
func TestWebhookURLRule(t *testing.T) {
	for _, ok := range []string{"https://example.com", "http://10.0.0.1:8080/x", "https://[2001:db8::1]/in?a=b", "https://h.example/" + strings.Repeat("p", 1970)} {
		if err := schema.ValidateWebhookURL(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

func mustInt(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWebhookRotationsAtOnce: rotations of one endpoint at the same time
// run one after the other, each replacing the secret the one before made.
// Were two to replace the same secret, the endpoint would end up signing
// beside its last secret with one from before the round (and a secret
// shown to an admin would never sign).
func TestWebhookRotationsAtOnce(t *testing.T) {
	w := newWorld(t, nil)
	admin := w.tokenFor("root", adminPW)
	var c struct{ CreateWebhookEndpoint withSecret }
	w.MustDo(admin, `mutation{createWebhookEndpoint(input:{url:"https://hooks.example.com/x"}){secret endpoint{id}}}`, nil).Decode(t, &c)
	epID := c.CreateWebhookEndpoint.Endpoint.ID

	const rounds, n = 10, 4
	for round := range rounds {
		shown := make([]string, n)
		var wg sync.WaitGroup
		errs := make(chan string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := w.Do(admin, `mutation($id:ID!){rotateWebhookSecret(id:$id){secret}}`, map[string]any{"id": epID})
				if len(r.Errors) > 0 {
					errs <- fmt.Sprint(r.Errors)
					return
				}
				var d struct{ RotateWebhookSecret struct{ Secret string } }
				if err := json.Unmarshal(r.Data, &d); err != nil {
					errs <- err.Error()
					return
				}
				shown[i] = d.RotateWebhookSecret.Secret
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("round %d: a rotation failed: %s", round, e)
		}
		row := w.App.DB.Ent.WebhookEndpoint.GetX(sys(), mustInt(t, epID))
		if !slices.Contains(shown, row.Secret) || row.PreviousSecret == nil || !slices.Contains(shown, *row.PreviousSecret) || *row.PreviousSecret == row.Secret {
			t.Fatalf("round %d: after %d rotations at once the endpoint does not sign with the last two secrets shown: two rotations replaced the same secret", round, n)
		}
	}
}
