package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/htmlreport"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		UsageText: "tenantkit verify [--objects OBJECTS] [--sample N] [-j N] [options]\ntenantkit verify [-t TENANT] [--format FORMAT] [--table NAME] [options] -f FILE…",
		Usage:     "prove that nothing leaks across tenants (database or data files)",
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
   tenant-pin           tenant names acl or aliases pinned to a key that now
                        name another key, or whose key is renamed or gone
   service-provider, cycle, depth, subtenants-not-allowed, unknown-parent,
   max-tenants, stored-depth
                        the tenant hierarchy rules

A row flagged by one of the first three checks is not checked again by
reference-rule, neither as the referencing nor as the referenced row.
--objects limits the row checks to the objects whose rows reference; the
hierarchy is always checked. --jobs runs that many checks at once, on
connections sharing one snapshot.
Prints the count per check, then per object and SREL with sample keys of the
offending rows (tenants by name). Exits 1 when anything is found.
--html FILE also writes the report as one self-contained web page (no
network fetches; it works from a mail attachment): the verdict, the counts,
the offenders per object and SREL, and the tenant hierarchy as a collapsible
tree beside a sortable table of the rows per tenant per object.

With -f, checks data files instead, as userload -c would load them (for
-t TENANT): the same reading, staging and checks, in a transaction that is
rolled back, each reject a finding: unknown-table, unknown-column,
duplicate-column, generated-column, missing-key, too-many-columns (userload
refuses such files: exit 2, after the report), bad-value, null-value, missing-tenant,
duplicate-key, key-match, dangling-reference, reference-rule, refused (by a
constraint or trigger), rejected (exit 1).

Examples:
   tenantkit verify --schema fixtures/schema.xml
   tenantkit verify --objects 'cr,cnt' --sample 3 --json
   tenantkit verify --html verify.html
   tenantkit verify -f contacts.dat -f tickets.csv -t Acme`,
		Flags: withSchema(withCSVReadFlags([]cli.Flag{
			&cli.StringSliceFlag{Name: "objects", Usage: "check only these objects or tables (names or shell patterns, comma-separated)"},
			&cli.IntFlag{Name: "sample", Value: 10, Usage: "offending keys to show per finding (0: none)"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 2, Usage: "database checks to run at once, on as many connections sharing one snapshot"},
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "check data `FILE` against the schema instead of the database (repeatable)"},
			&cli.StringFlag{Name: "tenant", Aliases: []string{"t"}, Usage: "with -f: the `TENANT` the files would be loaded for (name or key; not a tenant group or list)"},
			&cli.StringFlag{Name: "format", Usage: "with -f: file `FORMAT` (userload, csv, xlsx; default: from the extension)"},
			&cli.StringFlag{Name: "table", Usage: "with -f: table `NAME` of CSV files (default: the file name)"},
			&cli.StringFlag{Name: "encoding", Usage: "with -f: input `ENCODING`, e.g. latin1 (default UTF-8)"},
			&cli.StringFlag{Name: "null", Usage: "with -f: CSV: the unquoted `TEXT` meaning NULL (default: an empty unquoted field)"},
			&cli.BoolFlag{Name: "literal-backslash", Aliases: []string{"e"}, Usage: "with -f: userload: backslashes are literal inside quotes"},
			htmlFlag(),
		}, "null", "with -f: ")...),
		Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
			if e.c.NArg() > 0 {
				return fault.Usagef("verify takes no arguments (got %q)", e.c.Args().First())
			}
			if e.c.Int("sample") < 0 {
				return fault.Usagef("--sample must be 0 or more")
			}
			if e.c.Int("jobs") < 1 {
				return fault.Usagef("--jobs must be 1 or more")
			}
			var objs []*schema.Object
			if pats := splitList(e.c.StringSlice("objects")); len(pats) > 0 {
				var err error
				if objs, err = s.Select(pats); err != nil {
					return fault.Usage(err)
				}
			}
			files := e.c.StringSlice("file")
			if len(files) > 0 && objs != nil {
				return fault.Usagef("--objects does not apply to -f")
			}
			if len(files) == 0 && e.c.String("tenant") != "" {
				return fault.Usagef("-t/--tenant is for checking data files (-f)")
			}
			html, err := startHTML(e.c)
			if err != nil {
				return err
			}
			if html != nil {
				defer html.Abort() // after Write, a no-op
			}
			if len(files) > 0 {
				return verifyFiles(e, pool, s, files, html)
			}
			rep, err := verify.Database(e.c.Context, pool, s, verify.Options{Objects: objs, Sample: e.c.Int("sample"), Progress: e.Progress(),
				// Each job holds a connection for the whole run.
				Jobs: min(e.c.Int("jobs"), int(pool.Config().MaxConns))})
			if err != nil {
				return fault.Failure(err)
			}
			if html != nil {
				if err := writeHTML(e, html, pool, s, &htmlreport.Page{Command: "verify", Verify: rep}); err != nil {
					return err
				}
			}
			return printVerifyReport(e, rep, nil)
		}),
	}
}

// printVerifyReport prints the report (text or JSON) and turns violations
// into exit 1.
func printVerifyReport(e *env, rep *verify.Report, runErr error) error {
	if e.JSON() {
		if runErr == nil && rep.Violations > 0 {
			runErr = errViolations
		}
		rep.Findings = nonNil(rep.Findings) // [] rather than null when clean
		if err := e.PrintJSON(rep, runErr); err != nil {
			return err
		}
	} else if !e.Quiet() || rep.Violations > 0 {
		if err := rep.WriteText(wordFlags(e.Stdout)); err != nil {
			return err
		}
	}
	if rep.Violations > 0 {
		return fault.Violations(fmt.Errorf("verify: %d violations", rep.Violations))
	}
	return nil
}

func verifyFiles(e *env, pool *pgxpool.Pool, s *schema.Schema, files []string, html *htmlreport.File) error {
	read := datafile.Options{Format: datafile.Format(e.c.String("format")), Table: e.c.String("table"),
		Encoding: e.c.String("encoding"), LiteralBackslash: e.c.Bool("literal-backslash"), Stdin: e.Stdin}
	if e.c.IsSet("null") {
		v := e.c.String("null")
		read.Null = &v
	}
	lenient := applyCSVReadFlags(e.c, &read)
	rep, err := verify.Files(e.c.Context, pool, s, files, verify.FileOptions{
		Tenant: e.c.String("tenant"), Read: read, Sample: e.c.Int("sample"), Progress: e.Progress(),
	})
	if rep == nil {
		return err // bad input (exit 2) or a database failure (3)
	}
	if !e.Quiet() {
		lenient.report(e.Stderr)
	}
	if html != nil {
		// The files' findings; the database's tenants are not what they are about.
		if herr := writeHTML(e, html, pool, nil, &htmlreport.Page{Command: "verify -f", Verify: rep}); herr != nil {
			return herr
		}
	}
	if perr := printVerifyReport(e, rep, err); err == nil {
		err = perr
	}
	return err // sections userload cannot load: exit 2 after the report
}
