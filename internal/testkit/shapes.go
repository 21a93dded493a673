package testkit

import "testing"

// ChinookSQL builds a small database shaped like the quoted PascalCase
// edition of the Chinook sample, converted to tenants: a tenant table
// "Tenant" whose key column "TenantId" has the tenant columns' name, a
// public lookup table, and tenant-required tables referencing each other.
// The keys have no defaults, as in Chinook. Tenants: 1 "Provider" (the
// service provider) and 2 "Store A", its child.
const ChinookSQL = `
CREATE TABLE "Tenant" (
	"TenantId" integer PRIMARY KEY,
	"Name" varchar(120) NOT NULL UNIQUE,
	"ParentId" integer REFERENCES "Tenant",
	"SubtenantsAllowed" boolean NOT NULL DEFAULT true,
	"Active" boolean NOT NULL DEFAULT true,
	"ServiceProvider" boolean NOT NULL DEFAULT false,
	"Depth" integer
);
CREATE TABLE "Genre" ("GenreId" integer PRIMARY KEY, "Name" varchar(120));
CREATE TABLE "Employee" (
	"EmployeeId" integer PRIMARY KEY,
	"LastName" varchar(20) NOT NULL,
	"FirstName" varchar(20) NOT NULL,
	"ReportsTo" integer REFERENCES "Employee",
	"TenantId" integer NOT NULL REFERENCES "Tenant"
);
CREATE TABLE "Customer" (
	"CustomerId" integer PRIMARY KEY,
	"FirstName" varchar(40) NOT NULL,
	"LastName" varchar(20) NOT NULL,
	"SupportRepId" integer REFERENCES "Employee",
	"TenantId" integer NOT NULL REFERENCES "Tenant"
);
CREATE TABLE "Invoice" (
	"InvoiceId" integer PRIMARY KEY,
	"CustomerId" integer NOT NULL REFERENCES "Customer",
	"Total" numeric(10,2) NOT NULL,
	"TenantId" integer NOT NULL REFERENCES "Tenant"
);
INSERT INTO "Tenant" ("TenantId", "Name", "ParentId", "ServiceProvider", "Depth") VALUES
	(1, 'Provider', NULL, true, 0), (2, 'Store A', 1, false, 1);
INSERT INTO "Genre" VALUES (1, 'Rock'), (2, 'Jazz');
INSERT INTO "Employee" VALUES (1, 'Adams', 'Andrew', NULL, 2), (2, 'Edwards', 'Nancy', 1, 2), (3, 'Peacock', 'Jane', 2, 2);
INSERT INTO "Customer" VALUES (1, 'Luís', 'Gonçalves', 3, 2), (2, 'Leonie', 'Köhler', 3, 2);
INSERT INTO "Invoice" VALUES (1, 2, 1.98, 2), (2, 1, 3.96, 2);
`

// ChinookOverlay is the overlay of ChinookSQL: PascalCase names are not
// the conventional ones, so the tenant table's columns are named.
const ChinookOverlay = `<Schema tenantColumn="TenantId">
  <Tenants table="Tenant" key="TenantId" name="Name" parent="ParentId" subtenantsAllowed="SubtenantsAllowed"
           active="Active" serviceProvider="ServiceProvider" depth="Depth"/>
</Schema>
`

// NewChinookDB creates a database holding ChinookSQL and returns it with
// the path of a file holding ChinookOverlay.
func NewChinookDB(t testing.TB) (*DB, string) {
	t.Helper()
	db := NewDB(t)
	db.Exec(t, ChinookSQL)
	return db, WriteFile(t, "chinook.xml", ChinookOverlay)
}
