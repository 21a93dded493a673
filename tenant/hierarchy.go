package tenant

import (
	"sort"
)

// Hierarchy is a snapshot of every tenant and its parent links, for
// computing tenant groups and checking hierarchy rules without a database.
// Tenant tables are small (thousands of rows at most), so the snapshot is
// held in memory.
type Hierarchy struct {
	tenants  []*Tenant
	byID     map[string]*Tenant
	children map[string][]*Tenant // parent key → children in name order
}

// NewHierarchy indexes tenants. A parent key that names no tenant is kept
// on the tenant but makes it a root of the hierarchy.
func NewHierarchy(tenants []*Tenant) *Hierarchy {
	h := &Hierarchy{tenants: tenants, byID: map[string]*Tenant{}, children: map[string][]*Tenant{}}
	for _, t := range tenants {
		h.byID[t.ID] = t
	}
	for _, t := range tenants {
		if t.Parent != nil && h.byID[*t.Parent] != nil {
			h.children[*t.Parent] = append(h.children[*t.Parent], t)
		}
	}
	for _, kids := range h.children {
		sortByName(kids)
	}
	return h
}

func sortByName(ts []*Tenant) {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
}

// Tenants returns every tenant of the snapshot.
func (h *Hierarchy) Tenants() []*Tenant { return h.tenants }

// ByID returns the tenant with the given key, or nil.
func (h *Hierarchy) ByID(id string) *Tenant { return h.byID[id] }

// ByName returns the tenant with the given name, or nil.
func (h *Hierarchy) ByName(name string) *Tenant {
	for _, t := range h.tenants {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Find returns the tenant named ref, else the one whose key is ref, else nil:
// the same precedence as Lookup.
func (h *Hierarchy) Find(ref string) *Tenant {
	if t := h.ByName(ref); t != nil {
		return t
	}
	return h.byID[ref]
}

// Parent returns t's parent, or nil at a root (or when the parent is missing).
func (h *Hierarchy) Parent(t *Tenant) *Tenant {
	if t.Parent == nil {
		return nil
	}
	return h.byID[*t.Parent]
}

// Children returns t's children in name order.
func (h *Hierarchy) Children(t *Tenant) []*Tenant { return h.children[t.ID] }

// Roots returns the tenants without a (known) parent: the service provider
// first, then by name.
func (h *Hierarchy) Roots() []*Tenant {
	var roots []*Tenant
	for _, t := range h.tenants {
		if h.Parent(t) == nil {
			roots = append(roots, t)
		}
	}
	sortByName(roots)
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].ServiceProvider && !roots[j].ServiceProvider })
	return roots
}

// Supertenants returns t's supertenants group, which is also its foreign-key
// group: t itself, its parent, and so on up to the root. The walk stops
// where the parent links form a cycle.
func (h *Hierarchy) Supertenants(t *Tenant) []*Tenant {
	var out []*Tenant
	seen := map[*Tenant]bool{}
	for cur := t; cur != nil && !seen[cur]; cur = h.Parent(cur) {
		seen[cur] = true
		out = append(out, cur)
	}
	return out
}

// Subtenants returns t's subtenants group: t itself and every descendant, in
// tree order (depth first, children by name).
func (h *Hierarchy) Subtenants(t *Tenant) []*Tenant {
	var out []*Tenant
	seen := map[*Tenant]bool{}
	var walk func(*Tenant)
	walk = func(n *Tenant) {
		if seen[n] {
			return
		}
		seen[n] = true
		out = append(out, n)
		for _, c := range h.children[n.ID] {
			walk(c)
		}
	}
	walk(t)
	return out
}

// Related returns t's related tenants group: the union of its supertenants
// and its subtenants, from the top of its branch down (root first, then the
// ancestors, t, and t's descendants in tree order).
func (h *Hierarchy) Related(t *Tenant) []*Tenant {
	sup := h.Supertenants(t)
	out := make([]*Tenant, 0, len(sup))
	for i := len(sup) - 1; i > 0; i-- {
		out = append(out, sup[i])
	}
	return append(out, h.Subtenants(t)...)
}

// Depth is t's depth in its hierarchy: 0 for a root (the service
// provider), 1 for its children, and so on — the base of the depth column
// and of every message. On a cycle, it counts the tenants up to the cycle.
func (h *Hierarchy) Depth(t *Tenant) int { return h.Level(t) - 1 }

// Level is t's level in its hierarchy: 1 for a root, 2 for its children, and
// so on, for counting levels against maxDepth. The stored depth column holds Level-1. On a cycle, the level counts
// the distinct tenants met walking up.
func (h *Hierarchy) Level(t *Tenant) int { return len(h.Supertenants(t)) }

// Height is the number of levels of t's subtree: 1 for a leaf.
func (h *Hierarchy) Height(t *Tenant) int {
	seen := map[*Tenant]bool{}
	var height func(*Tenant) int
	height = func(n *Tenant) int {
		if seen[n] {
			return 0
		}
		seen[n] = true
		best := 0
		for _, c := range h.children[n.ID] {
			if d := height(c); d > best {
				best = d
			}
		}
		return best + 1
	}
	return height(t)
}

// IsAncestor reports whether a is t or one of t's ancestors.
func (h *Hierarchy) IsAncestor(a, t *Tenant) bool {
	for _, s := range h.Supertenants(t) {
		if s == a {
			return true
		}
	}
	return false
}

// OnCycle reports whether walking up from t comes back to t.
func (h *Hierarchy) OnCycle(t *Tenant) bool {
	sup := h.Supertenants(t)
	last := sup[len(sup)-1]
	p := h.Parent(last)
	return p == t
}

// ServiceProvider returns the tenant flagged as service provider, or nil.
// With several flagged (a broken table), the one with the lowest key text.
func (h *Hierarchy) ServiceProvider() *Tenant {
	var sp *Tenant
	for _, t := range h.tenants {
		if t.ServiceProvider && (sp == nil || t.ID < sp.ID) {
			sp = t
		}
	}
	return sp
}
