package db

import (
	"database/sql/driver"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// Param is a statement argument for ent's SQL builder that keeps a SQLite
// statement prepared once: on SQLite it is written +? instead of ?.
//
// SQLite's query planner looks at the value bound to a parameter in a
// comparison (col = ?) while it weighs the plans it does not choose, and
// then marks the statement to be prepared again whenever that parameter's
// binding is cleared. The driver clears the bindings before each use of a
// cached statement, so such a statement is parsed and planned anew every
// time it runs: for the session lookup about half of its cost. The unary
// plus changes neither the value nor its affinity (a bare parameter has
// none either) nor the use of indexes, but the planner does not look
// through it. PostgreSQL (and any other dialect) gets the plain
// placeholder.
//
// Use it for statements built once and run many times with their
// arguments passed at each run.
func Param(v any) any { return param{v} }

type param struct{ v any }

var (
	_ sql.ParamFormatter = param{}
	_ driver.Valuer      = param{}
)

func (param) FormatParam(placeholder string, info *sql.StmtInfo) string {
	if info != nil && info.Dialect == dialect.SQLite {
		return "+" + placeholder
	}
	return placeholder
}

// Value is the argument itself, for a statement run with the builder's
// own arguments.
func (p param) Value() (driver.Value, error) {
	return driver.DefaultParameterConverter.ConvertValue(p.v)
}
