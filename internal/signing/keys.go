// Package signing signs entitlement tokens: compact JWS (EdDSA over
// Ed25519) that tell which features a user holds, for clients that check
// them offline. It keeps the signing keys in the database (the private
// halves sealed with the signing secret, never shown), rotates and retires
// them, and serves the public keys as a JWKS. Private keys and the secret
// never leave this package.
package signing

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/ent"
	"gatehouse/ent/signingkey"
	"gatehouse/internal/apperr"
	"gatehouse/internal/viewer"
)

// Algorithm is the JWS algorithm of every key.
const Algorithm = "EdDSA"

// PublishMargin is added to a key's publication after it stops signing,
// for a replica that signed with it just before it learnt of a rotation.
const PublishMargin = 5 * time.Minute

// Options configure a Signer.
type Options struct {
	// Issuer is the tokens' iss claim.
	Issuer string
	// DefaultTTL is a token's lifetime when none is asked for.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime; a key that stops signing stays
	// published this long (plus PublishMargin).
	MaxTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Signer signs entitlement tokens and manages the signing keys.
type Signer struct {
	client *ent.Client
	seal   *sealer // nil: keys can be listed and retired, not made or used
	opts   Options

	mu   sync.Mutex
	keys map[string]ed25519.PrivateKey // opened private keys by kid
}

// New returns a Signer over the database's keys. A nil secret gives a
// Signer that only lists and retires keys (the console's keys list and
// keys retire need no secret). Call Start before signing.
func New(client *ent.Client, secret []byte, o Options) (*Signer, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Signer{client: client, opts: o, keys: map[string]ed25519.PrivateKey{}}
	if secret != nil {
		seal, err := newSealer(secret)
		if err != nil {
			return nil, err
		}
		s.seal = seal
	}
	return s, nil
}

func (s *Signer) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// sys is ctx allowed to read and write the keys: only this package does.
func sys(ctx context.Context) context.Context { return viewer.System(ctx) }

// Start makes the first key if there is none (replicas starting together
// end with one) and checks that the secret opens the current key: a wrong
// secret is a clear error, never a new key beside keys it cannot use.
func (s *Signer) Start(ctx context.Context) error {
	if s.seal == nil {
		return errors.New("signing: no secret")
	}
	k, err := s.current(ctx)
	if ent.IsNotFound(err) {
		if k, err = s.create(ctx); ent.IsConstraintError(err) {
			// Another replica made it at the same moment.
			k, err = s.current(ctx)
		}
	}
	if err != nil {
		return fmt.Errorf("signing: reading the current key: %w", err)
	}
	if _, err := s.private(k); err != nil {
		return fmt.Errorf("signing: key %s: %w", k.Kid, err)
	}
	return nil
}

// current reads the key that signs.
func (s *Signer) current(ctx context.Context) (*ent.SigningKey, error) {
	return s.client.SigningKey.Query().Where(signingkey.Current(true)).Only(sys(ctx))
}

// newKey makes a key pair and its row's values.
func (s *Signer) newKey() (kid string, pub ed25519.PublicKey, sealed []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, nil, err
	}
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", nil, nil, err
	}
	kid = base64.RawURLEncoding.EncodeToString(tp)
	return kid, pub, s.seal.seal(priv.Seed(), kid), nil
}

// create inserts a new current key (the unique index on current refuses
// it if another is current).
func (s *Signer) create(ctx context.Context) (*ent.SigningKey, error) {
	return createKey(ctx, s, s.client.SigningKey)
}

func createKey(ctx context.Context, s *Signer, c *ent.SigningKeyClient) (*ent.SigningKey, error) {
	kid, pub, sealed, err := s.newKey()
	if err != nil {
		return nil, err
	}
	return c.Create().
		SetKid(kid).
		SetAlgorithm(Algorithm).
		SetPublicKey(pub).
		SetPrivateKeySealed(sealed).
		SetCreatedAt(s.now()).
		SetCurrent(true).
		Save(sys(ctx))
}

// private opens a key's private half (cached by kid).
func (s *Signer) private(k *ent.SigningKey) (ed25519.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.keys[k.Kid]; ok {
		return p, nil
	}
	if s.seal == nil {
		return nil, errors.New("no secret")
	}
	seed, err := s.seal.open(k.PrivateKeySealed, k.Kid)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errWrongSecret
	}
	p := ed25519.NewKeyFromSeed(seed)
	if !p.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(k.PublicKey)) {
		return nil, errors.New("the private key does not match its public key")
	}
	s.keys[k.Kid] = p
	return p, nil
}

// KeyState is where a key stands.
type KeyState string

// The states of a key.
const (
	// StateCurrent: it signs new tokens and is published.
	StateCurrent KeyState = "current"
	// StatePublished: it no longer signs; published until the tokens it
	// signed have expired.
	StatePublished KeyState = "published"
	// StateExpired: no token it signed is still valid; not published.
	StateExpired KeyState = "expired"
	// StateRetired: an operator stopped publishing it.
	StateRetired KeyState = "retired"
)

