package load_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

const rejectingFile = `TABLE priority
    code label sort_order
    { "P5", "Five", "5" }
    { "P6", "Six", "six" }
    { "P7", NULL, "7" }
`

// A rejects file that cannot be created is an error naming its path; the
// load is rolled back and no file is left.
func TestRejectsFileUnwritable(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	f := write(t, "pri.dat", rejectingFile)
	rej := "/dev/null/rejects.dat" // under a file, not a directory: even root cannot create it
	res := userload(t, db, 2, "--rejects", rej, "-f", f)
	if !strings.Contains(res.Stderr, "rejects file "+rej+":") || !strings.Contains(res.Stderr, "not a directory") {
		t.Errorf("stderr %q", res.Stderr)
	}
	wantRows(t, db, "SELECT count(*) FROM priority WHERE code >= 'P5'", "0")
}

// A write that fails midway (here: the file size limit, as on a full disk)
// is exit 3 naming the path, nothing is loaded, and neither the rejects
// file nor a temporary file remains.
func TestRejectsFileWriteFails(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	var content strings.Builder
	content.WriteString("TABLE priority\n    code label sort_order\n")
	for i := 0; i < 200; i++ {
		content.WriteString(`    { "X` + strings.Repeat("x", 3) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `", "label", "not a number" }` + "\n")
	}
	f := write(t, "pri.dat", content.String())
	dir := t.TempDir()
	rej := filepath.Join(dir, "rejects.dat")
	// RLIMIT_FSIZE makes writes past 1 kB fail with EFBIG (Go ignores SIGXFSZ).
	cmd := exec.Command("prlimit", "--fsize=1024", testkit.Binary(t), "--db", db.URL, "userload", "--rejects", rej, "-f", f)
	cmd.Dir = testkit.RepoRoot()
	cmd.Env = append(os.Environ(), "TENANTKIT_SCHEMA=", "DATABASE_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 {
		t.Fatalf("want exit 3, got %v; stderr %q", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "writing rejects file "+rej+":") || !strings.Contains(stderr.String(), "file too large") {
		t.Errorf("stderr %q", stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	wantRows(t, db, "SELECT count(*) FROM priority", "4")
}
