package tenant

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/schema"
)

// User-defined tenant groups live in tenantkit's own schema, in two tables
// named for this package. Members are tenant keys in text form.
const (
	groupSchemaSQL = `CREATE SCHEMA IF NOT EXISTS tenantkit;
CREATE TABLE IF NOT EXISTS tenantkit.tenant_group (
	name        text PRIMARY KEY,
	created     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS tenantkit.tenant_group_member (
	group_name  text NOT NULL REFERENCES tenantkit.tenant_group (name) ON DELETE CASCADE ON UPDATE CASCADE,
	tenant      text NOT NULL,
	PRIMARY KEY (group_name, tenant)
);
COMMENT ON TABLE tenantkit.tenant_group IS 'tenantkit: user-defined tenant groups (tenantkit tenant group)';
COMMENT ON TABLE tenantkit.tenant_group_member IS 'tenantkit: members of user-defined tenant groups, tenant keys as text'`
	// Concurrent CREATE … IF NOT EXISTS can still collide; one lock makes
	// the first run create and the others wait and find the tables.
	groupSchemaLockSQL  = `SELECT pg_advisory_xact_lock(hashtext('tenantkit.tenant_group'))`
	groupTableExistsSQL = `SELECT to_regclass('tenantkit.tenant_group_member') IS NOT NULL`
	groupMembersSQL     = `SELECT g.name, m.tenant FROM tenantkit.tenant_group g
	LEFT JOIN tenantkit.tenant_group_member m ON m.group_name = g.name
	WHERE $1::text IS NULL OR g.name = $1 ORDER BY g.name, m.tenant`
)

// The prefixes of tenant-list references naming system-maintained groups
// and user-defined groups.
const (
	PrefixSupertenants = "supertenants:"
	PrefixSubtenants   = "subtenants:"
	PrefixRelated      = "related:"
	PrefixGroup        = "group:"
)

// Group is a user-defined tenant group.
type Group struct {
	Name    string    `json:"name"`
	Members []*Tenant `json:"members"`
	// Missing lists member keys that no longer name a tenant.
	Missing []string `json:"missing,omitempty"`
}

