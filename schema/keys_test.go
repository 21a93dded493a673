package schema

import (
	"reflect"
	"testing"
)

func TestKeys(t *testing.T) {
	col := func(name, typ string, notNull bool) Column { return Column{Name: name, Type: typ, NotNull: notNull} }
	for _, tc := range []struct {
		name string
		obj  Object
		// among: the columns a file holds, for MatchKeyAmong
		among                         []string
		matchKeys                     [][]string
		matchKey, matchAmong, sortKey []string
		rowKey                        []string
		sortTotal                     bool
	}{
		{
			name:  "uuid primary key",
			obj:   Object{PrimaryKey: []string{"id"}, Columns: []Column{col("id", "uuid", true), col("name", "text", false)}},
			among: []string{"name", "id"}, matchKeys: [][]string{{"id"}},
			matchKey: []string{"id"}, matchAmong: []string{"id"}, sortKey: []string{"id"}, rowKey: []string{"id"}, sortTotal: true,
		},
		{
			name: "composite primary key and a unique",
			obj: Object{PrimaryKey: []string{"server", "path"}, Uniques: [][]string{{"code"}},
				Columns: []Column{col("server", "text", true), col("path", "text", true), col("code", "integer", false)}},
			among: []string{"code", "path"}, matchKeys: [][]string{{"server", "path"}, {"code"}},
			matchKey: []string{"server", "path"}, matchAmong: []string{"code"}, sortKey: []string{"server", "path"},
			rowKey: []string{"server", "path"}, sortTotal: true,
		},
		{
			name: "no primary key: the first unique of NOT NULL columns identifies rows",
			obj: Object{Uniques: [][]string{{"email"}, {"a", "b"}},
				Columns: []Column{col("email", "text", false), col("a", "integer", true), col("b", "integer", true)}},
			among: []string{"a", "b"}, matchKeys: [][]string{{"email"}, {"a", "b"}},
			matchKey: []string{"email"}, matchAmong: []string{"a", "b"}, sortKey: []string{"email"},
			rowKey: []string{"a", "b"}, sortTotal: false, // email may be NULL in several rows
		},
		{
			name: "overlay key first for matching, primary key first for sorting",
			obj: Object{Key: []string{"userid"}, PrimaryKey: []string{"id"},
				Columns: []Column{col("id", "uuid", true), col("userid", "text", false)}},
			among: []string{"id"}, matchKeys: [][]string{{"userid"}, {"id"}},
			matchKey: []string{"userid"}, matchAmong: []string{"id"}, sortKey: []string{"id"}, rowKey: []string{"id"}, sortTotal: true,
		},
		{
			name:  "overlay key on a table without keys",
			obj:   Object{Key: []string{"code"}, Columns: []Column{col("code", "text", true), col("note", "text", false)}},
			among: []string{"code"}, matchKeys: [][]string{{"code"}},
			matchKey: []string{"code"}, matchAmong: []string{"code"}, sortKey: []string{"code"}, sortTotal: false, // not unique
		},
		{
			name:  "no usable key",
			obj:   Object{Columns: []Column{col("a", "text", false), col("b", "text", false)}},
			among: []string{"a", "b"},
		},
		{
			name:  "key columns missing from the file",
			obj:   Object{PrimaryKey: []string{"id"}, Columns: []Column{col("id", "bigint", true), col("x", "text", false)}},
			among: []string{"x"}, matchKeys: [][]string{{"id"}},
			matchKey: []string{"id"}, sortKey: []string{"id"}, rowKey: []string{"id"}, sortTotal: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &tc.obj
			check := func(what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("MatchKeys", o.MatchKeys(), tc.matchKeys)
			check("MatchKey", o.MatchKey(), tc.matchKey)
			check("MatchKeyAmong", o.MatchKeyAmong(tc.among), tc.matchAmong)
			check("SortKey", o.SortKey(), tc.sortKey)
			check("SortKeyIsTotal", o.SortKeyIsTotal(), tc.sortTotal)
			var rowKey []string
			for _, c := range o.RowKey() {
				rowKey = append(rowKey, c.Name)
			}
			check("RowKey", rowKey, tc.rowKey)
		})
	}
}

func TestIsUnique(t *testing.T) {
	o := &Object{PrimaryKey: []string{"a", "b"}, Uniques: [][]string{{"c"}}}
	for _, tc := range []struct {
		cols []string
		want bool
	}{
		{[]string{"a", "b"}, true},
		{[]string{"b", "a"}, true}, // in any order
		{[]string{"c"}, true},
		{[]string{"a"}, false},
		{[]string{"a", "b", "c"}, false},
		{[]string{"a", "a"}, false},
		{nil, false},
	} {
		if got := o.IsUnique(tc.cols); got != tc.want {
			t.Errorf("IsUnique(%v) = %v, want %v", tc.cols, got, tc.want)
		}
	}
}
