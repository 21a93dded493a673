package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// TestDepthHasOneBase: tenant create, list (text and JSON), the depth
// column and the depth cap's messages of tenant create and verify all
// count depth from 0 at the root (issue 21, point 8: list said LEVEL 2 for
// a tenant created "(depth 1)"). Northwind's shape, with a cap of 2 levels.
func TestDepthHasOneBase(t *testing.T) {
	db := testkit.NewNorthwindDB(t)
	overlay := testkit.WriteFile(t, "northwind.xml", `<Schema><Tenants table="tenant" maxDepth="2"/></Schema>`)
	res := testkit.Run(t, db, "tenant", "create", "--schema", overlay, "--parent", "Provider", "--subtenants-allowed", "East")
	if res.Code != 0 || !strings.Contains(res.Stdout, "created tenant East (key 100, depth 1") {
		t.Fatalf("create: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = testkit.Run(t, db, "tenant", "list", "--schema", overlay)
	if res.Code != 0 || !strings.Contains(res.Stdout, "DEPTH") || !strings.Contains(res.Stdout, "East      100  Provider  1") {
		t.Errorf("list: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = testkit.Run(t, db, "tenant", "list", "--schema", overlay, "--json")
	var out struct {
		Tenants []struct {
			Name  string `json:"name"`
			Depth int    `json:"depth"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out.Tenants) != 3 {
		t.Fatalf("list --json: %v\n%s", err, res.Stdout)
	}
	for _, l := range out.Tenants {
		if want := map[string]int{"Provider": 0, "West": 1, "East": 1}[l.Name]; l.Depth != want {
			t.Errorf("list --json: %s at depth %d, want %d", l.Name, l.Depth, want)
		}
	}
	if got := db.Value(t, "SELECT depth FROM tenant WHERE name = 'East'"); got != "1" {
		t.Errorf("depth column %s", got)
	}
	res = testkit.Run(t, db, "tenant", "create", "--schema", overlay, "--parent", "East", "Boston")
	if res.Code != 1 || !strings.Contains(res.Stderr, `putting "Boston" under "East" would reach depth 2; maxDepth 2 allows depths 0 to 1`) {
		t.Errorf("create too deep: exit %d\n%s", res.Code, res.Stderr)
	}
	db.Exec(t, "INSERT INTO tenant (name, parent, depth) VALUES ('Boston', 100, 2)")
	res = testkit.Run(t, db, "verify", "--schema", overlay, "--objects", "tenant")
	if res.Code != 1 || !strings.Contains(res.Stdout, "Boston (depth 2, maxDepth 2 allows 0 to 1)") {
		t.Errorf("verify: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}
