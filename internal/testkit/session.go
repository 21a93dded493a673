package testkit

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/dbconn"
)

// Session opens a pool on db the way the tenantkit binary does
// (dbconn.Open: search_path pinned, standard_conforming_strings on), for
// tests that call a package's API in process. It is closed when the test
// ends.
func (db *DB) Session(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := dbconn.Open(context.Background(), db.URL, dbconn.Session{App: "tenantkit test " + t.Name()})
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
