package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/extract"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
)

// outputFlags are the flags saying where extracted rows go.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (a directory for several tables as CSV; default: standard output)"},
		&cli.StringFlag{Name: "format", Usage: "file `FORMAT`: userload, csv or xlsx (default: from the -o extension, else userload)"},
		&cli.StringFlag{Name: "control", Usage: "incremental control `FILE`: the first run extracts everything, later runs only rows changed since"},
		&cli.BoolFlag{Name: "sorted", Usage: "write each table's rows in key order (primary key, else overlay key, else first unique constraint), so reruns diff cleanly; costs a sort on the server (a whole table not stored in key order is read with a sequential scan and a sort rather than an index scan)"},
	}
}

func extractCommand() *cli.Command {
	return &cli.Command{
		Name:      "extract",
		UsageText: "tenantkit extract [-o FILE] [--format FORMAT] [--where CONDITION] [--columns COLUMNS] [--sorted] [--control FILE] [options] TABLE… | ALL\ntenantkit extract [-o FILE] [--format FORMAT] [--name NAME] [options] --sql QUERY",
		Usage:     "write tables, or the result of a query, to a data file that userload loads back",
		ArgsUsage: "TABLE… | ALL",
		Description: `Writes the rows of the named tables (object or table names, or shell patterns;
ALL = every table, parents before children), or of one read-only query (--sql),
in userload, CSV or XLSX format. Rows come out in the order the server reads
them, as with COPY TO and pg_dump; --sorted writes them in key order instead,
so reruns diff cleanly (a sort on the server: on a table whose key does not
follow the physical order, about twice the time). All tables are read in one
snapshot. A file is written under a
temporary name and renamed when the extract succeeded. Several tables as CSV
go to a directory, one TABLE.csv each.

Values keep PostgreSQL's text form; timestamptz values are written in UTC
(+00). --control makes runs incremental through each object's change column
(changeColumn in the overlay): rows changed since the last run are extracted
again; deleted rows are not detected.

Examples:
   tenantkit extract --schema fixtures/schema.xml -o desk.dat ALL
   tenantkit extract -o out/ --format csv ca_contact call_req
   tenantkit extract --where "active" --columns id,ref_num,summary cr
   tenantkit extract --sql "SELECT * FROM call_req WHERE cost > 100 ORDER BY id" -o big.csv
   tenantkit extract --control desk.ctl -o changes.dat ALL`,
		Flags: withSchema(append(outputFlags(),
			&cli.StringFlag{Name: "where", Usage: "SQL `CONDITION` on each table's columns"},
			&cli.StringSliceFlag{Name: "columns", Usage: "write only these `COLUMNS` (comma-separated), in this order"},
			&cli.StringFlag{Name: "sql", Usage: "extract the result of one read-only `QUERY` instead of tables"},
			&cli.StringFlag{Name: "name", Usage: "table `NAME` for the result of --sql (default: its source table, else query)"},
		)...),
		Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
			c := e.c
			sum, err := extract.Extract(c.Context, pool, s, extract.Options{
				Tables:  c.Args().Slice(),
				SQL:     c.String("sql"),
				Name:    c.String("name"),
				Where:   c.String("where"),
				Columns: splitList(c.StringSlice("columns")),
				Output:  e.extractOutput(),
				Control: c.String("control"),
			})
			if err != nil {
				return err
			}
			return e.printExtractSummary(sum)
		}),
	}
}

func tenantExtractCommand() *cli.Command {
	return &cli.Command{
		Name:      "tenant-extract",
		UsageText: "tenantkit tenant-extract [--subtenants] [--with-public] [--strip-tenant] [--objects OBJECTS] [-o FILE] [--format FORMAT] [--control FILE] [options] --tenant TENANT",
		Usage:     "write everything one tenant owns to a data file",
		Description: `Writes every row the tenant owns across all tenanted objects (or --objects),
parents before children (rows in key order with --sorted). --subtenants adds
the rows of the tenant's descendants; --with-public adds the public rows (NULL
tenant, or objects without tenancy) that those rows reference, directly or
through other public rows; --strip-tenant leaves the tenant column out, so that
the file can seed another tenant with userload -t (with --with-public only when
every public row comes from an object without tenancy).

--with-references writes what moving the tenant into another database needs:
its rows, and every row of another owner they reference where the reference
rule allows it (public rows, its supertenants', the service provider's through
eligible SRELs), directly or through rows so found. Those go into SHARED
sections (userload format) after one for the tenant table naming their owners;
userload -t T [--new-keys] on the other database maps the owners to its tenants
by name, inserts a shared row only where it has no row with the same match key
(overlay key, else primary key), keeps its own copies unchanged and points the
tenant's references at them. See "Move a tenant to another database" in
docs/workflows.md.

--control FILE makes runs incremental: the first run extracts everything, each
later run with the same file only the rows whose change column (changeColumn
in the overlay, e.g. last_mod) moved past the recorded high-water mark. As
long as writers maintain the change column, no row is missed; a few may come
twice (userload updates them).
Deleted rows are not detected. Objects without a change column are extracted
in full every run.

Examples:
   tenantkit tenant-extract --schema fixtures/schema.xml --tenant Acme -o acme.dat
   tenantkit tenant-extract --tenant Acme --subtenants --with-public -o acme.xlsx
   tenantkit tenant-extract --tenant Template --strip-tenant -o seed.dat
   tenantkit userload -t NewCo -f seed.dat
   tenantkit tenant-extract --tenant Acme --control acme.ctl -o acme-changes.dat
   tenantkit tenant-extract --tenant "group:US regions" -o us.dat
   tenantkit tenant-extract --tenant Acme --with-references -o acme.dat`,
		Flags: withSchema(append(outputFlags(),
			&cli.StringFlag{Name: "tenant", Usage: "the tenant's `NAME` or key, or a tenant list item (a tenant group, group:NAME, subtenants:T, supertenants:T, related:T): every tenant of the list"},
			&cli.StringSliceFlag{Name: "objects", Usage: "only these `OBJECTS` (names or patterns, comma-separated)"},
			&cli.BoolFlag{Name: "subtenants", Usage: "add the rows of the tenant's descendants"},
			&cli.BoolFlag{Name: "with-public", Usage: "add the public rows the extracted rows reference"},
			&cli.BoolFlag{Name: "strip-tenant", Usage: "leave the tenant column out (to seed another tenant with userload -t)"},
			&cli.BoolFlag{Name: "with-references", Usage: "add every row of other owners the tenant's rows reference (public, supertenants', the service provider's), in SHARED sections, to move the tenant to another database with userload -t"},
		)...),
		Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
			c := e.c
			if c.String("tenant") == "" {
				return fault.Usagef("tenant-extract needs --tenant NAME (or key)")
			}
			if c.Args().Present() {
				return fault.Usagef("tenant-extract takes no arguments (got %q); name objects with --objects", c.Args().First())
			}
			sum, err := extract.ExtractTenant(c.Context, pool, s, extract.TenantOptions{
				Tenant:         c.String("tenant"),
				Objects:        splitList(c.StringSlice("objects")),
				Subtenants:     c.Bool("subtenants"),
				WithPublic:     c.Bool("with-public"),
				StripTenant:    c.Bool("strip-tenant"),
				WithReferences: c.Bool("with-references"),
				Output:         e.extractOutput(),
				Control:        c.String("control"),
			})
			if err != nil {
				return err
			}
			return e.printExtractSummary(sum)
		}),
	}
}

func (e *env) extractOutput() extract.Output {
	return extract.Output{
		Path:     e.c.String("output"),
		Stdout:   e.Stdout,
		Format:   datafile.Format(e.c.String("format")),
		Progress: e.Progress(),
		Sorted:   e.c.Bool("sorted"),
	}
}

// printExtractSummary reports rows per table: as JSON with --json, else as
// one line. When the data went to standard output, the summary goes to
// standard error.
func (e *env) printExtractSummary(sum *extract.Summary) error {
	w := e.Stdout
	if sum.Output == "-" {
		w = e.Stderr
	}
	if e.JSON() {
		return e.writeJSON(w, sum, nil)
	}
	if e.Quiet() {
		return nil
	}
	tables := "tables"
	if len(sum.Tables) == 1 {
		tables = "table"
	}
	_, err := fmt.Fprintf(e.Stderr, "extracted %d rows from %d %s to %s (%s)\n", sum.Rows, len(sum.Tables), tables, sum.Output, sum.Format)
	return err
}
