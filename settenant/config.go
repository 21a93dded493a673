package settenant

import (
	"errors"
	"io/fs"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/xmlnode"
)

// RuleType says where a rule takes the tenant from.
type RuleType string

// The rule types of <TenantRule type="…">.
const (
	// SREL takes the tenant of the row an attribute (or a dotted path of
	// attributes) references.
	SREL RuleType = "SREL"
	// Name sets one named tenant.
	Name RuleType = "Name"
	// BREL takes the tenant from the rows of another object that reference
	// the row through one of that object's SRELs (a back reference):
	// "object.attr", optionally followed by "/" and an SREL path from the
	// referencing object to where the tenant is read (see brel.go).
	BREL RuleType = "BREL"
)

// Agreement says how a BREL rule picks a tenant when a row's referrers name
// several (the agree attribute of <TenantRule type="BREL">).
type Agreement string

// The values of agree="…".
const (
	// AgreeAll, the default, gives a row a tenant only when every referrer
	// that names one names the same.
	AgreeAll Agreement = "all"
	// AgreeMajority gives a row the tenant most of its referrers name; a tie
	// leaves it without one.
	AgreeMajority Agreement = "majority"
)

// Config is a parsed settenant file: its rules in file order.
type Config struct {
	File  string
	Rules []*Rule
}

// Rule is one <Object> element of the file.
type Rule struct {
	// Object names the object (or table) whose rows get a tenant.
	Object string
	Type   RuleType
	// Source is the TenantRule text: a dotted SREL path, a tenant name, or
	// a BREL back reference "object.attr[/path]".
	Source string
	// Agree is the agree attribute of a BREL rule ("" when absent, which
	// means AgreeAll); other rule types may not carry it (checked by Compile).
	Agree Agreement
	// Where is an SQL condition on the object's table; "" selects every row.
	Where string

	node, ruleNode, whereNode *xmlnode.Node
	// agreeAttr is where the agree attribute stands, for errors.
	agreeAttr xmlnode.Attr
}

// Errorf returns an error positioned at the rule's <Object> element.
func (r *Rule) Errorf(format string, args ...any) error { return r.node.Errorf(format, args...) }

// ruleErrorf returns an error positioned at the rule's <TenantRule> element.
func (r *Rule) ruleErrorf(format string, args ...any) error {
	return r.ruleNode.Errorf(format, args...)
}

// whereErrorf returns an error positioned at the rule's <Where> element.
func (r *Rule) whereErrorf(format string, args ...any) error {
	return r.whereNode.Errorf(format, args...)
}

// agreeErrorf returns an error positioned at the rule's agree attribute.
func (r *Rule) agreeErrorf(format string, args ...any) error {
	return r.ruleNode.AttrErrorf(r.agreeAttr, format, args...)
}

// Line is the line of the rule's <Object> element.
func (r *Rule) Line() int { return r.node.Line }

// ParseFile reads a settenant file and validates its structure (what
// schema/settenant.xsd checks). Names are checked against the database later,
// by Compile. Errors are *xmlnode.Error values naming FILE:LINE:COL.
func ParseFile(path string) (*Config, error) {
	root, err := xmlnode.ParseFile(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fault.Usage(err) // a missing or unreadable file is bad input
	}
	if err != nil {
		return nil, err
	}
	if root.Name != "SetTenant" {
		return nil, root.Errorf("root element is <%s>, want <SetTenant>", root.Name)
	}
	if err := root.CheckAttrs(); err != nil {
		return nil, err
	}
	if err := root.CheckChildren("Object"); err != nil {
		return nil, err
	}
	if err := root.CheckNoText(); err != nil {
		return nil, err
	}
	if len(root.Children) == 0 {
		return nil, root.Errorf("<SetTenant> has no <Object> rules")
	}
	cfg := &Config{File: path}
	for _, n := range root.Children {
		r, err := parseRule(n)
		if err != nil {
			return nil, err
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

func parseRule(n *xmlnode.Node) (*Rule, error) {
	if err := n.CheckAttrs("name"); err != nil {
		return nil, err
	}
	if err := n.CheckChildren("TenantRule", "Where"); err != nil {
		return nil, err
	}
	if err := n.CheckNoText(); err != nil {
		return nil, err
	}
	name, err := n.Require("name")
	if err != nil {
		return nil, err
	}
	r := &Rule{Object: name, node: n}
	for _, c := range n.Children {
		switch c.Name {
		case "TenantRule":
			if r.ruleNode != nil {
				return nil, c.Errorf("more than one <TenantRule> in <Object> (first at line %d)", r.ruleNode.Line)
			}
			if err := parseTenantRule(r, c); err != nil {
				return nil, err
			}
		case "Where":
			if r.whereNode != nil {
				return nil, c.Errorf("more than one <Where> in <Object> (first at line %d)", r.whereNode.Line)
			}
			if err := c.CheckAttrs(); err != nil {
				return nil, err
			}
			if err := c.CheckChildren(); err != nil {
				return nil, err
			}
			if c.Text == "" {
				return nil, c.Errorf("<Where> is empty; leave it out to select every row")
			}
			r.Where, r.whereNode = c.Text, c
		}
	}
	if r.ruleNode == nil {
		return nil, n.Errorf("<Object name=%q> has no <TenantRule>", name)
	}
	return r, nil
}

func parseTenantRule(r *Rule, n *xmlnode.Node) error {
	if err := n.CheckAttrs("type", "agree"); err != nil {
		return err
	}
	if err := n.CheckChildren(); err != nil {
		return err
	}
	typ, err := n.Require("type")
	if err != nil {
		return err
	}
	switch RuleType(typ) {
	case SREL, Name, BREL:
	default:
		a, _ := n.Lookup("type")
		return n.AttrErrorf(a, "<TenantRule> type %q: want SREL, BREL or Name", typ)
	}
	if a, ok := n.Lookup("agree"); ok {
		switch Agreement(a.Value) {
		case AgreeAll, AgreeMajority:
		default:
			return n.AttrErrorf(a, "<TenantRule> agree %q: want all or majority", a.Value)
		}
		r.Agree, r.agreeAttr = Agreement(a.Value), a
	}
	if n.Text == "" {
		switch RuleType(typ) {
		case SREL:
			return n.Errorf("<TenantRule type=\"SREL\"> is empty: name the attribute that references the tenant's source")
		case BREL:
			return n.Errorf("<TenantRule type=\"BREL\"> is empty: name the SREL of another object that references this one (object.attribute)")
		}
		return n.Errorf("<TenantRule type=\"Name\"> is empty: name the tenant")
	}
	r.Type, r.Source, r.ruleNode = RuleType(typ), n.Text, n
	return nil
}
