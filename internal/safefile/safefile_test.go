package safefile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// names lists the entries of dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("%s holds %q, want %q", path, b, want)
	}
	if runtime.GOOS == "windows" {
		return
	}
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm() != Mode {
		t.Fatalf("%s has mode %v, want a regular file with %v", path, st.Mode(), Mode)
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	if err := Write(path, writeString("a,b\r\n")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "a,b\r\n")
	if got := names(t, dir); !slices.Equal(got, []string{"report.csv"}) {
		t.Fatalf("folder holds %v", got)
	}
}

// An earlier world-readable file of the same name is replaced by a 0600 one: the mode
// is not inherited.
func TestWriteReplaces0644With0600(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := Write(path, writeString("new")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "new")
}

// Symlinks and world-readable files planted at the temporary names an attacker could
// guess (the fixed names older code used, and the pattern's prefix) are never written
// through; a symlink at the target is replaced, not followed.
func TestWritePlantedFilesChangeNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "journal.jsonl")
	planted := []string{"journal.jsonl.tmp", ".journal.jsonl.tmp", ".journal.jsonl.tmp-", ".journal.jsonl.tmp-0", "journal.jsonl~"}
	for _, n := range planted {
		if err := os.Symlink(victim, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	dangling := filepath.Join(dir, ".journal.jsonl.tmp-1")
	if err := os.Symlink(filepath.Join(victimDir, "created-through-symlink"), dangling); err != nil {
		t.Fatal(err)
	}
	open644 := filepath.Join(dir, ".journal.jsonl.tmp-2")
	if err := os.WriteFile(open644, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The target itself is a symlink to the victim.
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	before := names(t, dir)

	for i := range 50 { // many random names: none of them may touch a planted file
		if err := Write(path, writeString("line "+strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	checkFile(t, path, "line "+strings.Repeat("x", 49)) // a regular 0600 file now
	b, err := os.ReadFile(victim)
	if err != nil || string(b) != "precious" {
		t.Fatalf("victim holds %q (%v)", b, err)
	}
	if st, _ := os.Stat(victim); st.Mode().Perm() != 0o644 {
		t.Fatalf("victim mode changed to %v", st.Mode())
	}
	if got := names(t, victimDir); !slices.Equal(got, []string{"victim"}) {
		t.Fatalf("victim folder holds %v", got)
	}
	if b, _ := os.ReadFile(open644); string(b) != "someone else's" {
		t.Fatalf("planted file holds %q", b)
	}
	if got := names(t, dir); !slices.Equal(got, before) { // same names: nothing left behind
		t.Fatalf("folder holds %v, want %v", got, before)
	}
}

// A failure in the middle of writing leaves the old file as it was and no temporary
// file behind.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "devices.csv")
	if err := Write(path, writeString("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(strings.Repeat("half-written row\r\n", 10000))
		if err := bw.Flush(); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	checkFile(t, path, "old")
	if got := names(t, dir); !slices.Equal(got, []string{"devices.csv"}) {
		t.Fatalf("folder holds %v", got)
	}
}

func TestCreateAbortAndCommitTwice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.csv")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "x")
	f.Abort()
	f.Abort()
	if got := names(t, dir); len(got) != 0 {
		t.Fatalf("folder holds %v after Abort", got)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if _, err := f.Write([]byte("y")); err == nil {
		t.Fatal("Write after Abort succeeded")
	}

	f, err = Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	io.WriteString(f, "y")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // no-op after Commit
	checkFile(t, path, "y")
	if f.Name() != path {
		t.Fatalf("Name() = %q", f.Name())
	}
	if err := f.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}
}

func TestMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "report.csv")
	err := Write(path, writeString("x"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "no-such-folder") {
		t.Fatalf("err = %v, want a clear not-exist error naming the folder", err)
	}
}

// A rename that fails (the target is a folder) removes the temporary file and leaves
// the folder as it was.
func TestCommitFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(path, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, writeString("x")); err == nil {
		t.Fatal("replacing a folder succeeded")
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out"}) {
		t.Fatalf("folder holds %v", got)
	}
	if st, err := os.Stat(filepath.Join(path, "inner")); err != nil || !st.IsDir() {
		t.Fatalf("target folder damaged: %v", err)
	}
}

// Close releases the file early; Commit still puts it in place, Abort still removes it.
func TestCloseThenCommitOrAbort(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	fa, err := Create(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := Create(b)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fa, "A")
	io.WriteString(fb, "B")
	if err := fa.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fa.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := fa.Write([]byte("late")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if err := fb.Close(); err != nil {
		t.Fatal(err)
	}
	if len(names(t, dir)) != 2 { // two temporary files, no target yet
		t.Fatalf("folder holds %v", names(t, dir))
	}
	if err := fa.Commit(); err != nil {
		t.Fatal(err)
	}
	fb.Abort()
	checkFile(t, a, "A")
	if got := names(t, dir); !slices.Equal(got, []string{"a.csv"}) {
		t.Fatalf("folder holds %v", got)
	}
}
