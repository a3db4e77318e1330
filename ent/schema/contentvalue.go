package schema

// ContentValues are the features a package content can grant: the GraphQL
// enum ContentValue, the dashboard's choices and the database's check all come
// from this one list. Add a feature here, then run `go generate ./...`.
var ContentValues = []string{
	"MOE_GATHERER",
	"AUTO_GATHER",
	"CLOUD_SYNC",
	"PRIORITY_SUPPORT",
}
