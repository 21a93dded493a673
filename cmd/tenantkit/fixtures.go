package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/exit"
)

func fixturesCommand() *cli.Command {
	return &cli.Command{
		Name:  "fixtures",
		Usage: "create the sample service-desk database",
		Subcommands: []*cli.Command{{
			Name:  "load",
			Usage: "create the fixture tables (and sample rows) in an empty database",
			Description: `Creates the sample service-desk tables in the connection's current schema,
with sample rows unless --empty. Refuses when the tables already exist.

Example:
   createdb desk && tenantkit fixtures load --db postgres://localhost/desk`,
			Flags: withCommon(&cli.BoolFlag{Name: "empty", Usage: "create the tables without rows"}),
			Action: func(c *cli.Context) error {
				e := newEnv(c)
				pool, err := e.Pool()
				if err != nil {
					return err
				}
				defer pool.Close()
				var exists bool
				if err := pool.QueryRow(c.Context, "SELECT to_regclass('ca_tenant') IS NOT NULL").Scan(&exists); err != nil {
					return exit.Failure(err)
				}
				if exists {
					return exit.Usagef("the fixture tables already exist in this database")
				}
				if err := fixtures.Load(c.Context, pool, !c.Bool("empty")); err != nil {
					return exit.Failure(err)
				}
				if !e.Quiet() {
					fmt.Fprintln(e.Stdout, "fixture database created")
				}
				return nil
			},
		}},
	}
}
