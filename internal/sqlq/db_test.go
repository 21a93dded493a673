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
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
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

	// The session dies inside the savepoint: the rollback fails too, and the
	// error says so instead of passing for fn's own.
	err = sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
		return err
	})
	if err == nil || !strings.HasPrefix(err.Error(), "rolling back after ") {
		t.Fatalf("failed rollback: got %v, want it reported", err)
	}
	if errors.As(err, &pe) && pe.Code == "57P01" {
		t.Fatalf("failed rollback: the error %v still passes for fn's (%s)", err, pe.Code)
	}
}
