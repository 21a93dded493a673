package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/acl"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

func tenantCommand() *cli.Command {
	return &cli.Command{
		Name:      "tenant",
		UsageText: "tenantkit tenant create|list|tree|groups|set-parent|group [options] [ARGUMENTS]",
		Usage:     "create tenants, show and change the tenant hierarchy, manage tenant groups",
		Description: `Manages the tenant table named by the object schema under the hierarchy
rules: exactly one service provider, created first and never with a parent; a
parent must allow subtenants; no cycles; at most maxDepth levels (overlay
<Tenants maxDepth>, default 4: depths 0 to 3, a root at depth 0); at most
maxTenants tenants when the overlay sets it. Each change is one transaction
holding the tenant table locked against other writers. A refused change exits
1 and changes nothing.

Tenant lists (tenant group create, and other commands taking tenants) accept
a tenant name or key, a user-defined group name (or group:NAME), and the
system-maintained groups supertenants:TENANT, subtenants:TENANT and
related:TENANT.

Examples:
   tenantkit tenant create --service-provider --subtenants-allowed "Service Provider"
   tenantkit tenant create --parent "Service Provider" --subtenants-allowed Acme
   tenantkit tenant tree
   tenantkit tenant groups "Acme EU"
   tenantkit tenant set-parent "Acme EU" Globex
   tenantkit tenant group create Europe "subtenants:Acme EU" Globex`,
		Subcommands: []*cli.Command{
			tenantCreateCommand(), tenantListCommand(), tenantTreeCommand(),
			tenantGroupsCommand(), tenantSetParentCommand(), tenantGroupCommand(),
		},
	}
}

// tenantTableAction is schemaAction for commands that need the tenant table.
func tenantTableAction(fn func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error) cli.ActionFunc {
	return schemaAction(withTenantTable(fn))
}

// tenantWriteAction is tenantTableAction for commands that change the
// database: they hold the run lock (see --wait).
func tenantWriteAction(fn func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error) cli.ActionFunc {
	return writeAction(withTenantTable(fn))
}

func withTenantTable(fn func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error) func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
	return func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
		if s.Tenants == nil {
			return fault.Usagef("schema %s has no tenant table (name it in the overlay's <Tenants table=…>)", s.DBSchema)
		}
		return tenantError(fn(e, pool, s.Tenants))
	}
}

// tenantError gives the tenant package's errors their exit codes: a refused
// change is 1, an unknown tenant or an unsupported request 2.
func tenantError(err error) error {
	var re *tenant.RuleError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re), errors.Is(err, tenant.ErrGroupExists):
		return fault.Violations(fmt.Errorf("refused: %w", err))
	case errors.Is(err, tenant.ErrNotFound), errors.Is(err, tenant.ErrUnsupported), errors.Is(err, tenant.ErrInvalid):
		return fault.Usage(err)
	}
	return err
}

func oneArg(e *env, what string) (string, error) {
	if e.c.NArg() != 1 {
		return "", fault.Usagef("%s: want exactly one argument, %s (flags come before it)", e.c.Command.Name, what)
	}
	return e.c.Args().First(), nil
}

func tenantCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		UsageText: "tenantkit tenant create [--service-provider | --parent TENANT] [--subtenants-allowed] [--inactive] [--id KEY] [--with-access-groups] [options] NAME",
		Usage:     "create a tenant",
		ArgsUsage: "NAME",
		Description: `Creates one tenant. The service provider comes first (--service-provider)
and never has a parent. The key comes from the table's default (identity,
sequence, gen_random_uuid()), else from --id, else max(key)+1 for numbers.
The depth column, when the table has one, is set to the parent's plus one (0
at a root). --with-access-groups records the tenant's default access groups
(TENANT\Administrators, TENANT\Users), which the next acl apply creates.

Examples:
   tenantkit tenant create --service-provider --subtenants-allowed SP
   tenantkit tenant create --parent SP --subtenants-allowed Acme
   tenantkit tenant create --parent Acme --inactive "Acme EU"`,
		Flags: withSchema(append(writeFlags(),
			&cli.StringFlag{Name: "parent", Usage: "parent tenant `NAME` or key"},
			&cli.BoolFlag{Name: "subtenants-allowed", Usage: "the tenant may have subtenants"},
			&cli.BoolFlag{Name: "service-provider", Usage: "the tenant is the service provider (the first tenant)"},
			&cli.BoolFlag{Name: "inactive", Usage: "create the tenant inactive"},
			&cli.StringFlag{Name: "id", Usage: "the tenant's `KEY` instead of the table's default"},
			&cli.BoolFlag{Name: "with-access-groups", Usage: `give the tenant the default access groups TENANT\Administrators and TENANT\Users (added by the next acl apply)`},
		)...),
		Action: tenantWriteAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
			name, err := oneArg(e, "the tenant name")
			if err != nil {
				return err
			}
			if strings.TrimSpace(name) == "" {
				return fault.Usagef("tenant create: the name is empty")
			}
			ctx := e.c.Context
			// One transaction for the tenant and its default access groups.
			tx, err := pool.Begin(ctx)
			if err != nil {
				return fault.Failure(err)
			}
			defer tx.Rollback(ctx)
			t, err := tenant.Create(ctx, tx, tt, tenant.CreateOptions{
				Name: name, Parent: e.c.String("parent"), ID: e.c.String("id"),
				SubtenantsAllowed: e.c.Bool("subtenants-allowed"), ServiceProvider: e.c.Bool("service-provider"),
				Inactive: e.c.Bool("inactive"),
			})
			if err != nil {
				return err
			}
			if e.c.Bool("with-access-groups") {
				if err := acl.AddTenantDefaults(ctx, tx, t.Name); err != nil {
					return fault.Failure(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				return fault.Failure(err)
			}
			if e.JSON() {
				return e.PrintJSON(t, nil)
			}
			if !e.Quiet() {
				fmt.Fprintf(e.Stdout, "created tenant %s (key %s, depth %d", t.Name, t.ID, t.Depth)
				if f := t.Flags(); f != "" {
					fmt.Fprintf(e.Stdout, ", %s", f)
				}
				fmt.Fprintln(e.Stdout, ")")
			}
			return nil
		}),
	}
}

func loadHierarchy(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) (*tenant.Hierarchy, error) {
	all, err := tenant.List(e.c.Context, pool, tt)
	if err != nil {
		return nil, fault.Failure(err)
	}
	return tenant.NewHierarchy(all), nil
}

func tenantListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		UsageText: "tenantkit tenant list [--json] [options]",
		Usage:     "list tenants with their key, parent, depth and flags",
		Description: `Lists every tenant in name order. DEPTH is 0 for a root (the service
provider), 1 for its children, … as in the depth column and tenant create.

Examples:
   tenantkit tenant list
   tenantkit tenant list --json`,
		Flags: withSchema(),
		Action: tenantTableAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
			h, err := loadHierarchy(e, pool, tt)
			if err != nil {
				return err
			}
			if e.JSON() {
				var out []tenant.Tenant
				for _, t := range h.Tenants() {
					c := *t
					c.Depth = h.Depth(t) // the hierarchy's, whether or not a column stores it
					out = append(out, c)
				}
				return e.PrintJSONList("tenants", nonNil(out), nil)
			}
			tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKEY\tPARENT\tDEPTH\tFLAGS")
			for _, t := range h.Tenants() {
				parent := ""
				if p := h.Parent(t); p != nil {
					parent = p.Name
				} else if t.Parent != nil {
					parent = "(missing " + *t.Parent + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.Name, t.ID, parent, h.Depth(t), t.Flags())
			}
			return tw.Flush()
		}),
	}
}

func tenantTreeCommand() *cli.Command {
	return &cli.Command{
		Name:      "tree",
		UsageText: "tenantkit tenant tree [--json] [options]",
		Usage:     "print the tenant hierarchy as an indented tree",
		Description: `Prints every root tenant (the service provider first) with its subtenants
indented below it, two spaces per level, with the tenant's flags.

Examples:
   tenantkit tenant tree
   tenantkit tenant tree --json`,
		Flags: withSchema(),
		Action: tenantTableAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
			h, err := loadHierarchy(e, pool, tt)
			if err != nil {
				return err
			}
			if e.JSON() {
				return e.PrintJSONList("tree", nonNil(h.Tree()), nil)
			}
			return h.WriteTree(e.Stdout)
		}),
	}
}

// tenantGroupsJSON is the --json output of tenant groups.
type tenantGroupsJSON struct {
	Tenant          string   `json:"tenant"`
	Supertenants    []string `json:"supertenants"`
	Subtenants      []string `json:"subtenants"`
	Related         []string `json:"related"`
	ForeignKeyGroup []string `json:"foreign_key_group"`
	ServiceProvider string   `json:"service_provider,omitempty"`
}

