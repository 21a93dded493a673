package dbconn_test

import (
	"context"
	"testing"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestSessionIsPinned: whatever the database, the role or PGOPTIONS set,
// a tenantkit session searches only the system catalog and reads
// backslashes in literals as ordinary characters; the schema the settings
// would have made current is kept for the object schema.
func TestSessionIsPinned(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE SCHEMA app; CREATE SCHEMA "Evil ""x"""`)
	db.Exec(t, `ALTER DATABASE `+db.Name+` SET search_path = app, public`)
	db.Exec(t, `ALTER DATABASE `+db.Name+` SET standard_conforming_strings = off`)
	t.Setenv("PGOPTIONS", `-c standard_conforming_strings=off -c search_path=public`)
	for _, tc := range []struct{ url, wantDefault string }{
		{db.URL, "public"}, // PGOPTIONS' search_path wins over the database's
	} {
		pool, err := dbconn.Open(ctx, tc.url, dbconn.Session{App: "tenantkit test"})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		// Every connection of the pool, not only the first.
		for i := 0; i < 3; i++ {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			var path, scs, def, app string
			if err := conn.QueryRow(ctx, `SELECT current_setting('search_path'), current_setting('standard_conforming_strings'),
				current_setting($1), current_setting('application_name')`, dbconn.DefaultSchemaSetting).Scan(&path, &scs, &def, &app); err != nil {
				t.Fatal(err)
			}
			if path != dbconn.SearchPath || scs != "on" || def != tc.wantDefault || app != "tenantkit test" {
				t.Errorf("connection %d: search_path %q, standard_conforming_strings %q, default schema %q, app %q", i, path, scs, def, app)
			}
		}
	}
	t.Setenv("PGOPTIONS", "")
	pool, err := dbconn.Open(ctx, db.URL, dbconn.Session{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var def string
	if err := pool.QueryRow(ctx, "SELECT current_setting($1)", dbconn.DefaultSchemaSetting).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if def != "app" {
		t.Errorf("default schema under the database's search_path = %q, want app", def)
	}
}
