package main

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/fixtures/gen"
	"github.com/tenantkit/tenantkit/internal/fault"
)

func fixturesGenerateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		UsageText: "tenantkit fixtures generate [--create] [--orgs N] [--contacts N] [--tickets N] [--tenants N] [--tenancy none|orgs|all] [--seed N] [options]",
		Usage:     "fill the fixture tables with generated rows at any scale",
		Description: `Generates the fixture service desk at any scale, straight into the database:
organizations (a tenth top-level, the rest under them), one location per
organization, public categories, contacts and tickets. The server computes
every row from its position and --seed (INSERT … SELECT over generate_series),
so a million rows take seconds and the same flags always give the same rows.
Keys depend on the position only: a run with another --seed and an overlapping
--contacts-from range gives the same keys with other values (an upsert).

The text has quotes, backslashes, tabs, newlines and non-ASCII letters, NULLs
next to empty strings, jsonb, arrays, bytea, numerics and dates.

--tenants N creates the service provider (id 1) and N tenants under it;
--tenancy says which tenant columns are filled: none (before conversion),
orgs (organizations only: contacts still to be tenanted) or all (every row,
consistent with the reference rule). Everything runs in one transaction.
Every generated reference points at a row of the same run, so a superuser
skips the foreign-key triggers (session_replication_role = replica) unless
--check-references is given.

Examples:
   tenantkit fixtures generate --create --orgs 10000 --contacts 1000000 --tickets 1000000
   tenantkit fixtures generate --create --service-provider --orgs 5000
   tenantkit fixtures generate --create --tenants 50 --tenancy all --contacts 100000 --tickets 100000
   tenantkit fixtures generate --orgs 100 --contacts 500 --contacts-from 501 --seed 2 --tickets 0`,
		Flags: withCommon(
			&cli.Int64Flag{Name: "orgs", Value: 100, Usage: "organizations (and as many locations)"},
			&cli.Int64Flag{Name: "contacts", Value: 1000, Usage: "contacts"},
			&cli.Int64Flag{Name: "contacts-from", Value: 1, Usage: "number of the first contact (keys are derived from it)"},
			&cli.Int64Flag{Name: "tickets", Value: 1000, Usage: "tickets (call_req rows)"},
			&cli.Int64Flag{Name: "categories", Value: 20, Usage: "public categories"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the generated values"},
			&cli.Int64Flag{Name: "tenants", Usage: "create the service provider and `N` tenants under it"},
			&cli.BoolFlag{Name: "service-provider", Usage: "create the service provider tenant"},
			&cli.StringFlag{Name: "tenancy", Value: "none", Usage: "tenant columns to fill: none, orgs or all"},
			&cli.BoolFlag{Name: "create", Usage: "create the fixture tables first when they are missing"},
			&cli.BoolFlag{Name: "check-references", Usage: "keep the foreign-key triggers on (slower; by default a superuser skips them)"},
		),
		Action: dbAction(func(e *env, pool *pgxpool.Pool) error {
			ctx, c := e.c.Context, e.c
			opts := gen.Options{
				Seed: c.Int64("seed"), Orgs: c.Int64("orgs"), Contacts: c.Int64("contacts"),
				ContactsFrom: c.Int64("contacts-from"), Tickets: c.Int64("tickets"),
				Categories: c.Int64("categories"), Tenants: c.Int64("tenants"),
				ServiceProvider: c.Bool("service-provider"), Tenancy: gen.Tenancy(c.String("tenancy")),
				CheckReferences: c.Bool("check-references"),
			}
			if c.NArg() > 0 {
				return fault.Usagef("fixtures generate takes no arguments (got %q)", c.Args().First())
			}
			if err := opts.Validate(); err != nil {
				return fault.Usage(err)
			}
			var exists bool
			if err := pool.QueryRow(ctx, fixtures.ExistsSQL).Scan(&exists); err != nil {
				return fault.Failure(err)
			}
			switch {
			case !exists && !c.Bool("create"):
				return fault.Usagef("the fixture tables do not exist in this database (add --create, or run tenantkit fixtures load --empty)")
			case !exists:
				if err := fixtures.Load(ctx, pool, false); err != nil {
					return fault.Failure(err)
				}
			}
			start := time.Now()
			counts, err := gen.Generate(ctx, pool, opts)
			if err != nil {
				return fault.Failure(err)
			}
			switch {
			case e.JSON():
				return e.PrintJSON(counts, nil)
			case !e.Quiet():
				fmt.Fprintf(e.Stdout, "generated %d rows in %s: ca_tenant %d, priority %d, ca_organization %d, ca_location %d, category %d, ca_contact %d, call_req %d\n",
					counts.Total(), time.Since(start).Round(time.Millisecond), counts.Tenants, counts.Priorities,
					counts.Organizations, counts.Locations, counts.Categories, counts.Contacts, counts.Tickets)
			}
			return nil
		}),
	}
}