func names(ts []*tenant.Tenant) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func tenantGroupsCommand() *cli.Command {
	return &cli.Command{
		Name:      "groups",
		UsageText: "tenantkit tenant groups [--json] [options] TENANT",
		Usage:     "show a tenant's system-maintained groups",
		ArgsUsage: "TENANT",
		Description: `Shows the tenant's supertenants (itself, its parent, … up to the root),
subtenants (itself and every descendant), related tenants (the union, from the
root down) and foreign-key group: the tenants whose rows its rows may
reference (its supertenants), plus the service provider through
service-provider-eligible SRELs.

Examples:
   tenantkit tenant groups "Acme EU"
   tenantkit tenant groups --json 7`,
		Flags: withSchema(),
		Action: tenantTableAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
			ref, err := oneArg(e, "the tenant")
			if err != nil {
				return err
			}
			h, err := loadHierarchy(e, pool, tt)
			if err != nil {
				return err
			}
			t := h.Find(ref)
			if t == nil {
				return fmt.Errorf("tenant %q: %w", ref, tenant.ErrNotFound)
			}
			out := tenantGroupsJSON{
				Tenant: t.Name, Supertenants: names(h.Supertenants(t)), Subtenants: names(h.Subtenants(t)),
				Related: names(h.Related(t)), ForeignKeyGroup: names(h.Supertenants(t)),
			}
			sp := h.ServiceProvider()
			if sp != nil && !h.IsAncestor(sp, t) {
				out.ServiceProvider = sp.Name
			}
			if e.JSON() {
				return e.PrintJSON(out, nil)
			}
			fmt.Fprintf(e.Stdout, "tenant %s\n", t.Name)
			tw := tabwriter.NewWriter(e.Stdout, 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "  supertenants:\t%s\n", strings.Join(out.Supertenants, ", "))
			fmt.Fprintf(tw, "  subtenants:\t%s\n", strings.Join(out.Subtenants, ", "))
			fmt.Fprintf(tw, "  related:\t%s\n", strings.Join(out.Related, ", "))
			fk := strings.Join(out.ForeignKeyGroup, ", ")
			if out.ServiceProvider != "" {
				fk += fmt.Sprintf(" (and %s through service-provider-eligible SRELs)", out.ServiceProvider)
			}
			fmt.Fprintf(tw, "  foreign-key group:\t%s\n", fk)
			return tw.Flush()
		}),
	}
}

func tenantSetParentCommand() *cli.Command {
	return &cli.Command{
		Name:      "set-parent",
		UsageText: "tenantkit tenant set-parent [options] TENANT PARENT\ntenantkit tenant set-parent --none [options] TENANT",
		Usage:     "move a tenant (and its subtenants) under another parent, or make it a root",
		ArgsUsage: "TENANT PARENT | --none TENANT",
		Description: `Gives TENANT the parent PARENT, or none with --none. Refused when the
parent does not allow subtenants, when it would make a cycle, when TENANT's
subtree would go deeper than the depth cap, or for the service provider. The
depth column, when the table has one, is rewritten for the whole subtree.

Examples:
   tenantkit tenant set-parent "Acme EU" Globex
   tenantkit tenant set-parent --none "Acme EU"`,
		Flags: withSchema(append(writeFlags(), &cli.BoolFlag{Name: "none", Usage: "make the tenant a root (no parent)"})...),
		Action: tenantWriteAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
			args := e.c.Args().Slice()
			var ref, parent string
			switch {
			case e.c.Bool("none") && len(args) == 1:
				ref = args[0]
			case !e.c.Bool("none") && len(args) == 2:
				ref, parent = args[0], args[1]
			default:
				return fault.Usagef("set-parent: want TENANT PARENT, or --none TENANT (flags come first)")
			}
			t, changed, err := tenant.SetParent(e.c.Context, pool, tt, ref, parent)
			if err != nil {
				return err
			}
			if e.JSON() {
				return e.PrintJSON(map[string]any{"tenant": t, "depth_updates": changed}, nil)
			}
			if !e.Quiet() {
				if parent == "" {
					fmt.Fprintf(e.Stdout, "tenant %s has no parent now", t.Name)
				} else {
					fmt.Fprintf(e.Stdout, "tenant %s is a subtenant of %s now", t.Name, parent)
				}
				if tt.Depth != "" {
					fmt.Fprintf(e.Stdout, " (depth %d; %d depth values updated)", t.Depth, changed)
				}
				fmt.Fprintln(e.Stdout)
			}
			return nil
		}),
	}
}

