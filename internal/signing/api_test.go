package signing_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"gatehouse/ent/user"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
)

// world is a server with an admin, a user (ann) holding features in
// several states, and their tokens.
type world struct {
	s                *apptest.Server
	admin, ann       string
	annID            string
	features         []string // every feature key, held or not
	switchKey, limit string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := apptest.Start(t, nil, app.Options{})
	s.CreateUser("root", "root-password", user.RoleADMIN)
	u := s.CreateUser("ann", "ann-password", user.RoleUSER)
	w := &world{s: s, admin: s.Login("root", "root-password"), annID: fmt.Sprint(u.ID),
		features: []string{"moe_gatherer", "projects", "old_perk", "not_held", "suspended_perk"}}
	s.MustDo(w.admin, `mutation{
		a: createFeature(input:{key:"moe_gatherer", name:"Moe", kind:SWITCH}){id}
		b: createFeature(input:{key:"projects", name:"Projects", kind:LIMIT}){id}
		c: createFeature(input:{key:"old_perk", name:"Old perk", kind:SWITCH}){id}
		d: createFeature(input:{key:"not_held", name:"Not held", kind:SWITCH}){id}
		e: createFeature(input:{key:"suspended_perk", name:"Suspended", kind:SWITCH}){id}
	}`, nil)
	pkg := func(name string, days, grace int, contents string) string {
		r := s.MustDo(w.admin, fmt.Sprintf(`mutation{createPackage(input:{name:%q, days:%d, graceDays:%d, contents:[%s]}){id}}`, name, days, grace, contents), nil)
		var d struct{ CreatePackage struct{ ID string } }
		r.Decode(t, &d)
		return d.CreatePackage.ID
	}
	assign := func(pkgID string, days int, starts time.Time) string {
		r := s.MustDo(w.admin, `mutation($u:ID!,$p:ID!,$d:Int,$s:Time){assignPackage(input:{userID:$u, packageID:$p, days:$d, startsAt:$s}){id}}`,
			map[string]any{"u": w.annID, "p": pkgID, "d": days, "s": starts.Format(time.RFC3339)})
		var d struct{ AssignPackage struct{ ID string } }
		r.Decode(t, &d)
		return d.AssignPackage.ID
	}
	now := time.Now()
	pro := pkg("Pro", 30, 0, `{name:"Moe", featureKey:"moe_gatherer"}, {name:"Ten", featureKey:"projects", limit:10}`)
	more := pkg("More", 10, 0, `{name:"Twenty", featureKey:"projects", limit:20}`)
	old := pkg("Old", 1, 7, `{name:"Old", featureKey:"old_perk"}`)
	susp := pkg("Susp", 30, 0, `{name:"Susp", featureKey:"suspended_perk"}`)
	assign(pro, 30, now.Add(-time.Hour))
	assign(more, 10, now.Add(-time.Hour))
	assign(old, 1, now.Add(-48*time.Hour)) // expired a day ago: in grace for 6 more days
	sid := assign(susp, 30, now.Add(-time.Hour))
	s.MustDo(w.admin, `mutation($id:ID!){suspendUserPackage(id:$id){id}}`, map[string]any{"id": sid})
	w.ann = s.Login("ann", "ann-password")
	return w
}

// token asks for ann's token (through entitlementToken) with vars.
func (w *world) token(t *testing.T, bearer string, ttl any) (string, time.Time) {
	t.Helper()
	vars := map[string]any{}
	if ttl != nil {
		vars["ttl"] = ttl
	}
	r := w.s.MustDo(bearer, `query($ttl:Duration){entitlementToken(ttl:$ttl){token expiresAt}}`, vars)
	var d struct {
		EntitlementToken struct {
			Token     string
			ExpiresAt time.Time
		}
	}
	r.Decode(t, &d)
	return d.EntitlementToken.Token, d.EntitlementToken.ExpiresAt
}

// fetchJWKS gets the JWKS over HTTP and reads its keys by hand (no JOSE
// library): kid → Ed25519 public key.
func fetchJWKS(t *testing.T, url string) (map[string]ed25519.PublicKey, []byte, *http.Response) {
	t.Helper()
	res, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("JWKS: %d %s", res.StatusCode, body)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" {
			t.Errorf("published key %v", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("the JWKS shows a private member %q: %v", private, k)
			}
		}
		x, err := base64.RawURLEncoding.DecodeString(k["x"].(string))
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("key x %v: %v", k["x"], err)
		}
		out[k["kid"].(string)] = x
	}
	return out, body, res
}

