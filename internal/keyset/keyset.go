// Package keyset pages a list ordered by a column that may be NULL.
//
// entgql pages after a cursor with the predicate (column, id) > (value, id)
// (or <), and with id > id alone when the cursor's row holds NULL. A NULL
// compares as unknown, so across NULLs that predicate loses or repeats
// rows: on PostgreSQL, which sorts NULL after every value in ascending
// order, the rows holding NULL are never reached once a page has ended on
// a value; on SQLite, which sorts NULL first, a page ending on a NULL row
// is followed by the rows of greater id only, skipping the others.
//
// Predicate is the cursor predicate with each database's own placement of
// NULL (the order the list query already asks for), and Interceptor lets
// it replace entgql's: a list resolver pages with no cursor and a context
// made by With, and the interceptor adds the predicate to the one list
// query of that context, not to its count (the total stays the whole
// list's) nor to the queries that load the rows' edges.
package keyset

import (
	"context"
	"fmt"
	"reflect"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// Cursor is a list's cursor: the row's id and its value in the order
// column (nil for NULL).
type Cursor = entgql.Cursor[int]

// Predicate selects the rows after the cursor after and before the cursor
// before (either may be nil) in the order (column, idColumn), ascending or
// descending (desc), where NULL sorts the way the dialect sorts it: before
// every value in ascending order on SQLite, after every value on
// PostgreSQL.
func Predicate(dialectName, column, idColumn string, desc bool, after, before *Cursor) (func(*sql.Selector), error) {
	var nullsLargest bool
	switch dialectName {
	case dialect.SQLite:
	case dialect.Postgres:
		nullsLargest = true
	default:
		return nil, fmt.Errorf("keyset: no NULL order known for dialect %q", dialectName)
	}
	var ps []func(*sql.Selector)
	if after != nil {
		// After the cursor in a descending order is below it.
		ps = append(ps, beyond(column, idColumn, *after, !desc, nullsLargest))
	}
	if before != nil {
		ps = append(ps, beyond(column, idColumn, *before, desc, nullsLargest))
	}
	return func(s *sql.Selector) {
		for _, p := range ps {
			p(s)
		}
	}, nil
}

// beyond selects the rows whose (column, id) is greater than the cursor's
// (up) or less than it (!up), NULL being the largest value when
// nullsLargest and the smallest otherwise.
func beyond(column, idColumn string, c Cursor, up, nullsLargest bool) func(*sql.Selector) {
	// Beyond the cursor in the direction where NULL lies: every NULL row
	// when the cursor holds a value, and every value row never.
	towardNulls := up == nullsLargest
	return func(s *sql.Selector) {
		col, id := s.C(column), s.C(idColumn)
		idBeyond := sql.GT(id, c.ID)
		valueBeyond := func() *sql.Predicate { return sql.GT(col, c.Value) }
		if !up {
			idBeyond = sql.LT(id, c.ID)
			valueBeyond = func() *sql.Predicate { return sql.LT(col, c.Value) }
		}
		if c.Value == nil {
			// The cursor's row holds NULL: the NULL rows beyond it by id,
			// then, when the values lie that way, every value row.
			p := sql.And(sql.IsNull(col), idBeyond)
			if !towardNulls {
				p = sql.Or(p, sql.NotNull(col))
			}
			s.Where(p)
			return
		}
		p := sql.Or(valueBeyond(), sql.And(sql.EQ(col, c.Value), idBeyond))
		if towardNulls {
			p = sql.Or(p, sql.IsNull(col))
		}
		s.Where(p)
	}
}

type key struct{}

// With returns ctx carrying the predicate p for the next list query made
// with it (see Interceptor).
func With(ctx context.Context, p func(*sql.Selector)) context.Context {
	return context.WithValue(ctx, key{}, p)
}

// Interceptor adds the predicate of With to the list query (ent's All) of
// the context it was made for. The queries that query makes, to load its
// rows' edges, and its count do not get it.
func Interceptor() ent.Interceptor {
	return ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			p, _ := ctx.Value(key{}).(func(*sql.Selector))
			if p == nil {
				return next.Query(ctx, q)
			}
			ctx = context.WithValue(ctx, key{}, nil)
			if qc := ent.QueryFromContext(ctx); qc == nil || qc.Op != ent.OpQueryAll {
				return next.Query(ctx, q)
			}
			if err := where(q, p); err != nil {
				return nil, err
			}
			return next.Query(ctx, q)
		})
	})
}

// where adds p to the query q through its generated Where method, whose
// parameter is the entity's own predicate type (a func(*sql.Selector)):
// the schema, where the interceptor is declared, cannot import the
// generated package that names it.
func where(q ent.Query, p func(*sql.Selector)) error {
	m := reflect.ValueOf(q).MethodByName("Where")
	if !m.IsValid() || !m.Type().IsVariadic() || m.Type().NumIn() != 1 ||
		!reflect.TypeOf(p).ConvertibleTo(m.Type().In(0).Elem()) {
		return fmt.Errorf("keyset: %T takes no predicate", q)
	}
	m.Call([]reflect.Value{reflect.ValueOf(p).Convert(m.Type().In(0).Elem())})
	return nil
}
