package extract_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// An output that cannot be created is exit 2 naming the path, and nothing
// is written.
func TestOutputUnwritable(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	out := "/dev/null/out.dat" // under a file, not a directory: even root cannot create it
	res := testkit.Run(t, db, "extract", "-o", out, "call_req")
	if res.Code != 2 || !strings.Contains(res.Stderr, out) || !strings.Contains(res.Stderr, "not a directory") {
		t.Errorf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// A write that fails midway (the file size limit, as on a full disk) is
// exit 3 naming the path, and neither the file nor a temporary file
// remains; an earlier file of the same name is left as it was.
func TestOutputWriteFails(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, `INSERT INTO call_req (ref_num, summary, open_date)
		SELECT 'BIG-' || i, repeat('x', 200), timestamp '2026-01-01' FROM generate_series(1, 500) AS i`)
	for _, tc := range []struct{ name, out string }{
		{"userload", "calls.dat"},
		{"csv", "calls.csv"},
		{"csv directory", "csvdir/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tc.out)
			if strings.HasSuffix(tc.out, "/") {
				out += "/" // Join drops it
			}
			earlier := filepath.Join(dir, "calls.dat")
			if err := os.WriteFile(earlier, []byte("earlier\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"--fsize=20000", testkit.Binary(t), "--db", db.URL, "extract", "-o", out}
			if strings.HasSuffix(tc.out, "/") {
				args = append(args, "call_req", "ca_contact")
			} else {
				args = append(args, "call_req")
			}
			// RLIMIT_FSIZE makes writes past 20 kB fail with EFBIG (Go ignores SIGXFSZ).
			cmd := exec.Command("prlimit", args...)
			cmd.Dir = testkit.RepoRoot()
			cmd.Env = append(os.Environ(), "TENANTKIT_SCHEMA=", "DATABASE_URL=")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 3 {
				t.Fatalf("want exit 3, got %v; stderr %q", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), strings.TrimSuffix(out, "/")) || !strings.Contains(stderr.String(), "file too large") {
				t.Errorf("stderr %q", stderr.String())
			}
			var left []string
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && p != dir {
					left = append(left, strings.TrimPrefix(p, dir+"/"))
				}
				return nil
			})
			want := "calls.dat"
			if strings.HasSuffix(tc.out, "/") {
				want = "calls.dat csvdir" // the directory asked for is created first
			}
			if strings.Join(left, " ") != want {
				t.Errorf("left behind: %q, want %q", left, want)
			}
			if b, _ := os.ReadFile(earlier); string(b) != "earlier\n" {
				t.Errorf("the earlier file changed: %q", b)
			}
		})
	}
}
