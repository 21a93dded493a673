// Package schema describes a database as tenantkit sees it: objects (tables),
// their tenancy, match keys and single-valued references (SRELs), and the
// tenant table. The description is read from the live catalog and merged with
// an optional XML overlay (see overlay.xsd). TenantUniqueDDL proposes the
// per-tenant unique keys a multi-tenant database needs. The directory also
// holds the XML schemas of tenantkit's other configuration files (acl.xsd,
// buildtenant.xsd, settenant.xsd).
package schema

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Tenancy says whether an object's rows belong to tenants.
type Tenancy string

// The three tenancies.
const (
	// Required: every row must have a tenant.
	Required Tenancy = "required"
	// Optional: a NULL tenant means the row is public.
	Optional Tenancy = "optional"
	// None: no tenant column; every row is public.
	None Tenancy = "none"
)

// Column is one column of a table.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // format_type, e.g. "timestamp with time zone"
	TypeOID  uint32 `json:"-"`
	NotNull  bool   `json:"not_null"`
	Default  string `json:"default,omitempty"` // the default expression, "" when none
	Identity bool   `json:"identity,omitempty"`
	// Generated columns cannot be written.
	Generated bool `json:"generated,omitempty"`
}

// HasDefault reports whether the database fills the column when it is omitted.
func (c *Column) HasDefault() bool { return c.Default != "" || c.Identity }

// Srel is a single-valued reference from columns of one object to a row of
// another (usually a one-column foreign key).
type Srel struct {
	Attr          string   `json:"attr"`
	Columns       []string `json:"columns"`
	Target        *Object  `json:"-"`
	TargetName    string   `json:"to"`
	TargetColumns []string `json:"to_columns"`
	// ServiceProviderEligible SRELs may point at the service provider's rows.
	ServiceProviderEligible bool `json:"service_provider_eligible"`
	// ForeignKey is the constraint's name; "" when the SREL exists only in the overlay.
	ForeignKey string `json:"foreign_key,omitempty"`
	// WithTenant marks a foreign key that also pairs the two objects' tenant
	// columns, (tenant, org) → (tenant, id), as on a database distributed
	// by the tenant (see package distribute). Columns and TargetColumns
	// leave the tenant columns out: the SREL is the logical org → id.
	WithTenant bool `json:"with_tenant,omitempty"`
}

// Object is a table as tenantkit sees it.
type Object struct {
	Name         string     `json:"name"`
	Schema       string     `json:"schema"`
	Table        string     `json:"table"`
	Tenancy      Tenancy    `json:"tenancy"`
	TenantColumn string     `json:"tenant_column,omitempty"`
	Key          []string   `json:"key,omitempty"` // overlay match key; nil = from the catalog
	PrimaryKey   []string   `json:"primary_key,omitempty"`
	Uniques      [][]string `json:"uniques,omitempty"`
	ChangeColumn string     `json:"change_column,omitempty"`
	Columns      []Column   `json:"columns"`
	Srels        []*Srel    `json:"srels"`
	// IsTenantTable marks the tenant table itself.
	IsTenantTable bool `json:"tenant_table,omitempty"`
}

// Ident is the quoted, schema-qualified table name for SQL.
func (o *Object) Ident() string { return sqlq.Ident(o.Schema, o.Table) }

// ChangeStamp is the assignment that moves the object's change column to
// the present, in the column's type, for an UPDATE whose target is named
// qual. tenantkit's own writers add it, so that incremental extracts
// (--control) see the rows they changed; a value already in the future is
// kept. "" when the object has no change column, or when its type has no
// notion of the present (text, say).
func (o *Object) ChangeStamp(qual string) string {
	if o.ChangeColumn == "" || o.ChangeColumn == o.TenantColumn {
		return ""
	}
	c := o.Column(o.ChangeColumn)
	if c == nil || c.Generated {
		return ""
	}
	var now string
	switch t := c.Type; {
	case strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "with time zone"):
		now = "now()"
	case strings.HasPrefix(t, "timestamp"):
		now = "localtimestamp"
	case t == "date":
		now = "current_date"
	case t == "integer", t == "bigint", t == "double precision", strings.HasPrefix(t, "numeric"):
		now = "extract(epoch FROM now())::" + t // seconds since 1970, as in many legacy schemas
	default:
		return ""
	}
	col := sqlq.Ident(c.Name)
	return fmt.Sprintf("%s = greatest(%s.%s, %s)", col, qual, col, now)
}

