package acl_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// aclGen generates access-control files for the Chinook-shaped database:
// persons, groups (plain, per tenant, built-in) with random members, and
// entries with random rights, propagation and No Access on every kind of
// object, tenants by name, key and list, and Replace markers.
type aclGen struct {
	r       *rand.Rand
	persons []string
}

var (
	genObjects = []string{"database", "schema:public", "table:public.Customer", "table:public.Tenant",
		"sequence:public.InvoiceNumber", "sequence:public.Customer_CustomerId_seq", "function:public.total",
		"tenant:SP", "tenant:Acme", "tenant:3", "tenant:Globex", "tenant:group:Europe", "tenant:Europe",
		"subtenants:Acme", "tenant:supertenants:Acme EU", "tenant:related:Acme"}
	genContainers = []string{"database", "schema:public", "tenant:Acme", "tenant:group:Europe"}
	genRights     = []string{"Read", "Create", "Change", "Execute", "Delete", "ReadPermissions", "ChangePermissions", "RX", "Full"}
	genGroups     = []struct{ name, tenant string }{{"g1", ""}, {"g 2", ""}, {`Acme\Team`, "Acme"}, {`3\Ops`, "3"}, {"SYSTEM", ""}, {"Super Administrators", ""}}
)

func (g *aclGen) pick(n int) bool { return g.r.IntN(n) == 0 }

func (g *aclGen) file() string {
	var b strings.Builder
	b.WriteString("<AccessControl>\n")
	var persons, principals []string
	for _, p := range g.persons {
		if !g.pick(4) {
			persons = append(persons, p)
			fmt.Fprintf(&b, "  <Person name=%q/>\n", p)
		}
	}
	principals = append(principals, persons...)
	for _, gr := range genGroups {
		if g.pick(2) {
			continue
		}
		principals = append(principals, gr.name)
		tenant := ""
		if gr.tenant != "" {
			tenant = fmt.Sprintf(" tenant=%q", gr.tenant)
		}
		fmt.Fprintf(&b, "  <AccessGroup name=%q%s>", strings.ReplaceAll(gr.name, `\`, `\`), tenant)
		for _, p := range persons {
			if g.pick(2) {
				fmt.Fprintf(&b, "<Member person=%q/>", p)
			}
		}
		b.WriteString("</AccessGroup>\n")
	}
	principals = append(principals, "EVERYONE")
	for _, o := range genObjects {
		for _, p := range principals {
			if !g.pick(6) {
				continue
			}
			rights := "NoAccess"
			if !g.pick(5) {
				var rs []string
				for _, r := range genRights {
					if g.pick(4) {
						rs = append(rs, r)
					}
				}
				if len(rs) == 0 {
					rs = []string{genRights[g.r.IntN(len(genRights))]}
				}
				rights = strings.Join(rs, ",")
			}
			extra := ""
			if g.pick(3) {
				extra += ` propagate="false"`
			}
			if o == "tenant:Globex" && g.pick(2) {
				extra += ` subtenants="true"`
			}
			fmt.Fprintf(&b, "  <Permission object=%q to=%q rights=%q%s/>\n", o, p, rights, extra)
		}
	}
	for _, c := range genContainers {
		if g.pick(6) {
			fmt.Fprintf(&b, "  <Replace object=%q/>\n", c)
		}
	}
	b.WriteString("</AccessControl>\n")
	return b.String()
}

// TestExportRoundTrip: for generated files, apply → export → plan of the
// export is empty, and the export of the export is the same file.
func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	sfx := suffix()
	gen := &aclGen{r: rand.New(rand.NewPCG(21, 1))}
	for i := range 4 {
		gen.persons = append(gen.persons, fmt.Sprintf("rt%d_%s", i, sfx))
	}
	dropLater := testkit.DropRolesLater(t)
	dropLater(gen.persons...)
	db, overlay := chinookDB(t)
	for _, gr := range genGroups {
		dropLater(groupRole(t, db, gr.name))
	}
	db.Exec(t, `CREATE FUNCTION total() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
	if res := testkit.Run(t, db, "--schema", overlay, "tenant", "group", "create", "Europe", "Acme EU", "Globex"); res.Code != 0 {
		t.Fatalf("tenant group create: %d %s", res.Code, res.Stderr)
	}
	pool, err := dbconn.Open(ctx, db.URL, dbconn.Session{App: "acl round trip"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := schema.Load(ctx, pool, schema.Options{Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plan := func(path string) *acl.Plan {
		t.Helper()
		f, err := acl.ParseFile(path)
		if err != nil {
			t.Fatalf("%v", err)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		p, err := acl.MakePlan(ctx, tx, f, s, acl.PlanOptions{})
		if err != nil {
			t.Fatalf("plan of %s: %v", filepath.Base(path), err)
		}
		return p
	}
	export := func() string {
		t.Helper()
		var buf bytes.Buffer
		if err := acl.Export(ctx, pool, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	for i := range 25 {
		text := gen.file()
		path := writeFile(t, dir, fmt.Sprintf("case%02d.xml", i), text)
		f, err := acl.ParseFile(path)
		if err != nil {
			t.Fatalf("case %d: generated a bad file: %v\n%s", i, err, text)
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := acl.MakePlan(ctx, tx, f, s, acl.PlanOptions{})
		if err == nil {
			err = acl.Apply(ctx, tx, p)
		}
		if err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			tx.Rollback(ctx)
			t.Fatalf("case %d: apply: %v\n%s", i, err, text)
		}
		t.Logf("case %d: %d statements applied", i, len(p.Statements))
		exported := export()
		if p := plan(writeFile(t, dir, fmt.Sprintf("case%02d-export.xml", i), exported)); !p.Empty() {
			t.Fatalf("case %d: the plan of the export is not empty:\n%s\nfile:\n%s\nexport:\n%s", i, strings.Join(p.Statements, "\n"), text, exported)
		}
		if again := export(); again != exported {
			t.Fatalf("case %d: export changed:\n%s\nthen\n%s", i, exported, again)
		}
	}
}
