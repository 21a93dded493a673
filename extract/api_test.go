package extract_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/extract"
	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

// These tests call extract.Extract and extract.ExtractTenant in process.

func loadSchema(t *testing.T, db *testkit.DB, so schema.Options) (context.Context, *schema.Schema) {
	t.Helper()
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Session(t), so)
	if err != nil {
		t.Fatalf("schema.Load: %v", err)
	}
	return ctx, s
}

// TestExtractInProcess: a table of a schema of its own, with a composite
// key, text that needs escaping and NULL beside the empty string, comes out
// whole (sorted by key with Sorted) in the userload format, on the writer
// given.
func TestExtractInProcess(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `CREATE SCHEMA "Ware ""house""";
		CREATE TABLE "Ware ""house""".bin (aisle text, slot int, label text, note text, PRIMARY KEY (aisle, slot));
		INSERT INTO "Ware ""house""".bin VALUES ('B', 2, 'tab	and "quote"', NULL), ('A', 10, 'two
lines', ''), ('A', 9, 'back\slash ü', 'x')`)
	ctx, s := loadSchema(t, db, schema.Options{DBSchema: `Ware "house"`})
	pool := db.Session(t)
	var out bytes.Buffer
	sum, err := extract.Extract(ctx, pool, s, extract.Options{Tables: []string{extract.All},
		Output: extract.Output{Stdout: &out, Sorted: true}})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := `TABLE bin
    aisle slot label note
    { "A", "9", "back\\slash ü", "x" }
    { "A", "10", "two\nlines", "" }
    { "B", "2", "tab\tand \"quote\"", NULL }
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if sum.Rows != 3 || len(sum.Tables) != 1 || sum.Tables[0].Table != "bin" || sum.Tables[0].Rows != 3 {
		t.Errorf("summary %+v", sum)
	}
	// Where and Columns select; a CSV file holds the same values.
	path := join(t.TempDir(), "bin.csv")
	sum, err = extract.Extract(ctx, pool, s, extract.Options{Tables: []string{"bin"}, Where: "aisle = 'A'", Columns: []string{"slot", "note"},
		Output: extract.Output{Path: path, Sorted: true}})
	if err != nil {
		t.Fatalf("Extract csv: %v", err)
	}
	if sum.Rows != 2 || sum.Format != "csv" {
		t.Errorf("csv summary %+v", sum)
	}
	got := readData(t, path)["bin"]
	if c := strings.Join(got.column(t, "note"), "|"); c != "x|" {
		t.Errorf("csv notes %q", c)
	}
	// A query instead of tables, and a bad one.
	out.Reset()
	if _, err := extract.Extract(ctx, pool, s, extract.Options{SQL: `SELECT label FROM "Ware ""house""".bin WHERE note IS NULL`, Name: "q",
		Output: extract.Output{Stdout: &out}}); err != nil {
		t.Fatalf("Extract SQL: %v", err)
	}
	if want := "TABLE q\n    label\n    { \"tab\\tand \\\"quote\\\"\" }\n"; out.String() != want {
		t.Errorf("query output %q, want %q", out.String(), want)
	}
	if _, err := extract.Extract(ctx, pool, s, extract.Options{Tables: []string{"nosuch"}, Output: extract.Output{Stdout: &out}}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown table: %v", err)
	}
}

// TestExtractTenantInProcess: the Chinook shape (tenant column "TenantId"):
// a tenant's rows, with its subtenants, stripped of the tenant column, and
// with the public rows they reference.
func TestExtractTenantInProcess(t *testing.T) {
	db, overlay := testkit.NewChinookDB(t)
	db.Exec(t, `INSERT INTO "Tenant" ("TenantId", "Name", "ParentId", "Depth") VALUES (3, 'Store B', 1, 1), (4, 'Store A1', 2, 2);
		ALTER TABLE "Customer" ADD "GenreId" integer REFERENCES "Genre";
		INSERT INTO "Employee" VALUES (4, 'Sub', 'Staff', NULL, 4), (5, 'Other', 'Store', NULL, 3);
		UPDATE "Customer" SET "GenreId" = 2 WHERE "CustomerId" = 1`)
	ctx, s := loadSchema(t, db, schema.Options{Overlay: overlay})
	pool := db.Session(t)
	extractTenant := func(opts extract.TenantOptions) map[string]*section {
		t.Helper()
		path := join(t.TempDir(), "tenant.dat")
		opts.Output = extract.Output{Path: path, Sorted: true}
		if _, err := extract.ExtractTenant(ctx, pool, s, opts); err != nil {
			t.Fatalf("ExtractTenant %+v: %v", opts, err)
		}
		return readData(t, path)
	}
	got := extractTenant(extract.TenantOptions{Tenant: "Store A"})
	if ids := strings.Join(got["Employee"].column(t, "EmployeeId"), ","); ids != "1,2,3" {
		t.Errorf("Store A's employees %s", ids)
	}
	if got["Genre"] != nil || got["Customer"] == nil {
		t.Errorf("sections %v", sectionNames(got))
	}
	got = extractTenant(extract.TenantOptions{Tenant: "2", Subtenants: true, StripTenant: true})
	if ids := strings.Join(got["Employee"].column(t, "EmployeeId"), ","); ids != "1,2,3,4" {
		t.Errorf("with subtenants: employees %s", ids)
	}
	for _, c := range got["Employee"].columns {
		if c == "TenantId" {
			t.Errorf("StripTenant left the tenant column in %v", got["Employee"].columns)
		}
	}
	got = extractTenant(extract.TenantOptions{Tenant: "Store A", WithPublic: true})
	if g := strings.Join(got["Genre"].column(t, "Name"), ","); g != "Jazz" {
		t.Errorf("public rows referenced: %q", g)
	}
	if _, err := extract.ExtractTenant(ctx, pool, s, extract.TenantOptions{Tenant: "Nobody", Output: extract.Output{Stdout: &bytes.Buffer{}}}); err == nil || !strings.Contains(err.Error(), "Nobody") {
		t.Errorf("unknown tenant: %v", err)
	}
}

func sectionNames(m map[string]*section) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
