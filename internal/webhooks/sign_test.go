package webhooks_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"gatehouse/ent"
	"gatehouse/internal/webhooks"
)

// verify checks headers and body with the Standard Webhooks library's Go
// package, as a receiver would.
func verify(t *testing.T, secret string, body []byte, h http.Header) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("the library does not take the secret %q: %v", secret, err)
	}
	return wh.Verify(body, h)
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		s := webhooks.NewSecret()
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) < 24 || len(key) > 32 {
			t.Fatalf("secret %q is not whsec_ and 24 to 32 bytes in base64", s)
		}
		if seen[s] {
			t.Fatal("the same secret twice")
		}
		seen[s] = true
	}
}

func TestSignatureVerifiesWithTheLibrary(t *testing.T) {
	secret := webhooks.NewSecret()
	now := time.Now()
	body, err := webhooks.Body("user.created", now, map[string]any{"id": 7, "username": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	m := webhooks.Message{ID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", Timestamp: now, Body: body}
	h, err := m.Headers(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, secret, body, h); err != nil {
		t.Fatalf("the library rejects our signature: %v", err)
	}
	if !strings.HasPrefix(h.Get("webhook-signature"), "v1,") || h.Get("webhook-id") != m.ID || h.Get("webhook-timestamp") == "" {
		t.Fatalf("headers %v", h)
	}
	var p struct {
		Type      string
		Timestamp time.Time
		Data      map[string]any
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "user.created" || !p.Timestamp.Equal(now) || p.Data["username"] != "alice" {
		t.Fatalf("body %s", body)
	}

	t.Run("tampering fails", func(t *testing.T) {
		if err := verify(t, secret, append([]byte(nil), strings.Replace(string(body), "alice", "mallory", 1)...), h); err == nil {
			t.Error("a changed body verifies")
		}
		h2 := h.Clone()
		h2.Set("webhook-id", "msg_other")
		if err := verify(t, secret, body, h2); err == nil {
			t.Error("a changed id verifies")
		}
		if err := verify(t, webhooks.NewSecret(), body, h); err == nil {
			t.Error("another secret verifies")
		}
	})
	t.Run("the library's own signature matches ours", func(t *testing.T) {
		wh, _ := standardwebhooks.NewWebhook(secret)
		want, err := wh.Sign(m.ID, now, body)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Get("webhook-signature"); got != want {
			t.Fatalf("signature %q, the library signs %q", got, want)
		}
	})
}

func TestSignatureDuringRotation(t *testing.T) {
	oldSecret, newSecret := webhooks.NewSecret(), webhooks.NewSecret()
	now := time.Now()
	body, _ := webhooks.Body("user_package.assigned", now, map[string]any{"user": 1})
	m := webhooks.Message{ID: "msg_1", Timestamp: now, Body: body}

	// Rotated an hour ago: both secrets sign, for 23 more hours.
	rotated := now.Add(-time.Hour)
	until := rotated.Add(webhooks.RotationOverlap)
	ep := &ent.WebhookEndpoint{Secret: newSecret, PreviousSecret: &oldSecret, PreviousSecretUntil: &until}
	h, err := m.Headers(webhooks.LiveSecrets(ep, now)...)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the overlap, want 2: %q", n, h.Get("webhook-signature"))
	}
	for name, s := range map[string]string{"old": oldSecret, "new": newSecret} {
		if err := verify(t, s, body, h); err != nil {
			t.Errorf("during the overlap a receiver with the %s secret rejects: %v", name, err)
		}
	}

	// Rotated 25 hours ago: only the new secret signs.
	rotated = now.Add(-25 * time.Hour)
	until = rotated.Add(webhooks.RotationOverlap)
	h, err = m.Headers(webhooks.LiveSecrets(ep, now)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, newSecret, body, h); err != nil {
		t.Errorf("after the overlap the new secret is rejected: %v", err)
	}
	if err := verify(t, oldSecret, body, h); err == nil {
		t.Error("after the overlap the old secret still verifies")
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 1 {
		t.Fatalf("%d signatures after the overlap, want 1", n)
	}
}

func TestSignatureRefusesBadSecrets(t *testing.T) {
	for _, s := range []string{"", "whsec_", "secret", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 8))} {
		if _, err := webhooks.Signature("id", time.Now(), nil, s); err == nil {
			t.Errorf("signed with %q", s)
		}
	}
	if _, err := webhooks.Signature("id", time.Now(), nil); err == nil {
		t.Error("signed with no secret")
	}
}
