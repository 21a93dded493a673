package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/fault"
)

func fixturesCommand() *cli.Command {
	return &cli.Command{
		Name:      "fixtures",
		UsageText: "tenantkit fixtures load|generate [options]",
		Usage:     "create the sample service-desk database, or generate one at any scale",
		Description: `Examples:
   tenantkit fixtures load --db postgres://localhost/desk
   tenantkit fixtures generate --create --orgs 10000 --contacts 1000000 --tickets 1000000`,
		Subcommands: []*cli.Command{{
			Name:      "load",
			UsageText: "tenantkit fixtures load [--empty] [options]",
			Usage:     "create the fixture tables (and sample rows) in an empty database",
			Description: `Creates the sample service-desk tables in the connection's current schema,
with sample rows unless --empty. Refuses when the tables already exist.

Example:
   createdb desk && tenantkit fixtures load --db postgres://localhost/desk`,
			Flags: withCommon(&cli.BoolFlag{Name: "empty", Usage: "create the tables without rows"}),
			Action: dbAction(func(e *env, pool *pgxpool.Pool) error {
				ctx := e.c.Context
				var exists bool
				if err := pool.QueryRow(ctx, fixtures.ExistsSQL).Scan(&exists); err != nil {
					return fault.Failure(err)
				}
				if exists {
					return fault.Usagef("the fixture tables already exist in this database")
				}
				if err := fixtures.Load(ctx, pool, !e.c.Bool("empty")); err != nil {
					return fault.Failure(err)
				}
				if e.JSON() {
					return e.PrintJSON(map[string]any{"created": true, "sample_rows": !e.c.Bool("empty")}, nil)
				}
				if !e.Quiet() {
					fmt.Fprintln(e.Stdout, "fixture database created")
				}
				return nil
			}),
		}, fixturesGenerateCommand()},
	}
}
