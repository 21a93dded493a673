package acl

import (
	"strings"

	"github.com/tenantkit/tenantkit/internal/xmlnode"
)

// File is a parsed access-control file (see schema/acl.xsd).
type File struct {
	Path     string
	Persons  []Person
	Groups   []Group
	Entries  []Entry
	Replaces []Replace
}

// Person is a login role the file manages.
type Person struct {
	Name string
	Line int
}

// Group is an access group; Tenant is set for per-tenant groups, whose
// names read TENANT\NAME.
type Group struct {
	Name    string
	Tenant  string
	Members []string
	Line    int
}

// Replace is a replace-recursively marker on a container.
type Replace struct {
	Object Object
	Line   int
}

// builtinGroups may be declared to list their members, but carry their own
// rights.
var builtinGroups = map[string]bool{System: true, SuperAdministrators: true}

// ParseFile reads and validates an access-control file. It checks the file
// on its own; names of database objects and tenants are checked by the
// planner against the live database.
func ParseFile(path string) (*File, error) {
	root, err := xmlnode.ParseFile(path)
	if err != nil {
		return nil, err
	}
	if root.Name != "AccessControl" {
		return nil, root.Errorf("root element is <%s>, want <AccessControl>", root.Name)
	}
	if err := root.CheckAttrs(); err != nil {
		return nil, err
	}
	if err := root.CheckChildren("Person", "AccessGroup", "Permission", "Replace"); err != nil {
		return nil, err
	}
	if err := root.CheckNoText(); err != nil {
		return nil, err
	}
	f := &File{Path: path}
	persons := map[string]int{}
	groups := map[string]int{}
	var perms, members []*xmlnode.Node
	for _, n := range root.Children {
		switch n.Name {
		case "Person":
			if err := checkLeaf(n, "name"); err != nil {
				return nil, err
			}
			name, err := n.Require("name")
			if err != nil {
				return nil, err
			}
			if name == Everyone || builtinGroups[name] {
				return nil, n.Errorf("%q is a built-in principal, not a person", name)
			}
			if line, dup := persons[name]; dup {
				return nil, n.Errorf("person %q is declared twice (first at line %d)", name, line)
			}
			persons[name] = n.Line
			f.Persons = append(f.Persons, Person{Name: name, Line: n.Line})
		case "AccessGroup":
			g, err := parseGroup(n)
			if err != nil {
				return nil, err
			}
			if _, isPerson := persons[g.Name]; isPerson {
				return nil, n.Errorf("access group %q has the name of a person", g.Name)
			}
			if line, dup := groups[g.Name]; dup {
				return nil, n.Errorf("access group %q is declared twice (first at line %d)", g.Name, line)
			}
			groups[g.Name] = n.Line
			f.Groups = append(f.Groups, g)
			members = append(members, n.Children...)
		case "Permission":
			perms = append(perms, n)
		case "Replace":
			if err := checkLeaf(n, "object"); err != nil {
				return nil, err
			}
			o, err := objectAttr(n)
			if err != nil {
				return nil, err
			}
			if o.Kind != KindDatabase && o.Kind != KindSchema && o.Kind != KindTenant {
				return nil, n.Errorf("<Replace> needs a container (database, schema or tenant), not %s", o)
			}
			f.Replaces = append(f.Replaces, Replace{Object: o, Line: n.Line})
		}
	}
	for _, m := range members {
		if _, ok := persons[m.Get("person")]; !ok {
			return nil, m.Errorf("member %q is not a declared person", m.Get("person"))
		}
	}
	seen := map[string]int{}
	for _, n := range perms {
		e, err := parsePermission(n)
		if err != nil {
			return nil, err
		}
		_, isPerson := persons[e.Principal]
		_, isGroup := groups[e.Principal]
		if !isPerson && !isGroup && e.Principal != Everyone && !builtinGroups[e.Principal] {
			a, _ := n.Lookup("to")
			return nil, n.AttrErrorf(a, "%q is neither a declared person nor an access group", e.Principal)
		}
		key := e.Object.String() + "\x00" + e.Principal
		if line, dup := seen[key]; dup {
			return nil, n.Errorf("a second entry for %q on %s (first at line %d)", e.Principal, e.Object, line)
		}
		seen[key] = n.Line
		f.Entries = append(f.Entries, e)
	}
	return f, nil
}

