package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

const runLockSQL = "SELECT pg_advisory_lock(1953198708)"

// holdRunLock takes the run lock from another session, as a concurrent run would.
func holdRunLock(t *testing.T, db *testkit.DB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "other run"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, runLockSQL); err != nil {
		t.Fatal(err)
	}
	return conn
}

func emptyACL(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "acl.xml")
	if err := os.WriteFile(p, []byte("<AccessControl/>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunLockFailsFast(t *testing.T) {
	db := testkit.NewDB(t)
	holder := holdRunLock(t, db)
	var pid int
	if err := holder.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	res := testkit.Run(t, db, "acl", "apply", "-f", emptyACL(t))
	if res.Code != 3 || !strings.Contains(res.Stderr, "another tenantkit run is writing to this database: held by server process") ||
		!strings.Contains(res.Stderr, "(other run)") || !strings.Contains(res.Stderr, "--wait") {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, " "+strconv.Itoa(pid)+" ") {
		t.Errorf("the message does not name the holder's pid %d: %q", pid, res.Stderr)
	}
	// Nothing was changed: apply would have created tenantkit's state.
	if db.Value(t, "SELECT to_regclass('tenantkit.acl_state') IS NULL") != "t" {
		t.Error("the refused run changed the database")
	}
	// Read-only commands never take the lock, nor do checks (-c), which
	// change nothing.
	if res := testkit.Run(t, db, "acl", "plan", "-f", emptyACL(t)); res.Code != 0 {
		t.Errorf("plan while the lock is held: %d %s", res.Code, res.Stderr)
	}
	db.Exec(t, "CREATE TABLE things (id int PRIMARY KEY, label text)")
	file := filepath.Join(t.TempDir(), "things.csv")
	if err := os.WriteFile(file, []byte("id,label\n1,one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := testkit.Run(t, db, "userload", "-c", "-f", file); res.Code != 0 || !strings.Contains(res.Stdout, "check only: 1 records read, nothing was changed") {
		t.Errorf("userload -c while the lock is held: %d %s%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := testkit.Run(t, db, "userload", "-f", file); res.Code != 3 || !strings.Contains(res.Stderr, "another tenantkit run is writing") {
		t.Errorf("userload while the lock is held: %d %s", res.Code, res.Stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the child process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startWaiting starts a writing run that queues behind the held lock and
// returns once it waits.
func startWaiting(t *testing.T, db *testkit.DB) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), "--db", db.URL, "acl", "apply", "--wait", "-f", emptyACL(t))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := db.Value(t, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantkit acl apply' AND wait_event_type = 'Lock'")
		if n == "1" {
			return cmd, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never queued for the lock; stderr %q", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestWaitThenSignal(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tc.name, func(t *testing.T) {
			db := testkit.NewDB(t)
			holdRunLock(t, db)
			cmd, stderr := startWaiting(t, db)
			if !strings.Contains(stderr.String(), "waiting for the run lock held by server process") {
				t.Errorf("no waiting message: %q", stderr.String())
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(t, cmd); code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted by "+tc.name+": the running statement was cancelled and the transaction rolled back") {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}

func TestWaitThenConnectionLoss(t *testing.T) {
	db := testkit.NewDB(t)
	holder := holdRunLock(t, db)
	cmd, stderr := startWaiting(t, db)
	db.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tenantkit acl apply' AND wait_event_type = 'Lock'")
	if code := exitCode(t, cmd); code != 3 {
		t.Errorf("exit %d, want 3; stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "lost the database connection") || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 1 {
		t.Errorf("stderr %q", stderr.String())
	}
	// After the holder goes away, a run with --wait gets through.
	holder.Close(context.Background())
	if res := testkit.Run(t, db, "acl", "apply", "--wait", "-f", emptyACL(t)); res.Code != 0 {
		t.Errorf("apply after the holder left: %d %s", res.Code, res.Stderr)
	}
}
