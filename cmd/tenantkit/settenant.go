package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/htmlreport"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/settenant"
)

func settenantCommand() *cli.Command {
	return &cli.Command{
		Name:      "settenant",
		UsageText: "tenantkit settenant [-r | -c] [--sample N] [--batch-size N] [--commit-each-rule] [options] -f FILE",
		Usage:     "set the tenant of rows by rules: from the row an SREL references, the rows that reference it, or a named tenant",
		Description: `Reads a settenant file (XSD: schema/settenant.xsd) and runs its rules in file
order, each as one set-based UPDATE, all in one transaction. A rule names an
object and takes the tenant either from the row an SREL attribute references
(type="SREL"; a dotted path such as organization.parent_org follows several
SRELs), from the rows of another object that reference it (type="BREL", see
below) or from a named tenant (type="Name"), for the rows its optional <Where>
selects. Where is an SQL condition on the object's own table: unqualified
column names are that table's. Whatever the server raises about a Where (a
wrong name, a constant that does not convert, a cast failing on some row's
data) is an error at the Where's FILE:LINE:COL, exit 2, nothing changed.
Only rows whose tenant changes are updated, so reruns are safe; set
contacts first, then the objects that reference them.

  <SetTenant>
    <Object name="cnt">
      <TenantRule type="SREL">organization</TenantRule>
      <Where>tenant is null</Where>
    </Object>
  </SetTenant>

A BREL rule names an SREL of another object that points at the rule's
object, object.attr, optionally followed by / and an SREL path from that
object to the tenant (as an SREL rule on it would write it):

    <Object name="employees">
      <TenantRule type="BREL">employee_territories.employee_id / territory_id.region_id</TenantRule>
    </Object>

Without a path the referencing rows' own tenant column is read. Each
referencing row votes with the tenant it yields; one that yields none (NULL
tenant, NULL or dangling reference on the path) casts no vote. A row takes
the tenant when all votes name it; with agree="majority" the tenant most
votes name, a tie none. Rows left without a tenant are reported as no
referrers, referrers have no tenant, referrers disagree or referrers tie,
the last two with the tenants and their votes.

-r reports per rule the rows matched, updated, unchanged, the rows left
without a tenant and why (null reference, referenced row has no tenant,
dangling reference; for BREL rules the reasons above) with a sample of
their keys, and references the new tenants break. -c previews the same
report and changes nothing.
--html FILE also writes the report (it implies -r) as one self-contained web
page: per rule the funnel matched → updated → unchanged, kept, left without
a tenant by reason, and the tenant hierarchy with the rows per tenant per
object as the run left them.

With --commit-each-rule, a run that stops (interrupt, failure) says on stdout,
in --json and on stderr which rules and batches it committed.

Examples:
   tenantkit settenant --schema fixtures/schema.xml -f fixtures/settenant.xml -r
   tenantkit settenant -f settenant.xml -c --sample 50
   tenantkit settenant -f settenant.xml -r --json
   tenantkit settenant -f settenant.xml -c --html preview.html
   tenantkit settenant -f big.xml --batch-size 100000 --commit-each-rule`,
		Flags: withSchema(append([]cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the settenant `FILE` (required)"},
			&cli.BoolFlag{Name: "report", Aliases: []string{"r"}, Usage: "report per rule: matched, updated, left without a tenant and why"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"c"}, Usage: "preview the report and change nothing"},
			&cli.IntFlag{Name: "sample", Value: 10, Usage: "list up to `N` rows left without a tenant per rule"},
			&cli.IntFlag{Name: "batch-size", Usage: "run each rule in key ranges of `N` rows (with a progress bar)"},
			&cli.BoolFlag{Name: "commit-each-rule", Usage: "commit after each rule (and each batch) instead of once at the end"},
			htmlFlag(),
		}, writeFlags()...)...),
		Action: func(c *cli.Context) error {
			if c.String("file") == "" {
				return fault.Usagef("settenant: -f FILE is required (see tenantkit settenant --help)")
			}
			// A malformed file is reported before connecting.
			cfg, err := settenant.ParseFile(c.String("file"))
			if err != nil {
				return err
			}
			html, err := startHTML(c)
			if err != nil {
				return err
			}
			if html != nil {
				defer html.Abort() // after Write, a no-op
			}
			return writeAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
				return runSettenant(e, pool, s, cfg, html)
			})(c)
		},
	}
}

func runSettenant(e *env, pool *pgxpool.Pool, s *schema.Schema, cfg *settenant.Config, html *htmlreport.File) error {
	res, err := settenant.Run(e.c.Context, pool, s, cfg, settenant.Options{
		Report:         e.c.Bool("report") || html != nil,
		Check:          e.c.Bool("check"),
		Sample:         e.c.Int("sample"),
		BatchSize:      e.c.Int("batch-size"),
		CommitEachRule: e.c.Bool("commit-each-rule"),
		Progress:       e.Progress(),
	})
	if err != nil && res == nil {
		return err
	}
	// A stopped --commit-each-rule run says on stdout what it committed.
	var outErr error
	switch {
	case e.JSON():
		outErr = e.PrintJSON(res, err)
	case err == nil && e.Quiet():
	default:
		outErr = res.WriteText(wordFlags(e.Stdout))
	}
	if html != nil {
		note := "rows per tenant as the run left them"
		if res.Check {
			note = "rows per tenant as they are: the check (-c) changed nothing"
		}
		if herr := writeHTML(e, html, pool, s, &htmlreport.Page{Command: "settenant", Settenant: res, CensusNote: note}); herr != nil {
			if res.Committed || res.Stopped != "" {
				herr = fmt.Errorf("settenant: the changes are committed, but %w", herr)
			}
			if err != nil {
				fmt.Fprintln(e.Stderr, herr) // the run's own error is the one to exit with
			} else if outErr == nil {
				outErr = herr
			}
		}
	}
	if err != nil {
		return err
	}
	return outErr
}