// verify checks tok three ways: golang-jwt (EdDSA) against the JWKS keys,
// go-jose against the JWKS document, and crypto/ed25519 by hand over the
// signing input. It returns the claims, or the first refusal.
func verify(tok string, keys map[string]ed25519.PublicKey, jwks []byte, at time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("gatehouse"), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return at }))
	if err != nil {
		return nil, fmt.Errorf("golang-jwt: %w", err)
	}

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("go-jose: %w", err)
	}
	found := set.Key(jws.Signatures[0].Header.KeyID)
	if len(found) != 1 {
		return nil, fmt.Errorf("go-jose: kid %q not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	if _, err := jws.Verify(found[0]); err != nil {
		return nil, fmt.Errorf("go-jose: %w", err)
	}

	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(keys[jws.Signatures[0].Header.KeyID], []byte(parts[0]+"."+parts[1]), sig) {
		return nil, fmt.Errorf("ed25519: bad signature")
	}
	return claims, nil
}

func TestEntitlementTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := w.s
	keys, jwks, res := fetchJWKS(t, s.URL)

	t.Run("JWKS caching headers", func(t *testing.T) {
		cc, etag := res.Header.Get("Cache-Control"), res.Header.Get("ETag")
		if !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=300") || etag == "" ||
			res.Header.Get("Content-Type") != "application/jwk-set+json" {
			t.Fatalf("headers %v", res.Header)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/.well-known/jwks.json", nil)
		req.Header.Set("If-None-Match", etag)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d, want 304", r2.StatusCode)
		}
		if len(keys) != 1 {
			t.Errorf("%d keys published, want 1", len(keys))
		}
	})

	t.Run("claims match checkAccess", func(t *testing.T) {
		tok, expiresAt := w.token(t, w.ann, nil)
		c, err := verify(tok, keys, jwks, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		iat, exp := int64(c["iat"].(float64)), int64(c["exp"].(float64))
		if c["sub"] != w.annID || c["iss"] != "gatehouse" || c["nbf"].(float64) != c["iat"].(float64) ||
			exp-iat != int64(24*time.Hour/time.Second) || expiresAt.Unix() != exp || c["sid"] == nil || c["sid"] == "" {
			t.Fatalf("claims %v, expiresAt %s", c, expiresAt)
		}
		features := c["features"].(map[string]any)
		for _, key := range w.features {
			r := s.MustDo(w.ann, `query($f:String!){checkAccess(feature:$f){granted code limit expiresAt graceUntil}}`, map[string]any{"f": key})
			var d struct {
				CheckAccess struct {
					Granted               bool
					Code                  string
					Limit                 *int
					ExpiresAt, GraceUntil *time.Time
				}
			}
			r.Decode(t, &d)
			ca := d.CheckAccess
			got, ok := features[key].(map[string]any)
			if ok != ca.Granted {
				t.Errorf("%s: in the token %v, checkAccess %+v", key, ok, ca)
				continue
			}
			if !ok {
				continue
			}
			if int64(got["exp"].(float64)) != ca.ExpiresAt.Unix() {
				t.Errorf("%s: exp %v, checkAccess expiresAt %s", key, got["exp"], ca.ExpiresAt)
			}
			if l, has := got["limit"]; has != (ca.Limit != nil) || has && int(l.(float64)) != *ca.Limit {
				t.Errorf("%s: limit %v, checkAccess %v", key, l, ca.Limit)
			}
			if g, has := got["grace_until"]; has != (ca.GraceUntil != nil) || has && int64(g.(float64)) != ca.GraceUntil.Unix() {
				t.Errorf("%s: grace_until %v, checkAccess %v", key, g, ca.GraceUntil)
			}
		}
		// What the world was built to hold.
		if len(features) != 3 || features["projects"].(map[string]any)["limit"].(float64) != 20 ||
			features["old_perk"].(map[string]any)["grace_until"] == nil {
			t.Errorf("features %v", features)
		}
	})

	t.Run("ttl", func(t *testing.T) {
		tok, expiresAt := w.token(t, w.ann, "90m")
		c, err := verify(tok, keys, jwks, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d := int64(c["exp"].(float64) - c["iat"].(float64)); d != 90*60 || expiresAt.Unix() != int64(c["exp"].(float64)) {
			t.Errorf("ttl 90m: exp-iat %d", d)
		}
		for _, bad := range []string{"0s", "-1h", "721h", "ten minutes", "1d"} {
			r := s.Do(w.ann, `query($ttl:Duration){entitlementToken(ttl:$ttl){token}}`, map[string]any{"ttl": bad})
			if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "ttl" {
				t.Errorf("ttl %q: %+v", bad, r.Errors)
			}
		}
	})

	t.Run("never past the session's absolute end", func(t *testing.T) {
		end := time.Now().Add(2 * time.Hour).Truncate(time.Second)
		r := s.MustDo(w.admin, `mutation($u:ID!,$e:Time){issueSession(input:{userID:$u, expiresAt:$e}){token session{id}}}`,
			map[string]any{"u": w.annID, "e": end.Format(time.RFC3339)})
		var d struct {
			IssueSession struct {
				Token   string
				Session struct{ ID string }
			}
		}
		r.Decode(t, &d)
		tok, expiresAt := w.token(t, d.IssueSession.Token, "24h")
		c, err := verify(tok, keys, jwks, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if expiresAt.After(end) || int64(c["exp"].(float64)) != end.Unix() || c["sid"] != d.IssueSession.Session.ID {
			t.Errorf("session ends %s; token exp %v (%s), sid %v, session %s", end, c["exp"], expiresAt, c["sid"], d.IssueSession.Session.ID)
		}
	})

	t.Run("userEntitlementToken", func(t *testing.T) {
		q := `query($u:ID!,$ttl:Duration){userEntitlementToken(userID:$u, ttl:$ttl){token expiresAt}}`
		r := s.MustDo(w.admin, q, map[string]any{"u": w.annID, "ttl": "1h"})
		var d struct{ UserEntitlementToken struct{ Token string } }
		r.Decode(t, &d)
		c, err := verify(d.UserEntitlementToken.Token, keys, jwks, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, has := c["sid"]; has || c["sub"] != w.annID || len(c["features"].(map[string]any)) != 3 {
			t.Errorf("claims %v", c)
		}
		if r := s.Do(w.ann, q, map[string]any{"u": w.annID}); r.Code() != "FORBIDDEN" {
			t.Errorf("a user asking: %+v", r.Errors)
		}
		if r := s.Do("", `{entitlementToken{token}}`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous: %+v", r.Errors)
		}
		if r := s.Do(w.admin, q, map[string]any{"u": "999999"}); r.Code() != "NOT_FOUND" {
			t.Errorf("unknown user: %+v", r.Errors)
		}
	})

	t.Run("tampered tokens are refused", func(t *testing.T) {
		tok, _ := w.token(t, w.ann, nil)
		parts := strings.Split(tok, ".")
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		enc := base64.RawURLEncoding.EncodeToString
		rawSig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		rawSig[10] ^= 1
		sig := enc(rawSig)
		var h map[string]any
		_ = json.Unmarshal(header, &h)
		otherKid := func(kid string) string {
			h2 := map[string]any{}
			for k, v := range h {
				h2[k] = v
			}
			h2["kid"] = kid
			b, _ := json.Marshal(h2)
			return enc(b)
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		claims["exp"] = claims["exp"].(float64) + 3600
		longer, _ := json.Marshal(claims)
		for name, bad := range map[string]string{
			"signature":   parts[0] + "." + parts[1] + "." + sig,
			"unknown kid": otherKid("not-a-key") + "." + parts[1] + "." + parts[2],
			"exp":         parts[0] + "." + enc(longer) + "." + parts[2],
			"alg none":    enc([]byte(`{"alg":"none","kid":"`+h["kid"].(string)+`"}`)) + "." + parts[1] + ".",
		} {
			if _, err := verify(bad, keys, jwks, time.Now()); err == nil {
				t.Errorf("%s tampered: accepted", name)
			}
		}
		// Past its exp, the token itself is refused.
		if _, err := verify(tok, keys, jwks, time.Now().Add(25*time.Hour)); err == nil {
			t.Error("an expired token: accepted")
		}
	})

	t.Run("rotation: old and new tokens verify", func(t *testing.T) {
		old, _ := w.token(t, w.ann, nil)
		k, err := s.App.Signer.Rotate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := w.token(t, w.ann, nil)
		keys2, jwks2, _ := fetchJWKS(t, s.URL)
		if len(keys2) != 2 || keys2[k.Kid] == nil {
			t.Fatalf("after rotation the JWKS has %d keys", len(keys2))
		}
		for name, tok := range map[string]string{"old": old, "new": fresh} {
			if _, err := verify(tok, keys2, jwks2, time.Now()); err != nil {
				t.Errorf("%s token after rotation: %v", name, err)
			}
		}
		jws, _ := jose.ParseSigned(fresh, []jose.SignatureAlgorithm{jose.EdDSA})
		if jws.Signatures[0].Header.KeyID != k.Kid {
			t.Errorf("the new token's kid %q, want the new key %q", jws.Signatures[0].Header.KeyID, k.Kid)
		}
		// A token of the new key with the old key's kid does not verify.
		parts := strings.Split(fresh, ".")
		for kid := range keys {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT"}`))
			if _, err := verify(h+"."+parts[1]+"."+parts[2], keys2, jwks2, time.Now()); err == nil {
				t.Error("a token whose kid names the other key: accepted")
			}
		}
	})
}
