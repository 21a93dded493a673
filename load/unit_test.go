package load

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/schema"
)

func TestChooseKey(t *testing.T) {
	obj := &schema.Object{
		Table: "t", PrimaryKey: []string{"id"}, Uniques: [][]string{{"a", "b"}, {"code"}},
		Columns: []schema.Column{{Name: "id"}, {Name: "a"}, {Name: "b"}, {Name: "code"}, {Name: "note"}},
	}
	withOverlay := *obj
	withOverlay.Key = []string{"note"}
	cols := func(names ...string) []*schema.Column {
		var out []*schema.Column
		for _, n := range names {
			out = append(out, obj.Column(n))
		}
		return out
	}
	cases := []struct {
		name    string
		obj     *schema.Object
		cols    []*schema.Column
		flag    []string
		want    []int
		unique  bool
		wantErr string
	}{
		{"primary key", obj, cols("note", "id"), nil, []int{1}, true, ""},
		{"first unique whose columns are all present", obj, cols("code", "b", "a"), nil, []int{2, 1}, true, ""},
		{"later unique", obj, cols("code", "a"), nil, []int{0}, true, ""},
		{"no key", obj, cols("a", "note"), nil, nil, false, ""},
		{"--key wins", obj, cols("id", "note"), []string{"note"}, []int{1}, false, ""},
		{"--key on a unique", obj, cols("id", "code"), []string{"code"}, []int{1}, true, ""},
		{"--key missing from file", obj, cols("id"), []string{"note"}, nil, false, "not among the file's columns"},
		{"--key unknown", obj, cols("id"), []string{"nope"}, nil, false, `has no column "nope"`},
		{"overlay key", &withOverlay, cols("id", "note"), nil, []int{1}, false, ""},
		{"overlay key missing", &withOverlay, cols("id"), nil, nil, false, "the schema overlay's key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, unique, err := chooseKey(tc.obj, tc.cols, tc.flag, "f:1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !equalInts(got, tc.want) || unique != tc.unique {
				t.Errorf("got %v unique=%v err=%v, want %v unique=%v", got, unique, err, tc.want, tc.unique)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCastTypeDropsLengthLimits(t *testing.T) {
	cases := []struct {
		typ, cast string
		limit     int
		safe      bool
	}{
		{"integer", "integer", 0, false},
		{"character varying(10)", "varchar", 10, true},
		{"character(3)", "bpchar", 3, true},
		{"character varying", "character varying", 0, true},
		{"character varying(5)[]", "varchar[]", 0, false},
		{"bit(4)", "varbit", 0, false},
		{"numeric(12,2)", "numeric(12,2)", 0, false},
		{"timestamp with time zone", "timestamp with time zone", 0, false},
		{"text", "text", 0, true},
		{`"My Enum"`, `"My Enum"`, 0, false},
	}
	for _, tc := range cases {
		c := &schema.Column{Type: tc.typ}
		if got := castType(c); got != tc.cast {
			t.Errorf("castType(%s) = %s, want %s", tc.typ, got, tc.cast)
		}
		if got := lengthLimit(c); got != tc.limit {
			t.Errorf("lengthLimit(%s) = %d, want %d", tc.typ, got, tc.limit)
		}
		if got := castCannotFail(c); got != tc.safe {
			t.Errorf("castCannotFail(%s) = %v", tc.typ, got)
		}
	}
}

func TestAsciiLine(t *testing.T) {
	if got := asciiLine("bad \"é\"\nnext"); got != `bad "\u00e9"\nnext` {
		t.Errorf("asciiLine = %q", got)
	}
}

func TestRejectString(t *testing.T) {
	v := "abc"
	r := Reject{Pos: datafile.Pos{File: "f.dat", Line: 3, Col: 5}, Table: "t", Column: "n", Value: &v, Reason: "invalid input syntax for type integer"}
	if got := r.String(); got != `f.dat:3:5: t: column "n": value "abc": invalid input syntax for type integer` {
		t.Errorf("got %q", got)
	}
	r = Reject{Pos: datafile.Pos{File: "f.dat", Line: 4}, Table: "t", Reason: "duplicate key"}
	if got := r.String(); got != "f.dat:4: t: duplicate key" {
		t.Errorf("got %q", got)
	}
}

func TestSummaryText(t *testing.T) {
	s := &Summary{Records: 3, Checked: true}
	tc := s.table("items")
	tc.Inserted, tc.Updated, tc.Rejected = 1, 1, 1
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "TABLE   INSERTED    UPDATED  UNCHANGED    DELETED   REJECTED\n" +
		"items          1          1          0          0          1\n" +
		"check only: 3 records read, nothing was changed\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRowEncoderWritesOneRecord(t *testing.T) {
	enc := rowEncoder{opts: datafile.Options{Format: datafile.Userload}}
	tbl := &datafile.Table{Name: "t", Columns: []string{"a", "b"}}
	got, err := enc.row(tbl, []datafile.Value{{Str: "x \"y\"\n"}, {Null: true}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "    { \"x \\\"y\\\"\\n\", NULL }\n" {
		t.Errorf("got %q", got)
	}
}
