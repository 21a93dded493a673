package pgfault

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassifyCode(t *testing.T) {
	for _, tc := range []struct {
		code, what string
		want       Class
	}{
		{"22P02", "invalid text representation", Data},
		{"22001", "value too long", Data},
		{"22003", "numeric value out of range", Data},
		{"22007", "invalid datetime format", Data},
		{"23505", "unique violation", Data},
		{"23503", "foreign key violation", Data},
		{"23502", "not null violation", Data},
		{"23514", "check violation", Data},
		{"23P01", "exclusion violation", Data},
		{"21000", "ON CONFLICT affects a row twice", Data},
		{"42804", "datatype mismatch", Data},
		{"P0001", "trigger RAISE EXCEPTION", Data},
		{"P0004", "trigger ASSERT", Data},
		{"27000", "triggered data change violation", Data},
		{"40P01", "deadlock detected", Transient},
		{"40001", "serialization failure", Transient},
		{"53100", "disk full", Failure},
		{"53200", "out of memory", Failure},
		{"53300", "too many connections", Failure},
		{"54000", "program limit exceeded", Failure},
		{"55P03", "lock not available (lock_timeout)", Failure},
		{"57014", "query canceled (statement_timeout, cancel)", Failure},
		{"57P01", "admin shutdown (pg_terminate_backend)", Failure},
		{"57P02", "crash shutdown", Failure},
		{"08006", "connection failure", Failure},
		{"08000", "connection exception", Failure},
		{"25P03", "idle in transaction timeout", Failure},
		{"25006", "read-only transaction", Failure},
		{"42501", "insufficient privilege", Failure},
		{"42P01", "undefined table", Failure},
		{"42703", "undefined column", Failure},
		{"58030", "I/O error", Failure},
		{"XX000", "internal error", Failure},
		{"XX001", "data corrupted", Failure},
		{"", "no code", Failure},
	} {
		if got := ClassifyCode(tc.code); got != tc.want {
			t.Errorf("%s (%s): %v, want %v", tc.code, tc.what, got, tc.want)
		}
	}
}

func TestClassifyWrapped(t *testing.T) {
	wrapped := fmt.Errorf("userload: applying: %w", &pgconn.PgError{Code: "23514"})
	if got := Classify(wrapped); got != Data {
		t.Errorf("wrapped check violation: %v, want data", got)
	}
	for _, err := range []error{io.ErrUnexpectedEOF, errors.New("conn closed"), fmt.Errorf("x: %w", &pgconn.PgError{Code: "53100"})} {
		if got := Classify(err); got != Failure {
			t.Errorf("%v: %v, want failure", err, got)
		}
	}
}
