package tenant

import (
	"fmt"
	"io"
	"strings"
)

// Flags describes a tenant's flags for people, e.g. "service provider,
// subtenants allowed".
func (t *Tenant) Flags() string {
	var f []string
	if t.ServiceProvider {
		f = append(f, "service provider")
	}
	if t.SubtenantsAllowed {
		f = append(f, "subtenants allowed")
	}
	if !t.Active {
		f = append(f, "inactive")
	}
	return strings.Join(f, ", ")
}

// WriteTree prints the hierarchy as an indented tree, two spaces per level:
// the roots (service provider first, then by name), each followed by its
// subtree. Tenants whose parent links form a cycle are listed last, under a
// heading saying so.
func (h *Hierarchy) WriteTree(w io.Writer) error {
	var b strings.Builder
	printed := map[*Tenant]bool{}
	var walk func(t *Tenant, level int)
	walk = func(t *Tenant, level int) {
		if printed[t] {
			return
		}
		printed[t] = true
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", level), t.Name)
		if f := t.Flags(); f != "" {
			fmt.Fprintf(&b, " (%s)", f)
		}
		b.WriteString("\n")
		for _, c := range h.Children(t) {
			walk(c, level+1)
		}
	}
	for _, r := range h.Roots() {
		walk(r, 0)
	}
	var cyc []*Tenant
	for _, t := range h.tenants {
		if !printed[t] {
			cyc = append(cyc, t)
		}
	}
	if len(cyc) > 0 {
		sortByName(cyc)
		b.WriteString("on a cycle of parent links:\n")
		for _, t := range cyc {
			fmt.Fprintf(&b, "  %s (parent %s)\n", t.Name, h.Parent(t).Name)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// TreeNode is a tenant with its children, for JSON output.
type TreeNode struct {
	*Tenant
	Children []*TreeNode `json:"children,omitempty"`
}

// Tree returns the hierarchy as nested nodes, roots in WriteTree order.
// Tenants on a cycle are left out.
func (h *Hierarchy) Tree() []*TreeNode {
	seen := map[*Tenant]bool{}
	var node func(t *Tenant) *TreeNode
	node = func(t *Tenant) *TreeNode {
		seen[t] = true
		n := &TreeNode{Tenant: t}
		for _, c := range h.Children(t) {
			if !seen[c] {
				n.Children = append(n.Children, node(c))
			}
		}
		return n
	}
	var out []*TreeNode
	for _, r := range h.Roots() {
		out = append(out, node(r))
	}
	return out
}
