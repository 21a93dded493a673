package datafile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAtomic(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := CreateAtomic(target)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateAtomic(target)
	if err != nil {
		t.Fatal(err)
	}
	// Two writers of one target get their own temporary files, beside it,
	// with its extension.
	if a.Temp == b.Temp || filepath.Dir(a.Temp) != dir || !strings.HasSuffix(a.Temp, ".csv") {
		t.Fatalf("temporary files %q and %q", a.Temp, b.Temp)
	}
	if err := os.WriteFile(a.Temp, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Abort()
	if data, _ := os.ReadFile(target); string(data) != "old\n" {
		t.Fatalf("target before commit: %q", data)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "new\n" {
		t.Errorf("target after commit: %q", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
