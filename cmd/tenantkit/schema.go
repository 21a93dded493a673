package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:      "schema",
		UsageText: "tenantkit schema [--json] [options]\ntenantkit schema --tenant-unique [options]",
		Usage:     "print the object schema: objects, tenancy, match keys, SRELs, the tenant table",
		Description: `Reads the live catalog and merges the overlay (--schema), then prints every
object with its table, tenancy, tenant column, match key and SRELs.

With --tenant-unique it prints instead the SQL that makes each key of a
tenanted table unique per tenant, (tenant, key), where nothing references
it: a key unique across tenants lets a tenant's user learn that another
tenant has a row (a duplicate-key error). It only prints; review and run it
yourself.

Examples:
   tenantkit schema --schema fixtures/schema.xml
   tenantkit schema --json --db postgres://localhost/desk
   tenantkit schema --tenant-unique > per-tenant-keys.sql`,
		Flags: withSchema(&cli.BoolFlag{Name: "tenant-unique", Usage: "print the SQL that makes keys unique per tenant instead of across tenants"}),
		Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
			if e.c.Bool("tenant-unique") {
				ddl, err := schema.TenantUniqueDDL(e.c.Context, pool, s)
				if err != nil {
					return fault.Failure(err)
				}
				if e.JSON() {
					return e.PrintJSON(map[string]any{"statements": nonNil(ddl)}, nil)
				}
				for _, line := range ddl {
					fmt.Fprintln(e.Stdout, line)
				}
				return nil
			}
			if e.JSON() {
				return e.PrintJSON(map[string]any{"db_schema": s.DBSchema, "tenants": s.Tenants, "objects": s.Summaries()}, nil)
			}
			return s.WriteText(e.Stdout)
		}),
	}
}
