package main

import (
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/schema"
)

func aclCommand() *cli.Command {
	fileFlag := func() cli.Flag {
		return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "access-control `FILE` (XSD: schema/acl.xsd)", Required: true}
	}
	return &cli.Command{
		Name:      "acl",
		UsageText: "tenantkit acl plan|apply|effective|export [options] [ARGUMENTS]",
		Usage:     "object-based access control: plan and apply PostgreSQL privileges from a declarative file",
		Description: `Persons are login roles; access groups are documentation-only group roles,
one per database and group (tkg_<name>_<hash of database OID and name>).
Each person's effective rights (own entries, groups' and EVERYONE's, No Access
beating every grant, propagation from containers) are granted to the person
directly, so No Access holds although PostgreSQL privileges only add up.

Tenant objects: tenant:NAME (a name or key), or tenant:ITEM for any item of a
tenant list (a tenant group, group:NAME, supertenants:T, subtenants:T,
related:T; the prefixed items may also stand alone: object="subtenants:Acme").
subtenants="true" on tenant:T means tenant:subtenants:T: T and its
descendants, including those created later once acl apply reruns (verify
reports a tenant created since that rights would reach).

Examples:
   tenantkit acl plan -f acl.xml
   tenantkit acl apply -f acl.xml
   tenantkit acl effective -f acl.xml john table:public.deal
   tenantkit acl export -o acl-live.xml`,
		Subcommands: []*cli.Command{
			{
				Name:      "plan",
				UsageText: "tenantkit acl plan [--repin] [options] -f FILE",
				Usage:     "print the SQL that makes the database match the file (nothing when it matches)",
				Description: `Examples:
   tenantkit acl plan -f acl.xml
   tenantkit acl plan -f acl.xml --db postgres://localhost/desk > changes.sql`,
				Flags: withSchema(fileFlag(), repinFlag()),
				Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
					f, err := acl.ParseFile(e.c.String("file"))
					if err != nil {
						return err
					}
					tx, err := pool.BeginTx(e.c.Context, pgx.TxOptions{AccessMode: pgx.ReadOnly})
					if err != nil {
						return fault.Failure(err)
					}
					defer tx.Rollback(e.c.Context)
					plan, err := acl.MakePlan(e.c.Context, tx, f, s, acl.PlanOptions{Repin: e.c.Bool("repin")})
					if err != nil {
						return err
					}
					printWarnings(e, plan)
					if e.JSON() {
						return e.PrintJSON(map[string]any{"statements": nonNil(plan.Statements), "warnings": nonNil(plan.Warnings), "repins": nonNil(plan.Repins)}, nil)
					}
					for _, stmt := range plan.Statements {
						fmt.Fprintln(e.Stdout, stmt)
					}
					return nil
				}),
			},
			{
				Name:      "apply",
				UsageText: "tenantkit acl apply [--repin] [--wait] [options] -f FILE",
				Usage:     "apply the plan in one transaction",
				Description: `Examples:
   tenantkit acl apply -f acl.xml
   tenantkit acl apply -f acl.xml --json`,
				Flags: withSchema(append(writeFlags(), fileFlag(), repinFlag())...),
				Action: writeAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
					ctx := e.c.Context
					f, err := acl.ParseFile(e.c.String("file"))
					if err != nil {
						return err
					}
					// The plan is computed and run under the run lock, in one
					// transaction of the session holding it.
					conn, release, err := runlock.Session(ctx, pool)
					if err != nil {
						return fault.Failure(err)
					}
					defer release()
					tx, err := conn.Begin(ctx)
					if err != nil {
						return fault.Failure(err)
					}
					defer tx.Rollback(ctx)
					plan, err := acl.MakePlan(ctx, tx, f, s, acl.PlanOptions{Repin: e.c.Bool("repin")})
					if err != nil {
						return err
					}
					printWarnings(e, plan)
					if err := acl.Apply(ctx, tx, plan); err != nil {
						return fault.Failure(err)
					}
					if err := tx.Commit(ctx); err != nil {
						return fault.Failure(err)
					}
					switch {
					case e.JSON():
						return e.PrintJSON(map[string]any{"statements": len(plan.Statements), "warnings": nonNil(plan.Warnings)}, nil)
					case e.Quiet():
					case plan.Empty():
						fmt.Fprintln(e.Stdout, "no changes: the database matches the file")
					default:
						fmt.Fprintf(e.Stdout, "applied %d statements\n", len(plan.Statements))
					}
					return nil
				}),
			},
			{
				Name:      "effective",
				UsageText: "tenantkit acl effective [--json] -f FILE PERSON OBJECT",
				Usage:     "explain a person's effective rights on an object",
				ArgsUsage: "PERSON OBJECT",
				Description: `OBJECT is database, schema:NAME, table:SCHEMA.NAME, sequence:SCHEMA.NAME,
function:SCHEMA.NAME or tenant:NAME (tenant lists such as tenant:subtenants:NAME
are explained as written: effective does not read the database).

Example:
   tenantkit acl effective -f acl.xml john table:public.deal`,
				Flags: withCommon(fileFlag()),
				Action: func(c *cli.Context) error {
					e := newEnv(c)
					if c.NArg() != 2 {
						return fault.Usagef("acl effective takes PERSON OBJECT")
					}
					f, err := acl.ParseFile(c.String("file"))
					if err != nil {
						return err
					}
					o, err := acl.ParseObject(c.Args().Get(1))
					if err != nil {
						return fault.Usage(err)
					}
					d := f.Policy("").Effective(c.Args().Get(0), o)
					if e.JSON() {
						return e.PrintJSON(map[string]any{"person": d.Person, "object": d.Object.String(), "rights": d.Rights.String(), "no_access": d.NoAccess, "super": d.Super}, nil)
					}
					_, err = fmt.Fprint(e.Stdout, d.Explain())
					return err
				},
			},
			{
				Name:      "export",
				UsageText: "tenantkit acl export [-o FILE] [options]",
				Usage:     "write what the last apply declared in this database as an access-control file",
				Description: `The file holds the persons and access groups acl manages in this database
(groups with their tenant and members; SYSTEM and Super Administrators with
the members declared), every permission entry as declared (tenants by name,
tenant lists as written, propagation) and every Replace: acl plan of the
file on the same database prints nothing. Privileges granted by hand are
not in it (acl plan shows them as changes).

Example:
   tenantkit acl export -o acl-live.xml
   tenantkit acl plan -f acl-live.xml     # prints nothing`,
				Flags: withSchema(&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FILE` (default: stdout)"}),
				Action: schemaAction(func(e *env, pool *pgxpool.Pool, _ *schema.Schema) error {
					out, path := e.Stdout, "-"
					if p := e.c.String("output"); p != "" {
						path = p
						f, err := os.Create(p)
						if err != nil {
							return fault.Usage(err)
						}
						defer f.Close()
						out = f
					}
					if err := acl.Export(e.c.Context, pool, out); err != nil {
						return fault.Failure(err)
					}
					if e.JSON() { // with the file on stdout, the summary goes to stderr
						w := e.Stdout
						if path == "-" {
							w = e.Stderr
						}
						return e.writeJSON(w, map[string]any{"output": path}, nil)
					}
					return nil
				}),
			},
		},
	}
}

func printWarnings(e *env, p *acl.Plan) {
	for _, w := range p.Warnings {
		fmt.Fprintf(e.Stderr, "tenantkit: warning: %s\n", w)
	}
	for _, r := range p.Repins {
		fmt.Fprintf(e.Stderr, "tenantkit: repinning: %s\n", r)
	}
}

// repinFlag accepts renamed tenants (see tenant.CheckPins).
func repinFlag() cli.Flag {
	return &cli.BoolFlag{Name: "repin", Usage: "accept tenant names that now name other tenants than when last pinned (after a deliberate rename)"}
}
