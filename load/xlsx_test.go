package load_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

// damagedBook writes a priority sheet of n rows (P100, P101, …) and cuts
// its XML off inside the row of spreadsheet row cutRow, keeping the zip
// archive valid.
func damagedBook(t *testing.T, n, cutRow int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := datafile.NewWriter(&b, datafile.Options{Format: datafile.XLSX})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.BeginTable(&datafile.Table{Name: "priority", Columns: []string{"code", "label", "sort_order"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := w.WriteRow([]datafile.Value{{Str: fmt.Sprintf("P%d", 100+i)}, {Str: "label"}, {Str: fmt.Sprint(100 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "xl/worksheets/sheet1.xml" {
			i := bytes.Index(data, []byte(fmt.Sprintf(`<row r="%d"`, cutRow)))
			if i < 0 {
				t.Fatalf("no row %d", cutRow)
			}
			data = data[:i+40]
		}
		fw, _ := zw.Create(f.Name)
		fw.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "priority.xlsx")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDamagedWorkbookLoadsNothing: a sheet cut off inside a row is bad
// input (exit 2) and nothing is loaded; it used to load the rows before
// the cut (and the half row as NULLs) and commit (issue 22).
func TestDamagedWorkbookLoadsNothing(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	book := damagedBook(t, 50, 40)
	res := userload(t, db, 2, "-f", book)
	want := book + "[priority]:40:1: damaged sheet: xl/worksheets/sheet1.xml: "
	if !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "the sheet cannot be read past row 39") {
		t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM priority", "4")
	res = testkit.Run(t, db, "verify", "--schema", "fixtures/schema.xml", "-f", book)
	if res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("verify -f: exit %d, stderr %s", res.Code, res.Stderr)
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	res = testkit.Run(t, nil, "convert", book, out)
	if res.Code != 2 || !strings.Contains(res.Stderr, want) {
		t.Errorf("convert: exit %d, stderr %s", res.Code, res.Stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("convert left %s behind (%v)", out, err)
	}
}
