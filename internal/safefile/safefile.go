// Package safefile replaces files atomically and without following anything planted
// next to them.
//
// A file is written to a fresh temporary file in the target's folder, created
// exclusively (O_EXCL, a random name, never a fixed "name.tmp") with mode 0600, then
// fsynced, closed and renamed over the target; on Unix the folder is fsynced after the
// rename so that the rename survives a crash. A symlink or another file already at a
// temporary name is never opened (the exclusive create fails and another random name is
// tried), and the target itself is replaced, never written through: a symlink at the
// target is replaced by the new file, not followed. The result is always mode 0600,
// whatever mode an earlier file of that name had. On any error the temporary file is
// removed and the target is left as it was.
//
// Two ways to use it:
//
//	err := safefile.Write(path, func(w io.Writer) error {
//		_, err := w.Write(data)
//		return err
//	})
//
// or, for a writer that is filled over time (several files committed together, a
// report written while rows arrive):
//
//	f, err := safefile.Create(path)
//	if err != nil {
//		return err
//	}
//	defer f.Abort() // removes the temporary file unless Commit succeeded
//	… write to f …
//	return f.Commit()
//
// On Windows, os.Rename maps to MoveFileEx with MOVEFILE_REPLACE_EXISTING, mode bits
// other than read-only have no meaning and the folder is not fsynced (Windows offers no
// way to).
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// Mode is the permission of every file written by this package.
const Mode fs.FileMode = 0o600

// File is a file being written: a temporary file in the target's folder that Commit
// renames over the target. A File is not safe for concurrent use.
type File struct {
	path   string
	tmp    *os.File
	closed bool // the temporary file is fsynced and closed (Close or Commit)
	done   bool // committed or aborted
}

// Create starts writing path. The target is untouched until Commit. An error names
// the target; when its folder does not exist the error says so and satisfies
// errors.Is(err, fs.ErrNotExist).
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, fmt.Errorf("writing %s: not a file name", path)
	}
	// os.CreateTemp opens with O_RDWR|O_CREATE|O_EXCL and mode 0600 and retries with
	// another random name when one exists (also when it is a symlink, dangling or not).
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("writing %s: the folder %s does not exist: %w", path, filepath.Clean(dir), fs.ErrNotExist)
		}
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	// The umask can only remove bits from 0600; a chmod makes the mode exact also on
	// systems where CreateTemp's mode is not what it says (none known, but it is cheap).
	if runtime.GOOS != "windows" {
		if err := tmp.Chmod(Mode); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return &File{path: path, tmp: tmp}, nil
}

// Name returns the target path (not the temporary file's).
func (f *File) Name() string { return f.path }

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.done || f.closed {
		return 0, fmt.Errorf("writing %s: %w", f.path, os.ErrClosed)
	}
	return f.tmp.Write(p)
}

// Close fsyncs and closes the temporary file without committing it, to bound the
// number of open files when many are committed together; the target is still
// untouched. Commit then only renames; Abort still removes it. Write after Close fails.
// On error the temporary file is removed, as by Abort.
func (f *File) Close() error {
	if f.done {
		return fmt.Errorf("writing %s: %w", f.path, os.ErrClosed)
	}
	if f.closed {
		return nil
	}
	f.closed = true
	name := f.tmp.Name()
	err := f.tmp.Sync()
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.done = true
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// Commit fsyncs and closes the temporary file (unless Close did), renames it over the
// target and fsyncs the folder. On error the temporary file is removed and the target is
// unchanged (except when only the final folder fsync fails: the new file is then in
// place, but may not survive a crash). Commit after Commit or Abort returns an error.
func (f *File) Commit() error {
	if err := f.Close(); err != nil {
		return err
	}
	f.done = true
	name := f.tmp.Name()
	if err := os.Rename(name, f.path); err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("writing %s: syncing its folder: %w", f.path, err)
	}
	return nil
}

// Abort closes and removes the temporary file, leaving the target as it was. It does
// nothing after Commit, so `defer f.Abort()` is the usual way to clean up.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	if !f.closed {
		f.tmp.Close()
	}
	os.Remove(f.tmp.Name())
}

// Write replaces path with what fn writes, atomically: fn writes to a temporary file
// (unbuffered: wrap w in a bufio.Writer, and flush it, for many small writes), which is
// committed when fn returns nil and removed when it returns an error (that error is
// returned as is, and the target is left as it was).
func Write(path string, fn func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fn(f); err != nil {
		return err
	}
	return f.Commit()
}

// syncDir fsyncs a folder so that a rename in it is durable. Windows cannot open a
// folder for syncing; some file systems do not support it (EINVAL), which is not an
// error.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
