package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/aliases"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
)

func aliasesCommand() *cli.Command {
	return &cli.Command{
		Name:      "aliases",
		UsageText: "tenantkit aliases [-c] [--objects PATTERNS] [--prefix TEXT] [--include-subtenants] [--lock-down [--lock-down-db NAME]…] [--repin] [options] -f FILE",
		Usage:     "publish per-tenant read-only views: one login and one schema of views per account of an alias file",
		ArgsUsage: " ",
		Description: `For each account of the alias file, creates (or updates) a login role and a
schema of the same name, owned by tenantkit's role, holding one
security-barrier view per published table that shows only the account's
tenants' rows (and public rows of tenant-optional tables). Only the login may
select from its views; it gets no privilege on the source tables. Views that
tenantkit created earlier and no longer wants are dropped; the schemas of
accounts gone from the file are emptied and their logins disabled. Objects
tenantkit did not create are never touched. The whole update is one
transaction; a rerun with the same file changes nothing.

The alias file:
   (gim-user-schema public)      optional: the schema of the source tables
   (aliases-for-account name: Acme login: "acme_ro" password: "s3cret" (tenants: 4 "Acme EU") (time-zone: Europe/Paris))
   (aliases-for-account name: Ops login: ops_ro password: "x" (tenants: all))
Tenants are items of a tenant list: names or keys, tenant groups,
"group:US regions", subtenants:Acme, supertenants:T, related:T; all
publishes every row. Passwords are sent to
the server only as SCRAM-SHA-256 verifiers and never printed.

Each tenant name (and key) the file uses is pinned to the key it resolved
to, in tenantkit.tenant_pin: a later run refuses (exit 2, nothing changed) a
name that now names another key — two tenants' names swapped would give one
tenant's rows to the other's login — until the names are restored or the run
is repeated with --repin.

PostgreSQL lets PUBLIC, so every alias login, connect to every new database
and create temporary tables and functions in it; a privilege of PUBLIC cannot
be taken from one role. --lock-down revokes TEMPORARY on this database from
PUBLIC, and CONNECT on each database named by --lock-down-db, and grants them
back to every login role (superusers and alias logins aside) that had them
only through PUBLIC, so that applications keep working; alias logins get
CONNECT on the databases they publish in by grants of their own. Without
--lock-down a run warns about what alias logins can still reach.

Examples:
   tenantkit aliases -f fixtures/aliases.txt
   tenantkit aliases -c -f fixtures/aliases.txt                  # show the plan, change nothing
   tenantkit aliases --objects 'call_req,ca_*' --prefix v_ -f aliases.txt
   tenantkit aliases --include-subtenants --schema fixtures/schema.xml -f aliases.txt
   tenantkit aliases --lock-down --lock-down-db postgres --lock-down-db billing -f aliases.txt`,
		Flags: withSchema(append([]cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "alias `FILE` (required)"},
			&cli.StringSliceFlag{Name: "objects", Usage: "publish these objects, tables or views (names or shell `PATTERN`s, comma-separated; default: every tenanted table)"},
			&cli.StringFlag{Name: "prefix", Usage: "put `TEXT` before every view name"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"c"}, Usage: "print the plan and change nothing"},
			&cli.BoolFlag{Name: "include-subtenants", Usage: "also show the rows of the accounts' tenants' subtenants"},
			&cli.BoolFlag{Name: "lock-down", Usage: "revoke from PUBLIC TEMPORARY on this database and CONNECT on the --lock-down-db databases, granting them back to the login roles (alias logins aside) that had them through PUBLIC"},
			&cli.StringSliceFlag{Name: "lock-down-db", Usage: "with --lock-down, also revoke CONNECT from PUBLIC on database `NAME` (repeatable)"},
			&cli.BoolFlag{Name: "repin", Usage: "accept tenant names that now name other keys than when they were pinned, and pin them anew"},
		}, writeFlags()...)...),
		Action: func(c *cli.Context) error {
			// The file is read before connecting: a mistake in it needs no server.
			if c.NArg() > 0 || c.String("file") == "" {
				return fault.Usagef("aliases needs the alias file as -f FILE, and no arguments")
			}
			if len(c.StringSlice("lock-down-db")) > 0 && !c.Bool("lock-down") {
				return fault.Usagef("aliases: --lock-down-db needs --lock-down")
			}
			f, err := aliases.ParseFile(c.String("file"))
			if err != nil {
				return fault.Usage(err)
			}
			return dbAction(func(e *env, pool *pgxpool.Pool) error {
				if !c.Bool("check") { // a plan changes nothing and takes no run lock
					l, err := e.Lock(pool)
					if err != nil {
						return err
					}
					defer l.Release()
					c.Context = runlock.With(c.Context, l)
				}
				opts := aliases.Options{
					Schema:            e.SchemaOptions(),
					Objects:           splitList(c.StringSlice("objects")),
					Prefix:            c.String("prefix"),
					IncludeSubtenants: c.Bool("include-subtenants"),
					Check:             c.Bool("check"),
					Repin:             c.Bool("repin"),
					LockDown:          c.Bool("lock-down"),
					LockDownDBs:       c.StringSlice("lock-down-db"),
				}
				if !e.Quiet() && !e.JSON() {
					opts.Log = e.Stdout
				}
				res, err := aliases.Run(c.Context, pool, f, opts)
				if err != nil {
					return err
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(e.Stderr, "tenantkit: warning: %s\n", w)
				}
				switch {
				case e.JSON():
					return e.PrintJSON(res, nil)
				case !e.Quiet():
					fmt.Fprintln(e.Stdout, res.Summary())
				}
				return nil
			})(c)
		},
	}
}
