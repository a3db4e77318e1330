package tracing

import (
	"context"
	stdsql "database/sql"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// maxStatement bounds the statement text a span carries.
const maxStatement = 2000

// Driver wraps an ent driver in a span per statement, whose attributes
// are the database and the statement's parameterised text: never its
// arguments. It keeps what the driver does (on SQLite: queue the writes).
func Driver(d dialect.Driver, tp trace.TracerProvider) dialect.Driver {
	system := "sqlite"
	if d.Dialect() == dialect.Postgres {
		system = "postgresql"
	}
	return &driver{Driver: d, t: tp.Tracer(Name), system: system}
}

type driver struct {
	dialect.Driver
	t      trace.Tracer
	system string
}

func (d *driver) span(ctx context.Context, query string) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// Statements outside a traced request (background jobs) make no
		// trace of their own.
		return ctx, nil
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	if len(query) > maxStatement {
		query = query[:maxStatement]
	}
	return d.t.Start(ctx, strings.ToUpper(verb), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", d.system), attribute.String("db.query.text", query)))
}

func end(s trace.Span, err error) {
	if s == nil {
		return
	}
	if err != nil {
		s.SetStatus(codes.Error, "statement failed")
	}
	s.End()
}

func (d *driver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, s := d.span(ctx, query)
	err := d.Driver.Exec(ctx, query, args, v)
	end(s, err)
	return err
}

func (d *driver) Query(ctx context.Context, query string, args, v any) error {
	ctx, s := d.span(ctx, query)
	err := d.Driver.Query(ctx, query, args, v)
	end(s, err)
	return err
}

func (d *driver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ctx, s := d.span(ctx, query)
	r, err := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
	end(s, err)
	return r, err
}

func (d *driver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	ctx, s := d.span(ctx, query)
	r, err := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	}).QueryContext(ctx, query, args...)
	end(s, err)
	return r, err
}

func (d *driver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

func (d *driver) BeginTx(ctx context.Context, opts *entsql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.(interface {
		BeginTx(context.Context, *entsql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, d: d}, nil
}

type txn struct {
	dialect.Tx
	d *driver
}

func (t *txn) Exec(ctx context.Context, query string, args, v any) error {
	ctx, s := t.d.span(ctx, query)
	err := t.Tx.Exec(ctx, query, args, v)
	end(s, err)
	return err
}

func (t *txn) Query(ctx context.Context, query string, args, v any) error {
	ctx, s := t.d.span(ctx, query)
	err := t.Tx.Query(ctx, query, args, v)
	end(s, err)
	return err
}

func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ctx, s := t.d.span(ctx, query)
	r, err := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	}).ExecContext(ctx, query, args...)
	end(s, err)
	return r, err
}

func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	ctx, s := t.d.span(ctx, query)
	r, err := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	}).QueryContext(ctx, query, args...)
	end(s, err)
	return r, err
}
