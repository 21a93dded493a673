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

// TestPins: no table means no pins; a swap of two names is a conflict
// naming both keys and the pinned key's current name; a rerun of SavePins
// with the same mapping changes no row; a repin moves the pins.
func TestPins(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (4, 'Globex', 1, false, false, 1)`)
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPins(ctx, db.Pool, map[string]string{"Acme": "2"}); err != nil {
		t.Fatalf("CheckPins without the table: %v", err)
	}
	if err := SavePins(ctx, db.Pool, map[string]string{"Acme": "2", "4": "4"}, "aliases"); err != nil {
		t.Fatal(err)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || key || ' ' || pinned_by, ', ' ORDER BY name) FROM tenantkit.tenant_pin"); got != "4=4 aliases, Acme=2 aliases" {
		t.Fatalf("pins = %s", got)
	}
	before := db.Value(t, "SELECT string_agg(xmin::text || pinned_at::text, ',' ORDER BY name) FROM tenantkit.tenant_pin")
	if err := SavePins(ctx, db.Pool, map[string]string{"Acme": "2", "4": "4"}, "acl apply"); err != nil {
		t.Fatal(err)
	}
	if after := db.Value(t, "SELECT string_agg(xmin::text || pinned_at::text, ',' ORDER BY name) FROM tenantkit.tenant_pin"); after != before {
		t.Errorf("a rerun rewrote the pins: %s, then %s", before, after)
	}
	if err := CheckPins(ctx, db.Pool, map[string]string{"Acme": "2", "4": "4"}); err != nil {
		t.Errorf("unchanged names: %v", err)
	}

	// The names are swapped, and a tenant is renamed "4".
	db.Exec(t, "UPDATE ca_tenant SET name = 'swap' WHERE id = 2; UPDATE ca_tenant SET name = 'Acme' WHERE id = 4; UPDATE ca_tenant SET name = 'Globex' WHERE id = 2")
	err = CheckPins(ctx, db.Pool, map[string]string{"Acme": "4"})
	var pe *PinError
	if !errors.As(err, &pe) || len(pe.Conflicts) != 1 {
		t.Fatalf("CheckPins after the swap = %v, want a *PinError", err)
	}
	if err := pe.NameKeys(ctx, db.Pool, s.Tenants); err != nil {
		t.Fatal(err)
	}
	want := `tenant "Acme" is key 4 now, but was key 2 when aliases pinned it on ` // then the date
	if msg := pe.Error(); !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, ` (key 2 is now named "Globex"): restore the names, or rerun with Options.Repin to accept the new ones`) {
		t.Errorf("message = %s", msg)
	}
	// From the resolved names alone, when the file names both.
	err = CheckPins(ctx, db.Pool, map[string]string{"Acme": "4", "Globex": "2"})
	if !errors.As(err, &pe) || len(pe.Conflicts) != 1 || pe.Conflicts[0].KeyNowNamed != "Globex" {
		t.Errorf("CheckPins with both names = %v", err)
	}
	db.Exec(t, "UPDATE ca_tenant SET name = '4' WHERE id = 1")
	if err := CheckPins(ctx, db.Pool, map[string]string{"4": "1"}); !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), `tenant "4" is key 1 now, but was key 4`) {
		t.Errorf("a tenant renamed like a pinned key: %v", err)
	}

	// --repin: the new mapping is pinned; Globex's old pin on key 4 goes.
	db.Exec(t, "UPDATE ca_tenant SET name = 'SP' WHERE id = 1")
	if err := SavePins(ctx, db.Pool, map[string]string{"Globex": "4"}, "acl apply"); err != nil {
		t.Fatal(err)
	}
	if err := SavePins(ctx, db.Pool, map[string]string{"Acme": "4"}, "aliases"); err != nil {
		t.Fatal(err)
	}
	if got := db.Value(t, "SELECT string_agg(name || '=' || key, ', ' ORDER BY name) FROM tenantkit.tenant_pin"); got != "4=4, Acme=4" {
		t.Errorf("pins after the repin = %s", got)
	}
	if err := CheckPins(ctx, db.Pool, map[string]string{"Acme": "4"}); err != nil {
		t.Errorf("after the repin: %v", err)
	}
	// A pinned key that is gone.
	db.Exec(t, "DELETE FROM ca_tenant WHERE id = 4")
	db.Exec(t, "UPDATE ca_tenant SET name = 'Acme' WHERE id = 2")
	err = CheckPins(ctx, db.Pool, map[string]string{"Acme": "2"})
	if !errors.As(err, &pe) {
		t.Fatalf("after the delete: %v", err)
	}
	if err := pe.NameKeys(ctx, db.Pool, s.Tenants); err != nil || !strings.Contains(pe.Error(), "(no tenant has key 4 now)") {
		t.Errorf("gone key: %v, %v", pe, err)
	}
}
