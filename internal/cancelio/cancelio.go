// Package cancelio makes opening and reading inputs end when a context is done, also
// when the open or the read would block forever: a named pipe (FIFO) without a writer,
// standard input from a terminal or a pipe that never closes. Without it, Ctrl-C (which
// cancels the command's context) cannot stop a command waiting for such an input.
//
// Inputs are meant to be regular files. Open refuses anything else unless asked, with
// a *NotRegularError that names the file and its kind.
package cancelio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// NotRegularError is returned by Open for a path that is not a regular file (a named
// pipe, a device, a socket) when special files are not allowed.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: is %s, not a regular file", e.Path, Kind(e.Mode))
}

// Kind names the type of a file mode for messages: "a named pipe (FIFO)", "a device", ….
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "a special file"
}

// Open opens path for reading. A regular file is opened at once. Anything else is
// refused with a *NotRegularError unless allowSpecial is set; then it is opened on a
// goroutine, since opening a FIFO waits for a writer, and Open returns ctx.Err() as soon
// as ctx is done (a file whose open completes later is closed). The type is checked
// again on the open file, so a regular file swapped for a FIFO after the first check
// neither blocks nor slips through.
func Open(ctx context.Context, path string, allowSpecial bool) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() {
		f, err := openNoBlock(path) // does not wait for a writer if path became a FIFO
		if err != nil {
			return nil, err
		}
		if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() {
			f.Close()
			if err != nil {
				return nil, err
			}
			if !allowSpecial {
				return nil, &NotRegularError{Path: path, Mode: fst.Mode()}
			}
			return openBlocking(ctx, path)
		}
		return f, nil
	}
	if !allowSpecial || st.IsDir() {
		return nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return openBlocking(ctx, path)
}

// openBlocking opens path with a plain (possibly blocking) open on a goroutine.
func openBlocking(ctx context.Context, path string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		go func() { // the open may complete later (a writer comes): close it then
			if r := <-ch; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Reader reads from an underlying reader until its context is done; then Read returns
// the context's error, at once, also when a Read of the underlying reader is blocked.
type Reader struct {
	ctx  context.Context
	r    io.Reader
	mode int
	stop func() bool // deadline mode: stops the watcher

	// goroutine mode: a read in flight on its own buffer, so that a read abandoned when
	// the context ends never writes into the caller's buffer.
	buf     []byte
	pending chan readResult
}

type readResult struct {
	n   int
	err error
}

const (
	modeCheck     = iota // reads never block for long (regular file, memory): check ctx before each
	modeDeadline         // an *os.File in the runtime poller: a past deadline wakes a blocked read
	modeGoroutine        // anything else: the read runs on a goroutine
)

// maxChunk bounds the buffer of a read in goroutine mode.
const maxChunk = 64 << 10

// NewReader returns a Reader of r bound to ctx. Close it to release the context
// watcher; closing it does not close r.
func NewReader(ctx context.Context, r io.Reader) *Reader {
	cr := &Reader{ctx: ctx, r: r, mode: modeGoroutine}
	switch v := r.(type) {
	case *bytes.Reader, *strings.Reader, *bytes.Buffer:
		cr.mode = modeCheck
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			cr.mode = modeCheck
		} else if v.SetReadDeadline(time.Time{}) == nil {
			// Pollable (a FIFO or pipe on Linux, a non-blocking descriptor): deadlines work.
			cr.mode = modeDeadline
			cr.stop = context.AfterFunc(ctx, func() { v.SetReadDeadline(time.Unix(1, 0)) })
		}
	}
	return cr
}

// Read reads from the underlying reader; once the context is done it returns the
// context's error (a read blocked in the underlying reader is abandoned, not waited for).
func (r *Reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	switch r.mode {
	case modeCheck:
		return r.r.Read(p)
	case modeDeadline:
		n, err := r.r.Read(p)
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && r.ctx.Err() != nil {
			return n, r.ctx.Err()
		}
		return n, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.pending == nil {
		size := min(len(p), maxChunk)
		if cap(r.buf) < size {
			r.buf = make([]byte, size)
		}
		buf := r.buf[:size]
		ch := make(chan readResult, 1)
		r.pending = ch
		go func() {
			n, err := r.r.Read(buf)
			ch <- readResult{n, err}
		}()
	}
	select {
	case res := <-r.pending:
		r.pending = nil
		n := copy(p, r.buf[:res.n]) // res.n <= len(buf) <= len(p)
		return n, res.err
	case <-r.ctx.Done():
		// The read in flight keeps r.buf; it is never handed out again since every
		// later Read returns the context's error first.
		return 0, r.ctx.Err()
	}
}

// Close releases the context watcher. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.stop != nil {
		r.stop()
	}
	return nil
}
