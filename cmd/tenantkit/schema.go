package main

import (
	"github.com/urfave/cli/v2"
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
		Action: func(c *cli.Context) error {
			e := newEnv(c)
			pool, err := e.Pool()
			if err != nil {
				return err
			}
			defer pool.Close()
			s, err := e.Schema(pool)
			if err != nil {
				return err
			}
			if e.JSON() {
				return e.PrintJSON(map[string]any{"db_schema": s.DBSchema, "tenants": s.Tenants, "objects": s.Summaries()})
			}
			return s.WriteText(e.Stdout)
		},
	}
}
