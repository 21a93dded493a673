package tenant

import (
	"errors"
	"strings"
	"testing"
)

// testHierarchy builds tenants from "name:parent:flags" specs, flags being
// any of s (service provider), a (subtenants allowed), i (inactive).
func testHierarchy(specs ...string) *Hierarchy {
	var ts []*Tenant
	ids := map[string]string{}
	for i, s := range specs {
		ids[strings.Split(s, ":")[0]] = string(rune('a' + i))
	}
	for _, s := range specs {
		f := strings.Split(s, ":")
		t := &Tenant{ID: ids[f[0]], Name: f[0], Active: !strings.Contains(f[2], "i"),
			ServiceProvider: strings.Contains(f[2], "s"), SubtenantsAllowed: strings.Contains(f[2], "a")}
		if f[1] != "" {
			p := ids[f[1]]
			if p == "" {
				p = f[1] // a parent key naming no tenant
			}
			t.Parent = &p
		}
		ts = append(ts, t)
	}
	return NewHierarchy(ts)
}

// chain: SP > L2 > L3 > L4 (4 levels), plus Leaf (no subtenants) under SP
// and the standalone root Solo.
var chain = []string{"SP::sa", "L2:SP:a", "L3:L2:a", "L4:L3:a", "Leaf:SP:", "Solo::a", "Solo2:Solo:a"}

func TestCheckCreate(t *testing.T) {
	lim := Limits{MaxDepth: 4}
	h := testHierarchy(chain...)
	cyc := testHierarchy("SP::sa", "A:B:a", "B:A:a")
	tests := []struct {
		name string
		h    *Hierarchy
		lim  Limits
		n    NewTenant
		rule string // "" = allowed
	}{
		{"first tenant is the service provider", testHierarchy(), lim, NewTenant{Name: "SP", ServiceProvider: true}, ""},
		{"first tenant not the service provider", testHierarchy(), lim, NewTenant{Name: "Acme"}, RuleServiceProvider},
		{"second service provider", h, lim, NewTenant{Name: "SP2", ServiceProvider: true}, RuleServiceProvider},
		{"service provider with a parent", testHierarchy(), lim, NewTenant{Name: "SP", ServiceProvider: true, Parent: h.ByName("Solo")}, RuleServiceProvider},
		{"duplicate name", h, lim, NewTenant{Name: "L2"}, RuleUniqueName},
		{"root", h, lim, NewTenant{Name: "New"}, ""},
		{"level 4 under level 3 with cap 4", h, lim, NewTenant{Name: "New", Parent: h.ByName("L3")}, ""},
		{"level 5 under level 4 with cap 4", h, lim, NewTenant{Name: "New", Parent: h.ByName("L4")}, RuleDepth},
		{"level 5 with cap 5", h, Limits{MaxDepth: 5}, NewTenant{Name: "New", Parent: h.ByName("L4")}, ""},
		{"parent without subtenants allowed", h, lim, NewTenant{Name: "New", Parent: h.ByName("Leaf")}, RuleSubtenantsAllowed},
		{"tenant cap reached", h, Limits{MaxDepth: 4, MaxTenants: 7}, NewTenant{Name: "New"}, RuleMaxTenants},
		{"tenant cap not reached", h, Limits{MaxDepth: 4, MaxTenants: 8}, NewTenant{Name: "New"}, ""},
		{"parent on a cycle", cyc, lim, NewTenant{Name: "New", Parent: cyc.ByName("A")}, RuleCycle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkRule(t, CheckCreate(tc.h, tc.lim, tc.n), tc.rule)
		})
	}
}

func checkRule(t *testing.T, err error, rule string) {
	t.Helper()
	var re *RuleError
	switch {
	case rule == "" && err != nil:
		t.Errorf("refused: %v", err)
	case rule != "" && !errors.As(err, &re):
		t.Errorf("error %v, want a refusal by rule %s", err, rule)
	case rule != "" && re.Rule != rule:
		t.Errorf("refused by rule %s (%v), want %s", re.Rule, err, rule)
	}
}

func TestCheckSetParent(t *testing.T) {
	h := testHierarchy(chain...)
	lim := Limits{MaxDepth: 4}
	by := h.ByName
	tests := []struct {
		name      string
		t, parent string
		lim       Limits
		rule      string
	}{
		{"make a root", "L3", "", lim, ""},
		{"service provider gets a parent", "SP", "Solo", lim, RuleServiceProvider},
		{"own parent", "L2", "L2", lim, RuleCycle},
		{"under its own descendant", "L2", "L4", lim, RuleCycle},
		{"parent without subtenants allowed", "Solo", "Leaf", lim, RuleSubtenantsAllowed},
		// Solo's subtree has 2 levels: under L2 (level 2) it reaches level 4.
		{"subtree reaches the cap exactly", "Solo", "L2", lim, ""},
		{"subtree goes past the cap", "Solo", "L3", lim, RuleDepth},
		{"subtree fits a larger cap", "Solo", "L3", Limits{MaxDepth: 5}, ""},
		{"move a leaf deeper", "Leaf", "L3", lim, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *Tenant
			if tc.parent != "" {
				p = by(tc.parent)
			}
			checkRule(t, CheckSetParent(h, tc.lim, by(tc.t), p), tc.rule)
		})
	}
}

func TestHierarchyGroups(t *testing.T) {
	h := testHierarchy("SP::sa", "Acme:SP:a", "Acme EU:Acme:a", "Acme Paris:Acme EU:", "Acme US:Acme:", "Globex::", "Lost:zz:")
	names := func(ts []*Tenant) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, ",")
	}
	acmeEU := h.ByName("Acme EU")
	for _, c := range []struct{ what, got, want string }{
		{"supertenants", names(h.Supertenants(acmeEU)), "Acme EU,Acme,SP"},
		{"subtenants", names(h.Subtenants(h.ByName("Acme"))), "Acme,Acme EU,Acme Paris,Acme US"},
		{"related", names(h.Related(acmeEU)), "SP,Acme,Acme EU,Acme Paris"},
		{"roots", names(h.Roots()), "SP,Globex,Lost"},
		{"children", names(h.Children(h.ByName("Acme"))), "Acme EU,Acme US"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
	if l := h.Level(h.ByName("Acme Paris")); l != 4 {
		t.Errorf("level of Acme Paris = %d, want 4", l)
	}
	if ht := h.Height(h.ByName("Acme")); ht != 3 {
		t.Errorf("height of Acme = %d, want 3", ht)
	}
	var b strings.Builder
	if err := h.WriteTree(&b); err != nil {
		t.Fatal(err)
	}
	want := `SP (service provider, subtenants allowed)
  Acme (subtenants allowed)
    Acme EU (subtenants allowed)
      Acme Paris
    Acme US
Globex
Lost
`
	if b.String() != want {
		t.Errorf("tree\n%s\nwant\n%s", b.String(), want)
	}
	cyc := testHierarchy("SP::sa", "A:B:a", "B:A:a", "C:A:")
	b.Reset()
	_ = cyc.WriteTree(&b)
	if want := "SP (service provider, subtenants allowed)\non a cycle of parent links:\n  A (parent B)\n  B (parent A)\n  C (parent A)\n"; b.String() != want {
		t.Errorf("tree with a cycle\n%q\nwant\n%q", b.String(), want)
	}
	if !cyc.OnCycle(cyc.ByName("A")) || cyc.OnCycle(cyc.ByName("C")) {
		t.Error("OnCycle wrong")
	}
}
