// Package gatehouse is the root of the Gatehouse module. Its only job is to
// hold the code generation steps, run in order by `go generate ./...`:
// ent (with entgql, which also writes graph/ent.graphql), then templ, then
// gqlgen (which runs `go mod tidy`, so templ must already be in use).
package gatehouse

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool templ generate -path ./views
//go:generate go run ./graph/gqlgen
