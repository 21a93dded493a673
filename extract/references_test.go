package extract_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/extract"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// moveSource: realms 1 Hub (the service provider) and 2 Parent, roots, 3
// Child under Parent, 4 Other under Hub. Child's jobs reference a public
// kind and unit, Parent's kind and agent (a supertenant's), Hub's agent
// through the eligible helper SREL — and, breaking the reference rule,
// Other's kind and Hub's second agent through the ineligible agent SREL.
const moveSource = `
INSERT INTO realm (rid, label, up, sp) VALUES (1, 'Hub', NULL, true), (2, 'Parent', NULL, false), (3, 'Child', 2, false), (4, 'Other', 1, false);
INSERT INTO unit VALUES ('u1', 'Unit one'), ('u2', 'Unit two');
INSERT INTO kind VALUES (1, 'alpha', NULL), (2, 'beta', 2), (3, 'gamma', 3), (4, 'delta', 4), (5, 'unused', NULL);
INSERT INTO agent VALUES ('00000000-0000-0000-0000-000000000001', 'hub-agent', 1), ('00000000-0000-0000-0000-000000000002', 'parent-agent', 2),
	('00000000-0000-0000-0000-000000000003', 'child-agent', 3), ('00000000-0000-0000-0000-000000000005', 'hub-agent-2', 1);
INSERT INTO job VALUES
	(1, 'J1', 1, 'u1', '00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001', 3),
	(2, 'J2', 2, NULL, '00000000-0000-0000-0000-000000000002', NULL, 3),
	(3, 'J3', 4, NULL, '00000000-0000-0000-0000-000000000005', NULL, 3),
	(4, 'J4', 3, 'u2', NULL, NULL, 4);
`

// TestExtractTenantWithReferencesInProcess: the closure holds every row of
// another owner that Child's rows reference where the reference rule
// allows it — public, the supertenant's, the service provider's through
// the eligible SREL — in SHARED sections after the owners, and leaves out
// the rows the rule forbids (another tenant's, the service provider's
// through an ineligible SREL).
func TestExtractTenantWithReferencesInProcess(t *testing.T) {
	db, overlay := testkit.NewMoveDB(t, moveSource)
	ctx, s := loadSchema(t, db, schema.Options{Overlay: overlay})
	pool := db.Session(t)
	var out bytes.Buffer
	sum, err := extract.ExtractTenant(ctx, pool, s, extract.TenantOptions{Tenant: "Child", WithReferences: true,
		Output: extract.Output{Stdout: &out, Sorted: true}})
	if err != nil {
		t.Fatalf("ExtractTenant: %v", err)
	}
	want := `TABLE realm SHARED
    rid label
    { "1", "Hub" }
    { "2", "Parent" }

TABLE agent SHARED
    aid handle owner_id
    { "00000000-0000-0000-0000-000000000001", "hub-agent", "1" }
    { "00000000-0000-0000-0000-000000000002", "parent-agent", "2" }

TABLE agent
    aid handle owner_id
    { "00000000-0000-0000-0000-000000000003", "child-agent", "3" }

TABLE kind SHARED
    kid tag owner_id
    { "1", "alpha", NULL }
    { "2", "beta", "2" }

TABLE kind
    kid tag owner_id
    { "3", "gamma", "3" }

TABLE unit SHARED
    code title
    { "u1", "Unit one" }

TABLE job
    jid ref kind unit agent helper owner_id
    { "1", "J1", "1", "u1", "00000000-0000-0000-0000-000000000003", "00000000-0000-0000-0000-000000000001", "3" }
    { "2", "J2", "2", NULL, "00000000-0000-0000-0000-000000000002", NULL, "3" }
    { "3", "J3", "4", NULL, "00000000-0000-0000-0000-000000000005", NULL, "3" }
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if sum.Rows != 12 {
		t.Errorf("summary rows %d, want 12", sum.Rows)
	}

	// One tenant only, in the userload format.
	for _, tc := range []struct {
		opts extract.TenantOptions
		msg  string
	}{
		{extract.TenantOptions{Tenant: "Child", WithReferences: true, Subtenants: true}, "TenantOptions.WithReferences moves one tenant: TenantOptions.Subtenants"},
		{extract.TenantOptions{Tenant: "subtenants:Parent", WithReferences: true}, `TenantOptions.WithReferences moves one tenant: "subtenants:Parent" is a tenant list (2 tenants)`},
		{extract.TenantOptions{Tenant: "Child", WithReferences: true, Output: extract.Output{Format: "xlsx"}}, "only the userload format can mark"},
	} {
		tc.opts.Output.Stdout = &out
		if _, err := extract.ExtractTenant(ctx, pool, s, tc.opts); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.msg)
		}
	}
}

// TestWithPublicStripTenantInProcess: --with-public --strip-tenant is
// accepted when every public row comes from an object without tenancy
// (it has no tenant column to lose), and refused, naming the tables, when
// a public row of a tenanted object would lose its NULL tenant.
func TestWithPublicStripTenantInProcess(t *testing.T) {
	db, overlay := testkit.NewMoveDB(t, moveSource)
	ctx, s := loadSchema(t, db, schema.Options{Overlay: overlay})
	pool := db.Session(t)
	var out bytes.Buffer
	_, err := extract.ExtractTenant(ctx, pool, s, extract.TenantOptions{Tenant: "Other", WithPublic: true, StripTenant: true, Objects: []string{"job"},
		Output: extract.Output{Stdout: &out}})
	if err != nil {
		t.Fatalf("Other's jobs reference only units: %v", err)
	}
	want := "TABLE unit\n    code title\n    { \"u2\", \"Unit two\" }\n\nTABLE job\n    jid ref kind unit agent helper\n    { \"4\", \"J4\", \"3\", \"u2\", NULL, NULL }\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	_, err = extract.ExtractTenant(ctx, pool, s, extract.TenantOptions{Tenant: "Child", WithPublic: true, StripTenant: true,
		Output: extract.Output{Stdout: &out}})
	if err == nil || !strings.Contains(err.Error(), "TenantOptions.WithPublic with TenantOptions.StripTenant: public rows of tenanted tables are referenced (kind (1))") {
		t.Errorf("Child's jobs reference a public kind: %v", err)
	}
}
