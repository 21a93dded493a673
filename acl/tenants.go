package acl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/tenant"
)

// Tenant objects: tenant:REF names one tenant (by name or key) or a tenant
// list item (tenant.ResolveList): a tenant group, group:NAME,
// supertenants:T, subtenants:T, related:T. An entry on a list stands for
// the same entry on each of its tenants; for one principal, an entry on a
// tenant itself overrides the list entries that hold it, and list entries
// that hold the same tenant add up (No Access among them wins).
// subtenants:T and related:T also hold the tenants created under T later:
// the plan computes their rights on stand-ins (futureTenant), which
// tenantkit.acl_tenant_scope records for verify.

// futureTenant stands for a tenant created after the plan under the tenant
// with key parent, or anywhere when parent is "". No file can name it.
func futureTenant(parent string) Object {
	if parent == "" {
		return Object{Kind: KindTenant, Name: "\x00future"}
	}
	return Object{Kind: KindTenant, Name: "\x00future under " + parent}
}

// tenantUse is a place in the file that names tenants.
type tenantUse struct {
	ref  string
	line int
}

// resolveTenants resolves every tenant reference of the file. It returns
// the resolutions by reference, pins each tenant a reference names (its
// Arg) to its key, and records the line of each name's first use.
func resolveTenants(ctx context.Context, q Querier, f *File, rs *rowScope, pins map[string]string, pinLines map[string]int) (map[string]tenant.Resolved, error) {
	var uses []tenantUse
	for _, e := range f.Entries {
		if e.Object.Kind == KindTenant {
			uses = append(uses, tenantUse{e.Object.Name, e.Line})
		}
	}
	for _, r := range f.Replaces {
		if r.Object.Kind == KindTenant {
			uses = append(uses, tenantUse{r.Object.Name, r.Line})
		}
	}
	for _, g := range f.Groups {
		if g.Tenant != "" {
			uses = append(uses, tenantUse{g.Tenant, g.Line})
		}
	}
	out := map[string]tenant.Resolved{}
	if len(uses) == 0 {
		return out, nil
	}
	posErr := func(line int, format string, args ...any) error {
		return fault.At(f.Path, line, 0, format, args...)
	}
	if rs == nil {
		return nil, posErr(uses[0].line, "tenant %q: the database has no tenant table", uses[0].ref)
	}
	var refs []string
	firstLine := map[string]int{}
	for _, u := range uses {
		if _, seen := firstLine[u.ref]; !seen {
			firstLine[u.ref] = u.line
			refs = append(refs, u.ref)
		}
	}
	res, err := tenant.ResolveRefs(ctx, q, rs.s.Tenants, refs)
	var re *tenant.RefError
	switch {
	case errors.As(err, &re):
		ref := refs[re.Index]
		if strings.Contains(ref, ":") {
			return nil, posErr(firstLine[ref], "unknown tenant list %q: %v", ref, re.Err)
		}
		return nil, posErr(firstLine[ref], "unknown tenant %q: no tenant or tenant group has this name or key", ref)
	case err != nil:
		return nil, fmt.Errorf("resolving tenants: %w", err)
	}
	for _, r := range res {
		out[r.Ref] = r
		if r.Named == nil {
			continue
		}
		pins[r.Arg] = r.Named.ID
		if _, seen := pinLines[r.Arg]; !seen {
			pinLines[r.Arg] = firstLine[r.Ref]
		}
	}
	for _, g := range f.Groups {
		if r := out[g.Tenant]; g.Tenant != "" && !r.Single() {
			return nil, posErr(g.Line, "access group %q: tenant=%q is a tenant list; a group belongs to one tenant", g.Name, g.Tenant)
		}
	}
	return out, nil
}

// canonicalTenants rewrites the objects naming one tenant to that tenant's
// name (lists stay as written) and refuses two entries of one principal on
// the same tenant, written differently.
func canonicalTenants(f *File, res map[string]tenant.Resolved) (*File, error) {
	canon := func(o Object) Object {
		if r, ok := res[o.Name]; o.Kind == KindTenant && ok && r.Single() {
			return Object{Kind: KindTenant, Name: r.Named.Name}
		}
		return o
	}
	out := *f
	out.Entries = append([]Entry(nil), f.Entries...)
	out.Replaces = append([]Replace(nil), f.Replaces...)
	seen := map[string]Entry{}
	for i := range out.Entries {
		e := &out.Entries[i]
		o := canon(e.Object)
		key := o.String() + "\x00" + e.Principal
		if first, dup := seen[key]; dup {
			return nil, fault.At(f.Path, e.Line, 0, "a second entry for %q on %s (%s at line %d names the same tenant)", e.Principal, o, first.Object, first.Line)
		}
		seen[key] = *e
		e.Object = o
	}
	for i := range out.Replaces {
		out.Replaces[i].Object = canon(out.Replaces[i].Object)
	}
	return &out, nil
}

// expandTenants returns the file the policy is computed from: an entry on a
// tenant list becomes, for its principal, an entry on each tenant of the
// list (unless the principal has an entry on that tenant itself) and on the
// stand-ins of the tenants the list will hold when they are created.
// Entries one principal gets on one tenant from several lists are merged.
func expandTenants(f *File, res map[string]tenant.Resolved, h *tenant.Hierarchy) *File {
	type key struct{ principal, tenant string }
	direct := map[key]bool{}
	for _, e := range f.Entries {
		if r, ok := res[e.Object.Name]; e.Object.Kind == KindTenant && (!ok || r.Single()) {
			direct[key{e.Principal, e.Object.Name}] = true
		}
	}
	out := *f
	out.Entries = nil
	merged := map[key]*Entry{}
	var order []key
	add := func(e Entry, name string) {
		k := key{e.Principal, name}
		if direct[k] {
			return
		}
		if m := merged[k]; m != nil {
			m.Grant.NoAccess = m.Grant.NoAccess || e.Grant.NoAccess
			m.Grant.Rights |= e.Grant.Rights
			return
		}
		c := e
		c.Object, c.Propagate = Object{Kind: KindTenant, Name: name}, true
		merged[k] = &c
		order = append(order, k)
	}
	for _, e := range f.Entries {
		r, ok := res[e.Object.Name]
		if e.Object.Kind != KindTenant || !ok || r.Single() {
			out.Entries = append(out.Entries, e)
			continue
		}
		for _, t := range r.Tenants {
			add(e, t.Name)
		}
		if r.Kind == tenant.PrefixSubtenants || r.Kind == tenant.PrefixRelated {
			for _, t := range h.Subtenants(h.ByID(r.Named.ID)) {
				add(e, futureTenant(t.ID).Name)
			}
		}
	}
	for _, k := range order {
		out.Entries = append(out.Entries, *merged[k])
	}
	return &out
}
