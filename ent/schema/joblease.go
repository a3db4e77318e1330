package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// JobLease says which server process runs a background job (time-based
// events, the webhook sender, pruning) until when: one row per job, taken
// and renewed by internal/jobs in single conditional statements, so that
// of several replicas one at a time runs each job, and a replica that dies
// hands its jobs over once its leases expire. It is internal: not part of
// the API, and no viewer may read or change it.
type JobLease struct{ ent.Schema }

// Fields of the JobLease.
func (JobLease) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			Unique().
			NotEmpty().
			MaxLen(100),
		// holder identifies the server process holding the lease: its
		// host name, its pid and a random id drawn at its start.
		field.String("holder").
			NotEmpty().
			MaxLen(300),
		// expires_at is when the lease ends unless renewed; a released
		// lease has expired.
		field.Time("expires_at"),
		// acquired_at is when the holder took the lease (renewals keep it).
		field.Time("acquired_at"),
	}
}

// Policy of the JobLease: only internal code, by explicit decision.
func (JobLease) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}

// Annotations of the JobLease.
func (JobLease) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("job_leases"),
		entgql.Skip(entgql.SkipAll),
	}
}
