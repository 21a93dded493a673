package testkit

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
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Cluster is a PostgreSQL cluster of a test's own (see PrivateCluster).
type Cluster struct {
	// URL is the connection string of its postgres database (user postgres, trust).
	URL string
	// Dir holds the data directory, the socket and the server log; it is
	// owned by the server's user.
	Dir     string
	data    string
	bindir  string
	options string
}

// PrivateCluster starts a PostgreSQL cluster of the test's own, listening
// on a Unix socket only, and stops it when the test ends. Tests that change
// what every login role of the server may do, fill a disk or restart the
// server run there, so as not to disturb tests running at the same time on
// the shared server. As root, the server runs as the postgres user, as
// scripts/pg-ensure does. settings are extra -c NAME=VALUE options.
func PrivateCluster(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	bindir := pgBinDir(t)
	dir, err := os.MkdirTemp("", "tk-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := ChownToServer(dir); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, data: filepath.Join(dir, "data"), bindir: bindir}
	if out, err := c.command("initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	port := 40000 + int(binary.BigEndian.Uint16(b[:]))%20000
	c.options = fmt.Sprintf("-p %d -c listen_addresses='' -k %s -c fsync=off -c full_page_writes=off", port, dir)
	for _, s := range settings {
		c.options += " -c " + s
	}
	c.Start(t)
	t.Cleanup(func() {
		if out, err := c.command("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	c.URL = fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d", dir, port)
	return c
}

// Start starts the cluster's server (again, after Stop).
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if out, err := c.command("pg_ctl", "-D", c.data, "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "60", "-o", c.options, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		t.Fatalf("pg_ctl start: %v\n%s%s", err, out, log)
	}
}

// command runs a server binary as the server's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() != 0 {
		return exec.Command(filepath.Join(c.bindir, name), args...)
	}
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(c.bindir, name)}, args...)...)
}

// ChownToServer gives path to the postgres user when running as root (the
// server runs as that user then); otherwise it does nothing.
func ChownToServer(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

// pgBinDir finds the server binaries: beside pg_ctl on the PATH, else the
// newest /usr/lib/postgresql/*/bin.
func pgBinDir(t testing.TB) string {
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

// NewDB creates database name in the cluster and returns it (its pool is
// closed when the test ends; the database goes with the cluster).
func (c *Cluster) NewDB(t testing.TB, name string) *DB {
	t.Helper()
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+sqlq.Ident(name)); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &DB{Name: name, URL: urlFor(cfg.ConnConfig.Host, cfg.ConnConfig.Port, "postgres", name), Pool: pool}
}
