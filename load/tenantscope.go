package load

import (
	"slices"
)

// tenantScoped extends a match key that is not unique by itself with the
// tenant column when the two together are a primary key or unique
// constraint, as on a database distributed by the tenant (userid unique
// within each tenant: UNIQUE (tenant, userid)): a record then matches only
// rows of its own tenant. Other keys come back as they are.
func tenantScoped(g *group, key []int, unique bool) ([]int, bool) {
	t := g.tenantIdx()
	if key == nil || unique || t < 0 || slices.Contains(key, t) {
		return key, unique
	}
	names := []string{g.obj.TenantColumn}
	for _, k := range key {
		names = append(names, g.cols[k].Name)
	}
	if g.obj.IsUnique(names) {
		return append(slices.Clone(key), t), true
	}
	return key, unique
}
