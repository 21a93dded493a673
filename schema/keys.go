package schema

import "slices"

// The keys of an object, each chosen here once: the match key userload
// matches records by, the row key that identifies one row (settenant's
// batches), and the sort key rows are written and shown in (extract
// --sorted, verify's samples).

// MatchKeys lists the keys userload may match records by, best first: the
// overlay key, the primary key, then the unique constraints in catalog
// order.
func (o *Object) MatchKeys() [][]string {
	var keys [][]string
	if len(o.Key) > 0 {
		keys = append(keys, o.Key)
	}
	if len(o.PrimaryKey) > 0 {
		keys = append(keys, o.PrimaryKey)
	}
	for _, u := range o.Uniques {
		if len(u) > 0 {
			keys = append(keys, u)
		}
	}
	return keys
}

// MatchKey is the match key of records that hold every column: the first
// of MatchKeys, nil when the object has none (every record is an insert).
func (o *Object) MatchKey() []string {
	if keys := o.MatchKeys(); len(keys) > 0 {
		return keys[0]
	}
	return nil
}

// MatchKeyAmong is the match key of records holding only the columns cols:
// the first of MatchKeys whose columns are all among cols, nil when none
// is. An overlay key some of whose columns are missing is skipped here;
// userload reports it as an error before it asks (SPEC §4).
func (o *Object) MatchKeyAmong(cols []string) []string {
	for _, k := range o.MatchKeys() {
		if !slices.ContainsFunc(k, func(c string) bool { return !slices.Contains(cols, c) }) {
			return k
		}
	}
	return nil
}

// IsUnique reports whether cols are, in any order, the primary key or one
// of the unique constraints: a key no two rows share (NULLs aside).
func (o *Object) IsUnique(cols []string) bool {
	if len(cols) == 0 {
		return false
	}
	for _, k := range append([][]string{o.PrimaryKey}, o.Uniques...) {
		if sameSet(k, cols) {
			return true
		}
	}
	return false
}

// IsLogicallyUnique reports whether cols are unique (IsUnique) or, with
// the object's tenant column added, the primary key or a unique
// constraint: the logical key id of a key (tenant, id) on a database
// distributed by the tenant (see package distribute), unique within each
// tenant, whose rows keep their ids.
func (o *Object) IsLogicallyUnique(cols []string) bool {
	if o.IsUnique(cols) {
		return true
	}
	for _, k := range append([][]string{o.PrimaryKey}, o.Uniques...) {
		if lk := o.LogicalKey(k); len(lk) < len(k) && sameSet(lk, cols) {
			return true
		}
	}
	return false
}

// LogicalKey is key without the object's tenant column when the key has
// other columns too: on a database distributed by the tenant (see package
// distribute) a primary key (tenant, id) is the logical key id, unique
// within each tenant. Other keys come back as they are.
func (o *Object) LogicalKey(key []string) []string {
	i := slices.Index(key, o.TenantColumn)
	if !o.Tenanted() || i < 0 || len(key) < 2 {
		return key
	}
	return slices.Delete(slices.Clone(key), i, i+1)
}

// RowKey is the key that identifies one row: the primary key, else the
// first unique constraint (catalog order) whose columns are all NOT NULL;
// nil when the object has neither (a unique constraint over a nullable
// column lets several rows hold NULL there).
func (o *Object) RowKey() []*Column {
	for _, k := range append([][]string{o.PrimaryKey}, o.Uniques...) {
		cols := make([]*Column, 0, len(k))
		for _, name := range k {
			if c := o.Column(name); c != nil && c.NotNull {
				cols = append(cols, c)
			}
		}
		if len(k) > 0 && len(cols) == len(k) {
			return cols
		}
	}
	return nil
}

// SortKey is the key rows are written and shown in: the primary key, else
// the overlay key, else the first unique constraint; nil when the object
// has none. It may not tell every row apart: see SortKeyIsTotal.
func (o *Object) SortKey() []string {
	switch {
	case len(o.PrimaryKey) > 0:
		return o.PrimaryKey
	case len(o.Key) > 0:
		return o.Key
	}
	for _, u := range o.Uniques {
		if len(u) > 0 {
			return u
		}
	}
	return nil
}

// SortKeyIsTotal reports whether SortKey orders the rows totally: it is
// unique and its columns are NOT NULL. Otherwise rows that agree on it
// come in no defined order among themselves.
func (o *Object) SortKeyIsTotal() bool {
	k := o.SortKey()
	if !o.IsUnique(k) {
		return false
	}
	for _, name := range k {
		if c := o.Column(name); c == nil || !c.NotNull {
			return false
		}
	}
	return true
}

// sameSet reports whether a and b hold the same columns, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
