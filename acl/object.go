package acl

import (
	"fmt"
	"strings"
)

// Kind is the kind of an object in the access-control tree.
type Kind string

// The kinds of objects.
const (
	KindDatabase Kind = "database"
	KindSchema   Kind = "schema"
	KindTable    Kind = "table" // tables and views
	KindSequence Kind = "sequence"
	KindFunction Kind = "function" // every overload of the name
	// KindTenant is a tenant as a container of rows, or a tenant list
	// (Name is then a list reference: group:NAME, subtenants:T, …). It
	// carries no PostgreSQL privileges of its own.
	KindTenant Kind = "tenant"
)

// tenantListPrefixes may also stand alone as objects: "subtenants:Acme" is
// "tenant:subtenants:Acme".
var tenantListPrefixes = []string{"group", "supertenants", "subtenants", "related"}

// Object names a node of the tree: "database", "schema:NAME",
// "table:SCHEMA.NAME", "sequence:SCHEMA.NAME", "function:SCHEMA.NAME",
// "tenant:REF" where REF is an item of a tenant list (a tenant's name or
// key, a tenant group, group:NAME, supertenants:T, subtenants:T,
// related:T; see tenant.ResolveList).
type Object struct {
	Kind   Kind
	Schema string // the schema itself for KindSchema
	Name   string // "" for database and schemas
}

// Database is the root of the tree.
var Database = Object{Kind: KindDatabase}

func (o Object) String() string {
	switch o.Kind {
	case KindDatabase:
		return "database"
	case KindSchema:
		return "schema:" + o.Schema
	case KindTenant:
		return "tenant:" + o.Name
	}
	return string(o.Kind) + ":" + o.Schema + "." + o.Name
}

// Parent returns the container of o; the database has none.
func (o Object) Parent() (Object, bool) {
	switch o.Kind {
	case KindDatabase:
		return Object{}, false
	case KindSchema, KindTenant:
		return Database, true
	}
	return Object{Kind: KindSchema, Schema: o.Schema}, true
}

// Contains reports whether o is c or one of c's ancestors.
func (o Object) Contains(c Object) bool {
	for {
		if c == o {
			return true
		}
		p, ok := c.Parent()
		if !ok {
			return false
		}
		c = p
	}
}

// ParseObject reads an object reference. Names are taken literally (no
// identifier folding); a table name may hold dots when the schema is given:
// the first dot separates the schema.
func ParseObject(s string) (Object, error) {
	if s == "database" {
		return Database, nil
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Object{}, fmt.Errorf("object %q: want database, schema:NAME, table:SCHEMA.NAME, sequence:SCHEMA.NAME, function:SCHEMA.NAME, tenant:NAME or a tenant list (subtenants:T, group:NAME, …)", s)
	}
	switch Kind(kind) {
	case KindSchema:
		return Object{Kind: KindSchema, Schema: rest}, nil
	case KindTenant:
		return Object{Kind: KindTenant, Name: rest}, nil
	case "group", "supertenants", "subtenants", "related":
		return Object{Kind: KindTenant, Name: s}, nil
	case KindTable, KindSequence, KindFunction:
		schema, name, ok := strings.Cut(rest, ".")
		if !ok || schema == "" || name == "" {
			return Object{}, fmt.Errorf("object %q: want %s:SCHEMA.NAME", s, kind)
		}
		return Object{Kind: Kind(kind), Schema: schema, Name: name}, nil
	}
	return Object{}, fmt.Errorf("object %q: unknown kind %q (want database, schema, table, sequence, function, tenant, group, supertenants, subtenants or related)", s, kind)
}
