//go:build unix

package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestConvertWritesSafely: convert replaces a world-readable output with a 0600 file and
// never writes through a symlink planted at a temporary name or at the output itself.
func TestConvertWritesSafely(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "import.csv")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(out, 0o644)
	for _, n := range []string{"import.csv.tmp", ".import.csv.tmp", ".import.csv.tmp-1"} {
		if err := os.Symlink(victim, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	// The numbered outputs of a big run: the second chunk's name is a symlink.
	if err := os.Symlink(victim, filepath.Join(dir, "big-002.csv")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(dir)

	if res := runCLI(t, "convert", "-o", out, sample("canonical-utf16.csv")); res.code != exitOK {
		t.Fatalf("convert: exit %d, stderr %s", res.code, res.stderr)
	}
	if res := runCLI(t, "convert", "-o", filepath.Join(dir, "big.csv"), bigExport(t, 501, "")); res.code != exitOK {
		t.Fatalf("convert 501: exit %d, stderr %s", res.code, res.stderr)
	}
	for _, p := range []string{out, filepath.Join(dir, "big-001.csv"), filepath.Join(dir, "big-002.csv")} {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want a regular 0600 file", p, st.Mode())
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the symlink target was written: %q", b)
	}
	after, _ := os.ReadDir(dir)
	var names []string
	for _, e := range after {
		names = append(names, e.Name())
	}
	want := []string{".import.csv.tmp", ".import.csv.tmp-1", "big-001.csv", "big-002.csv", "import.csv", "import.csv.tmp"}
	if !slices.Equal(names, want) || len(before) != 5 {
		t.Errorf("folder holds %v, want %v (no temporary file left)", names, want)
	}
}
