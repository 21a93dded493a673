// Package testkit gives tests a real PostgreSQL database of their own and a
// freshly built tenantkit binary to run against it.
//
// The server is the one named by TENANTKIT_TEST_DATABASE_URL, else the one the
// PG* variables point at. scripts/test starts a local server from the
// installed binaries when none answers. A missing server fails the tests; it
// never skips them.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Main runs a package's tests after checking that the server answers, and
// removes the built binary afterwards. Call it from TestMain.
func Main(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := pgx.Connect(ctx, AdminURL())
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testkit: no PostgreSQL server for the tests (%v).\n"+
			"Run the tests with scripts/test, which starts one, or set TENANTKIT_TEST_DATABASE_URL.\n", err)
		os.Exit(1)
	}
	conn.Close(context.Background())
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// AdminURL is the connection string of the maintenance database.
func AdminURL() string {
	return os.Getenv("TENANTKIT_TEST_DATABASE_URL")
}

// DB is a throwaway database.
type DB struct {
	Name string
	URL  string
	Pool *pgxpool.Pool
}

// NewDB creates an empty database that is dropped when the test ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	return newDB(t, "")
}

// CloneDB creates a copy of src (CREATE DATABASE … TEMPLATE), dropped when
// the test ends. It closes src's idle connections first: PostgreSQL copies
// only a database nobody is connected to.
func CloneDB(t testing.TB, src *DB) *DB {
	t.Helper()
	src.Pool.Reset()
	return newDB(t, src.Name)
}

func newDB(t testing.TB, template string) *DB {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tk_test_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testkit: connecting to the test server: %v", err)
	}
	defer admin.Close(ctx)
	create := "CREATE DATABASE " + sqlq.Ident(name)
	if template != "" {
		create += " TEMPLATE " + sqlq.Ident(template)
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		t.Fatalf("testkit: creating database %s: %v", name, err)
	}
	cfg, err := pgxpool.ParseConfig(AdminURL())
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	cfg.ConnConfig.Database = name
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testkit: connecting to %s: %v", name, err)
	}
	db := &DB{Name: name, URL: urlFor(cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.User, name), Pool: pool}
	if cfg.ConnConfig.Password != "" {
		db.URL = strings.Replace(db.URL, "@", ":"+cfg.ConnConfig.Password+"@", 1)
	}
	t.Cleanup(func() {
		pool.Close()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("testkit: dropping %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+sqlq.Ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("testkit: dropping %s: %v", name, err)
		}
	})
	return db
}

func urlFor(host string, port uint16, user, db string) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", user, db, host, port)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", user, host, port, db)
}

// NewFixtureDB creates a database holding the fixture tables and rows.
func NewFixtureDB(t testing.TB) *DB {
	t.Helper()
	return withFixtures(t, NewDB(t))
}

// withFixtures loads the fixture tables and rows into db.
func withFixtures(t testing.TB, db *DB) *DB {
	t.Helper()
	if err := fixtures.Load(context.Background(), db.Pool, true); err != nil {
		t.Fatalf("testkit: loading fixtures: %v", err)
	}
	return db
}

// Exec runs statements and fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("testkit: %s: %v", firstLine(sql), err)
	}
}

// Rows runs a query and returns every row with each value in PostgreSQL's
// own text form ("NULL" for NULL), for exact assertions.
func (db *DB) Rows(t testing.TB, sql string, args ...any) [][]string {
	t.Helper()
	args = append([]any{pgx.QueryExecModeSimpleProtocol}, args...)
	rows, err := db.Pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("testkit: %s: %v", firstLine(sql), err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := rows.RawValues()
		row := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("testkit: %s: %v", firstLine(sql), err)
	}
	return out
}

// Value runs a query returning one value and gives it as text ("NULL" for NULL).
func (db *DB) Value(t testing.TB, sql string, args ...any) string {
	t.Helper()
	rows := db.Rows(t, sql, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("testkit: %s: want one value, got %v", firstLine(sql), rows)
	}
	return rows[0][0]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Binary builds cmd/tenantkit once per test process (with the race detector
// when the tests run with it) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tenantkit-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tenantkit")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/tenantkit")...)
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("testkit: %v", buildErr)
	}
	return binPath
}

