package main

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/buildtenant"
	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/schema"
)

func buildtenantCommand() *cli.Command {
	return &cli.Command{
		Name:      "buildtenant",
		UsageText: "tenantkit buildtenant [-c] [-f FILE] [--on-conflict error|adopt] [options]",
		Usage:     "create one tenant per row of a pre-tenant object (e.g. organizations) and link the rows to them",
		Description: `Reads a configuration (schema/buildtenant.xsd; without -f the built-in
fixtures/buildtenant.xml for the org object) naming the pre-tenant object,
the attributes to copy into the tenant table, an optional <Parent> SREL that
turns the object's own hierarchy into the tenant hierarchy, and an optional
<Where> condition. For every selected row that has no tenant yet, creates a
tenant and sets the row's tenant to it, in one transaction. Whatever the
server raises about the Where (a wrong name, a constant that does not
convert, a cast failing on some row's data) is an error at its
FILE:LINE:COL, exit 2, nothing created.

New tenants go under the tenant of their parent row (or, when the parent row
is not selected, of the nearest ancestor row that has or gets a tenant), else
under the service provider. The service provider must exist; the object must
be tenant-required. Name collisions, depth beyond maxDepth, parents that do
not allow subtenants and parent cycles are reported with the rows involved,
and nothing is created (exit 1). Reruns create nothing new.

Examples:
   tenantkit buildtenant --schema fixtures/schema.xml
   tenantkit buildtenant -c --schema fixtures/schema.xml -f site/buildtenant.xml
   tenantkit buildtenant --on-conflict adopt --json -f buildtenant.xml`,
		Flags: withSchema(append([]cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "configuration `FILE` (default: the built-in fixtures/buildtenant.xml)"},
			&cli.BoolFlag{Name: "check", Aliases: []string{"c"}, Usage: "print what would be created and change nothing"},
			&cli.BoolFlag{Name: "with-access-groups", Usage: "give each created tenant the default access groups TENANT\\Administrators and TENANT\\Users (applied by the next acl apply)"},
			&cli.StringFlag{Name: "on-conflict", Value: "error", Usage: "a row whose tenant name exists: `error` (report it) or adopt (link the row to that tenant)"},
		}, writeFlags()...)...),
		Action: func(c *cli.Context) error {
			// The configuration is checked before connecting.
			opts := buildtenant.Options{Check: c.Bool("check"), AccessGroups: c.Bool("with-access-groups")}
			switch c.String("on-conflict") {
			case "error":
			case "adopt":
				opts.Adopt = true
			default:
				return fault.Usagef("--on-conflict %q: want error or adopt", c.String("on-conflict"))
			}
			cfg, err := readBuildTenantConfig(c.String("file"))
			if err != nil {
				return fault.Usage(err)
			}
			return schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
				if !opts.Check { // a check rolls back and takes no run lock
					l, err := e.Lock(pool)
					if err != nil {
						return err
					}
					defer l.Release()
					e.c.Context = runlock.With(e.c.Context, l)
				}
				opts.Progress = e.Progress()
				return runBuildtenant(e, pool, s, cfg, opts)
			})(c)
		},
	}
}

func runBuildtenant(e *env, pool *pgxpool.Pool, s *schema.Schema, cfg *buildtenant.Config, opts buildtenant.Options) error {
	conn, release, err := runlock.Session(e.c.Context, pool) // the session holding the run lock
	if err != nil {
		return fault.Failure(err)
	}
	defer release()
	res, runErr := buildtenant.Run(e.c.Context, conn, s, cfg, opts)
	if res == nil {
		return runErr
	}
	if err := res.WriteProblems(e.Stderr); err != nil {
		return err
	}
	switch {
	case e.JSON():
		if err := e.PrintJSON(res, runErr); err != nil {
			return err
		}
	case !e.Quiet() && runErr == nil:
		if err := res.WriteText(wordFlags(e.Stdout)); err != nil {
			return err
		}
	}
	return runErr
}

// defaultBuildTenantConfig names the built-in configuration, the fixture
// database's, in messages.
const defaultBuildTenantConfig = "fixtures/buildtenant.xml"

// readBuildTenantConfig reads -f FILE, or without it the built-in default.
func readBuildTenantConfig(path string) (*buildtenant.Config, error) {
	if path == "" {
		return buildtenant.ParseConfig(defaultBuildTenantConfig, fixtures.BuildTenantXML)
	}
	return buildtenant.ReadConfig(path)
}
