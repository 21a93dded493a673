package load_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// valueText is the value a reject line quotes, which comments leave out.
var valueText = regexp.MustCompile(`value "[^"]*": `)

// rejectLines is stderr without tenantkit's own closing line.
func rejectLines(stderr string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(testkit.WithoutProgress(stderr)), "\n") {
		if !strings.HasPrefix(l, "tenantkit: ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// shipmentBook writes a workbook of one sheet, shipment, with rows.
func shipmentBook(t *testing.T, rows [][]datafile.Value) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ship.xlsx")
	w, err := datafile.Create(p, datafile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.BeginTable(&datafile.Table{Name: "shipment", Columns: []string{"ref", "note", "dock", "crates"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRejectAtValue: a reject for a bad value or a NULL in a NOT NULL
// column points at the value's own line and column, also when the record
// spans lines (a userload record, a CSV record with a quoted line end) and
// in a workbook (the cell), read from a file or from standard input. The
// rejects file's comments and -v's lines of rejected records point there
// too.
func TestRejectAtValue(t *testing.T) {
	v := func(s string) datafile.Value { return datafile.Value{Str: s} }
	null := datafile.Value{Null: true}
	book := shipmentBook(t, [][]datafile.Value{
		{v("S-1"), v("ok"), v("D1"), v("3")},
		{v("S-2"), v("two\nlines"), v("TOOLONG"), v("4")},
		{v("S-3"), null, v("D3"), null},
		{v("S-4"), null, v("D4"), v("x7")},
	})
	for _, tc := range []struct {
		name, data string
		file       string // the data file, when not written from data
		want       []string
		detail     []string // -v's lines of rejected records
	}{
		{name: "ship.dat", data: `TABLE shipment
ref note dock crates
{ "S-1", "fine", "D1", "3" }
{ "S-2",
  "multi
line note",   "TOOLONG",
  "4" }
{ "S-3", NULL, "D3",
	NULL }
{ "S-4", NULL,
    "D4", "x7" }
`, want: []string{
			`:6:15: shipment: column "dock": value "TOOLONG": value too long for type character varying(4)`,
			`:9:2: shipment: column "crates": NULL in a NOT NULL column`,
			`:11:11: shipment: column "crates": value "x7": invalid input syntax for type integer: "x7"`,
		}, detail: []string{":6:15: reject shipment", ":9:2: reject shipment", ":11:11: reject shipment"}},
		{name: "shipment.csv", data: "ref,note,dock,crates\r\nS-1,\"two\r\nlines\",D1,3\r\nS-2,\"a, \"\"b\"\"\nc\",TOOLONG,4\nS-3,,D3,\nS-4,\"\n\",D4,x7\n", want: []string{
			`:5:4: shipment: column "dock": value "TOOLONG": value too long for type character varying(4)`,
			`:6:9: shipment: column "crates": NULL in a NOT NULL column`,
			`:8:6: shipment: column "crates": value "x7": invalid input syntax for type integer: "x7"`,
		}, detail: []string{":5:4: reject shipment", ":6:9: reject shipment", ":8:6: reject shipment"}},
		{name: "xlsx", file: book, want: []string{
			`:3:3: shipment: column "dock": value "TOOLONG": value too long for type character varying(4)`,
			`:4:4: shipment: column "crates": NULL in a NOT NULL column`,
			`:5:4: shipment: column "crates": value "x7": invalid input syntax for type integer: "x7"`,
		}, detail: []string{":3:3: reject shipment", ":4:4: reject shipment", ":5:4: reject shipment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testkit.NewDB(t)
			db.Exec(t, `CREATE TABLE shipment (ref text PRIMARY KEY, note text, dock varchar(4), crates int NOT NULL)`)
			f, format := tc.file, "xlsx"
			if f == "" {
				f = write(t, tc.name, tc.data)
				format = map[string]string{".dat": "userload", ".csv": "csv"}[filepath.Ext(f)]
			}
			res := userload(t, db, 1, "-f", f)
			var want []string
			for _, w := range tc.want {
				want = append(want, f+w)
			}
			if got := rejectLines(res.Stderr); got != strings.Join(want, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			// The same from standard input (the kept copy is read again).
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res = testkit.RunIn(t, db, in, "userload", "--format", format, "--table", "shipment", "-f", "-")
			if got, w := rejectLines(res.Stderr), "-"+strings.Join(tc.want, "\n-"); res.Code != 1 || got != w {
				t.Errorf("from stdin: exit %d, stderr:\n%s\nwant:\n%s", res.Code, got, w)
			}
			rej := filepath.Join(t.TempDir(), "rej.dat")
			res = userload(t, db, 1, "-v", "--rejects", rej, "-f", f)
			for _, d := range tc.detail {
				if !strings.Contains(res.Stdout, "\n"+f+d+": column ") {
					t.Errorf("-v lacks %q:\n%s", f+d, res.Stdout)
				}
			}
			b, err := os.ReadFile(rej)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				i := strings.Index(w, " shipment: ")
				c := "    # " + f + w[:i] + " " + valueText.ReplaceAllString(w[i+len(" shipment: "):], "")
				if !strings.Contains(string(b), c+"\n") {
					t.Errorf("rejects file lacks %q:\n%s", c, b)
				}
			}
			wantRows(t, db, "SELECT ref FROM shipment", "S-1")
		})
	}
}