// Result is what a run of the binary produced.
type Result struct {
	Stdout string
	Stderr string
	Code   int
}

// Run runs the tenantkit binary against db (nil: no --db) with args, from
// the repository root, and returns its output and exit code.
func Run(t testing.TB, db *DB, args ...string) Result {
	t.Helper()
	return RunIn(t, db, nil, args...)
}

// RunIn is Run with standard input.
func RunIn(t testing.TB, db *DB, stdin []byte, args ...string) Result {
	t.Helper()
	return RunEnv(t, db, nil, stdin, args...)
}

// RunEnv is RunIn with extra environment variables ("PGOPTIONS=…").
func RunEnv(t testing.TB, db *DB, env []string, stdin []byte, args ...string) Result {
	t.Helper()
	bin := Binary(t)
	if db != nil {
		args = append([]string{"--db", db.URL}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = RepoRoot()
	cmd.Env = append(append(os.Environ(), "TENANTKIT_SCHEMA=", "DATABASE_URL="), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("testkit: running tenantkit: %v", err)
	}
	return res
}

// RepoRoot is the directory holding go.mod.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("testkit: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns a path relative to the repository root.
func Path(rel string) string { return filepath.Join(RepoRoot(), rel) }

// XMLLint validates file against xsd with xmllint and reports whether it is
// valid and xmllint's message. Tests use it to prove that an XSD and its Go
// validator agree.
func XMLLint(t testing.TB, xsd, file string) (bool, string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatalf("testkit: xmllint is needed (apt-get install libxml2-utils; scripts/test installs it)")
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", xsd, file).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("testkit: xmllint: %v", err)
	}
	return err == nil, string(out)
}

// URLAs is the database's connection string for another role (the test
// server trusts local connections).
func (db *DB) URLAs(role string) string {
	u, err := url.Parse(db.URL)
	if err != nil {
		panic(err)
	}
	u.User = url.User(role)
	return u.String()
}

// DropRolesAfter drops the named roles when the test ends, after its
// databases are gone (roles are cluster-wide and outlive them). Call it
// before NewDB, so that its cleanup runs after the database is dropped.
func DropRolesAfter(t testing.TB, roles ...string) {
	t.Helper()
	DropRolesLater(t)(roles...)
}

// DropRolesLater is DropRolesAfter for roles whose names are known only
// once the databases are made (acl's group roles: their names depend on the
// database's OID): call it before making the databases, then add the
// roles.
func DropRolesLater(t testing.TB) (add func(roles ...string)) {
	t.Helper()
	var roles []string
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("testkit: dropping roles: %v", err)
			return
		}
		defer admin.Close(ctx)
		for _, r := range roles {
			if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+sqlq.Ident(r)); err != nil {
				t.Errorf("testkit: dropping role %s: %v", r, err)
			}
		}
	})
	return func(r ...string) { roles = append(roles, r...) }
}

// XSDAgrees proves that an XSD and a Go validator accept and reject the same
// files: for each file, xmllint's verdict must equal validate's, and files
// named bad-* must be rejected and all others accepted.
func XSDAgrees(t *testing.T, xsd string, files []string, validate func(file string) error) {
	t.Helper()
	for _, f := range files {
		xsdOK, msg := XMLLint(t, xsd, f)
		err := validate(f)
		goOK := err == nil
		if xsdOK != goOK {
			t.Errorf("%s: xmllint valid=%v (%s), Go valid=%v (%v)", f, xsdOK, strings.TrimSpace(msg), goOK, err)
		}
		if wantOK := !strings.HasPrefix(filepath.Base(f), "bad-"); goOK != wantOK {
			t.Errorf("%s: valid=%v, want %v", f, goOK, wantOK)
		}
	}
}

// AddSeeds adds the contents of the files matching pattern to a fuzz
// target's seed corpus, so that plain go test runs them too.
func AddSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("testkit: no seed files match %s", pattern)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// WriteFile writes text to a file called name in a directory of the test's
// own and returns its path.
func WriteFile(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return p
}
