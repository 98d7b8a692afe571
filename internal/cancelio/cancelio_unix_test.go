//go:build unix

package cancelio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drop.csv")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	return path
}

// Special files are refused at once, without opening them (a FIFO would wait for a
// writer).
func TestOpenRefusesSpecialFiles(t *testing.T) {
	for _, tt := range []struct{ path, kind string }{{mkfifo(t), "a named pipe (FIFO)"}, {"/dev/null", "a character device"}} {
		var nr *NotRegularError
		var err error
		within(t, time.Second, "Open of "+tt.path, func() { _, err = Open(context.Background(), tt.path, false) })
		if !errors.As(err, &nr) || nr.Path != tt.path || !strings.Contains(err.Error(), tt.kind) {
			t.Errorf("Open(%s) = %v, want a NotRegularError naming %s", tt.path, err, tt.kind)
		}
	}
}

// An allowed FIFO without a writer blocks in open until the context ends.
func TestOpenFIFOCancelled(t *testing.T) {
	fifo := mkfifo(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		f, err := Open(ctx, fifo, true)
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Open returned without a writer: %v", err)
	case <-time.After(50 * time.Millisecond): // it waits for a writer, as a FIFO does
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Open did not end within 1 s of the cancel")
	}
	// Release the abandoned open, which then closes its file.
	if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
		w.Close()
	}
}

// A read of an allowed FIFO whose writer sends nothing ends with the context.
func TestReadFIFOCancelled(t *testing.T) {
	fifo := mkfifo(t)
	ctx, cancel := context.WithCancel(context.Background())
	opened := make(chan *os.File, 1)
	go func() {
		f, err := Open(ctx, fifo, true)
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once the reader has opened
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f := <-opened
	if f == nil {
		t.FailNow()
	}
	defer f.Close()
	r := NewReader(ctx, f)
	defer r.Close()
	w.Write([]byte("Device Serial Number"))
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "Device Serial Number" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	go cancel()
	var rerr error
	within(t, time.Second, "a blocked FIFO read after cancel", func() { _, rerr = r.Read(buf) })
	if !errors.Is(rerr, context.Canceled) {
		t.Fatalf("err = %v", rerr)
	}
}