// KeyInfo describes a key without its private half.
type KeyInfo struct {
	Kid       string
	Algorithm string
	CreatedAt time.Time
	State     KeyState
	// PublishedUntil: when a key that no longer signs leaves the JWKS
	// (nil for the current key, which stays while it is current).
	PublishedUntil *time.Time
	RetiredAt      *time.Time
}

func (s *Signer) info(k *ent.SigningKey, now time.Time) KeyInfo {
	ki := KeyInfo{Kid: k.Kid, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, PublishedUntil: k.PublishedUntil, RetiredAt: k.RetiredAt}
	switch {
	case k.Current != nil && *k.Current:
		ki.State = StateCurrent
	case k.RetiredAt != nil:
		ki.State = StateRetired
	case k.PublishedUntil != nil && k.PublishedUntil.After(now):
		ki.State = StatePublished
	default:
		ki.State = StateExpired
	}
	return ki
}

// List describes every key, newest first.
func (s *Signer) List(ctx context.Context) ([]KeyInfo, error) {
	ks, err := s.client.SigningKey.Query().Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).All(sys(ctx))
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = s.info(k, now)
	}
	return out, nil
}

// Rotate makes a new current key. The key it replaces stays published for
// MaxTTL (plus PublishMargin), so the tokens it signed keep verifying
// until they expire.
func (s *Signer) Rotate(ctx context.Context) (*KeyInfo, error) {
	if s.seal == nil {
		return nil, errors.New("signing: no secret")
	}
	tx, err := s.client.Tx(sys(ctx))
	if err != nil {
		return nil, err
	}
	k, err := func() (*ent.SigningKey, error) {
		now := s.now()
		q := tx.SigningKey.Query().Where(signingkey.Current(true))
		if s.client.Dialect() == dialect.Postgres {
			// A rotation running at the same time waits for this one.
			q = q.ForUpdate()
		}
		old, err := q.Only(sys(ctx))
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			until := now.Add(s.opts.MaxTTL + PublishMargin)
			if err := tx.SigningKey.UpdateOne(old).ClearCurrent().SetPublishedUntil(until).Exec(sys(ctx)); err != nil {
				return nil, err
			}
		}
		return createKey(ctx, s, tx.SigningKey)
	}()
	if err != nil {
		_ = tx.Rollback()
		if ent.IsConstraintError(err) {
			return nil, apperr.New(apperr.Conflict, "another rotation happened at the same moment: look at the keys and try again")
		}
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	ki := s.info(k, s.now())
	s.opts.Logger.Info("rotated the signing key", "kid", k.Kid)
	return &ki, nil
}

// Retire stops publishing a key at once: tokens it signed no longer
// verify. The current key cannot be retired; rotate first.
func (s *Signer) Retire(ctx context.Context, kid string) (*KeyInfo, error) {
	k, err := s.client.SigningKey.Query().Where(signingkey.Kid(kid)).Only(sys(ctx))
	if ent.IsNotFound(err) {
		return nil, apperr.NotFoundf("no signing key %q", kid)
	}
	if err != nil {
		return nil, err
	}
	if k.Current != nil && *k.Current {
		return nil, apperr.New(apperr.Conflict, "key %s is the current signing key: rotate first (gatehouse keys rotate), then retire it", kid)
	}
	if k.RetiredAt == nil {
		if k, err = s.client.SigningKey.UpdateOne(k).SetRetiredAt(s.now()).Save(sys(ctx)); err != nil {
			return nil, err
		}
		s.opts.Logger.Info("retired a signing key", "kid", kid)
	}
	ki := s.info(k, s.now())
	return &ki, nil
}

// published reads the keys the JWKS shows: the current one first, then the
// others not retired whose publication lasts, newest first.
func (s *Signer) published(ctx context.Context) ([]*ent.SigningKey, error) {
	now := s.now()
	ks, err := s.client.SigningKey.Query().
		Where(signingkey.RetiredAtIsNil(), signingkey.Or(signingkey.Current(true), signingkey.PublishedUntilGT(now))).
		Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).
		All(sys(ctx))
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ks, func(a, b *ent.SigningKey) int {
		ac, bc := a.Current != nil && *a.Current, b.Current != nil && *b.Current
		switch {
		case ac && !bc:
			return -1
		case bc && !ac:
			return 1
		}
		return 0
	})
	return ks, nil
}

// JWKS is the set of published public keys.
func (s *Signer) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	ks, err := s.published(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks))}
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: ed25519.PublicKey(k.PublicKey), KeyID: k.Kid, Algorithm: k.Algorithm, Use: "sig",
		})
	}
	return set, nil
}

// Verify checks that the secret opens the current key, if there is one:
// a console rotating keys must not make a key the servers cannot open.
func (s *Signer) Verify(ctx context.Context) error {
	k, err := s.current(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.private(k); err != nil {
		return fmt.Errorf("signing: key %s: %w", k.Kid, err)
	}
	return nil
}
