package main

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/schema"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print the object schema: objects, tenancy, match keys, SRELs, the tenant table",
		Description: `Reads the live catalog and merges the overlay (--schema), then prints every
object with its table, tenancy, tenant column, match key and SRELs.

Examples:
   tenantkit schema --schema fixtures/schema.xml
   tenantkit schema --json --db postgres://localhost/desk`,
		Flags: withSchema(),
		Action: schemaAction(func(e *env, _ *pgxpool.Pool, s *schema.Schema) error {
			if e.JSON() {
				return e.PrintJSON(map[string]any{"db_schema": s.DBSchema, "tenants": s.Tenants, "objects": s.Summaries()})
			}
			return s.WriteText(e.Stdout)
		}),
	}
}
