package schema

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestLoadTenantPairedKeys reads a schema distributed by the tenant, whose
// keys and foreign keys include the tenant column: the SRELs are the
// logical ones, and an overlay SREL to such a table needs no toColumn.
func TestLoadTenantPairedKeys(t *testing.T) {
	db := testkit.NewDB(t)
	db.Exec(t, `
CREATE TABLE public.t (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.org (owner int NOT NULL REFERENCES public.t, id int, parent int,
  PRIMARY KEY (owner, id), FOREIGN KEY (owner, parent) REFERENCES public.org (owner, id));
CREATE TABLE public.cnt (id int, owner int NOT NULL REFERENCES public.t, org int, boss int,
  PRIMARY KEY (owner, id), FOREIGN KEY (org, owner) REFERENCES public.org (id, owner));
CREATE TABLE public.pair (a int, b int, owner int REFERENCES public.t, PRIMARY KEY (a, b));
CREATE TABLE public.lnk (a int, b int, owner int REFERENCES public.t, FOREIGN KEY (a, b) REFERENCES public.pair (a, b));`)
	ov := testkit.WriteFile(t, "o.xml", `<Schema tenantColumn="owner">
  <Tenants table="t"/>
  <Object name="cnt" table="cnt"><Srel attr="boss" column="boss" to="cnt"/></Object>
</Schema>`)
	s, err := Load(context.Background(), db.Pool, Options{Overlay: ov})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range s.Objects {
		for _, r := range o.Srels {
			got = append(got, o.Name+"."+r.Attr+": "+strings.Join(r.Columns, ",")+" -> "+r.TargetName+"("+strings.Join(r.TargetColumns, ",")+")"+map[bool]string{true: " with tenant"}[r.WithTenant])
		}
	}
	want := []string{
		"cnt.org: org -> org(id) with tenant",
		"cnt.boss: boss -> cnt(id)",
		"lnk.lnk_a_b_fkey: a,b -> pair(a,b)",
		"org.parent: parent -> org(id) with tenant",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SRELs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cnt := s.Object("cnt"); !reflect.DeepEqual(cnt.PrimaryKey, []string{"owner", "id"}) || cnt.Tenancy != Required {
		t.Errorf("cnt primary key %v tenancy %s", cnt.PrimaryKey, cnt.Tenancy)
	}
}

func TestLogicalReference(t *testing.T) {
	a := &Object{Tenancy: Required, TenantColumn: "tenant"}
	b := &Object{Tenancy: Optional, TenantColumn: "owner"}
	none := &Object{Tenancy: None}
	tests := []struct {
		from, to         *Object
		cols, targetCols []string
		want, wantTarget string
		with             bool
	}{
		{a, b, []string{"tenant", "org"}, []string{"owner", "id"}, "org", "id", true},
		{a, b, []string{"org", "tenant"}, []string{"id", "owner"}, "org", "id", true},
		{a, b, []string{"tenant", "org"}, []string{"id", "owner"}, "tenant,org", "id,owner", false},
		{a, none, []string{"tenant", "org"}, []string{"tenant", "id"}, "tenant,org", "tenant,id", false},
		{a, a, []string{"tenant"}, []string{"tenant"}, "tenant", "tenant", false},
		{a, a, []string{"tenant", "x", "y"}, []string{"tenant", "p", "q"}, "x,y", "p,q", true},
	}
	for _, tc := range tests {
		c, tcs, with := logicalReference(tc.from, tc.to, tc.cols, tc.targetCols)
		if strings.Join(c, ",") != tc.want || strings.Join(tcs, ",") != tc.wantTarget || with != tc.with {
			t.Errorf("logicalReference(%v → %v) = %v → %v %v, want %s → %s %v", tc.cols, tc.targetCols, c, tcs, with, tc.want, tc.wantTarget, tc.with)
		}
	}
	if got := a.LogicalKey([]string{"tenant", "id"}); !reflect.DeepEqual(got, []string{"id"}) {
		t.Errorf("LogicalKey = %v", got)
	}
	if got := a.LogicalKey([]string{"tenant"}); !reflect.DeepEqual(got, []string{"tenant"}) {
		t.Errorf("LogicalKey(tenant) = %v", got)
	}
}