// Column returns the named column, or nil.
func (o *Object) Column(name string) *Column {
	for i := range o.Columns {
		if o.Columns[i].Name == name {
			return &o.Columns[i]
		}
	}
	return nil
}

// Tenanted reports whether the object has a tenant column.
func (o *Object) Tenanted() bool { return o.Tenancy != None }

// Srel returns the SREL with the given attribute name, or nil.
func (o *Object) Srel(attr string) *Srel {
	for _, s := range o.Srels {
		if s.Attr == attr {
			return s
		}
	}
	return nil
}

// TenantTable names the tenant table and the columns tenantkit uses.
// Optional columns are "" when the table has none.
type TenantTable struct {
	Object            *Object `json:"-"`
	Schema            string  `json:"schema"`
	Table             string  `json:"table"`
	Key               string  `json:"key"`
	Name              string  `json:"name"`
	Parent            string  `json:"parent,omitempty"`
	SubtenantsAllowed string  `json:"subtenants_allowed,omitempty"`
	Active            string  `json:"active,omitempty"`
	ServiceProvider   string  `json:"service_provider,omitempty"`
	Depth             string  `json:"depth,omitempty"`
	// MaxDepth caps the hierarchy (levels, the service provider's included).
	MaxDepth int `json:"max_depth"`
	// MaxTenants caps the number of tenants; 0 means no cap.
	MaxTenants int `json:"max_tenants"`
}

// Ident is the quoted, schema-qualified tenant table name.
func (t *TenantTable) Ident() string { return sqlq.Ident(t.Schema, t.Table) }

// Schema is the merged object schema of one database schema.
type Schema struct {
	// DBSchema is the PostgreSQL schema the objects live in.
	DBSchema string `json:"db_schema"`
	// Objects in name order.
	Objects []*Object `json:"objects"`
	// Tenants is nil when the database has no tenant table.
	Tenants *TenantTable `json:"tenants"`
}

// Object finds an object by object name or table name, or returns nil.
func (s *Schema) Object(name string) *Object {
	for _, o := range s.Objects {
		if o.Name == name {
			return o
		}
	}
	for _, o := range s.Objects {
		if o.Table == name || o.Schema+"."+o.Table == name {
			return o
		}
	}
	return nil
}

// Tenanted returns the objects that have a tenant column.
func (s *Schema) Tenanted() []*Object {
	var out []*Object
	for _, o := range s.Objects {
		if o.Tenanted() {
			out = append(out, o)
		}
	}
	return out
}

// Select returns the objects matching any of the patterns (object or table
// names, or shell patterns such as "ca_*"), in name order. A pattern without
// wildcards that matches nothing is an error, and so is a malformed pattern.
func (s *Schema) Select(patterns []string) ([]*Object, error) {
	seen := map[*Object]bool{}
	var out []*Object
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		matched := false
		for _, o := range s.Objects {
			ok1, err := path.Match(p, o.Name)
			if err != nil {
				return nil, fmt.Errorf("bad pattern %q: %w", p, err)
			}
			ok2, _ := path.Match(p, o.Table)
			if ok1 || ok2 {
				matched = true
				if !seen[o] {
					seen[o] = true
					out = append(out, o)
				}
			}
		}
		if !matched && !strings.ContainsAny(p, "*?[") {
			return nil, fmt.Errorf("unknown object or table %q", p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Ordered returns objs with parents before children: an object comes after
// every object its SRELs point at, self-references aside. Objects on a cycle
// keep name order among themselves.
func Ordered(objs []*Object) []*Object {
	in := map[*Object]bool{}
	var byName []*Object
	for _, o := range objs {
		if !in[o] { // an object listed twice comes out once
			in[o] = true
			byName = append(byName, o)
		}
	}
	sort.Slice(byName, func(i, j int) bool { return byName[i].Name < byName[j].Name })
	done := map[*Object]bool{}
	var out []*Object
	for len(out) < len(byName) {
		progressed := false
		for _, o := range byName {
			if done[o] || !parentsDone(o, in, done) {
				continue
			}
			done[o] = true
			out = append(out, o)
			progressed = true
		}
		if !progressed { // a cycle: release the first waiting object
			for _, o := range byName {
				if !done[o] {
					done[o] = true
					out = append(out, o)
					break
				}
			}
		}
	}
	return out
}

func parentsDone(o *Object, in, done map[*Object]bool) bool {
	for _, s := range o.Srels {
		t := s.Target
		if t != nil && t != o && in[t] && !done[t] {
			return false
		}
	}
	return true
}