func checkLeaf(n *xmlnode.Node, attrs ...string) error {
	if err := n.CheckAttrs(attrs...); err != nil {
		return err
	}
	if err := n.CheckChildren(); err != nil {
		return err
	}
	return n.CheckNoText()
}

func parseGroup(n *xmlnode.Node) (Group, error) {
	if err := n.CheckAttrs("name", "tenant"); err != nil {
		return Group{}, err
	}
	if err := n.CheckChildren("Member"); err != nil {
		return Group{}, err
	}
	if err := n.CheckNoText(); err != nil {
		return Group{}, err
	}
	name, err := n.Require("name")
	if err != nil {
		return Group{}, err
	}
	if name == Everyone {
		return Group{}, n.Errorf("EVERYONE holds every declared person; it takes no members")
	}
	g := Group{Name: name, Tenant: n.Get("tenant"), Line: n.Line}
	if a, ok := n.Lookup("tenant"); ok {
		if builtinGroups[name] {
			return Group{}, n.AttrErrorf(a, "built-in group %q belongs to no tenant", name)
		}
		if !strings.HasPrefix(name, g.Tenant+`\`) || len(name) == len(g.Tenant)+1 {
			return Group{}, n.AttrErrorf(a, `access group %q of tenant %q must be named %s\NAME`, name, g.Tenant, g.Tenant)
		}
	}
	for _, m := range n.Children {
		if err := checkLeaf(m, "person"); err != nil {
			return Group{}, err
		}
		p, err := m.Require("person")
		if err != nil {
			return Group{}, err
		}
		g.Members = append(g.Members, p)
	}
	return g, nil
}

func objectAttr(n *xmlnode.Node) (Object, error) {
	v, err := n.Require("object")
	if err != nil {
		return Object{}, err
	}
	o, err := ParseObject(v)
	if err != nil {
		a, _ := n.Lookup("object")
		return Object{}, n.AttrErrorf(a, "%v", err)
	}
	return o, nil
}

func parsePermission(n *xmlnode.Node) (Entry, error) {
	if err := checkLeaf(n, "object", "to", "rights", "propagate", "subtenants"); err != nil {
		return Entry{}, err
	}
	o, err := objectAttr(n)
	if err != nil {
		return Entry{}, err
	}
	to, err := n.Require("to")
	if err != nil {
		return Entry{}, err
	}
	rights, err := n.Require("rights")
	if err != nil {
		return Entry{}, err
	}
	g, err := ParseGrant(rights)
	if err != nil {
		a, _ := n.Lookup("rights")
		return Entry{}, n.AttrErrorf(a, "%v", err)
	}
	prop, err := n.Bool("propagate", true)
	if err != nil {
		return Entry{}, err
	}
	// subtenants="true" on tenant:T is the object tenant:subtenants:T: T
	// and its descendants.
	sub, err := n.Bool("subtenants", false)
	if err != nil {
		return Entry{}, err
	}
	if sub {
		a, _ := n.Lookup("subtenants")
		if o.Kind != KindTenant {
			return Entry{}, n.AttrErrorf(a, "subtenants=\"true\" applies to tenant:NAME objects, not %s", o)
		}
		if strings.Contains(o.Name, ":") {
			for _, p := range tenantListPrefixes {
				if strings.HasPrefix(o.Name, p+":") {
					return Entry{}, n.AttrErrorf(a, "subtenants=\"true\" needs one tenant, and %s is a tenant list", o)
				}
			}
		}
		o.Name = "subtenants:" + o.Name
	}
	return Entry{Object: o, Principal: to, Grant: g, Propagate: prop, Line: n.Line}, nil
}

// Policy builds the declared policy; master is the role running tenantkit.
func (f *File) Policy(master string) *Policy {
	p := &Policy{Persons: map[string]bool{}, Groups: map[string]map[string]bool{}, Master: master}
	for _, per := range f.Persons {
		p.Persons[per.Name] = true
	}
	for _, g := range f.Groups {
		members := map[string]bool{}
		for _, m := range g.Members {
			members[m] = true
		}
		p.Groups[g.Name] = members
	}
	p.Entries = append(p.Entries, f.Entries...)
	for _, r := range f.Replaces {
		p.Replaced = append(p.Replaced, r.Object)
	}
	return p
}
