package tenant

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestLookupAndAncestors(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Acme EU', 2, false, false, 2), (4, '3', NULL, false, false, 0)`)
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	tt := s.Tenants
	got, err := Lookup(ctx, db.Pool, tt, "Acme EU")
	if err != nil || got.ID != "3" || *got.Parent != "2" || got.Depth != 2 {
		t.Fatalf("Lookup(Acme EU) = %+v, %v", got, err)
	}
	// A name wins over a key that reads the same.
	if got, err := Lookup(ctx, db.Pool, tt, "3"); err != nil || got.Name != "3" {
		t.Errorf("Lookup(3) = %+v, %v; want the tenant named 3", got, err)
	}
	if got, err := Lookup(ctx, db.Pool, tt, "2"); err != nil || got.Name != "Acme" {
		t.Errorf("Lookup(2) = %+v, %v", got, err)
	}
	if _, err := Lookup(ctx, db.Pool, tt, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(nobody) error = %v", err)
	}
	sp, err := ServiceProvider(ctx, db.Pool, tt)
	if err != nil || sp.Name != "SP" {
		t.Errorf("ServiceProvider = %+v, %v", sp, err)
	}
	if got := closure(t, db, AncestorsCTE(tt, "c"), "ancestor"); got != "1:1 2:1,2 3:1,2,3 4:4" {
		t.Errorf("ancestors = %s", got)
	}
	// A cycle does not hang the recursion.
	db.Exec(t, "UPDATE ca_tenant SET parent = 3 WHERE id = 1")
	if n := db.Value(t, "WITH RECURSIVE "+AncestorsCTE(tt, "anc")+" SELECT count(*) FROM anc"); n != "10" {
		t.Errorf("rows with a cycle = %s, want 10", n)
	}
}

// closure renders a tenant closure CTE named c as "tenant:member,… …".
func closure(t *testing.T, db *testkit.DB, cte, member string) string {
	t.Helper()
	rows := db.Rows(t, "WITH RECURSIVE "+cte+" SELECT tenant, string_agg("+member+"::text, ',' ORDER BY "+member+") FROM c GROUP BY tenant ORDER BY tenant")
	var lines []string
	for _, r := range rows {
		lines = append(lines, r[0]+":"+r[1])
	}
	return strings.Join(lines, " ")
}

func TestLookupActive(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth, active) VALUES
		(1, 'SP', NULL, true, true, 0, true), (2, 'O''Brien & Søn', 1, false, false, 1, true),
		(3, 'Gone "Ltd"', 1, false, false, 1, false), (4, '2', 1, false, false, 1, true)`)
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref, wantID, wantErr string
		is                   error
	}{
		{ref: "SP", wantID: "1"},
		{ref: "O'Brien & Søn", wantID: "2"}, // quote and non-ASCII, as a bound value
		{ref: "1", wantID: "1"},             // by key
		{ref: "2", wantID: "4"},             // a name wins over a key that reads the same
		{ref: "4", wantID: "4"},
		{ref: "Nobody", wantErr: `unknown tenant "Nobody": no tenant has this name or key`, is: ErrNotFound},
		{ref: "o'brien & søn", wantErr: `unknown tenant "o'brien & søn": no tenant has this name or key`, is: ErrNotFound},
		{ref: "x' OR true --", wantErr: `unknown tenant "x' OR true --": no tenant has this name or key`, is: ErrNotFound},
		{ref: `Gone "Ltd"`, wantErr: `tenant "Gone \"Ltd\"" is inactive`, is: ErrInactive},
		{ref: "3", wantErr: `tenant "Gone \"Ltd\"" is inactive`, is: ErrInactive}, // by key, named by its name
	} {
		got, err := LookupActive(ctx, db.Pool, s.Tenants, tc.ref)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, tc.is) {
				t.Errorf("LookupActive(%q) = %+v, %v; want the error %q (%v)", tc.ref, got, err, tc.wantErr, tc.is)
			}
			continue
		}
		if err != nil || got.ID != tc.wantID || !got.Active {
			t.Errorf("LookupActive(%q) = %+v, %v; want tenant %s", tc.ref, got, err, tc.wantID)
		}
	}
}
