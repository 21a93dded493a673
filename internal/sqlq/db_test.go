package sqlq_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestSavepoint(t *testing.T) {
	db := testkit.NewDB(t)
	ctx := context.Background()
	db.Exec(t, "CREATE TABLE public.t (v text)")
	tx, err := connect(t, db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	insert := func(v string) func(pgx.Tx) error {
		return func(sp pgx.Tx) error {
			_, err := sp.Exec(ctx, "INSERT INTO public.t VALUES ($1)", v)
			return err
		}
	}
	if err := sqlq.Savepoint(ctx, tx, insert("kept")); err != nil {
		t.Fatalf("released savepoint: %v", err)
	}
	// A refused statement is rolled back to the savepoint, with what came
	// before it in the savepoint; the transaction goes on.
	err = sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		if err := insert("undone")(sp); err != nil {
			return err
		}
		_, err := sp.Exec(ctx, "SELECT 1/0")
		return err
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22012" {
		t.Fatalf("refused savepoint: got %v, want the division by zero", err)
	}
	mine := errors.New("mine")
	if err := sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		_ = insert("undone too")(sp)
		return mine
	}); err != mine {
		t.Fatalf("fn's own error: got %v, want it unchanged", err)
	}
	rows, err := tx.Query(ctx, "SELECT v FROM public.t ORDER BY v")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("the transaction after the rollbacks: %v", err)
	}
	if strings.Join(got, ",") != "kept" {
		t.Fatalf("rows after the savepoints: %q, want only \"kept\"", got)
	}

	// fn ends the transaction under the savepoint: the rollback fails, and
	// the error says so instead of passing for fn's own.
	err = sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		if _, err := sp.Exec(ctx, "ROLLBACK"); err != nil {
			return err
		}
		return mine
	})
	if err == nil || !strings.HasPrefix(err.Error(), "rolling back after mine: ") || errors.Is(err, mine) {
		t.Fatalf("failed rollback: got %v, want it reported, not passing for fn's error", err)
	}
	if !errors.As(err, &pe) || pe.Code != "25P01" {
		t.Fatalf("failed rollback: got %v, want the server's no_active_sql_transaction", err)
	}

	// The session dies inside the savepoint: nothing is left to roll back,
	// and fn's error, naming the cause, comes back as it is (not pgx's
	// complaint about the closed connection).
	tx2, err := connect(t, db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = sqlq.Savepoint(ctx, tx2, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
		return err
	})
	if !errors.As(err, &pe) || pe.Code != "57P01" || strings.Contains(err.Error(), "rolling back") {
		t.Fatalf("lost connection: got %v, want the termination (57P01) itself", err)
	}
}

// connect opens a connection of its own, closed when the test ends.
func connect(t *testing.T, db *testkit.DB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}
