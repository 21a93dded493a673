package acl_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// connectAs opens a connection as role, closed when the test ends.
func connectAs(t *testing.T, db *testkit.DB, role string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.URLAs(role))
	if err != nil {
		t.Fatalf("connecting as %s: %v", role, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// can reports whether role may run stmt, connecting as that role.
func can(t *testing.T, db *testkit.DB, role, stmt string) bool {
	t.Helper()
	ctx := context.Background()
	tx, err := connectAs(t, db, role).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, stmt)
	if err != nil && !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("%s as %s: unexpected error %v", stmt, role, err)
	}
	return err == nil
}

// groupRole is the role of access group name in db.
func groupRole(t *testing.T, db *testkit.DB, name string) string {
	t.Helper()
	oid, err := strconv.ParseUint(db.Value(t, "SELECT oid FROM pg_database WHERE datname = current_database()"), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return acl.GroupRole(uint32(oid), name)
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestACLEndToEnd(t *testing.T) {
	sfx := suffix()
	john, mary := "john_"+sfx, "mary_"+sfx
	dropLater := testkit.DropRolesLater(t)
	dropLater(john, mary)
	db := testkit.NewDB(t)
	dropLater(groupRole(t, db, "A"), groupRole(t, db, "B"), groupRole(t, db, "C"))
	db.Exec(t, `CREATE SCHEMA sales;
		CREATE TABLE sales."Deal" (id serial PRIMARY KEY, title text);
		CREATE TABLE sales.note (id int PRIMARY KEY, body text);
		INSERT INTO sales."Deal" (title) VALUES ('first');
		INSERT INTO sales.note VALUES (1, 'n')`)
	dir := t.TempDir()
	seed := `<AccessControl>
  <Person name="JOHN"/>
  <Person name="MARY"/>
  <AccessGroup name="A"><Member person="JOHN"/></AccessGroup>
  <AccessGroup name="B"><Member person="JOHN"/></AccessGroup>
  <AccessGroup name="C">MEMBERS</AccessGroup>
  <Permission object="table:sales.Deal" to="A" rights="Read"/>
  <Permission object="table:sales.Deal" to="B" rights="Read,Change,Create"/>
  <Permission object="table:sales.Deal" to="C" rights="NoAccess"/>
  <Permission object="schema:sales" to="MARY" rights="Read" propagate="true"/>
</AccessControl>`
	seed = strings.NewReplacer("JOHN", john, "MARY", mary).Replace(seed)
	file := writeFile(t, dir, "acl.xml", strings.Replace(seed, "MEMBERS", "", 1))

	res := testkit.Run(t, db, "acl", "apply", "-f", file)
	if res.Code != 0 {
		t.Fatalf("apply: exit %d: %s", res.Code, res.Stderr)
	}
	deal := `sales."Deal"`
	for stmt, want := range map[string]bool{
		"SELECT * FROM " + deal:                              true,
		"UPDATE " + deal + " SET title = 'x'":                true,
		"INSERT INTO " + deal + " (title) VALUES ('serial')": true, // needs USAGE on the serial's sequence
		"DELETE FROM " + deal:                                false,
		"SELECT * FROM sales.note":                           false,
	} {
		if got := can(t, db, john, stmt); got != want {
			t.Errorf("john: %s allowed=%v, want %v", stmt, got, want)
		}
	}
	// mary's Read on the schema propagates to both tables.
	if !can(t, db, mary, "SELECT * FROM sales.note") || !can(t, db, mary, "SELECT * FROM "+deal) || can(t, db, mary, "UPDATE sales.note SET body = ''") {
		t.Error("mary: propagated Read on schema sales does not hold")
	}

	// A second apply changes nothing, and plan prints nothing.
	res = testkit.Run(t, db, "acl", "apply", "-f", file)
	if res.Code != 0 || res.Stdout != "no changes: the database matches the file\n" {
		t.Errorf("second apply: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	res = testkit.Run(t, db, "acl", "plan", "-f", file)
	if res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan after apply: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}

	// A manual grant is drift: plan shows the REVOKE that undoes it.
	db.Exec(t, "GRANT DELETE ON sales.note TO "+sqlq.Ident(mary))
	res = testkit.Run(t, db, "acl", "plan", "-f", file)
	want := "REVOKE DELETE ON TABLE sales.note FROM " + sqlq.Ident(mary) + " CASCADE;\n"
	if res.Stdout != want {
		t.Errorf("plan after manual grant:\n got %q\nwant %q", res.Stdout, want)
	}

	// john joins C, which has No Access: he loses everything on Deal.
	file2 := writeFile(t, dir, "acl2.xml", strings.Replace(seed, "MEMBERS", `<Member person="`+john+`"/>`, 1))
	res = testkit.Run(t, db, "acl", "apply", "-f", file2)
	if res.Code != 0 {
		t.Fatalf("apply 2: %d %s", res.Code, res.Stderr)
	}
	if can(t, db, john, "SELECT * FROM "+deal) || can(t, db, john, "UPDATE "+deal+" SET title = 'y'") {
		t.Error("john kept rights on Deal after joining C (No Access)")
	}
	if can(t, db, mary, "DELETE FROM sales.note") {
		t.Error("the drifted DELETE grant survived apply")
	}
	res = testkit.Run(t, db, "acl", "effective", "-f", file2, john, "table:sales.Deal")
	if res.Code != 0 || !strings.Contains(res.Stdout, "via C: NoAccess (explicit entry, line 9)") || !strings.Contains(res.Stdout, "No Access wins") {
		t.Errorf("effective: %d %q", res.Code, res.Stdout)
	}

	// export writes the declared state.
	res = testkit.Run(t, db, "acl", "export")
	for _, want := range []string{
		`<Person name="` + john + `"/>`,
		`<AccessGroup name="C">` + "\n" + `    <Member person="` + john + `"/>`,
		`<Permission object="schema:sales" to="` + mary + `" rights="Read"/>`,
		`<Permission object="table:sales.Deal" to="C" rights="NoAccess"/>`,
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("export lacks %q:\n%s", want, res.Stdout)
		}
	}
	// and planning the export changes nothing.
	exported := writeFile(t, dir, "exported.xml", res.Stdout)
	if res = testkit.Run(t, db, "acl", "plan", "-f", exported); res.Code != 0 || res.Stdout != "" {
		t.Errorf("plan of the export: %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

func TestACLBadFiles(t *testing.T) {
	db := testkit.NewDB(t)
	dir := t.TempDir()
	tests := []struct{ name, xml, want string }{
		{"unknown object", "<AccessControl>\n  <Person name=\"p\"/>\n  <Permission object=\"table:public.nope\" to=\"p\" rights=\"Read\"/>\n</AccessControl>", ":3: unknown object table:public.nope"},
		{"unknown principal", "<AccessControl>\n  <Permission object=\"database\" to=\"ghost\" rights=\"Read\"/>\n</AccessControl>", `:2:33: "ghost" is neither a declared person nor an access group`},
		{"bad rights", "<AccessControl>\n  <Person name=\"p\"/>\n  <Permission object=\"database\" to=\"p\" rights=\"Write\"/>\n</AccessControl>", `:3:40: rights "Write": unknown permission "Write"`},
		{"unknown member", "<AccessControl>\n  <AccessGroup name=\"A\"><Member person=\"x\"/></AccessGroup>\n</AccessControl>", `:2:25: member "x" is not a declared person`},
		{"tenant without tenants", "<AccessControl>\n  <AccessGroup name=\"Acme\\Users\" tenant=\"Acme\"/>\n</AccessControl>", `:2: tenant "Acme": the database has no tenant table`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".xml", tt.xml)
			res := testkit.Run(t, db, "acl", "plan", "-f", p)
			if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tenantkit: "+p+tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", res.Code, res.Stderr, p+tt.want)
			}
		})
	}
}
