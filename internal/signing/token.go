package signing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/ent"
	"gatehouse/internal/access"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

// Token is a signed entitlement token and when it expires.
type Token struct {
	// Token is the compact JWS.
	Token     string
	ExpiresAt time.Time
}

// Claims are what an entitlement token says.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	// SessionID is the API session the token was asked with ("" when an
	// admin asked for a user's token).
	SessionID string `json:"sid,omitempty"`
	// Features are the features granted when the token was made, by key.
	Features map[string]FeatureClaim `json:"features"`
}

// FeatureClaim is one granted feature, as checkAccess answers it: Exp is
// its expiresAt (for a feature in grace, the expiry already past),
// GraceUntil its graceUntil (in grace only), Limit its limit (LIMIT
// features only). Times are Unix seconds.
type FeatureClaim struct {
	Exp        int64  `json:"exp"`
	Limit      *int   `json:"limit,omitempty"`
	GraceUntil *int64 `json:"grace_until,omitempty"`
}

// Request asks for a user's token.
type Request struct {
	UserID int
	// TTL is the lifetime asked for (nil: the default).
	TTL *time.Duration
	// Session is the session the request was made with: the token gets
	// its id and never outlives its absolute end. Nil: none (an admin
	// asking for a user's token); the token then has no sid.
	Session *ent.UserSession
}

// TTL checks a lifetime asked for and returns the one to use.
func (s *Signer) TTL(ttl *time.Duration) (time.Duration, error) {
	if ttl == nil {
		return s.opts.DefaultTTL, nil
	}
	switch {
	case *ttl <= 0:
		return 0, apperr.Invalid("ttl", "must be a positive duration")
	case *ttl > s.opts.MaxTTL:
		return 0, apperr.Invalid("ttl", "must be at most %s", formatDuration(s.opts.MaxTTL))
	}
	return *ttl, nil
}

// Issue signs a token for r.UserID with the features the user holds now.
// ctx's viewer must be allowed to read the user's assignments (the user
// themself or an admin): the privacy rules apply.
func (s *Signer) Issue(ctx context.Context, r Request) (*Token, error) {
	ttl, err := s.TTL(r.TTL)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	features, err := s.features(ctx, r.UserID, now)
	if err != nil {
		return nil, err
	}
	exp := now.Add(ttl)
	c := Claims{
		Issuer:   s.opts.Issuer,
		Subject:  strconv.Itoa(r.UserID),
		IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Features: features,
	}
	if r.Session != nil {
		c.SessionID = strconv.Itoa(r.Session.ID)
		if r.Session.MaxExpiresAt.Before(exp) {
			exp = r.Session.MaxExpiresAt
		}
	}
	c.Expiry = exp.Unix()
	if c.Expiry <= c.IssuedAt {
		return nil, apperr.New(apperr.Unauthenticated, "the session has ended: sign in again")
	}
	tok, err := s.sign(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Token{Token: tok, ExpiresAt: time.Unix(c.Expiry, 0).UTC()}, nil
}

// sign signs claims with the current key.
func (s *Signer) sign(ctx context.Context, c Claims) (string, error) {
	k, err := s.current(ctx)
	if err != nil {
		return "", fmt.Errorf("signing: reading the current key: %w", err)
	}
	priv, err := s.private(k)
	if err != nil {
		return "", fmt.Errorf("signing: key %s: %w", k.Kid, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: k.Kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// features are the features the user's assignments grant at now, decided
// per feature by access.Decide exactly as checkAccess decides (only granted
// features appear).
func (s *Signer) features(ctx context.Context, userID int, now time.Time) (map[string]FeatureClaim, error) {
	ups, err := access.Granting(ctx, s.client, userID, now)
	if err != nil {
		return nil, err
	}
	keys := map[int]string{}
	with := map[int][]access.Assignment{}
	for _, up := range ups {
		if up.Edges.Package == nil {
			continue
		}
		for _, c := range up.Edges.Package.Edges.Contents {
			if c.Edges.Feature == nil {
				continue
			}
			keys[c.FeatureID] = c.Edges.Feature.Key
			a := access.FromUserPackage(up)
			a.Limit = c.Limit
			with[c.FeatureID] = append(with[c.FeatureID], a)
		}
	}
	out := make(map[string]FeatureClaim, len(keys))
	for id, key := range keys {
		check := access.Decide(true, with[id], now)
		if !check.Granted || check.ExpiresAt == nil {
			continue
		}
		fc := FeatureClaim{Exp: check.ExpiresAt.Unix(), Limit: check.Limit}
		if check.GraceUntil != nil {
			g := check.GraceUntil.Unix()
			fc.GraceUntil = &g
		}
		out[key] = fc
	}
	return out, nil
}

// Duration is the GraphQL Duration scalar: a Go duration string such as
// "90m", "24h" or "720h" (units ns, us, ms, s, m, h).
type Duration time.Duration

// MarshalGQL writes the duration as a Go duration string.
func (d Duration) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(formatDuration(time.Duration(d))))
}

// UnmarshalGQL reads a Go duration string.
func (d *Duration) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return apperr.Invalid("ttl", "must be a duration string such as \"1h\" or \"30m\"")
	}
	if len(str) > 64 {
		return apperr.Invalid("ttl", "is too long")
	}
	x, err := time.ParseDuration(strings.TrimSpace(str))
	if err != nil {
		return apperr.Invalid("ttl", "must be a duration string such as \"1h\" or \"30m\" (units: s, m, h)")
	}
	*d = Duration(x)
	return nil
}

// formatDuration is time.Duration.String without trailing zero units.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// IssueForViewer signs the signed-in viewer's own token: it carries the
// session's id and ends no later than the session's absolute end.
func (s *Signer) IssueForViewer(ctx context.Context, ttl *time.Duration) (*Token, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if _, err := s.TTL(ttl); err != nil {
		return nil, err
	}
	var sess *ent.UserSession
	if v.SessionID != 0 {
		var err error
		if sess, err = s.client.UserSession.Get(ctx, v.SessionID); err != nil {
			if ent.IsNotFound(err) {
				return nil, apperr.New(apperr.Unauthenticated, "the session has ended: sign in again")
			}
			return nil, err
		}
	}
	return s.Issue(ctx, Request{UserID: v.UserID, TTL: ttl, Session: sess})
}

// IssueForUser signs a user's token for an admin: no sid, capped by the
// maximum lifetime only. A disabled user gets none.
func (s *Signer) IssueForUser(ctx context.Context, userID int, ttl *time.Duration) (*Token, error) {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "admins only")
	}
	if _, err := s.TTL(ttl); err != nil {
		return nil, err
	}
	u, err := s.client.User.Get(ctx, userID)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundf("no user with id %d", userID)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, apperr.Invalid("userID", "the user is disabled")
	}
	return s.Issue(ctx, Request{UserID: userID, TTL: ttl})
}
