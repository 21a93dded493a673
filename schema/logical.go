package schema

// LogicalKey is key without the object's tenant column when the key has
// other columns too: on a database distributed by the tenant (see package
// distribute) a primary key (tenant, id) is the logical key id, unique
// within each tenant. Other keys come back as they are.
func LogicalKey(o *Object, key []string) []string { return withoutTenantColumn(o, key) }
