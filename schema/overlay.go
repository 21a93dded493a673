package schema

import (
	"strings"

	"github.com/tenantkit/tenantkit/internal/xmlnode"
)

// overlay is the parsed overlay file, with positions kept for validation
// against the catalog.
type overlay struct {
	dbSchema     string
	tenantColumn string
	tenants      *overlayTenants
	objects      []*overlayObject
}

type overlayTenants struct {
	node       *xmlnode.Node
	table      string
	columns    map[string]string // role (key, name, parent, …) → column
	maxDepth   int
	maxTenants int
}

type overlayObject struct {
	node         *xmlnode.Node
	name, table  string
	tenancy      Tenancy
	tenantColumn string
	key          []string
	changeColumn string
	srels        []*overlaySrel
}

type overlaySrel struct {
	node     *xmlnode.Node
	attr     string
	column   string
	to       string
	toColumn string
	eligible bool
}

// tenantRoles are the tenant table attributes of <Tenants>, in print order.
var tenantRoles = []string{"key", "name", "parent", "subtenantsAllowed", "active", "serviceProvider", "depth"}

// parseOverlay reads and structurally validates an overlay file. References to
// the catalog are checked later, by merge.
func parseOverlay(file string) (*overlay, error) {
	root, err := xmlnode.ParseFile(file)
	if err != nil {
		return nil, err
	}
	if root.Name != "Schema" {
		return nil, root.Errorf("root element is <%s>, want <Schema>", root.Name)
	}
	if err := root.CheckAttrs("dbSchema", "tenantColumn"); err != nil {
		return nil, err
	}
	if err := root.CheckChildren("Tenants", "Object"); err != nil {
		return nil, err
	}
	if err := root.CheckNoText(); err != nil {
		return nil, err
	}
	ov := &overlay{dbSchema: root.Get("dbSchema"), tenantColumn: root.Get("tenantColumn")}
	names := map[string]*xmlnode.Node{}
	for i, n := range root.Children {
		switch n.Name {
		case "Tenants":
			if ov.tenants != nil {
				return nil, n.Errorf("more than one <Tenants> element")
			}
			if i > 0 {
				return nil, n.Errorf("<Tenants> must come before the <Object> elements")
			}
			if ov.tenants, err = parseTenants(n); err != nil {
				return nil, err
			}
		case "Object":
			o, err := parseObject(n)
			if err != nil {
				return nil, err
			}
			if prev := names[o.name]; prev != nil {
				return nil, n.Errorf("object %q is declared twice (first at line %d)", o.name, prev.Line)
			}
			names[o.name] = n
			ov.objects = append(ov.objects, o)
		}
	}
	return ov, nil
}

func parseTenants(n *xmlnode.Node) (*overlayTenants, error) {
	allowed := append([]string{"table", "maxDepth", "maxTenants"}, tenantRoles...)
	if err := n.CheckAttrs(allowed...); err != nil {
		return nil, err
	}
	if err := n.CheckChildren(); err != nil {
		return nil, err
	}
	if err := n.CheckNoText(); err != nil {
		return nil, err
	}
	table, err := n.Require("table")
	if err != nil {
		return nil, err
	}
	t := &overlayTenants{node: n, table: table, columns: map[string]string{}}
	for _, role := range tenantRoles {
		if v := n.Get(role); v != "" {
			t.columns[role] = v
		}
	}
	if t.maxDepth, err = n.Int("maxDepth", 4); err != nil {
		return nil, err
	}
	if t.maxDepth < 1 {
		a, _ := n.Lookup("maxDepth")
		return nil, n.AttrErrorf(a, "maxDepth must be at least 1")
	}
	if t.maxTenants, err = n.Int("maxTenants", 0); err != nil {
		return nil, err
	}
	return t, nil
}

func parseObject(n *xmlnode.Node) (*overlayObject, error) {
	if err := n.CheckAttrs("name", "table", "tenancy", "tenantColumn", "key", "changeColumn"); err != nil {
		return nil, err
	}
	if err := n.CheckChildren("Srel"); err != nil {
		return nil, err
	}
	if err := n.CheckNoText(); err != nil {
		return nil, err
	}
	name, err := n.Require("name")
	if err != nil {
		return nil, err
	}
	o := &overlayObject{node: n, name: name, table: n.Get("table"), tenantColumn: n.Get("tenantColumn"), changeColumn: n.Get("changeColumn")}
	if o.table == "" {
		o.table = name
	}
	if a, ok := n.Lookup("tenancy"); ok {
		switch Tenancy(a.Value) {
		case Required, Optional, None:
			o.tenancy = Tenancy(a.Value)
		default:
			return nil, n.AttrErrorf(a, "tenancy %q: want required, optional or none", a.Value)
		}
	}
	if a, ok := n.Lookup("key"); ok {
		for _, k := range strings.Split(a.Value, ",") {
			k = strings.TrimSpace(k)
			if k == "" {
				return nil, n.AttrErrorf(a, "key %q has an empty column name", a.Value)
			}
			o.key = append(o.key, k)
		}
	}
	for _, c := range n.Children {
		s, err := parseSrel(c)
		if err != nil {
			return nil, err
		}
		o.srels = append(o.srels, s)
	}
	return o, nil
}

func parseSrel(n *xmlnode.Node) (*overlaySrel, error) {
	if err := n.CheckAttrs("attr", "column", "to", "toColumn", "serviceProviderEligible"); err != nil {
		return nil, err
	}
	if err := n.CheckChildren(); err != nil {
		return nil, err
	}
	if err := n.CheckNoText(); err != nil {
		return nil, err
	}
	to, err := n.Require("to")
	if err != nil {
		return nil, err
	}
	s := &overlaySrel{node: n, attr: n.Get("attr"), column: n.Get("column"), to: to, toColumn: n.Get("toColumn")}
	if s.attr == "" && s.column == "" {
		return nil, n.Errorf("<Srel> needs attribute \"attr\" or \"column\"")
	}
	if s.column == "" {
		s.column = s.attr
	}
	if s.attr == "" {
		s.attr = s.column
	}
	if s.eligible, err = n.Bool("serviceProviderEligible", false); err != nil {
		return nil, err
	}
	return s, nil
}
