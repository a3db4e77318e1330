package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SigningKey is a key pair that signs entitlement tokens (internal/signing).
// Keys live in the database so that every replica signs with the same key;
// the private half is sealed (AES-256-GCM under the signing secret, which
// the database never holds). It is internal: no GraphQL type, and no
// viewer may read or change it; only internal/signing does, as the system.
type SigningKey struct{ ent.Schema }

// Fields of the SigningKey.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		// kid is the key's id in JWS headers and the JWKS: its RFC 7638
		// thumbprint (SHA-256, base64url).
		field.String("kid").
			Unique().
			Immutable().
			NotEmpty().
			MaxLen(100),
		// algorithm is the JWS algorithm, "EdDSA" (Ed25519).
		field.String("algorithm").
			Immutable().
			NotEmpty().
			MaxLen(20),
		// public_key is the raw public key (32 bytes for Ed25519).
		field.Bytes("public_key").
			Immutable().
			NotEmpty().
			MaxLen(1024),
		// private_key_sealed is the private key sealed with the signing
		// secret: a 12-byte nonce, then the AES-256-GCM ciphertext with
		// the kid as additional data. Never shown anywhere.
		field.Bytes("private_key_sealed").
			Immutable().
			NotEmpty().
			Sensitive().
			MaxLen(1024),
		field.Time("created_at").
			Default(now).
			Immutable(),
		// current is true for the one key that signs new tokens and NULL
		// for every other: the unique index lets only one row hold true,
		// so replicas racing to make or rotate a key end with one.
		field.Bool("current").
			Optional().
			Nillable(),
		// published_until is set when the key stops being current: the
		// JWKS keeps it until then (no token it signed lives longer).
		field.Time("published_until").
			Optional().
			Nillable(),
		// retired_at is when an operator stopped publishing the key: its
		// tokens no longer verify.
		field.Time("retired_at").
			Optional().
			Nillable(),
	}
}

// Indexes of the SigningKey.
func (SigningKey) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("current").Unique(),
		index.Fields("published_until"),
	}
}

// Policy of the SigningKey: only internal code, by explicit decision.
func (SigningKey) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Annotations of the SigningKey.
func (SigningKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("signing_keys"),
		entgql.Skip(entgql.SkipAll),
	}
}
