package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/exit"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "prove that nothing leaks across tenants (database or data files)",
		Description: `Checks the database against the object schema, one set-based query per check
and object or SREL, all in one read-only snapshot:

   missing-tenant       rows of tenant-required objects with no tenant
   unknown-tenant       rows whose tenant is not in the tenant table
   inactive-tenant      rows owned by an inactive tenant
   reference-rule       SRELs breaking the reference rule: a row of tenant T may
                        reference public rows, rows of T or of T's supertenants,
                        and the service provider's rows through a
                        service-provider-eligible SREL; a public row may
                        reference only public rows (and the service provider's
                        through an eligible SREL)
   dangling-reference   overlay SRELs (no foreign key) pointing at no row
   service-provider, cycle, depth, subtenants-not-allowed, unknown-parent,
   max-tenants, stored-depth
                        the tenant hierarchy rules

A row flagged by one of the first three checks is not checked again by
reference-rule, neither as the referencing nor as the referenced row.
Prints the count per check, then per object and SREL with sample keys of the
offending rows (tenants by name). Exits 1 when anything is found.

With -f, checks data files against the schema instead, without loading them:
tables and columns exist, values parse as the column types, match-key columns
are present, no NULL in NOT NULL columns; with -t TENANT also that the
references to existing rows satisfy the reference rule for that tenant.

Examples:
   tenantkit verify --schema fixtures/schema.xml
   tenantkit verify --objects 'cr,cnt' --sample 3 --json
   tenantkit verify -f contacts.dat -f tickets.csv -t Acme`,
		Flags: withSchema(
			&cli.StringSliceFlag{Name: "objects", Usage: "check only these objects or tables (names or shell patterns, comma-separated)"},
			&cli.IntFlag{Name: "sample", Value: 10, Usage: "offending keys to show per finding (0: none)"},
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "check data `FILE` against the schema instead of the database (repeatable)"},
			&cli.StringFlag{Name: "tenant", Aliases: []string{"t"}, Usage: "with -f: the `TENANT` the files would be loaded for"},
			&cli.StringFlag{Name: "format", Usage: "with -f: file format (userload, csv, xlsx; default: from the extension)"},
			&cli.StringFlag{Name: "table", Usage: "with -f: table name of CSV files (default: the file name)"},
		),
		Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
			if e.c.NArg() > 0 {
				return exit.Usagef("verify takes no arguments (got %q)", e.c.Args().First())
			}
			if e.c.Int("sample") < 0 {
				return exit.Usagef("--sample must be 0 or more")
			}
			var objs []*schema.Object
			if pats := splitList(e.c.StringSlice("objects")); len(pats) > 0 {
				var err error
				if objs, err = s.Select(pats); err != nil {
					return exit.Usage(err)
				}
			}
			if files := e.c.StringSlice("file"); len(files) > 0 {
				return verifyFiles(e, pool, s, files)
			}
			if e.c.String("tenant") != "" {
				return exit.Usagef("-t/--tenant is for checking data files (-f)")
			}
			rep, err := verify.Database(e.c.Context, pool, s, verify.Options{Objects: objs, Sample: e.c.Int("sample"), Quiet: e.Quiet()})
			if err != nil {
				return exit.Failure(err)
			}
			if e.JSON() {
				if err := e.PrintJSON(rep); err != nil {
					return err
				}
			} else if !e.Quiet() || rep.Violations > 0 {
				if err := rep.WriteText(e.Stdout); err != nil {
					return err
				}
			}
			if rep.Violations > 0 {
				return exit.Violations(fmt.Errorf("verify: %d violations", rep.Violations))
			}
			return nil
		}),
	}
}

func verifyFiles(e *env, pool *pgxpool.Pool, s *schema.Schema, files []string) error {
	return exit.Usagef("verify -f is not available yet")
}