func tenantGroupCommand() *cli.Command {
	return &cli.Command{
		Name:      "group",
		UsageText: "tenantkit tenant group create|list|delete [options] [ARGUMENTS]",
		Usage:     "manage user-defined tenant groups",
		Description: `User-defined tenant groups are kept in tenantkit's own tables
(tenantkit.tenant_group, tenantkit.tenant_group_member; created on first use)
and can be used wherever a list of tenants is accepted, like the
system-maintained groups.

Examples:
   tenantkit tenant group create Europe "subtenants:Acme EU" Globex
   tenantkit tenant group list
   tenantkit tenant group delete Europe`,
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				UsageText: "tenantkit tenant group create [--replace] [options] NAME TENANT…",
				Usage:     "create a tenant group from a tenant list",
				ArgsUsage: "NAME TENANT…",
				Description: `Creates group NAME holding the tenants the list resolves to: tenant names or
keys, other groups (NAME or group:NAME), supertenants:T, subtenants:T,
related:T. Rerunning with the same members changes nothing; other members
need --replace.

Examples:
   tenantkit tenant group create Europe "Acme EU" Globex
   tenantkit tenant group create --replace Acme-all subtenants:Acme`,
				Flags: withSchema(append(writeFlags(), &cli.BoolFlag{Name: "replace", Usage: "replace the members of an existing group"})...),
				Action: tenantWriteAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
					if e.c.NArg() < 2 {
						return fault.Usagef("group create: want NAME TENANT… (flags come first)")
					}
					args := e.c.Args().Slice()
					g, change, err := tenant.CreateGroup(e.c.Context, pool, tt, args[0], args[1:], e.c.Bool("replace"))
					if err != nil {
						return err
					}
					if e.JSON() {
						return e.PrintJSON(map[string]any{"group": g.Name, "change": change, "members": names(g.Members)}, nil)
					}
					if !e.Quiet() {
						fmt.Fprintf(e.Stdout, "tenant group %s %s: %s\n", g.Name, change, strings.Join(names(g.Members), ", "))
					}
					return nil
				}),
			},
			{
				Name:      "list",
				UsageText: "tenantkit tenant group list [--json] [options]",
				Usage:     "list the user-defined tenant groups and their members",
				Description: `Examples:
   tenantkit tenant group list
   tenantkit tenant group list --json`,
				Flags: withSchema(),
				Action: tenantTableAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
					gs, err := tenant.Groups(e.c.Context, pool, tt)
					if err != nil {
						return err
					}
					if e.JSON() {
						out := []map[string]any{}
						for _, g := range gs {
							out = append(out, map[string]any{"group": g.Name, "members": names(g.Members), "missing": nonNil(g.Missing)})
						}
						return e.PrintJSONList("groups", out, nil)
					}
					for _, g := range gs {
						fmt.Fprintf(e.Stdout, "%s: %s", g.Name, strings.Join(names(g.Members), ", "))
						if len(g.Missing) > 0 {
							fmt.Fprintf(e.Stdout, " (missing tenant keys: %s)", strings.Join(g.Missing, ", "))
						}
						fmt.Fprintln(e.Stdout)
					}
					return nil
				}),
			},
			{
				Name:      "delete",
				UsageText: "tenantkit tenant group delete [--if-exists] [options] NAME",
				Usage:     "delete a user-defined tenant group",
				ArgsUsage: "NAME",
				Description: `Deleting a group that does not exist is an error (exit 2) unless --if-exists.

Examples:
   tenantkit tenant group delete Europe`,
				Flags: withSchema(append(writeFlags(), &cli.BoolFlag{Name: "if-exists", Usage: "a missing group is not an error"})...),
				Action: tenantWriteAction(func(e *env, pool *pgxpool.Pool, tt *schema.TenantTable) error {
					name, err := oneArg(e, "the group name")
					if err != nil {
						return err
					}
					deleted, err := tenant.DeleteGroup(e.c.Context, pool, name)
					if err != nil {
						return err
					}
					if !deleted && !e.c.Bool("if-exists") {
						return fmt.Errorf("tenant group %q: %w", name, tenant.ErrNotFound)
					}
					if e.JSON() {
						return e.PrintJSON(map[string]any{"group": name, "deleted": deleted}, nil)
					}
					if !e.Quiet() && deleted {
						fmt.Fprintf(e.Stdout, "tenant group %s deleted\n", name)
					}
					return nil
				}),
			},
		},
	}
}
