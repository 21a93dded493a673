package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// TestTenantUniqueDDL: keys unique across tenants are rewritten to
// (tenant, key) where nothing references them; afterwards a second tenant
// may use a key the first has, so a duplicate-key error no longer tells
// one tenant's user that another tenant's row exists.
func TestTenantUniqueDDL(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE TABLE org_tenant (tid int PRIMARY KEY, name text NOT NULL UNIQUE, parent int REFERENCES org_tenant);
		INSERT INTO org_tenant VALUES (1, 'Provider', NULL), (2, 'Acme', 1), (3, 'Globex', 1);
		CREATE TABLE deal (deal_no text PRIMARY KEY, owner_id int NOT NULL REFERENCES org_tenant, ref text UNIQUE);
		CREATE TABLE deal_line (deal_no text REFERENCES deal, line int, owner_id int NOT NULL REFERENCES org_tenant, PRIMARY KEY (deal_no, line));
		CREATE TABLE "Tag" ("Code" text PRIMARY KEY, owner_id int REFERENCES org_tenant, "Label" text, UNIQUE ("Label"));
		CREATE TABLE scoped (owner_id int NOT NULL REFERENCES org_tenant, code text, UNIQUE (owner_id, code))`)
	s, err := schema.Load(ctx, db.Pool, schema.Options{TenantColumn: "owner_id"})
	if err != nil {
		t.Fatal(err)
	}
	ddl, err := schema.TenantUniqueDDL(ctx, db.Pool, s)
	if err != nil {
		t.Fatal(err)
	}
	want := `-- public.Tag: primary key Tag_pkey (Code) is unique across tenants
--   not changed: owner_id may be NULL (public rows), so it cannot be part of the primary key
-- public.Tag: unique constraint Tag_Label_key (Label) is unique across tenants
ALTER TABLE "public"."Tag" DROP CONSTRAINT "Tag_Label_key", ADD CONSTRAINT "Tag_Label_key" UNIQUE NULLS NOT DISTINCT ("owner_id", "Label");
-- public.deal: primary key deal_pkey (deal_no) is unique across tenants
--   not changed: referenced by deal_line (deal_line_deal_no_fkey); make those foreign keys include owner_id first
-- public.deal: unique constraint deal_ref_key (ref) is unique across tenants
ALTER TABLE "public"."deal" DROP CONSTRAINT "deal_ref_key", ADD CONSTRAINT "deal_ref_key" UNIQUE ("owner_id", "ref");
-- public.deal_line: primary key deal_line_pkey (deal_no, line) is unique across tenants
ALTER TABLE "public"."deal_line" DROP CONSTRAINT "deal_line_pkey", ADD CONSTRAINT "deal_line_pkey" PRIMARY KEY ("owner_id", "deal_no", "line");`
	if got := strings.Join(ddl, "\n"); got != want {
		t.Fatalf("DDL:\n%s\nwant:\n%s", got, want)
	}
	for _, stmt := range ddl {
		if !strings.HasPrefix(stmt, "--") {
			db.Exec(t, stmt)
		}
	}
	db.Exec(t, `INSERT INTO deal VALUES ('A-1', 2, 'r1'), ('G-1', 3, 'r1');
		INSERT INTO deal_line VALUES ('A-1', 1, 2), ('A-1', 1, 3);
		INSERT INTO "Tag" VALUES ('a', 2, 'same'), ('b', 3, 'same'), ('c', NULL, 'pub')`)
	if _, err := db.Pool.Exec(ctx, `INSERT INTO "Tag" VALUES ('d', NULL, 'pub')`); err == nil {
		t.Error("two public tags with one label: public keys must stay unique")
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO deal VALUES ('A-2', 2, 'r1')`); err == nil {
		t.Error("one tenant's two deals with one ref: keys must stay unique per tenant")
	}
	if again, err := schema.TenantUniqueDDL(ctx, db.Pool, s); err != nil || len(again) != 4 {
		t.Errorf("after the DDL, %d lines remain (%v), want the 4 of the keys left alone:\n%s", len(again), err, strings.Join(again, "\n"))
	}
}
