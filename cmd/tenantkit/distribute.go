package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/distribute"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

const distributeDescription = `Turns a converted database on a Citus coordinator into a distributed one.
Classification (printed first, with the row counts that decided it):
   distributed   tenant-required objects, and tenant-optional ones whose rows
                 all have a tenant: sharded by the tenant column, co-located
   reference     the tenant table; tenant-optional objects with public rows
                 (Citus allows no NULL distribution value); objects without
                 tenancy that a distributed or reference table is linked to
                 by a foreign key
   local         other objects without tenancy (--objects makes them
                 reference tables)
Keys: primary keys and unique constraints of distributed tables become
(tenant, …); foreign keys between distributed tables become
(tenant, col) → (tenant, key), which from then on admit only rows of the same
tenant. A foreign key that crosses tenants today (rows referencing another
tenant's rows: the service provider's, a supertenant's), or that is
service-provider eligible, cannot be co-located: it is dropped and its SREL
kept in the schema overlay (apply --overlay-out FILE writes the overlay with
it, so that verify still checks it), or with --reference-for-shared the
object it references becomes a reference table. Identity columns other than
bigint become sequence defaults (Citus accepts only bigint identity columns).
Rows without a tenant in a table that would be distributed stop the plan with
exit 1, naming the object: finish buildtenant/settenant first, Citus cannot
change a distribution column later.

Examples:
   tenantkit distribute plan --schema fixtures/schema.xml
   tenantkit distribute apply --schema fixtures/schema.xml --overlay-out distributed.xml
   tenantkit distribute apply --keys-only                 # the key rewrite alone, on plain PostgreSQL
   tenantkit distribute isolate Acme`

