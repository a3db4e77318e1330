// Package webhooks manages webhook endpoints (their admin operations and
// signing secrets) and delivers to them: Standard Webhooks signatures, an
// HTTP sender that refuses internal addresses at connect time, and the
// retry schedule.
package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/ent"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret (Standard Webhooks' form:
// whsec_ and the key in standard base64).
const SecretPrefix = "whsec_"

// SecretBytes is the length of a generated key (the specification asks
// for 24 to 64 bytes).
const SecretBytes = 32

// RotationOverlap is how long the secret a rotation replaces keeps
// signing beside the new one, so that receivers can switch over.
const RotationOverlap = 24 * time.Hour

// NewSecret returns a new signing secret: whsec_ and 32 random bytes in
// base64.
func NewSecret() string {
	key := make([]byte, SecretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go ≥ 1.24)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// secretKey is the HMAC key of a secret.
func secretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: a signing secret starts with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("webhooks: a signing secret holds 24 to 64 bytes in base64")
	}
	return key, nil
}

// LiveSecrets are the secrets that sign for ep at now: its secret, and
// the one its last rotation replaced until that one's overlap ends.
func LiveSecrets(ep *ent.WebhookEndpoint, now time.Time) []string {
	out := []string{ep.Secret}
	if ep.PreviousSecret != nil && *ep.PreviousSecret != "" &&
		ep.PreviousSecretUntil != nil && now.Before(*ep.PreviousSecretUntil) {
		out = append(out, *ep.PreviousSecret)
	}
	return out
}

// Signature is the webhook-signature header for a message: one
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, separated by
// spaces.
func Signature(id string, ts time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhooks: no signing secret")
	}
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, " "), nil
}

// Message is one webhook request: its id (the same on every retry, so
// receivers can drop duplicates), when it is sent and its body.
type Message struct {
	ID        string
	Timestamp time.Time
	Body      []byte
}

// Payload is the body of a webhook (Standard Webhooks' shape).
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// Body encodes the payload of an event of type typ that happened at at.
func Body(typ string, at time.Time, data any) ([]byte, error) {
	if data == nil {
		data = map[string]any{}
	}
	return json.Marshal(Payload{Type: typ, Timestamp: at.UTC(), Data: data})
}

// Headers are the headers that sign m with secrets.
func (m Message) Headers(secrets ...string) (http.Header, error) {
	sig, err := Signature(m.ID, m.Timestamp, m.Body, secrets...)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(HeaderID, m.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(m.Timestamp.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	return h, nil
}
