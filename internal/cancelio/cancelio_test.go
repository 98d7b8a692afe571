package cancelio

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// within fails the test when fn does not return within d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(ctx, f)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	cancel()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	if _, err := Open(ctx, path, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("open after cancel: %v", err)
	}
}

func TestOpenFolderRefused(t *testing.T) {
	var nr *NotRegularError
	if _, err := Open(context.Background(), t.TempDir(), true); !errors.As(err, &nr) || !strings.Contains(err.Error(), "a folder") {
		t.Fatalf("err = %v", err)
	}
}

// A read blocked on a reader that never answers (here an io.Pipe nobody writes to) ends
// with the context.
func TestReadBlockedGoroutineMode(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r := NewReader(ctx, pr)
	defer r.Close()
	if r.mode != modeGoroutine {
		t.Fatalf("mode %d", r.mode)
	}
	go pw.Write([]byte("first"))
	buf := make([]byte, 10)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "first" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	var rerr error
	go cancel()
	within(t, time.Second, "a blocked read after cancel", func() { _, rerr = r.Read(buf) })
	if !errors.Is(rerr, context.Canceled) {
		t.Fatalf("err = %v", rerr)
	}
}
