//go:build linux

package testkit

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Terminal opens a pseudo-terminal for t: tty is its terminal end, which
// term.IsTerminal reports as a terminal (so a progress reporter writing to
// it draws a bar), and output closes tty and returns everything written to
// it. The terminal is closed when the test ends.
func Terminal(t testing.TB) (tty *os.File, output func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("testkit: opening a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	if err != nil {
		t.Fatalf("testkit: setting up the pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("testkit: opening the terminal end of the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	var (
		mu   sync.Mutex
		buf  bytes.Buffer
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b) // EIO once tty is closed and drained
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return tty, func() string {
		once.Do(func() {
			tty.Close()
			<-done
		})
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}
