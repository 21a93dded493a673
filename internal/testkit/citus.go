package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// CitusURL is the admin connection string of a Citus coordinator with
// workers (TENANTKIT_TEST_CITUS_URL), "" when none is configured.
func CitusURL() string { return os.Getenv("TENANTKIT_TEST_CITUS_URL") }

// NewCitusDB creates a database on the Citus coordinator of CitusURL and on
// each of its workers, with the citus extension in each and the workers
// added to the coordinator, dropped everywhere when the test ends. The test
// is skipped when no coordinator is configured.
func NewCitusDB(t testing.TB) *DB {
	t.Helper()
	admin := CitusURL()
	if admin == "" {
		t.Skip("no Citus coordinator: set TENANTKIT_TEST_CITUS_URL to the admin URL of one with workers")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tk_citus_" + hex.EncodeToString(b[:])
	coord, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testkit: connecting to the Citus coordinator: %v", err)
	}
	defer coord.Close(ctx)
	type node struct {
		host string
		port int
	}
	var workers []node
	rows, err := coord.Query(ctx, "SELECT nodename, nodeport FROM pg_catalog.pg_dist_node WHERE groupid <> 0 AND isactive ORDER BY nodeid")
	if err != nil {
		t.Fatalf("testkit: listing the Citus workers (is %s a coordinator?): %v", admin, err)
	}
	var n node
	if _, err := pgx.ForEachRow(rows, []any{&n.host, &n.port}, func() error { workers = append(workers, n); return nil }); err != nil {
		t.Fatalf("testkit: listing the Citus workers: %v", err)
	}
	if len(workers) == 0 {
		t.Fatalf("testkit: the Citus coordinator %s has no workers", admin)
	}
	cfg, err := pgxpool.ParseConfig(admin)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	// Each node gets the database; the workers first, so that the
	// coordinator's extension finds them ready.
	var servers []string
	for _, w := range workers {
		c := cfg.ConnConfig.Copy()
		c.Host, c.Port = w.host, uint16(w.port)
		servers = append(servers, urlFor(c.Host, c.Port, c.User, c.Database))
	}
	servers = append(servers, admin)
	dropAll := func() {
		for _, s := range servers {
			conn, err := pgx.Connect(ctx, s)
			if err != nil {
				t.Errorf("testkit: dropping %s: %v", name, err)
				continue
			}
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+sqlq.Ident(name)+" WITH (FORCE)"); err != nil {
				t.Errorf("testkit: dropping %s: %v", name, err)
			}
			conn.Close(ctx)
		}
	}
	t.Cleanup(dropAll)
	for _, s := range servers {
		conn, err := pgx.Connect(ctx, s)
		if err != nil {
			t.Fatalf("testkit: connecting to Citus node %s: %v", s, err)
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+sqlq.Ident(name))
		conn.Close(ctx)
		if err != nil {
			t.Fatalf("testkit: creating database %s on %s: %v", name, s, err)
		}
		dbc, err := pgx.ConnectConfig(ctx, withDatabase(t, s, name))
		if err != nil {
			t.Fatalf("testkit: connecting to %s on %s: %v", name, s, err)
		}
		_, err = dbc.Exec(ctx, "CREATE EXTENSION citus")
		if err == nil && s == admin {
			host := cfg.ConnConfig.Host
			if strings.HasPrefix(host, "/") {
				host = "localhost"
			}
			_, err = dbc.Exec(ctx, "SELECT pg_catalog.citus_set_coordinator_host($1, $2)", host, int(cfg.ConnConfig.Port))
			for _, w := range workers {
				if err == nil {
					_, err = dbc.Exec(ctx, "SELECT pg_catalog.citus_add_node($1, $2)", w.host, w.port)
				}
			}
		}
		dbc.Close(ctx)
		if err != nil {
			t.Fatalf("testkit: setting up Citus in %s on %s: %v", name, s, err)
		}
	}
	pc := cfg.Copy()
	pc.ConnConfig.Database = name
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatalf("testkit: connecting to %s: %v", name, err)
	}
	t.Cleanup(pool.Close) // runs before dropAll
	db := &DB{Name: name, URL: urlFor(pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.User, name), Pool: pool}
	if pc.ConnConfig.Password != "" {
		db.URL = strings.Replace(db.URL, "@", ":"+pc.ConnConfig.Password+"@", 1)
	}
	return db
}

func withDatabase(t testing.TB, url, name string) *pgx.ConnConfig {
	t.Helper()
	c, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	c.Database = name
	return c
}

// NewCitusFixtureDB is NewCitusDB holding the fixture tables and rows.
func NewCitusFixtureDB(t testing.TB) *DB {
	t.Helper()
	return withFixtures(t, NewCitusDB(t))
}

// ConvertFixture runs the fixture's conversion with the tenantkit binary:
// the service provider "Service Provider", one tenant per organization
// (fixtures/buildtenant.xml), every row stamped (fixtures/settenant.xml).
func ConvertFixture(t testing.TB, db *DB) {
	t.Helper()
	for _, args := range [][]string{
		{"tenant", "create", "--service-provider", "--subtenants-allowed", "Service Provider"},
		{"buildtenant"},
		{"settenant", "-f", "fixtures/settenant.xml"},
	} {
		res := Run(t, db, append([]string{"--schema", "fixtures/schema.xml"}, args...)...)
		if res.Code != 0 {
			t.Fatalf("testkit: tenantkit %s: exit %d\n%s%s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
		}
	}
}
