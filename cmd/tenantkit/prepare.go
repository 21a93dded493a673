package main

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/prepare"
)

func prepareCommand() *cli.Command {
	flags := func() []cli.Flag {
		return withSchema(
			&cli.BoolFlag{Name: "online", Usage: "build indexes with CREATE INDEX CONCURRENTLY and add foreign keys NOT VALID, then validate them, each in its own transaction"},
			&cli.BoolFlag{Name: "finish", Usage: "set NOT NULL on the tenant column of tenant-required objects (refused while a row has no tenant)"},
			&cli.BoolFlag{Name: "key-defaults", Usage: "give integer primary keys without a default an identity starting past their largest value (for userload --new-keys)"},
			&cli.StringFlag{Name: "service-provider", Usage: "create the service provider row `NAME` when the tenant table has none"},
		)
	}
	options := func(e *env) (prepare.Options, error) {
		o := prepare.Options{
			Overlay: e.String("schema"), DBSchema: e.String("db-schema"),
			Online: e.Bool("online"), Finish: e.Bool("finish"), KeyDefaults: e.Bool("key-defaults"),
			ServiceProvider: e.String("service-provider"),
		}
		if e.c.NArg() > 0 {
			return o, fault.Usagef("prepare: unexpected argument %q", e.c.Args().First())
		}
		if o.Overlay == "" {
			return o, fault.Usagef("prepare needs the overlay (--schema FILE or TENANTKIT_SCHEMA): it names the tenant table and each object's tenancy")
		}
		return o, nil
	}
	return &cli.Command{
		Name:      "prepare",
		UsageText: "tenantkit prepare plan|apply [options]",
		Usage:     "make a pre-tenant database tenant-ready from the overlay: tenant table, tenant columns, foreign keys, indexes, NOT NULL, key defaults",
		Description: `From the overlay (--schema): creates the tenant table when missing (key with
an identity, unique name, parent, subtenants-allowed, active, service-provider
and depth columns, under the overlay's names or the conventional ones) and,
with --service-provider NAME, its service provider row; gives every object of
tenancy "required" or "optional" a tenant column of the tenant key's type, a
foreign key to the tenant table and an index on the tenant column, which
serves row scoping (tenant = ANY (…)).

--finish, once settenant has given every row its tenant, sets NOT NULL on the
tenant column of tenant-required objects without a long exclusive lock: a
CHECK (… IS NOT NULL) NOT VALID, validated under SHARE UPDATE EXCLUSIVE, lets
SET NOT NULL skip its scan; it refuses (exit 1), naming the rows without a
tenant per object, while there are any. --key-defaults gives integer primary
keys without a default an identity whose next value is past the largest key.
--online builds the indexes with CREATE INDEX CONCURRENTLY and adds the foreign
keys NOT VALID, validating them afterwards, each in its own transaction.

plan prints each statement after a comment naming the lock it takes, and
nothing when the database is ready; apply runs the plan, in one transaction
but for --online's and --finish's steps. A rerun plans only what is left, so
it continues a killed run (an invalid index a killed concurrent build left is
dropped and built again). prepare never drops or rewrites anything it did not
create.

Examples:
   tenantkit prepare plan --schema overlay.xml
   tenantkit prepare apply --schema overlay.xml --service-provider "Service Provider" --key-defaults
   tenantkit prepare apply --schema overlay.xml --finish`,
		Subcommands: []*cli.Command{
			{
				Name:      "plan",
				UsageText: "tenantkit prepare plan [--online] [--finish] [--key-defaults] [--service-provider NAME] [options] --schema FILE",
				Usage:     "print the statements that make the database tenant-ready (nothing when it is)",
				ArgsUsage: " ",
				Description: `Examples:
   tenantkit prepare plan --schema overlay.xml
   tenantkit prepare plan --schema overlay.xml --online --key-defaults > prepare.sql
   tenantkit prepare plan --schema overlay.xml --finish`,
				Flags: flags(),
				Action: dbAction(func(e *env, pool *pgxpool.Pool) error {
					o, err := options(e)
					if err != nil {
						return err
					}
					tx, err := pool.BeginTx(e.c.Context, pgx.TxOptions{AccessMode: pgx.ReadOnly})
					if err != nil {
						return fault.Failure(err)
					}
					defer tx.Rollback(e.c.Context)
					p, err := prepare.Build(e.c.Context, tx, o)
					if err != nil {
						return err
					}
					if e.JSON() {
						return e.PrintJSON(prepare.Plan{Steps: nonNil(p.Steps)}, nil)
					}
					return p.Write(e.Stdout)
				}),
			},
			{
				Name:      "apply",
				UsageText: "tenantkit prepare apply [--online] [--finish] [--key-defaults] [--service-provider NAME] [--wait] [options] --schema FILE",
				Usage:     "run the plan",
				ArgsUsage: " ",
				Description: `Examples:
   tenantkit prepare apply --schema overlay.xml --service-provider "Service Provider"
   tenantkit prepare apply --schema overlay.xml --online        # large tables in production
   tenantkit prepare apply --schema overlay.xml --finish        # after settenant`,
				Flags: append(flags(), writeFlags()...),
				Action: dbAction(func(e *env, pool *pgxpool.Pool) error {
					o, err := options(e)
					if err != nil {
						return err
					}
					l, err := e.Lock(pool)
					if err != nil {
						return err
					}
					defer l.Release()
					e.c.Context = runlock.With(e.c.Context, l)
					p, err := prepare.Build(e.c.Context, pool, o)
					if err != nil {
						return err
					}
					log := e.Stderr
					if e.Quiet() || e.JSON() {
						log = nil
					}
					if err := prepare.Apply(e.c.Context, pool, p, log); err != nil {
						return err
					}
					switch {
					case e.JSON():
						return e.PrintJSON(prepare.Plan{Steps: nonNil(p.Steps)}, nil)
					case !e.Quiet():
						fmt.Fprintf(e.Stdout, "prepare: %d statements applied\n", len(p.Steps))
					}
					return nil
				}),
			},
		},
	}
}
