package tenant

import (
	"io"
	"strconv"
	"testing"
)

// FuzzHierarchy builds hierarchies with arbitrary parent links — cycles,
// self-parents, missing parents — and checks that every group computation
// terminates with sane results and that the rules never panic.
func FuzzHierarchy(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})       // a chain
	f.Add([]byte{1, 0})             // a two-cycle
	f.Add([]byte{0, 0, 0, 9, 4, 4}) // a missing parent, a self-parent
	f.Add([]byte{2, 0, 1, 3, 3, 5, 6})
	f.Fuzz(func(t *testing.T, links []byte) {
		if len(links) > 40 {
			links = links[:40]
		}
		ts := make([]*Tenant, len(links))
		for i, l := range links {
			ts[i] = &Tenant{ID: strconv.Itoa(i), Name: "t" + strconv.Itoa(i), Active: true, SubtenantsAllowed: l%3 != 0, ServiceProvider: i == 0}
			if int(l) != i+1 { // l == i+1 means a root
				p := strconv.Itoa(int(l) % (len(links) + 2))
				ts[i].Parent = &p
			}
		}
		h := NewHierarchy(ts)
		for _, tn := range ts {
			sup, sub, rel := h.Supertenants(tn), h.Subtenants(tn), h.Related(tn)
			if len(sup) == 0 || sup[0] != tn || len(sub) == 0 || sub[0] != tn {
				t.Fatalf("%s: groups do not start with the tenant", tn.Name)
			}
			if len(sup) > len(ts) || len(sub) > len(ts) || len(rel) > 2*len(ts) {
				t.Fatalf("%s: a group is larger than the hierarchy", tn.Name)
			}
			if h.Level(tn) != len(sup) || h.Height(tn) < 1 || h.Height(tn) > len(ts) {
				t.Fatalf("%s: level %d height %d", tn.Name, h.Level(tn), h.Height(tn))
			}
			for _, p := range ts {
				err := CheckSetParent(h, Limits{MaxDepth: 4}, tn, p)
				if err == nil && (h.IsAncestor(tn, p) || h.OnCycle(p)) {
					t.Fatalf("%s under %s allowed despite a cycle", tn.Name, p.Name)
				}
			}
			_ = CheckCreate(h, Limits{MaxDepth: 4, MaxTenants: 10}, NewTenant{Name: "new", Parent: tn})
		}
		_ = h.WriteTree(io.Discard)
		_ = h.Tree()
	})
}
