// Package acl implements object-based access control in the manner of the
// seed product: elementary permissions granted to persons and access groups
// on objects arranged in a tree (database → schemas → tables, views,
// sequences, functions), with propagation from containers to their children,
// No Access beating every grant, and the union of a person's own and its
// groups' entries. Decisions are computed in Go (Policy) and materialized as
// PostgreSQL privileges granted to each person (Plan). Rights on tenants
// (tenant:NAME, tenant groups and lists) scope rows: when the database has
// a tenant table, every tenanted table gets row security policies that let
// each person reach only the rows of the tenants its rights cover.
package acl

import (
	"fmt"
	"strings"
)

// Rights is a set of elementary permissions.
type Rights uint16

// The elementary permissions.
const (
	Read Rights = 1 << iota
	Create
	Change
	Execute
	Delete
	ReadPermissions
	ChangePermissions
)

// Shorthands.
const (
	RX   = Read | Execute
	Full = Read | Create | Change | Execute | Delete | ReadPermissions | ChangePermissions
)

var rightNames = []struct {
	r    Rights
	name string
}{
	{Read, "Read"}, {Create, "Create"}, {Change, "Change"}, {Execute, "Execute"},
	{Delete, "Delete"}, {ReadPermissions, "ReadPermissions"}, {ChangePermissions, "ChangePermissions"},
}

// String lists the permissions, e.g. "Read,Execute"; "None" for the empty set.
func (r Rights) String() string {
	if r == Full {
		return "Full"
	}
	var parts []string
	for _, rn := range rightNames {
		if r&rn.r != 0 {
			parts = append(parts, rn.name)
		}
	}
	if len(parts) == 0 {
		return "None"
	}
	return strings.Join(parts, ",")
}

// Grant is what one permission entry gives: a set of rights, or No Access.
type Grant struct {
	Rights   Rights
	NoAccess bool
}

func (g Grant) String() string {
	if g.NoAccess {
		return "NoAccess"
	}
	return g.Rights.String()
}

// ParseGrant reads a rights attribute: a comma-separated list of Read,
// Create, Change, Execute, Delete, ReadPermissions, ChangePermissions and the
// shorthands RX and Full, or NoAccess alone. Names are case-insensitive.
func ParseGrant(s string) (Grant, error) {
	var g Grant
	items := strings.Split(s, ",")
	for _, item := range items {
		item = strings.TrimSpace(item)
		switch strings.ToLower(item) {
		case "":
			return Grant{}, fmt.Errorf("rights %q: empty item", s)
		case "noaccess":
			if len(items) > 1 {
				return Grant{}, fmt.Errorf("rights %q: NoAccess stands alone", s)
			}
			return Grant{NoAccess: true}, nil
		case "rx":
			g.Rights |= RX
		case "full":
			g.Rights |= Full
		default:
			found := false
			for _, rn := range rightNames {
				if strings.EqualFold(item, rn.name) {
					g.Rights |= rn.r
					found = true
				}
			}
			if !found {
				return Grant{}, fmt.Errorf("rights %q: unknown permission %q (want Read, Create, Change, Execute, Delete, ReadPermissions, ChangePermissions, RX, Full or NoAccess)", s, item)
			}
		}
	}
	return g, nil
}
