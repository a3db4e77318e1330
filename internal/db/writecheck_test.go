package db

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// failure is an error and the reason WriteFailure should give for it.
type failure struct {
	err  error
	want string
}

// TestWriteFailure classifies the errors drivers give into short reasons
// without driver text (real faults are in the server's readiness tests;
// these are the ones a test cannot cause, such as a full PostgreSQL disk).
func TestWriteFailure(t *testing.T) {
	tests := []failure{
		{&pgconn.PgError{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, "read-only"},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "53100", Message: `could not extend file "base/16384/2619": No space left on device`}), "disk full"},
		{&pgconn.PgError{Code: "57P01"}, "database unreachable"},
		{&pgconn.PgError{Code: "55P03"}, reasonBusy},
		{&pgconn.PgError{Code: "XX000", Message: "internal"}, "write failed (SQLSTATE XX000)"},
		{context.DeadlineExceeded, reasonBusy},
		{errors.New("open /secret/path: no such file"), "write failed"},
	}
	tests = append(tests, sqliteFailures...)
	for _, tt := range tests {
		if got := WriteFailure(tt.err); got != tt.want {
			t.Errorf("WriteFailure(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
