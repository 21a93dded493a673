package schema

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the object schema for people.
func (s *Schema) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "schema %s\n", s.DBSchema)
	if t := s.Tenants; t != nil {
		fmt.Fprintf(&b, "tenant table %s (key %s, name %s", t.Table, t.Key, t.Name)
		for _, c := range [][2]string{{"parent", t.Parent}, {"subtenants allowed", t.SubtenantsAllowed}, {"active", t.Active}, {"service provider", t.ServiceProvider}, {"depth", t.Depth}} {
			if c[1] != "" {
				fmt.Fprintf(&b, ", %s %s", c[0], c[1])
			}
		}
		fmt.Fprintf(&b, "; max depth %d", t.MaxDepth)
		if t.MaxTenants > 0 {
			fmt.Fprintf(&b, ", max tenants %d", t.MaxTenants)
		}
		b.WriteString(")\n")
	} else {
		b.WriteString("no tenant table\n")
	}
	for _, o := range s.Objects {
		fmt.Fprintf(&b, "\nobject %s (table %s)\n", o.Name, o.Table)
		if o.IsTenantTable {
			b.WriteString("  the tenant table\n")
		}
		fmt.Fprintf(&b, "  tenancy   %s", o.Tenancy)
		if o.TenantColumn != "" {
			fmt.Fprintf(&b, " (column %s)", o.TenantColumn)
		}
		b.WriteString("\n")
		if key := o.MatchKey(); key != nil {
			fmt.Fprintf(&b, "  match key %s\n", strings.Join(key, ", "))
		} else {
			b.WriteString("  match key none (every record is an insert)\n")
		}
		if o.ChangeColumn != "" {
			fmt.Fprintf(&b, "  changes   %s\n", o.ChangeColumn)
		}
		for _, r := range o.Srels {
			fmt.Fprintf(&b, "  srel      %s: %s -> %s(%s)", r.Attr, strings.Join(r.Columns, ", "), r.TargetName, strings.Join(r.TargetColumns, ", "))
			if r.ForeignKey == "" {
				b.WriteString(" [overlay]")
			}
			if r.WithTenant {
				b.WriteString(" [with tenant]")
			}
			if r.ServiceProviderEligible {
				b.WriteString(" [service provider eligible]")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the JSON form of one object in `tenantkit schema --json`.
type Summary struct {
	Name         string     `json:"name"`
	Table        string     `json:"table"`
	Tenancy      Tenancy    `json:"tenancy"`
	TenantColumn string     `json:"tenant_column,omitempty"`
	MatchKey     []string   `json:"match_key"`
	PrimaryKey   []string   `json:"primary_key,omitempty"`
	Uniques      [][]string `json:"uniques,omitempty"`
	ChangeColumn string     `json:"change_column,omitempty"`
	TenantTable  bool       `json:"tenant_table,omitempty"`
	Srels        []*Srel    `json:"srels"`
	Columns      []Column   `json:"columns"`
}

// Summaries returns the JSON view of every object.
func (s *Schema) Summaries() []Summary {
	out := make([]Summary, 0, len(s.Objects))
	for _, o := range s.Objects {
		key := o.MatchKey()
		srels := o.Srels
		if srels == nil {
			srels = []*Srel{}
		}
		out = append(out, Summary{
			Name: o.Name, Table: o.Table, Tenancy: o.Tenancy, TenantColumn: o.TenantColumn,
			MatchKey: key, PrimaryKey: o.PrimaryKey, Uniques: o.Uniques, ChangeColumn: o.ChangeColumn,
			TenantTable: o.IsTenantTable, Srels: srels, Columns: o.Columns,
		})
	}
	return out
}
