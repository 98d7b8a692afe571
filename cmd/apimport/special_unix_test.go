//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apimport/apimport/hwhash"
)

func mkfifo(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "drop.csv")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	return path
}

// runAsync runs the program in-process with ctx; the exit code arrives on the channel,
// stdout and stderr go to the buffer (read it after the code arrived).
func runAsync(ctx context.Context, args ...string) (<-chan int, *bytes.Buffer) {
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, args, strings.NewReader(""), &out, &out) }()
	return done, &out
}

// TestSpecialFileRefused: a FIFO among the inputs (one in a drop folder) is refused at
// once with a message naming it and the way out, instead of hanging the command.
func TestSpecialFileRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, dir)
	good := filepath.Join(dir, "good.csv")
	h := hwhash.Device{Serial: "CZC1000001", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	if err := os.WriteFile(good, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\nCZC1000001,,"+h+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", filepath.Join(dir, "*.csv")},
		{"check", "--json", fifo},
		{"decode", fifo},
		{"convert", "-o", filepath.Join(dir, "out.csv"), good, fifo},
		{"import", "--dry-run", "--offline", good, fifo},
		{"convert", "--allow-special-files", "-o", filepath.Join(dir, "out.csv"), fifo},
	} {
		done, errb := runAsync(context.Background(), args...)
		select {
		case code := <-done:
			want, msg := exitFatal, "is a named pipe (FIFO), not a regular file"
			if args[1] == "--allow-special-files" {
				want, msg = exitUsage, "convert reads every input twice"
			}
			if code != want || !strings.Contains(errb.String(), msg) || !strings.Contains(errb.String(), "drop.csv") ||
				!strings.Contains(errb.String(), "standard input") {
				t.Errorf("%v: exit %d, stderr:\n%s", args, code, errb.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v hangs on a FIFO", args)
		}
	}
}

// TestCancelWhileOpeningFIFO: with --allow-special-files, a FIFO without a writer
// blocks in open; cancelling the context (what SIGINT does) ends every reading command
// with 130 within a second.
func TestCancelWhileOpeningFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, dir)
	for _, args := range [][]string{
		{"check", "--allow-special-files", fifo},
		{"decode", "--allow-special-files", fifo},
		{"import", "--dry-run", "--offline", "--allow-special-files", fifo},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done, errb := runAsync(ctx, args...)
		select {
		case code := <-done:
			t.Fatalf("%v returned %d without a writer: %s", args, code, errb.String())
		case <-time.After(100 * time.Millisecond): // waiting for a writer, as a FIFO read does
		}
		cancel()
		select {
		case code := <-done:
			if code != exitInterrupted {
				t.Errorf("%v: exit %d, want 130; stderr:\n%s", args, code, errb.String())
			}
		case <-time.After(time.Second):
			t.Fatalf("%v did not end within 1 s of the cancel", args)
		}
	}
	// Release the abandoned opens (they close their file when they complete).
	for range 3 {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}
}

// signalChild sends SIGINT to a started child and returns its exit code; the child
// must end within a second.
func signalChild(t *testing.T, cmd *exec.Cmd, errb *bytes.Buffer) int {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no exit within 1 s of SIGINT; stderr:\n%s", errb.String())
	}
	return -1
}

// partialExport is an export's header and rows, about 200 KB: more than a pipe holds,
// so writing it returns only once the reader has consumed most of it.
func partialExport() []byte {
	var b bytes.Buffer
	b.WriteString("Device Serial Number,Windows Product ID,Hardware Hash\r\n")
	h := hwhash.Device{Serial: "CZC1000001", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	for b.Len() < 200<<10 {
		b.WriteString("CZC1000001,," + h + "\r\n")
	}
	return b.Bytes()
}

// TestSIGINTOnBlockedFIFORead: Ctrl-C on `apimport check --allow-special-files FIFO`
// while it waits for more data ends the process with 130 within a second.
func TestSIGINTOnBlockedFIFORead(t *testing.T) {
	dir := t.TempDir()
	fifo := mkfifo(t, dir)
	for _, sub := range []string{"check", "decode"} {
		cmd := childCmd([]string{sub, "--allow-special-files", fifo})
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once the child has opened it
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(partialExport()); err != nil { // returns once the child read most of it
			t.Fatal(err)
		}
		code := signalChild(t, cmd, &errb) // the writer stays open: the child waits for more
		w.Close()
		if code != exitInterrupted || !strings.Contains(errb.String(), "apimport: interrupted") {
			t.Errorf("%s: exit %d, want 130; stderr:\n%s", sub, code, errb.String())
		}
	}
}

// TestSIGINTOnBlockedStdin: the same for standard input from a pipe that never ends
// (check, decode and convert, which reads standard input whole first).
func TestSIGINTOnBlockedStdin(t *testing.T) {
	for _, args := range [][]string{{"check", "-"}, {"decode", "-"}, {"convert", "-o", filepath.Join(t.TempDir(), "out.csv"), "-"}} {
		cmd := childCmd(args)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := stdin.Write(partialExport()); err != nil {
			t.Fatal(err)
		}
		code := signalChild(t, cmd, &errb)
		stdin.Close()
		if code != exitInterrupted {
			t.Errorf("%v: exit %d, want 130; stderr:\n%s", args, code, errb.String())
		}
	}
}
