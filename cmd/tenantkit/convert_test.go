package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.dat")
	src := "# two tables\nTABLE ca_contact\n    id last_name note\n    { \"1\", \"O\\\"Brien\", NULL }\n    { \"2\" ,\"Dupont\\nJean\" ,\"\" }\nTABLE priority\n    code label\n    { \"P1\", \"Crème brûlée\" }\n"
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	csvDir := filepath.Join(dir, "csv") + "/"
	if res := testkit.Run(t, nil, "convert", in, csvDir); res.Code != 0 || res.Stderr != "converted 3 rows\n" {
		t.Fatalf("to csv: %d %q", res.Code, res.Stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "csv", "ca_contact.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "id,last_name,note\n1,\"O\"\"Brien\",\n2,\"Dupont\nJean\",\"\"\n"; string(got) != want {
		t.Errorf("ca_contact.csv:\n got %q\nwant %q", got, want)
	}
	xlsx := filepath.Join(dir, "book.xlsx")
	if res := testkit.Run(t, nil, "convert", "--quiet", in, xlsx); res.Code != 0 {
		t.Fatalf("to xlsx: %d %s", res.Code, res.Stderr)
	}
	back := filepath.Join(dir, "back.dat")
	if res := testkit.Run(t, nil, "convert", "--quiet", filepath.Join(dir, "csv"), back); res.Code != 0 {
		t.Fatalf("csv dir to userload: %d %s", res.Code, res.Stderr)
	}
	out, _ := os.ReadFile(back)
	for _, want := range []string{"TABLE ca_contact", `{ "1", "O\"Brien", NULL }`, `{ "2", "Dupont\nJean", "" }`, `{ "P1", "Crème brûlée" }`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("round trip lacks %q:\n%s", want, out)
		}
	}
	// Stdout as output, xlsx as input.
	res := testkit.Run(t, nil, "convert", "--quiet", "--format", "userload", xlsx, "-")
	if res.Code != 0 || !strings.Contains(res.Stdout, `{ "P1", "Crème brûlée" }`) {
		t.Errorf("xlsx to stdout: %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.dat")
	if err := os.WriteFile(bad, []byte("TABLE t\n  a b\n  { \"1\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	res := testkit.Run(t, nil, "convert", bad, out)
	if res.Code != 2 || !strings.HasPrefix(res.Stderr, "tenantkit: "+bad+":3:") {
		t.Errorf("malformed input: %d %q", res.Code, res.Stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed conversion left files behind: %v", entries)
	}
	res = testkit.Run(t, nil, "convert", "--format", "parquet", bad, out)
	if res.Code != 2 {
		t.Errorf("unknown format: %d %q", res.Code, res.Stderr)
	}
}

// TestConvertKeepsEmptyTables: a table without rows keeps its header in
// every format, as extract writes it (issue 22: it used to vanish, leaving
// a 0-byte CSV file that tenantkit itself rejects).
func TestConvertKeepsEmptyTables(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "category.csv")
	if err := os.WriteFile(in, []byte("id,sym,description\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	if res := testkit.Run(t, nil, "convert", in, out); res.Code != 0 || res.Stderr != "converted 0 rows\n" {
		t.Fatalf("csv to csv: %d %q", res.Code, res.Stderr)
	}
	if got, _ := os.ReadFile(out); string(got) != "id,sym,description\n" {
		t.Errorf("out.csv: %q", got)
	}
	dat := filepath.Join(dir, "two.dat")
	src := "TABLE category\n    id sym\nTABLE priority\n    code\n    { \"P1\" }\nTABLE location\n    id\n"
	if err := os.WriteFile(dat, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back.dat")
	if res := testkit.Run(t, nil, "convert", "--quiet", dat, back); res.Code != 0 {
		t.Fatalf("userload to userload: %d %s", res.Code, res.Stderr)
	}
	want := "TABLE category\n    id sym\n\nTABLE priority\n    code\n    { \"P1\" }\n\nTABLE location\n    id\n"
	if got, _ := os.ReadFile(back); string(got) != want {
		t.Errorf("back.dat:\n got %q\nwant %q", got, want)
	}
	csvDir := filepath.Join(dir, "csv") + "/"
	if res := testkit.Run(t, nil, "convert", "--quiet", dat, csvDir); res.Code != 0 {
		t.Fatalf("userload to csv dir: %d %s", res.Code, res.Stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "csv", "location.csv")); string(got) != "id\n" {
		t.Errorf("location.csv: %q", got)
	}
	xlsx := filepath.Join(dir, "book.xlsx")
	if res := testkit.Run(t, nil, "convert", "--quiet", dat, xlsx); res.Code != 0 {
		t.Fatalf("userload to xlsx: %d %s", res.Code, res.Stderr)
	}
	res := testkit.Run(t, nil, "convert", "--quiet", xlsx, "-")
	if res.Code != 0 || res.Stdout != want {
		t.Errorf("xlsx to userload: %d\n got %q\nwant %q\n%s", res.Code, res.Stdout, want, res.Stderr)
	}
}

// TestConvertOtherCSVWriters: --null-quoted and --lenient-quotes read the
// files of Python's csv module; the summary counts the lenient fields.
func TestConvertOtherCSVWriters(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(in, []byte("\"a\",\"b\"\r\n\"1\",\"\"\r\n\"\",\"x\"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := testkit.Run(t, nil, "convert", "--null-quoted", in, "-")
	if want := "TABLE t\n    a b\n    { \"1\", NULL }\n    { NULL, \"x\" }\n"; res.Code != 0 || res.Stdout != want {
		t.Errorf("--null-quoted: %d\n got %q\nwant %q\n%s", res.Code, res.Stdout, want, res.Stderr)
	}
	// "CSV (Macintosh)": lines end in a lone CR (issue 22: read as one header).
	if err := os.WriteFile(in, []byte("a,b,c\r1,2,3\r4,5,6\r"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = testkit.Run(t, nil, "convert", in, "-")
	if want := "TABLE t\n    a b c\n    { \"1\", \"2\", \"3\" }\n    { \"4\", \"5\", \"6\" }\n"; res.Code != 0 || res.Stdout != want || res.Stderr != "converted 2 rows\n" {
		t.Errorf("CR line ends: %d\n got %q\nwant %q\n%s", res.Code, res.Stdout, want, res.Stderr)
	}
	if err := os.WriteFile(in, []byte("a,b\n24\" screen,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := testkit.Run(t, nil, "convert", in, "-"); res.Code != 2 || !strings.Contains(res.Stderr, in+`:2:3: bare " in an unquoted field`) {
		t.Errorf("strict: %d %q", res.Code, res.Stderr)
	}
	res = testkit.Run(t, nil, "convert", "--lenient-quotes", in, "-")
	if want := "TABLE t\n    a b\n    { \"24\\\" screen\", \"1\" }\n"; res.Code != 0 || res.Stdout != want ||
		res.Stderr != "converted 1 rows\n1 field with a bare \" accepted (--lenient-quotes)\n" {
		t.Errorf("--lenient-quotes: %d\n got %q\nwant %q\n%q", res.Code, res.Stdout, want, res.Stderr)
	}
}
