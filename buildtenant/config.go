package buildtenant

import (
	"github.com/tenantkit/tenantkit/internal/xmlnode"
)

// Config is a parsed buildtenant configuration (schema/buildtenant.xsd).
// Positions are kept so that errors found against the database can still
// name the file, line and column.
type Config struct {
	File    string
	Objects []*ObjectRule
}

// ObjectRule says how the rows of one pre-tenant object become tenants.
type ObjectRule struct {
	Node *xmlnode.Node
	// From names the pre-tenant object (object or table name).
	From string
	// Attributes map the object's columns to tenant table columns.
	Attributes []*Mapping
	// Parent names the SREL of the object to itself whose target row's
	// tenant becomes the parent tenant; nil without a parent mapping.
	Parent *ParentRule
	// Where is an SQL condition on the object's table; "" selects every row.
	Where     string
	WhereNode *xmlnode.Node
}

// Mapping copies one attribute of the pre-tenant object to a tenant column.
type Mapping struct {
	Node *xmlnode.Node
	From string
	To   string
}

// ParentRule is the <Parent> element.
type ParentRule struct {
	Node *xmlnode.Node
	From string
}

// ReadConfig parses a configuration file.
func ReadConfig(path string) (*Config, error) {
	root, err := xmlnode.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return configFromRoot(path, root)
}

// ParseConfig parses a configuration held in memory, naming it file in errors.
func ParseConfig(file string, data []byte) (*Config, error) {
	root, err := xmlnode.Parse(file, data)
	if err != nil {
		return nil, err
	}
	return configFromRoot(file, root)
}

// configFromRoot validates the structure exactly as buildtenant.xsd does.
// Names are checked against the database later, by bind.
func configFromRoot(file string, root *xmlnode.Node) (*Config, error) {
	if root.Name != "BuildTenant" {
		return nil, root.Errorf("root element is <%s>, want <BuildTenant>", root.Name)
	}
	if err := checkElement(root, nil, "Object"); err != nil {
		return nil, err
	}
	if len(root.Children) == 0 {
		return nil, root.Errorf("<BuildTenant> needs at least one <Object>")
	}
	cfg := &Config{File: file}
	seen := map[string]*xmlnode.Node{}
	for _, n := range root.Children {
		o, err := parseObjectRule(n)
		if err != nil {
			return nil, err
		}
		if prev := seen[o.From]; prev != nil {
			a, _ := n.Lookup("from")
			return nil, n.AttrErrorf(a, "object %q is configured twice (first at line %d)", o.From, prev.Line)
		}
		seen[o.From] = n
		cfg.Objects = append(cfg.Objects, o)
	}
	return cfg, nil
}

// checkElement checks attributes, child elements and text of n.
func checkElement(n *xmlnode.Node, attrs []string, children ...string) error {
	if err := n.CheckAttrs(attrs...); err != nil {
		return err
	}
	if err := n.CheckChildren(children...); err != nil {
		return err
	}
	return n.CheckNoText()
}

// Child elements of <Object> come in this order.
var objectChildOrder = map[string]int{"Attribute": 0, "Parent": 1, "Where": 2}

func parseObjectRule(n *xmlnode.Node) (*ObjectRule, error) {
	if err := checkElement(n, []string{"from"}, "Attribute", "Parent", "Where"); err != nil {
		return nil, err
	}
	from, err := n.Require("from")
	if err != nil {
		return nil, err
	}
	o := &ObjectRule{Node: n, From: from}
	last := 0
	targets := map[string]*xmlnode.Node{}
	for _, c := range n.Children {
		rank := objectChildOrder[c.Name]
		if rank < last || (rank == last && rank > 0) {
			return nil, c.Errorf("<%s> is out of place: <Object> holds <Attribute> elements, then at most one <Parent>, then at most one <Where>", c.Name)
		}
		last = rank
		switch c.Name {
		case "Attribute":
			m, err := parseMapping(c)
			if err != nil {
				return nil, err
			}
			if prev := targets[m.To]; prev != nil {
				a, _ := c.Lookup("to")
				return nil, c.AttrErrorf(a, "tenant column %q is mapped twice (first at line %d)", m.To, prev.Line)
			}
			targets[m.To] = c
			o.Attributes = append(o.Attributes, m)
		case "Parent":
			if err := checkElement(c, []string{"from"}); err != nil {
				return nil, err
			}
			pfrom, err := c.Require("from")
			if err != nil {
				return nil, err
			}
			o.Parent = &ParentRule{Node: c, From: pfrom}
		case "Where":
			if err := c.CheckAttrs(); err != nil {
				return nil, err
			}
			if err := c.CheckChildren(); err != nil {
				return nil, err
			}
			if c.Text == "" {
				return nil, c.Errorf("<Where> is empty: give an SQL condition or leave the element out")
			}
			o.Where, o.WhereNode = c.Text, c
		}
	}
	if len(o.Attributes) == 0 {
		return nil, n.Errorf("<Object> needs at least one <Attribute> (at least the tenant name)")
	}
	return o, nil
}

func parseMapping(n *xmlnode.Node) (*Mapping, error) {
	if err := checkElement(n, []string{"from", "to"}); err != nil {
		return nil, err
	}
	from, err := n.Require("from")
	if err != nil {
		return nil, err
	}
	to, err := n.Require("to")
	if err != nil {
		return nil, err
	}
	return &Mapping{Node: n, From: from, To: to}, nil
}
