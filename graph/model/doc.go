// Package model would hold GraphQL types that gqlgen generates; every type
// of the API is bound to ent or internal/ types, so it stays empty.
package model
