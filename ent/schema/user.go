package schema

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"gatehouse/internal/keyset"
	"gatehouse/internal/timezone"
)

// UsernameMaxLen is the longest username accepted.
const UsernameMaxLen = 64

// User holds the schema definition for the User entity.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").
			NotEmpty().
			MaxLen(UsernameMaxLen).
			Match(UsernamePattern).
			Annotations(entgql.OrderField("USERNAME")),
		// username_fold is the lower-cased username; its unique index makes
		// usernames unique case-insensitively on every database.
		field.String("username_fold").
			Unique().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("password_hash").
			Sensitive().
			NotEmpty().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("role").
			Values("ADMIN", "USER").
			Default("USER").
			Annotations(entgql.Type("Role"), entgql.OrderField("ROLE")),
		field.Bool("disabled").
			Default(false).
			Annotations(entgql.OrderField("DISABLED")),
		field.Time("last_login_at").
			Optional().
			Nillable().
			Annotations(entgql.OrderField("LAST_LOGIN_AT")),
		// session_epoch counts the times all of the user's sessions were
		// ended (password change, disable, logout everywhere) or the user
		// lost the admin role. A dashboard session remembers the value it
		// signed in with and ends when the value moves on.
		field.Int("session_epoch").
			Default(0).
			NonNegative().
			Annotations(entgql.Skip(entgql.SkipAll)),
		// time_zone is the IANA zone the dashboard shows this admin's
		// times in, and reads the dates they type in; empty is UTC.
		field.String("time_zone").
			Optional().
			Default("").
			MaxLen(timezone.MaxLen).
			Validate(timezone.Validate).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("packages", UserPackage.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("sessions", UserSession.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("trials", PackageTrial.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the User. Each order of the users list has an index on its
// column and the id (the tie-breaker), so that a page deep inside the list
// starts from its cursor rather than scanning and sorting every user before
// it. user_role_id replaces the earlier user_role, which the migration drops.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("role", "id"),
		index.Fields("username", "id"),
		index.Fields("created_at", "id"),
		index.Fields("updated_at", "id"),
		index.Fields("disabled", "id"),
		index.Fields("last_login_at", "id"),
	}
}

// Hooks of the User.
func (User) Hooks() []ent.Hook {
	return []ent.Hook{foldUsername, demotionEndsDashboardSessions}
}

// Interceptors of the User: the users list ordered by last_login_at, which
// is NULL for users who never signed in, pages with keyset's NULL-aware
// cursor predicate (see graph's Users resolver).
func (User) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{keyset.Interceptor()}
}

// Policy of the User: users read themselves only.
func (User) Policy() ent.Policy { return ownerPolicy(columnIs("id")) }

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("users").Directives(adminOnly()),
	}
}

// foldUsername keeps username_fold in step with username.
func foldUsername(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if v, ok := m.Field("username"); ok {
			if s, ok := v.(string); ok {
				if err := m.SetField("username_fold", strings.ToLower(s)); err != nil {
					return nil, err
				}
			}
		}
		return next.Mutate(ctx, m)
	})
}

// demotionEndsDashboardSessions moves the session epoch on when a user is
// given a role other than ADMIN: their dashboard sessions end, and stay
// ended should the role come back. (Their API sessions go on, as a user's.)
func demotionEndsDashboardSessions(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
			if v, ok := m.Field("role"); ok && fmt.Sprint(v) != "ADMIN" {
				if err := m.AddField("session_epoch", 1); err != nil {
					return nil, err
				}
			}
		}
		return next.Mutate(ctx, m)
	})
}

// UsernamePattern: letters, digits and . _ @ - , starting with a letter or digit.
var UsernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
