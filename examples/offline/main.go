// Command offline verifies a Gatehouse entitlement token without asking the
// server: against a saved copy of its JWKS (GET /.well-known/jwks.json),
// then prints the features the token unlocks.
//
//	curl -s https://gatehouse.example/.well-known/jwks.json > jwks.json
//	go run ./examples/offline -jwks jwks.json -issuer gatehouse < token.txt
//
// It exits 0 and prints the user and the features for a valid token, and
// exits 1 with the reason for one that is not (bad signature, unknown key,
// expired, not yet valid, wrong issuer). A verifier that meets an unknown
// kid should fetch the JWKS again: the server may have rotated its key.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// claims are what a Gatehouse entitlement token says (times in Unix seconds).
type claims struct {
	Issuer    string             `json:"iss"`
	Subject   string             `json:"sub"`
	IssuedAt  int64              `json:"iat"`
	NotBefore int64              `json:"nbf"`
	Expiry    int64              `json:"exp"`
	SessionID string             `json:"sid"`
	Features  map[string]feature `json:"features"`
}

// feature is one granted feature: until when (exp), its limit (LIMIT
// features) and, in grace, when the grace period ends.
type feature struct {
	Exp        int64  `json:"exp"`
	Limit      *int   `json:"limit"`
	GraceUntil *int64 `json:"grace_until"`
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "offline:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("offline", flag.ContinueOnError)
	jwksPath := fs.String("jwks", "jwks.json", "the saved JWKS")
	issuer := fs.String("issuer", "", "the issuer to expect ([signing] issuer); empty: any")
	tokenPath := fs.String("token", "-", "file holding the token; - for standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*jwksPath)
	if err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("reading the JWKS: %w", err)
	}
	var in io.Reader = stdin
	if *tokenPath != "-" {
		f, err := os.Open(*tokenPath)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	tok, err := io.ReadAll(io.LimitReader(in, 64<<10))
	if err != nil {
		return err
	}
	c, kid, err := verify(strings.TrimSpace(string(tok)), set, *issuer, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "valid token for user %s, signed by key %s, until %s\n", c.Subject, kid, unix(c.Expiry))
	keys := make([]string, 0, len(c.Features))
	for k := range c.Features {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := c.Features[k]
		line := fmt.Sprintf("unlocked %s until %s", k, unix(f.Exp))
		if f.Limit != nil {
			line += fmt.Sprintf(", limit %d", *f.Limit)
		}
		if f.GraceUntil != nil {
			line += fmt.Sprintf(", in grace until %s", unix(*f.GraceUntil))
		}
		fmt.Fprintln(stdout, line)
	}
	if len(keys) == 0 {
		fmt.Fprintln(stdout, "no features unlocked")
	}
	return nil
}

// verify checks the token's signature (EdDSA only) with the JWKS key its kid
// names, then its issuer and lifetime at now.
func verify(tok string, set jose.JSONWebKeySet, issuer string, now time.Time) (*claims, string, error) {
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, "", fmt.Errorf("not a token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", errors.New("not a token: want one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		return nil, "", fmt.Errorf("unknown key %q: fetch the JWKS again", kid)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return nil, "", fmt.Errorf("bad signature: %w", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", fmt.Errorf("bad claims: %w", err)
	}
	switch t := now.Unix(); {
	case issuer != "" && c.Issuer != issuer:
		return nil, "", fmt.Errorf("issued by %q, not %q", c.Issuer, issuer)
	case c.Expiry == 0 || t >= c.Expiry:
		return nil, "", fmt.Errorf("expired at %s", unix(c.Expiry))
	case t < c.NotBefore:
		return nil, "", fmt.Errorf("not valid before %s", unix(c.NotBefore))
	}
	return &c, kid, nil
}

func unix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }
