package main

import (
	"fmt"
	"os"
	"regexp"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/load"
	"github.com/tenantkit/tenantkit/schema"
)

func userloadCommand() *cli.Command {
	return &cli.Command{
		Name:      "userload",
		UsageText: "tenantkit userload [-c] [-v] [-i | -u | -r [-a]] [-t TENANT [--new-keys]] [--key COLUMNS] [--rejects FILE] [--format FORMAT] [options] -f FILE…",
		Usage:     "load data files into the database: insert, update or delete, set-based, in one transaction",
		ArgsUsage: " ",
		Description: `Reads userload (.dat, .txt), CSV (.csv) or Excel (.xlsx) files and applies every
record to its table: a record matching no row (by the match key: --key, the
overlay key, the primary key, else the first unique constraint whose columns
are all in the file) is inserted, a record matching one row updates the
columns the file gives. Sections are applied parents before children.

The run is one transaction: any reject (a value that does not convert, a NULL
in a NOT NULL column, a dangling foreign key, a key that matches several
rows, a reference to another tenant's row, …) rolls everything back, and
every reject is printed on stderr as FILE:LINE:COL: TABLE: reason (exit 1),
at the value itself for a bad value or a NULL, else where the record starts.
With --rejects FILE the rejected records go to FILE (userload format, each
after a comment with its reason) and the rest is committed; fix FILE and load
it again.

With -t TENANT every row of a tenanted table gets that tenant, a record may
only match rows of that tenant, and references must obey the reference rule
(public rows, the tenant's, its supertenants', the service provider's through
an eligible SREL). With --new-keys the keys of tables whose key has a default
are labels: records get fresh keys and the references of the run follow them,
so one template seeds any number of tenants. A sequence behind such a key is
first moved past the table's largest key; a tenanted table whose integer or
uuid key has no default (and is no rewired reference) is an error (exit 2);
natural keys (text, composite) are kept. Records rejected
only because a record they reference was rejected are summed up in one line.

SHARED sections (TABLE name SHARED, written by tenant-extract
--with-references) hold the rows of other owners a moved tenant references;
they need -t. The tenant table's SHARED section names their owners, which must
exist here by name (else exit 2, nothing changed) and get this database's keys.
A shared record matching a row (by the overlay key, else the primary key, and
its owner) is not applied: the row is kept and the run's references to the
record point at it; one matching no row is inserted (with --new-keys, under a
fresh key if its own is taken).

Into an empty table, userload loads like pg_restore: it drops the table's
indexes, its primary key, unique, exclusion and foreign-key constraints and
the foreign keys of other tables that reference it, copies the rows, then
rebuilds them all from their catalog definitions (one index build each, one
join per foreign key) in the same transaction; the table (and every table
whose foreign key references it) is locked ACCESS EXCLUSIVE until the run
commits. A record that breaks one of them sends the section through staging,
which names it. Tables the role does not own, partitioned and inherited
tables keep their indexes; --no-defer keeps them always.

Examples:
   tenantkit userload -f contacts.dat
   tenantkit userload -c -v -f contacts.dat -f orgs.csv      # show what would happen
   tenantkit userload -i -f big.csv                          # insert only (fast path)
   tenantkit userload --maintenance-work-mem 2GB -f big.csv  # into an empty table: indexes rebuilt after the COPY
   tenantkit userload -u --key userid -f emails.csv          # update matching rows only
   tenantkit userload -r -a --key server -f old_repos.dat    # delete every match
   tenantkit userload --rejects rejects.dat -f contacts.dat  # partial load
   tenantkit userload -t Acme --new-keys -f template.dat      # seed a tenant from a template`,
		Flags: withSchema(withCSVReadFlags(append(writeFlags(),
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "data `FILE` to load (repeatable; - is standard input)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "apply a record to every row it matches (update or delete)"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"c"}, Usage: "report what would be inserted, updated, deleted or rejected; change nothing"},
			&cli.BoolFlag{Name: "insert", Aliases: []string{"i"}, Usage: "insert only: a record whose key exists is rejected"},
			&cli.BoolFlag{Name: "update", Aliases: []string{"u"}, Usage: "update only: a record matching no row is rejected"},
			&cli.BoolFlag{Name: "delete", Aliases: []string{"r"}, Usage: "delete the rows each record matches"},
			&cli.BoolFlag{Name: "literal-backslash", Aliases: []string{"e"}, Usage: "backslashes in userload values are ordinary characters"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print one line per record: FILE:LINE:COL: insert|update|unchanged|delete|reject TABLE"},
			&cli.StringFlag{Name: "tenant", Aliases: []string{"t"}, Usage: "give every row of a tenanted table the `TENANT` (name or key; not a tenant group or list); it must exist and be active"},
			&cli.BoolFlag{Name: "new-keys", Usage: "keys with a default are labels: insert with fresh keys and rewrite the references of the run to them"},
			&cli.StringFlag{Name: "key", Usage: "match key `COLUMNS` (comma-separated) for every table in the files"},
			&cli.StringFlag{Name: "rejects", Usage: "partial load: write rejected records to `FILE` and commit the rest"},
			&cli.BoolFlag{Name: "no-defer", Usage: "on the fast path, keep the target's indexes and constraints during the COPY instead of dropping and rebuilding them (no ACCESS EXCLUSIVE lock)"},
			&cli.StringFlag{Name: "maintenance-work-mem", Value: "512MB", Usage: "maintenance_work_mem for rebuilding deferred indexes, for the run's transaction only (raised, never lowered; \"\" keeps the server's)"},
			&cli.StringFlag{Name: "format", Usage: "data file `FORMAT`: userload, csv or xlsx (default: from the extension)"},
			&cli.StringFlag{Name: "encoding", Usage: "text `ENCODING` of userload and CSV files (default utf-8)"},
			&cli.StringFlag{Name: "table", Usage: "`TABLE` of CSV files (default: the file name)"},
			&cli.StringFlag{Name: "null", Usage: "CSV `TEXT` meaning NULL when unquoted (default: the empty field)"},
		), "null", "")...),
		Action: writeAction(runUserload),
	}
}

// memorySetting is a PostgreSQL memory size as SET takes it.
var memorySetting = regexp.MustCompile(`^[0-9]{1,12}(B|kB|MB|GB|TB)?$`)

func runUserload(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
	c := e.c
	if c.NArg() > 0 {
		return fault.Usagef("userload: unexpected argument %q (data files are given with -f)", c.Args().First())
	}
	opts := load.Options{
		Files:              c.StringSlice("file"),
		All:                c.Bool("all"),
		Check:              c.Bool("check"),
		Verbose:            c.Bool("verbose"),
		Key:                splitList([]string{c.String("key")}),
		RejectsFile:        c.String("rejects"),
		Tenant:             c.String("tenant"),
		NewKeys:            c.Bool("new-keys"),
		NoDefer:            c.Bool("no-defer"),
		MaintenanceWorkMem: c.String("maintenance-work-mem"),
		Reword:             flagWording.Replace,
		Detail:             wordFlags(e.Stdout),
		File: datafile.Options{
			Format:           datafile.Format(c.String("format")),
			LiteralBackslash: c.Bool("literal-backslash"),
			Encoding:         c.String("encoding"),
			Table:            c.String("table"),
			Stdin:            e.Stdin,
		},
	}
	if e.JSON() { // stdout holds the JSON summary; no progress either
		opts.Detail = e.Stderr
	} else {
		opts.Progress = e.Progress()
	}
	if c.IsSet("null") {
		null := c.String("null")
		opts.File.Null = &null
	}
	applyCSVReadFlags(c, &opts.File) // load counts the lenient fields in its summary
	modes := 0
	for flag, mode := range map[string]load.Mode{"insert": load.InsertOnly, "update": load.UpdateOnly, "delete": load.Delete} {
		if c.Bool(flag) {
			opts.Mode = mode
			modes++
		}
	}
	switch {
	case modes > 1:
		return fault.Usagef("userload: -i, -u and -r exclude each other")
	case opts.All && opts.Mode == load.InsertOnly:
		return fault.Usagef("userload: -a applies to updates and deletes, not to -i")
	case opts.Check && opts.RejectsFile != "":
		return fault.Usagef("userload: -c changes nothing; --rejects makes no sense with it")
	}
	if m := opts.MaintenanceWorkMem; m != "" && !memorySetting.MatchString(m) {
		return fault.Usagef("userload: --maintenance-work-mem %q: want a PostgreSQL memory size such as 512MB or 2GB (units B, kB, MB, GB, TB)", m)
	}
	if _, err := datafile.DetectFormat("", opts.File.Format); opts.File.Format != "" && err != nil {
		return fault.Usage(fmt.Errorf("userload: --format: %w", err))
	}
	opts.OnReject = func(r load.Reject) { fmt.Fprintf(e.Stderr, "%s\n", r) }
	if os.Getenv("TENANTKIT_TRACE") != "" {
		opts.Trace = e.Stderr
	}
	sum, err := load.Run(c.Context, pool, s, opts)
	if sum != nil && !e.Quiet() && exitCodeOf(err) <= exitViolation {
		if e.JSON() {
			if perr := e.PrintJSON(sum, err); perr != nil && err == nil {
				err = perr
			}
		} else if perr := sum.WriteText(wordFlags(e.Stdout)); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}
