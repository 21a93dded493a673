package tenant

import (
	"fmt"
)

// RuleError is a refused hierarchy change: the request was well formed but
// breaks a rule of the tenant hierarchy. Nothing was changed.
type RuleError struct {
	// Rule names the broken rule (one of the Rule… constants).
	Rule string
	Msg  string
}

func (e *RuleError) Error() string { return e.Msg }

// The hierarchy rules, as named in RuleError and by verify.
const (
	RuleServiceProvider   = "service-provider"       // exactly one, created first, never with a parent
	RuleSubtenantsAllowed = "subtenants-not-allowed" // a parent must allow subtenants
	RuleCycle             = "cycle"                  // parent links never loop
	RuleDepth             = "depth"                  // at most MaxDepth levels
	RuleMaxTenants        = "max-tenants"            // at most MaxTenants tenants
	RuleUniqueName        = "unique-name"            // tenant names are unique
)

func refuse(rule, format string, args ...any) error {
	return &RuleError{Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// Limits are the caps of the hierarchy, from the object schema.
type Limits struct {
	// MaxDepth is the number of levels a hierarchy may have: a root is
	// level 1. With MaxDepth 4, a root may have children, grandchildren and
	// great-grandchildren (stored depth 0 to 3), no deeper.
	MaxDepth int
	// MaxTenants caps the number of tenants; 0 means no cap.
	MaxTenants int
}

// NewTenant describes a tenant to create.
type NewTenant struct {
	Name              string
	Parent            *Tenant // nil for a root
	SubtenantsAllowed bool
	ServiceProvider   bool
	Inactive          bool
}

// CheckCreate checks that adding n to the hierarchy h keeps every rule: the
// service provider is created first and is the only one, never with a
// parent; a parent allows subtenants; the depth and tenant-count caps hold.
func CheckCreate(h *Hierarchy, lim Limits, n NewTenant) error {
	if h.ByName(n.Name) != nil {
		return refuse(RuleUniqueName, "a tenant named %q already exists", n.Name)
	}
	sp := h.ServiceProvider()
	switch {
	case n.ServiceProvider && sp != nil:
		return refuse(RuleServiceProvider, "tenant %q cannot be the service provider: %q already is", n.Name, sp.Name)
	case n.ServiceProvider && n.Parent != nil:
		return refuse(RuleServiceProvider, "the service provider %q cannot have a parent", n.Name)
	case !n.ServiceProvider && sp == nil:
		return refuse(RuleServiceProvider, "the service provider must be created first (create it with CreateOptions.ServiceProvider)")
	}
	if lim.MaxTenants > 0 && len(h.Tenants()) >= lim.MaxTenants {
		return refuse(RuleMaxTenants, "cannot create tenant %q: the cap of %d tenants is reached", n.Name, lim.MaxTenants)
	}
	if n.Parent != nil {
		if err := checkParent(h, lim, n.Name, 1, n.Parent); err != nil {
			return err
		}
	}
	return nil
}

// checkParent checks the rules for putting a subtree named name, of the
// given height, under parent.
func checkParent(h *Hierarchy, lim Limits, name string, height int, parent *Tenant) error {
	if !parent.SubtenantsAllowed {
		return refuse(RuleSubtenantsAllowed, "tenant %q cannot be the parent of %q: it does not allow subtenants", parent.Name, name)
	}
	if h.OnCycle(parent) {
		return refuse(RuleCycle, "tenant %q cannot be a parent: its ancestors form a cycle", parent.Name)
	}
	if levels := h.Level(parent) + height; levels > lim.MaxDepth {
		what := fmt.Sprintf("%q", name)
		if height > 1 {
			what = fmt.Sprintf("%q and its subtenants", name)
		}
		return refuse(RuleDepth, "putting %s under %q would reach depth %d; maxDepth %d allows depths 0 to %d", what, parent.Name, levels-1, lim.MaxDepth, lim.MaxDepth-1)
	}
	return nil
}

// CheckSetParent checks that giving t the parent p (nil: make t a root)
// keeps every rule: the service provider has no parent, the parent allows
// subtenants, no cycle, and t's whole subtree stays within the depth cap.
func CheckSetParent(h *Hierarchy, lim Limits, t, p *Tenant) error {
	if p == nil {
		return nil
	}
	if t.ServiceProvider {
		return refuse(RuleServiceProvider, "the service provider %q cannot have a parent", t.Name)
	}
	if h.IsAncestor(t, p) {
		if p == t {
			return refuse(RuleCycle, "tenant %q cannot be its own parent", t.Name)
		}
		return refuse(RuleCycle, "tenant %q cannot be the parent of %q: it is one of its subtenants (that would make a cycle)", p.Name, t.Name)
	}
	return checkParent(h, lim, t.Name, h.Height(t), p)
}
