package aliases

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// privateCluster starts a PostgreSQL cluster of the test's own, listening
// on a Unix socket only, and stops it when the test ends; it returns the
// URL of its postgres database (user postgres, trust). hba, when given,
// replaces the cluster's pg_hba.conf lines. A test that changes
// what every login role of the server may do (database privileges granted
// to all of them) runs there, so as not to tie up the roles of tests
// running at the same time on the shared server (a role holding a privilege
// cannot be dropped). As root, the server runs as the postgres user, as
// scripts/pg-ensure does.
func privateCluster(t *testing.T, hba ...string) string {
	t.Helper()
	bindir := pgBinDir(t)
	dir, err := os.MkdirTemp("", "tk-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asOwner := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() != 0 {
			return exec.Command(filepath.Join(bindir, name), args...)
		}
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bindir, name)}, args...)...)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, and no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asOwner("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if len(hba) > 0 {
		conf := filepath.Join(data, "pg_hba.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(hba, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			u, _ := user.Lookup("postgres")
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(conf, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	port := 40000 + int(binary.BigEndian.Uint16(b[:]))%20000
	opts := fmt.Sprintf("-p %d -c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off", port, dir)
	if out, err := asOwner("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s%s", err, out, log)
	}
	t.Cleanup(func() {
		if out, err := asOwner("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d", dir, port)
}

// pgBinDir finds the server binaries: beside pg_ctl on the PATH, else the
// newest /usr/lib/postgresql/*/bin.
func pgBinDir(t *testing.T) string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		t.Fatal("no PostgreSQL server binaries (initdb, pg_ctl) to start a private cluster")
	}
	return dirs[len(dirs)-1]
}

// clusterDB creates database name in the cluster at adminURL and returns it
// as a testkit.DB (closed when the test ends; the cluster goes with it).
func clusterDB(t *testing.T, adminURL, name string) *testkit.DB {
	t.Helper()
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &testkit.DB{Name: name, URL: fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d", name, cfg.ConnConfig.Host, cfg.ConnConfig.Port), Pool: pool}
}
