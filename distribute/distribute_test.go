package distribute

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var fixtureOverlay = filepath.Join("..", "fixtures", "schema.xml")

func load(t *testing.T, db *testkit.DB, overlay string) *schema.Schema {
	t.Helper()
	s, err := schema.Load(context.Background(), db.Pool, schema.Options{Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func build(t *testing.T, db *testkit.DB, overlay string, opts Options) *Plan {
	t.Helper()
	opts.Overlay = overlay
	p, err := Build(context.Background(), db.Pool, load(t, db, overlay), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func classes(p *Plan) string {
	var out []string
	for _, t := range p.Tables {
		out = append(out, fmt.Sprintf("%s %s %d/%d: %s", t.Name, t.Type, t.Rows, t.Public, t.Reason))
	}
	return strings.Join(out, "\n")
}

func fkActions(p *Plan) string {
	var out []string
	for _, fk := range p.ForeignKeys {
		out = append(out, fmt.Sprintf("%s %s.%s→%s %s %d", fk.Name, fk.From, fk.Attr, fk.To, fk.Action, fk.CrossRows))
	}
	return strings.Join(out, "\n")
}

func wantText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != strings.TrimSpace(want) {
		t.Errorf("%s:\n%s\nwant\n%s", what, got, strings.TrimSpace(want))
	}
}

// TestKeysOnlyFixture plans and applies the key rewrite of the converted
// fixture database on plain PostgreSQL, then finds nothing left to do.
func TestKeysOnlyFixture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testkit.NewFixtureDB(t)
	testkit.ConvertFixture(t, db)
	p := build(t, db, fixtureOverlay, Options{KeysOnly: true})
	wantText(t, "classification", classes(p), `
ca_tenant reference 6/0: the tenant table
cnt distributed 7/0: tenant-required
cr distributed 5/0: tenant-required
loc distributed 4/0: tenant-required
nr reference 2/2: tenant-optional with 2 public rows: Citus allows no NULL distribution value
org distributed 6/0: tenant-required
pcat reference 3/3: tenant-optional with 3 public rows: Citus allows no NULL distribution value
pri reference 4/0: no tenancy; referenced by cr.priority
repo reference 2/2: tenant-optional with 2 public rows: Citus allows no NULL distribution value`)
	wantText(t, "foreign keys", fkActions(p), `
ca_tenant_parent_fkey ca_tenant.parent→ca_tenant kept 0
ca_contact_organization_fkey cnt.organization→org rewritten 0
call_req_category_fkey cr.category→pcat kept 0
call_req_customer_fkey cr.customer→cnt rewritten 0
call_req_organization_fkey cr.organization→org rewritten 0
call_req_priority_fkey cr.priority→pri kept 0
notification_rule_category_fkey nr.category→pcat kept 0`)
	var b strings.Builder
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`ALTER TABLE "public"."ca_contact" DROP CONSTRAINT "ca_contact_pkey", ADD CONSTRAINT "ca_contact_pkey" PRIMARY KEY ("tenant", "id");`,
		`-- note: call_req.id: bigint identity column kept (Citus accepts it)`,
		`ALTER TABLE "public"."call_req" ADD CONSTRAINT "call_req_customer_fkey" FOREIGN KEY ("tenant", "customer") REFERENCES "public"."ca_contact" ("tenant", "id");`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "create_distributed_table") || strings.Contains(out, "ca_contact_tenant_fkey") {
		t.Errorf("a --keys-only plan calls Citus or touches the tenant column's foreign key:\n%s", out)
	}

	if err := p.Apply(ctx, db.Pool, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range db.Rows(t, `SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f')
		  AND conrelid::regclass::text IN ('ca_contact', 'call_req', 'category') ORDER BY 1`) {
		got = append(got, r[0])
	}
	wantText(t, "constraints after the rewrite", strings.Join(got, "\n"), `
ca_contact FOREIGN KEY (tenant) REFERENCES ca_tenant(id)
ca_contact FOREIGN KEY (tenant, organization) REFERENCES ca_organization(tenant, id)
ca_contact PRIMARY KEY (tenant, id)
ca_contact UNIQUE (tenant, userid)
call_req FOREIGN KEY (category) REFERENCES category(id)
call_req FOREIGN KEY (priority) REFERENCES priority(code)
call_req FOREIGN KEY (tenant) REFERENCES ca_tenant(id)
call_req FOREIGN KEY (tenant, customer) REFERENCES ca_contact(tenant, id)
call_req FOREIGN KEY (tenant, organization) REFERENCES ca_organization(tenant, id)
call_req PRIMARY KEY (tenant, id)
call_req UNIQUE (tenant, ref_num)
category FOREIGN KEY (tenant) REFERENCES ca_tenant(id)
category PRIMARY KEY (id)`)
	// The tenant table's identity became a sequence default that goes on
	// after the existing keys; the bigint identity of call_req is kept.
	if got := db.Value(t, `SELECT string_agg(attrelid::regclass || '.' || attname || '=' || attidentity::text, ' ' ORDER BY 1)
		FROM pg_attribute WHERE attname = 'id' AND attrelid IN ('ca_tenant'::regclass, 'call_req'::regclass)`); got != "ca_tenant.id= call_req.id=d" {
		t.Errorf("identity columns: %s", got)
	}
	if got := db.Value(t, `INSERT INTO ca_tenant (name) VALUES ('New') RETURNING id`); got != "7" {
		t.Errorf("next tenant key %s, want 7", got)
	}
	if got := db.Value(t, `SELECT pg_get_serial_sequence('ca_tenant', 'id')`); got != "public.ca_tenant_id_seq1" {
		t.Errorf("sequence of ca_tenant.id: %s", got)
	}
	again := build(t, db, fixtureOverlay, Options{KeysOnly: true})
	b.Reset()
	if err := again.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !again.Done() || b.Len() != 0 {
		t.Errorf("after apply the keys-only plan is not empty:\n%s", b.String())
	}
	wantText(t, "foreign keys after the rewrite", fkActions(again), `
ca_tenant_parent_fkey ca_tenant.parent→ca_tenant kept 0
ca_contact_organization_fkey cnt.organization→org kept 0
call_req_category_fkey cr.category→pcat kept 0
call_req_customer_fkey cr.customer→cnt kept 0
call_req_organization_fkey cr.organization→org kept 0
call_req_priority_fkey cr.priority→pri kept 0
notification_rule_category_fkey nr.category→pcat kept 0`)

	// Without Citus the full plan is shown but refused, in one line.
	full := build(t, db, fixtureOverlay, Options{})
	if full.Citus || full.Done() {
		t.Fatalf("full plan on plain PostgreSQL: citus %v, done %v", full.Citus, full.Done())
	}
	err := full.Apply(ctx, db.Pool, nil)
	if fault.KindOf(err) != fault.ErrUsage || !errors.Is(err, ErrNoCitus) || strings.Contains(err.Error(), "\n") {
		t.Errorf("apply without Citus: %v, %v", fault.KindOf(err), err)
	}
}

// TestRefusesUntenantedRows: rows without a tenant in a tenant-required
// object stop the plan (exit 1), naming the object.
func TestRefusesUntenantedRows(t *testing.T) {
	t.Parallel()
	db := testkit.NewFixtureDB(t)
	_, err := Build(context.Background(), db.Pool, load(t, db, fixtureOverlay), Options{KeysOnly: true})
	if fault.KindOf(err) != fault.ErrViolation || err == nil ||
		!strings.Contains(err.Error(), `object "org" (table ca_organization): 6 of 6 rows have no tenant`) ||
		!strings.Contains(err.Error(), "finish buildtenant/settenant first") {
		t.Errorf("%v: %v", fault.KindOf(err), err)
	}
}

const sharedSQL = `
CREATE TABLE public.t (id int PRIMARY KEY, name text NOT NULL UNIQUE, parent int REFERENCES public.t);
INSERT INTO public.t VALUES (1, 'SP', NULL), (2, 'A', 1), (3, 'B', 1);
CREATE TABLE public.kind (id int PRIMARY KEY, label text);
CREATE TABLE public.lonely (id int PRIMARY KEY);
CREATE TABLE public.tmpl (id int PRIMARY KEY, owner int REFERENCES public.t, body text);
CREATE TABLE public.doc (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), owner int NOT NULL REFERENCES public.t,
  tmpl int REFERENCES public.tmpl ON DELETE SET NULL, kind int REFERENCES public.kind);
CREATE TABLE public.pubnote (id serial PRIMARY KEY, owner int REFERENCES public.t, doc uuid REFERENCES public.doc);
INSERT INTO public.kind VALUES (1, 'memo');
INSERT INTO public.tmpl VALUES (10, 1, 'the provider''s template'), (11, 2, 'A''s own');
INSERT INTO public.doc VALUES ('00000000-0000-0000-0000-00000000000a', 2, 10, 1), ('00000000-0000-0000-0000-00000000000b', 3, NULL, 1),
  ('00000000-0000-0000-0000-00000000000c', 2, 11, NULL);
INSERT INTO public.pubnote (owner, doc) VALUES (NULL, '00000000-0000-0000-0000-00000000000b'), (3, NULL);`

// TestCrossTenantForeignKeys: a foreign key some rows use to reach another
// tenant's row is dropped, its SREL kept in the overlay, or with
// --reference-for-shared its target is a reference table; a reference
// table's foreign key to a distributed one is dropped; a table nothing
// links to stays local unless --objects names it.
func TestCrossTenantForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testkit.NewDB(t)
	db.Exec(t, sharedSQL)
	ov := testkit.WriteFile(t, "ov.xml", `<Schema tenantColumn="owner"><Tenants table="t"/></Schema>`)
	p := build(t, db, ov, Options{KeysOnly: true})
	wantText(t, "classification", classes(p), `
doc distributed 3/0: tenant-required
kind reference 1/0: no tenancy; referenced by doc.kind
lonely local 0/0: no tenancy; no distributed or reference table is linked to it
pubnote reference 2/1: tenant-optional with 1 public rows: Citus allows no NULL distribution value
t reference 3/0: the tenant table
tmpl distributed 2/0: tenant-optional, every row has a tenant (the tenant column becomes NOT NULL)`)
	wantText(t, "foreign keys", fkActions(p), `
doc_kind_fkey doc.kind→kind kept 0
doc_tmpl_fkey doc.tmpl→tmpl dropped 1
pubnote_doc_fkey pubnote.doc→doc dropped 0
t_parent_fkey t.parent→t kept 0`)
	if got := fmt.Sprint(p.Kept); got != "[{doc doc tmpl tmpl tmpl id false false} {pubnote pubnote doc doc doc id false false}]" {
		t.Errorf("kept SRELs %s", got)
	}

	shared := build(t, db, ov, Options{KeysOnly: true, ReferenceForShared: true, Objects: []string{"lone*"}})
	wantText(t, "classification with --reference-for-shared --objects", classes(shared), `
doc distributed 3/0: tenant-required
kind reference 1/0: no tenancy; referenced by doc.kind
lonely reference 0/0: no tenancy; named by Options.Objects
pubnote reference 2/1: tenant-optional with 1 public rows: Citus allows no NULL distribution value
t reference 3/0: the tenant table
tmpl reference 2/0: referenced across tenants by doc.tmpl (1 rows reference other tenants' rows); Options.ReferenceForShared`)
	wantText(t, "foreign keys with --reference-for-shared", fkActions(shared), `
doc_kind_fkey doc.kind→kind kept 0
doc_tmpl_fkey doc.tmpl→tmpl kept 0
pubnote_doc_fkey pubnote.doc→doc dropped 0
t_parent_fkey t.parent→t kept 0`)

	// Apply the first plan with the overlay it asks for: the dropped
	// foreign keys come back as overlay SRELs.
	src, err := os.ReadFile(ov)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := MergeOverlay(src, p.Undeclared())
	if err != nil {
		t.Fatal(err)
	}
	ov2 := testkit.WriteFile(t, "ov2.xml", string(merged))
	if err := p.Apply(ctx, db.Pool, nil); err != nil {
		t.Fatal(err)
	}
	s := load(t, db, ov2)
	var got []string
	for _, o := range s.Objects {
		for _, r := range o.Srels {
			got = append(got, fmt.Sprintf("%s.%s %v→%s%v fk=%q with=%v", o.Name, r.Attr, r.Columns, r.TargetName, r.TargetColumns, r.ForeignKey, r.WithTenant))
		}
	}
	wantText(t, "SRELs after apply, with the written overlay", strings.Join(got, "\n"), `
doc.kind [kind]→kind[id] fk="doc_kind_fkey" with=false
doc.tmpl [tmpl]→tmpl[id] fk="" with=false
pubnote.doc [doc]→doc[id] fk="" with=false
t.parent [parent]→t[id] fk="t_parent_fkey" with=false`)
	if got := db.Value(t, `SELECT string_agg(conrelid::regclass || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conrelid::regclass || ' ' || pg_get_constraintdef(oid)) FROM pg_constraint
		WHERE contype IN ('p', 'f') AND conrelid IN ('doc'::regclass, 'tmpl'::regclass, 'pubnote'::regclass)`); got !=
		"doc FOREIGN KEY (kind) REFERENCES kind(id); doc FOREIGN KEY (owner) REFERENCES t(id); doc PRIMARY KEY (owner, id); pubnote FOREIGN KEY (owner) REFERENCES t(id); pubnote PRIMARY KEY (id); tmpl FOREIGN KEY (owner) REFERENCES t(id); tmpl PRIMARY KEY (owner, id)" {
		t.Errorf("constraints: %s", got)
	}
	if again := build(t, db, ov2, Options{KeysOnly: true}); !again.Done() || len(again.Undeclared()) != 0 {
		t.Errorf("after apply: steps %v, undeclared %v", again.Steps, again.Undeclared())
	}
}

// TestRewrittenSetNull keeps ON DELETE SET NULL off the tenant column of a
// rewritten foreign key.
func TestRewrittenSetNull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testkit.NewDB(t)
	db.Exec(t, sharedSQL+`DELETE FROM public.doc WHERE tmpl = 10`)
	ov := testkit.WriteFile(t, "ov.xml", `<Schema tenantColumn="owner"><Tenants table="t"/></Schema>`)
	p := build(t, db, ov, Options{KeysOnly: true})
	if err := p.Apply(ctx, db.Pool, nil); err != nil {
		t.Fatal(err)
	}
	if got := db.Value(t, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'doc_tmpl_fkey'`); got != "FOREIGN KEY (owner, tmpl) REFERENCES tmpl(owner, id) ON DELETE SET NULL (tmpl)" {
		t.Errorf("doc_tmpl_fkey: %s", got)
	}
	db.Exec(t, `DELETE FROM public.tmpl WHERE id = 11`)
	if got := db.Value(t, `SELECT owner || '/' || coalesce(tmpl::text, 'NULL') FROM public.doc WHERE id = '00000000-0000-0000-0000-00000000000c'`); got != "2/NULL" {
		t.Errorf("after deleting the template: %s", got)
	}
}

// TestRefusesUniqueIndexWithoutTenant: Citus needs every unique index of a
// distributed table to include the distribution column.
func TestRefusesUniqueIndexWithoutTenant(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	db.Exec(t, sharedSQL+`CREATE UNIQUE INDEX doc_kind_once ON public.doc (kind, tmpl)`)
	ov := testkit.WriteFile(t, "ov.xml", `<Schema tenantColumn="owner"><Tenants table="t"/></Schema>`)
	_, err := Build(context.Background(), db.Pool, load(t, db, ov), Options{KeysOnly: true, Overlay: ov})
	if fault.KindOf(err) != fault.ErrUsage || err == nil || !strings.Contains(err.Error(), `unique index doc_kind_once on table doc does not include the tenant column "owner"`) {
		t.Errorf("%v: %v", fault.KindOf(err), err)
	}
}

func TestMergeOverlay(t *testing.T) {
	src := `<Schema>
  <Object name="cr" table="call_req">
    <Srel attr="assignee" column="assignee" to="cnt"/>
  </Object>
  <Object name="loc" table="ca_location"/>
</Schema>
`
	kept := []KeptSrel{
		{Object: "cr", Table: "call_req", Attr: "customer", Column: "customer", To: "cnt", ToColumn: "id"},
		{Object: "cr", Table: "call_req", Attr: "assignee", Column: "assignee", To: "cnt", ToColumn: "id", Declared: true},
		{Object: "loc", Table: "ca_location", Attr: "site", Column: "site", To: "s&t", ToColumn: "id", Eligible: true},
		{Object: "x", Table: "x_tab", Attr: "y", Column: "y", To: "cr", ToColumn: "id"},
	}
	got, err := MergeOverlay([]byte(src), kept)
	if err != nil {
		t.Fatal(err)
	}
	want := `<Schema>
  <Object name="cr" table="call_req">
    <Srel attr="assignee" column="assignee" to="cnt"/>
    <Srel attr="customer" column="customer" to="cnt" toColumn="id"/>
  </Object>
  <Object name="loc" table="ca_location">
    <Srel attr="site" column="site" to="s&amp;t" toColumn="id" serviceProviderEligible="true"/>
  </Object>
  <Object name="x" table="x_tab">
    <Srel attr="y" column="y" to="cr" toColumn="id"/>
  </Object>
</Schema>
`
	if string(got) != want {
		t.Errorf("merged overlay:\n%s\nwant\n%s", got, want)
	}
	fresh, err := MergeOverlay(nil, kept[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(fresh), "<Schema>\n  <Object name=\"cr\" table=\"call_req\">\n    <Srel attr=\"customer\"") {
		t.Errorf("new overlay:\n%s", fresh)
	}
	if _, err := MergeOverlay([]byte("<Schema>"), kept); err == nil {
		t.Error("a truncated overlay merged")
	}
}
