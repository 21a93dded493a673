package acl

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Default access groups of a tenant, as the seed describes them: its
// Administrators have full rights on the tenant's objects, its Users Read and
// Execute. The Super Administrators and SYSTEM entries the seed lists on a new
// tenant hold already through the built-in principals.
const (
	AdministratorsGroup = `%s\Administrators`
	UsersGroup          = `%s\Users`
)

const tenantDefaultsDDL = `CREATE SCHEMA IF NOT EXISTS tenantkit;
CREATE TABLE IF NOT EXISTS tenantkit.acl_tenant_default (tenant text PRIMARY KEY);
COMMENT ON TABLE tenantkit.acl_tenant_default IS 'managed by tenantkit acl: tenants whose default access groups acl plan adds'`

// AddTenantDefaults records that tenant gets the default access groups. The
// next acl plan/apply adds them (an access-control file may declare the same
// groups to list their members).
func AddTenantDefaults(ctx context.Context, tx pgx.Tx, tenants ...string) error {
	if _, err := tx.Exec(ctx, tenantDefaultsDDL); err != nil {
		return fmt.Errorf("creating tenantkit.acl_tenant_default: %w", err)
	}
	_, err := tx.Exec(ctx, "INSERT INTO tenantkit.acl_tenant_default (tenant) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", tenants)
	if err != nil {
		return fmt.Errorf("recording default access groups: %w", err)
	}
	return nil
}

// readTenantDefaults lists the tenants recorded by AddTenantDefaults.
func readTenantDefaults(ctx context.Context, q Querier) ([]string, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('tenantkit.acl_tenant_default') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT tenant FROM tenantkit.acl_tenant_default ORDER BY tenant")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// withTenantDefaults adds each tenant's default groups and entries to f,
// unless f declares them itself.
func (f *File) withTenantDefaults(tenants []string) {
	groups := map[string]bool{}
	for _, g := range f.Groups {
		groups[g.Name] = true
	}
	entries := map[string]bool{}
	for _, e := range f.Entries {
		entries[e.Object.String()+"\x00"+e.Principal] = true
	}
	for _, t := range tenants {
		obj := Object{Kind: KindTenant, Name: t}
		for _, d := range []struct {
			format string
			rights Rights
		}{{AdministratorsGroup, Full}, {UsersGroup, RX}} {
			name := fmt.Sprintf(d.format, t)
			if !groups[name] {
				f.Groups = append(f.Groups, Group{Name: name, Tenant: t})
				groups[name] = true
			}
			if !entries[obj.String()+"\x00"+name] {
				f.Entries = append(f.Entries, Entry{Object: obj, Principal: name, Grant: Grant{Rights: d.rights}, Propagate: true})
			}
		}
	}
}
