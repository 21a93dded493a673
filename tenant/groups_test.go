package tenant

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/schema"
)

func TestResolveListAndDescendants(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO ca_tenant (id, name, parent, subtenants_ok, service_provider, tenant_depth) VALUES
		(1, 'SP', NULL, true, true, 0), (2, 'Acme', 1, true, false, 1), (3, 'Acme EU', 2, true, false, 2),
		(4, 'Acme Paris', 3, false, false, 3), (5, 'Globex', NULL, false, false, 0), (6, 'group:odd', NULL, false, false, 0)`)
	ctx := context.Background()
	s, err := schema.Load(ctx, db.Pool, schema.Options{Overlay: filepath.Join("..", "fixtures", "schema.xml")})
	if err != nil {
		t.Fatal(err)
	}
	tt := s.Tenants
	// Resolving a plain name that is no tenant, before any group exists.
	if _, err := ResolveList(ctx, db.Pool, tt, []string{"Europe"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown group before the tables exist: %v", err)
	}
	if _, _, err := CreateGroup(ctx, db.Pool, tt, "Europe", []string{"Acme EU", "5"}, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		refs []string
		want string
	}{
		{[]string{"Acme"}, "Acme"},
		{[]string{"5"}, "Globex"}, // by key
		{[]string{"supertenants:Acme Paris"}, "Acme Paris,Acme EU,Acme,SP"},
		{[]string{"subtenants:Acme"}, "Acme,Acme EU,Acme Paris"},
		{[]string{"related:Acme EU"}, "SP,Acme,Acme EU,Acme Paris"},
		{[]string{"Europe", "group:Europe", "Globex"}, "Acme EU,Globex"}, // no duplicates
		{[]string{"subtenants:2", "SP"}, "Acme,Acme EU,Acme Paris,SP"},
		{[]string{"group:odd"}, "group:odd"}, // a tenant's own name wins
	}
	for _, tc := range tests {
		ts, err := ResolveList(ctx, db.Pool, tt, tc.refs)
		if err != nil {
			t.Errorf("%q: %v", tc.refs, err)
			continue
		}
		var got []string
		for _, x := range ts {
			got = append(got, x.Name)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%q = %s, want %s", tc.refs, strings.Join(got, ","), tc.want)
		}
	}
	for _, refs := range [][]string{{"Nobody"}, {"group:Acme"}, {"subtenants:Nobody"}} {
		if _, err := ResolveList(ctx, db.Pool, tt, refs); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q: error %v, want ErrNotFound", refs, err)
		}
	}
	if got := closure(t, db, DescendantsCTE(tt, "c"), "descendant"); got != "1:1,2,3,4 2:2,3,4 3:3,4 4:4 5:5 6:6" {
		t.Errorf("descendants = %s", got)
	}
	db.Exec(t, "UPDATE ca_tenant SET parent = 4 WHERE id = 2")
	if n := db.Value(t, "WITH RECURSIVE "+DescendantsCTE(tt, "sub")+" SELECT count(*) FROM sub"); n != "12" {
		t.Errorf("rows with a cycle = %s, want 12", n)
	}
}
