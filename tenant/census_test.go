package tenant

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// TestCount takes the census of the fixture: contacts of two tenants, one
// public, one of a tenant key that names no tenant (the foreign key
// disabled for it), locations of one tenant.
func TestCount(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Globex', 1, false, false, 1)`)
	db.Exec(t, `UPDATE ca_contact SET tenant = 2;
		UPDATE ca_contact SET tenant = 3 WHERE id IN (SELECT id FROM ca_contact ORDER BY id LIMIT 2);
		UPDATE ca_contact SET tenant = NULL WHERE id = (SELECT id FROM ca_contact ORDER BY id DESC LIMIT 1);
		SET session_replication_role = replica;
		UPDATE ca_contact SET tenant = 99 WHERE id = (SELECT id FROM ca_contact ORDER BY id DESC OFFSET 1 LIMIT 1);
		RESET session_replication_role;
		UPDATE ca_location SET tenant = 3`)
	contacts := db.Value(t, "SELECT count(*) FROM ca_contact")
	locations := db.Value(t, "SELECT count(*) FROM ca_location")
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Count(ctx, db.Pool, s.Tenants, s.Objects)
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for j, o := range c.Objects {
		col[o] = j
	}
	// Every tenanted object; not the tenant table, nor untenanted objects.
	if got := fmt.Sprint(c.Objects); got != "[cnt cr loc nr org pcat repo]" {
		t.Errorf("objects counted: %s", got)
	}
	var names []string
	for _, tn := range c.Tenants {
		names = append(names, tn.Name)
	}
	if got := fmt.Sprint(names); got != "[Acme Globex SP]" {
		t.Fatalf("tenants %s, want name order", got)
	}
	cnt, loc := col["cnt"], col["loc"]
	got := fmt.Sprintf("%d %d %d public %d unknown %d | %d %d %d", c.Rows[0][cnt], c.Rows[1][cnt], c.Rows[2][cnt], c.Public[cnt], c.Unknown[cnt],
		c.Rows[0][loc], c.Rows[1][loc], c.Public[loc])
	want := fmt.Sprintf("%d 2 0 public 1 unknown 1 | 0 %s 0", atoi(t, contacts)-4, locations)
	if got != want {
		t.Errorf("census %s, want %s", got, want)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
