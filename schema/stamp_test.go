package schema

import "testing"

func TestChangeStampByType(t *testing.T) {
	for typ, want := range map[string]string{
		"timestamp with time zone":    `"changed" = greatest(t."changed", now())`,
		"timestamp(3) with time zone": `"changed" = greatest(t."changed", now())`,
		"timestamp without time zone": `"changed" = greatest(t."changed", localtimestamp)`,
		"date":                        `"changed" = greatest(t."changed", current_date)`,
		"integer":                     `"changed" = greatest(t."changed", extract(epoch FROM now())::integer)`,
		"numeric(12,0)":               `"changed" = greatest(t."changed", extract(epoch FROM now())::numeric(12,0))`,
		"text":                        "",
		"smallint":                    "",
	} {
		o := &Object{ChangeColumn: "changed", TenantColumn: "tenant", Columns: []Column{{Name: "changed", Type: typ}}}
		if got := o.ChangeStamp("t"); got != want {
			t.Errorf("%s: %q, want %q", typ, got, want)
		}
	}
}