// ResolveList turns a tenant list into tenants, without duplicates, in the
// order first met. Each reference is one of:
//
//	NAME or KEY            a tenant (by name first, then by key), else a
//	                       user-defined group of that name
//	group:NAME             a user-defined group
//	supertenants:TENANT    the tenant, its parent, … up to the root
//	subtenants:TENANT      the tenant and all its descendants
//	related:TENANT         the union of the two
//
// A tenant whose name is exactly the reference wins over every other
// reading. An unknown reference is an error wrapping ErrNotFound.
func ResolveList(ctx context.Context, q Querier, tt *schema.TenantTable, refs []string) ([]*Tenant, error) {
	rs, err := ResolveRefs(ctx, q, tt, refs)
	if err != nil {
		return nil, err
	}
	var out []*Tenant
	seen := map[*Tenant]bool{}
	for _, r := range rs {
		for _, t := range r.Tenants {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// Resolved is what one tenant-list reference stands for.
type Resolved struct {
	Ref string
	// Tenants are the tenants of the reference, without duplicates.
	Tenants []*Tenant
	// Kind is the reference's prefix (PrefixSubtenants, …), PrefixGroup
	// for a group named with or without the prefix, "" for one tenant.
	Kind string
	// Arg names the tenant the reference is built on (the reference itself
	// for one tenant, the argument of supertenants:, subtenants: and
	// related:), as written; "" for a group. Callers pin Arg to Named's key
	// (see SavePins): a rename cannot then move the reference.
	Arg   string
	Named *Tenant
}

// Single reports whether the reference names one tenant rather than a list.
func (r Resolved) Single() bool { return r.Kind == "" }

// RefError is an unknown reference of a tenant list; Index is its position
// among the references.
type RefError struct {
	Index int
	Err   error
}

func (e *RefError) Error() string { return e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// ResolveRefs resolves each reference of a tenant list on its own (see
// ResolveList), reading the tenant table and the groups once. The first
// unknown reference is a *RefError wrapping ErrNotFound.
func ResolveRefs(ctx context.Context, q Querier, tt *schema.TenantTable, refs []string) ([]Resolved, error) {
	if tt == nil {
		return nil, errors.New("the database has no tenant table")
	}
	all, err := List(ctx, q, tt)
	if err != nil {
		return nil, err
	}
	h := NewHierarchy(all)
	var groups map[string]*Group // loaded on first need
	group := func(name string) (*Group, error) {
		if groups == nil {
			if groups, err = loadGroups(ctx, q, h, ""); err != nil {
				return nil, err
			}
		}
		return groups[name], nil
	}
	out := make([]Resolved, 0, len(refs))
	for i, ref := range refs {
		r := Resolved{Ref: ref}
		if t := h.ByName(ref); t != nil { // a tenant's own name wins, prefix or not
			r.Tenants, r.Arg, r.Named = []*Tenant{t}, ref, t
			out = append(out, r)
			continue
		}
		kind, arg := splitRef(ref)
		switch kind {
		case "", PrefixGroup:
			if t := h.Find(arg); t != nil && kind == "" {
				r.Tenants, r.Arg, r.Named = []*Tenant{t}, ref, t
				break
			}
			g, err := group(arg)
			if err != nil {
				return nil, err
			}
			if g == nil {
				what := "tenant group"
				if kind == "" {
					what = "tenant or tenant group"
				}
				return nil, &RefError{Index: i, Err: fmt.Errorf("%s %q: %w", what, arg, ErrNotFound)}
			}
			r.Kind, r.Tenants = PrefixGroup, g.Members
		default:
			t := h.Find(arg)
			if t == nil {
				return nil, &RefError{Index: i, Err: fmt.Errorf("%s: tenant %q: %w", ref, arg, ErrNotFound)}
			}
			r.Kind, r.Arg, r.Named = kind, arg, t
			switch kind {
			case PrefixSupertenants:
				r.Tenants = h.Supertenants(t)
			case PrefixSubtenants:
				r.Tenants = h.Subtenants(t)
			case PrefixRelated:
				r.Tenants = h.Related(t)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// splitRef splits a tenant-list reference into its prefix ("" for none) and
// its argument.
func splitRef(ref string) (prefix, arg string) {
	for _, p := range []string{PrefixSupertenants, PrefixSubtenants, PrefixRelated, PrefixGroup} {
		if strings.HasPrefix(ref, p) {
			return p, strings.TrimPrefix(ref, p)
		}
	}
	return "", ref
}

// loadGroups reads the user-defined groups (only the named one unless name
// is ""). No group table means no groups.
func loadGroups(ctx context.Context, q Querier, h *Hierarchy, name string) (map[string]*Group, error) {
	groups := map[string]*Group{}
	var exists bool
	if err := q.QueryRow(ctx, groupTableExistsSQL).Scan(&exists); err != nil {
		return nil, fmt.Errorf("reading tenant groups: %w", err)
	}
	if !exists {
		return groups, nil
	}
	var arg any
	if name != "" {
		arg = name
	}
	rows, err := q.Query(ctx, groupMembersSQL, arg)
	if err != nil {
		return nil, fmt.Errorf("reading tenant groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var gname string
		var member *string
		if err := rows.Scan(&gname, &member); err != nil {
			return nil, err
		}
		g := groups[gname]
		if g == nil {
			g = &Group{Name: gname}
			groups[gname] = g
		}
		if member == nil {
			continue
		}
		if t := h.ByID(*member); t != nil {
			g.Members = append(g.Members, t)
		} else {
			g.Missing = append(g.Missing, *member)
		}
	}
	for _, g := range groups {
		sortByName(g.Members)
	}
	return groups, rows.Err()
}

// Groups returns every user-defined tenant group, in name order.
func Groups(ctx context.Context, q Querier, tt *schema.TenantTable) ([]*Group, error) {
	all, err := List(ctx, q, tt)
	if err != nil {
		return nil, err
	}
	groups, err := loadGroups(ctx, q, NewHierarchy(all), "")
	if err != nil {
		return nil, err
	}
	out := make([]*Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sortGroups(out)
	return out, nil
}

func sortGroups(gs []*Group) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
}

// GroupChange says what CreateGroup did.
type GroupChange string

// The outcomes of CreateGroup.
const (
	GroupCreated   GroupChange = "created"
	GroupReplaced  GroupChange = "replaced"
	GroupUnchanged GroupChange = "unchanged"
)

// ErrInvalid is wrapped by errors about a malformed request, such as an
// empty group name.
var ErrInvalid = errors.New("invalid")

// ErrGroupExists is returned by CreateGroup when the group exists with other
// members and replace is false.
var ErrGroupExists = errors.New("tenant group exists with other members")

// CreateGroup creates the user-defined group name holding the tenants the
// tenant list refs resolves to (see ResolveList), creating tenantkit's group
// tables when needed. Rerunning it with the same members changes nothing;
// other members replace the old ones only when replace is set. A group may
// not be named like a tenant (the name would be shadowed in tenant lists) or
// with a reference prefix.
func CreateGroup(ctx context.Context, db TxStarter, tt *schema.TenantTable, name string, refs []string, replace bool) (*Group, GroupChange, error) {
	if name == "" || strings.TrimSpace(name) != name {
		return nil, "", fmt.Errorf("tenant group name %q: %w: empty or with surrounding blanks", name, ErrInvalid)
	}
	if p, _ := splitRef(name); p != "" {
		return nil, "", fmt.Errorf("tenant group name %q: %w: may not start with %q", name, ErrInvalid, p)
	}
	if len(refs) == 0 {
		return nil, "", fmt.Errorf("tenant group %q: %w: no members given", name, ErrInvalid)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback(ctx)
	if err := ensureGroupTables(ctx, tx); err != nil {
		return nil, "", err
	}
	if t, err := Lookup(ctx, tx, tt, name); err == nil {
		return nil, "", fmt.Errorf("tenant group name %q: %w: it is already the name or key of tenant %q", name, ErrInvalid, t.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	members, err := ResolveList(ctx, tx, tt, refs)
	if err != nil {
		return nil, "", err
	}
	all, err := List(ctx, tx, tt)
	if err != nil {
		return nil, "", err
	}
	old, err := loadGroups(ctx, tx, NewHierarchy(all), name)
	if err != nil {
		return nil, "", err
	}
	g := &Group{Name: name, Members: append([]*Tenant(nil), members...)}
	sortByName(g.Members)
	change := GroupCreated
	if prev := old[name]; prev != nil {
		if sameMembers(prev, g) {
			return prev, GroupUnchanged, nil
		}
		if !replace {
			return nil, "", fmt.Errorf("tenant group %q: %w (use replace)", name, ErrGroupExists)
		}
		change = GroupReplaced
	}
	ids := make([]string, len(members))
	for i, t := range members {
		ids[i] = t.ID
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tenantkit.tenant_group (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
		return nil, "", fmt.Errorf("creating tenant group %q: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM tenantkit.tenant_group_member WHERE group_name = $1`, name); err != nil {
		return nil, "", fmt.Errorf("replacing the members of tenant group %q: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tenantkit.tenant_group_member (group_name, tenant) SELECT $1, unnest($2::text[])`, name, ids); err != nil {
		return nil, "", fmt.Errorf("adding the members of tenant group %q: %w", name, err)
	}
	return g, change, tx.Commit(ctx)
}

func sameMembers(a, b *Group) bool {
	if len(a.Missing) > 0 || len(a.Members) != len(b.Members) {
		return false
	}
	for i := range a.Members {
		if a.Members[i].ID != b.Members[i].ID {
			return false
		}
	}
	return true
}

// DeleteGroup removes a user-defined group; it reports whether there was one.
func DeleteGroup(ctx context.Context, q Querier, name string) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, groupTableExistsSQL).Scan(&exists); err != nil || !exists {
		return false, err
	}
	var deleted bool
	err := q.QueryRow(ctx, `WITH d AS (DELETE FROM tenantkit.tenant_group WHERE name = $1 RETURNING 1) SELECT count(*) > 0 FROM d`, name).Scan(&deleted)
	if err != nil {
		return false, fmt.Errorf("deleting tenant group %q: %w", name, err)
	}
	return deleted, nil
}

func ensureGroupTables(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, groupSchemaLockSQL); err != nil {
		return fmt.Errorf("creating tenantkit's tenant group tables: %w", err)
	}
	if _, err := tx.Exec(ctx, groupSchemaSQL); err != nil {
		return fmt.Errorf("creating tenantkit's tenant group tables: %w", err)
	}
	return nil
}

// DescendantsCTE returns the body of a recursive CTE named name with columns
// (tenant, descendant): every tenant paired with itself and each of its
// descendants — its subtenants group. Use it as
// "WITH RECURSIVE " + DescendantsCTE(tt, "sub") + " SELECT …". The
// recursion stops on cycles.
func DescendantsCTE(tt *schema.TenantTable, name string) string {
	return closureCTE(tt, name, "descendant", false)
}