func distributeCommand() *cli.Command {
	planFlags := func(extra ...cli.Flag) []cli.Flag {
		return withSchema(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "objects", Usage: "objects without tenancy to make reference tables though nothing links them (names or shell patterns, comma-separated)"},
			&cli.BoolFlag{Name: "reference-for-shared", Usage: "make the object a cross-tenant foreign key references a reference table instead of dropping the foreign key"},
			&cli.BoolFlag{Name: "keys-only", Usage: "only the schema changes (keys, foreign keys, identity columns), without the Citus calls: valid on plain PostgreSQL"},
		}, extra...)...)
	}
	return &cli.Command{
		Name:        "distribute",
		UsageText:   "tenantkit distribute plan|apply|isolate [options]",
		Usage:       "distribute a converted database over Citus by the tenant column (plan, apply, isolate)",
		Description: distributeDescription,
		Subcommands: []*cli.Command{
			{
				Name:      "plan",
				UsageText: "tenantkit distribute plan [--keys-only] [--reference-for-shared] [--objects OBJECTS] [options]",
				ArgsUsage: " ",
				Usage:     "print the classification and the SQL that distributes the database (nothing when it is done)",
				Description: `Prints an SQL script: the classification, the foreign key decisions, notes and
the overlay fragment as comments, then the statements. Prints nothing when
the database is distributed already.

Examples:
   tenantkit distribute plan --schema fixtures/schema.xml
   tenantkit distribute plan --keys-only --schema fixtures/schema.xml > keys.sql
   tenantkit distribute plan --reference-for-shared --objects 'audit_*' --json`,
				Flags: planFlags(),
				Action: schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
					tx, err := pool.BeginTx(e.c.Context, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
					if err != nil {
						return fault.Failure(err)
					}
					defer tx.Rollback(e.c.Context)
					p, err := distribute.Build(e.c.Context, tx, s, distributeOptions(e))
					if err != nil {
						return err
					}
					if e.JSON() {
						return e.PrintJSON(planJSON(p), nil)
					}
					return p.Write(wordFlags(e.Stdout))
				}),
			},
			{
				Name:      "apply",
				UsageText: "tenantkit distribute apply [--keys-only] [--reference-for-shared] [--objects OBJECTS] [--overlay-out FILE] [--wait] [options]",
				ArgsUsage: " ",
				Usage:     "distribute the database: the schema changes in one transaction, then the Citus calls table by table",
				Description: `Runs the plan: the schema changes in one transaction, then each
create_reference_table / create_distributed_table call (Citus moves the
data), then the foreign keys added back; one progress line per table on
stderr. A run stopped among the Citus calls resumes when run again. Without
Citus on the server only --keys-only runs; anything else is refused in one
line. When foreign keys are dropped whose SRELs the overlay lacks,
--overlay-out FILE is required: it receives the overlay (--schema's, or a new
one) with those SRELs added; pass it as --schema from then on.

Examples:
   tenantkit distribute apply --schema fixtures/schema.xml --overlay-out distributed.xml
   tenantkit distribute apply --keys-only --schema fixtures/schema.xml`,
				Flags: planFlags(append(writeFlags(),
					&cli.StringFlag{Name: "overlay-out", Usage: "write the overlay with the SRELs of dropped foreign keys to `FILE`"})...),
				Action: writeAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
					ctx := e.c.Context
					conn, release, err := runlock.Session(ctx, pool)
					if err != nil {
						return fault.Failure(err)
					}
					defer release()
					opts := distributeOptions(e)
					p, err := distribute.Build(ctx, conn, s, opts)
					if err != nil {
						return err
					}
					if !p.KeysOnly && !p.Citus {
						return fault.Usage(fmt.Errorf("distribute apply: %w", distribute.ErrNoCitus))
					}
					out := e.c.String("overlay-out")
					if len(p.Undeclared()) > 0 && out == "" {
						return fault.Usagef("distribute apply: %d foreign keys would be dropped whose SRELs the overlay lacks (see distribute plan): give --overlay-out FILE to keep them, so that verify still checks them", len(p.Undeclared()))
					}
					if out != "" {
						var src []byte
						if opts.Overlay != "" {
							if src, err = os.ReadFile(opts.Overlay); err != nil {
								return fault.Usage(err)
							}
						}
						merged, err := distribute.MergeOverlay(src, p.Undeclared())
						if err != nil {
							return fault.Usage(fmt.Errorf("%s: %w", opts.Overlay, err))
						}
						// Written before the changes: the overlay is valid for
						// the database before and after them.
						if err := os.WriteFile(out, merged, 0o644); err != nil {
							return fault.Usage(err)
						}
					}
					if p.Done() && !e.JSON() {
						if !e.Quiet() {
							fmt.Fprintln(e.Stdout, "nothing to do: the database is distributed")
						}
						return nil
					}
					if err := p.Apply(ctx, conn, e.Progress()); err != nil {
						return err
					}
					counts := map[distribute.Type]int{}
					for _, t := range p.Tables {
						counts[t.Type]++
					}
					switch {
					case e.JSON():
						return e.PrintJSON(map[string]any{"steps": len(p.Steps), "distributed": counts[distribute.Distributed],
							"reference": counts[distribute.Reference], "local": counts[distribute.Local], "keys_only": p.KeysOnly, "kept_srels": nonNil(p.Undeclared())}, nil)
					case e.Quiet():
					case p.KeysOnly:
						fmt.Fprintf(e.Stdout, "applied %d schema changes (keys only)\n", len(p.Steps))
					default:
						fmt.Fprintf(e.Stdout, "applied %d steps: %d distributed, %d reference, %d local tables\n",
							len(p.Steps), counts[distribute.Distributed], counts[distribute.Reference], counts[distribute.Local])
					}
					return nil
				}),
			},
			{
				Name:      "isolate",
				UsageText: "tenantkit distribute isolate [--wait] [options] TENANT",
				Usage:     "move one tenant's rows to shards of their own (Citus isolate_tenant_to_new_shard)",
				ArgsUsage: "TENANT",
				Description: `For a big tenant: its rows of every co-located distributed table move to new
shards holding only that tenant (isolate_tenant_to_new_shard … CASCADE).
TENANT is a name or key.

Examples:
   tenantkit distribute isolate Acme`,
				Flags: withSchema(writeFlags()...),
				Action: writeAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
					if e.c.NArg() != 1 {
						return fault.Usagef("distribute isolate: want exactly one argument, TENANT (name or key; flags come before it)")
					}
					ctx := e.c.Context
					conn, release, err := runlock.Session(ctx, pool)
					if err != nil {
						return fault.Failure(err)
					}
					defer release()
					tn, err := tenant.Lookup(ctx, conn, s.Tenants, e.c.Args().First())
					switch {
					case errors.Is(err, tenant.ErrNotFound):
						return fault.NotFound(fmt.Errorf("distribute isolate: %w", err))
					case err != nil:
						return fault.Failure(fmt.Errorf("distribute isolate: %w", err))
					}
					shard, table, err := distribute.Isolate(ctx, conn, s, tn.ID)
					if err != nil {
						return err
					}
					switch {
					case e.JSON():
						return e.PrintJSON(map[string]any{"tenant": tn.Name, "key": tn.ID, "shard": shard, "table": table}, nil)
					case !e.Quiet():
						fmt.Fprintf(e.Stdout, "tenant %s (key %s) isolated: shard %d of %s and its co-located shards\n", tn.Name, tn.ID, shard, table)
					}
					return nil
				}),
			},
		},
	}
}

func distributeOptions(e *env) distribute.Options {
	return distribute.Options{
		Objects:            splitList(e.c.StringSlice("objects")),
		ReferenceForShared: e.c.Bool("reference-for-shared"),
		KeysOnly:           e.c.Bool("keys-only"),
		Overlay:            e.SchemaOptions().Overlay,
	}
}

// planJSON is the plan as distribute plan --json prints it: every list
// present, empty rather than null.
func planJSON(p *distribute.Plan) *distribute.Plan {
	out := *p
	out.Tables, out.ForeignKeys, out.Steps, out.Kept, out.Notes = nonNil(p.Tables), nonNil(p.ForeignKeys), nonNil(p.Steps), nonNil(p.Kept), nonNil(p.Notes)
	return &out
}
