package csvreport

import (
	"context"
	"errors"
	"io"

	"github.com/apimport/apimport/internal/cancelio"
)

// OpenOptions are the options of OpenContext.
type OpenOptions struct {
	// AllowSpecial reads a named pipe (FIFO), a device or another file that is not a
	// regular file. Without it such a path is refused with a *FileError of code
	// "not_regular": in a drop folder read by a scheduled job, a FIFO without a writer
	// would otherwise make the job wait forever.
	AllowSpecial bool
}

// CodeNotRegular is the FileError code of a path that is not a regular file.
const CodeNotRegular = "not_regular"

// OpenContext is Open for unattended runs: a path that is not a regular file is
// refused unless o.AllowSpecial, and the open and every read end as soon as ctx is done,
// also when they would block (a FIFO without a writer). The error of a read cut short
// is a *FileError that wraps ctx.Err().
func OpenContext(ctx context.Context, path string, o OpenOptions) (*Reader, error) {
	return openContext(ctx, path, o, false)
}

func openContext(ctx context.Context, path string, o OpenOptions, corporate bool) (*Reader, error) {
	f, err := cancelio.Open(ctx, path, o.AllowSpecial)
	if err != nil {
		var nr *cancelio.NotRegularError
		switch {
		case errors.As(err, &nr) && nr.Mode.IsDir():
			return nil, &FileError{File: path, Code: "unreadable", Message: "is a directory",
				Hint: "give the CSV files inside it, or a pattern like dir/*.csv", Err: err}
		case errors.As(err, &nr):
			return nil, &FileError{File: path, Code: CodeNotRegular,
				Message: "is " + cancelio.Kind(nr.Mode) + ", not a regular file: reading it could wait forever, so it is not read",
				Hint:    "move it out of the input folder, or read it on purpose: with --allow-special-files, or as standard input (give - as the file and \"< FILE\" to the shell)", Err: err}
		case ctx.Err() != nil:
			return nil, &FileError{File: path, Code: "unreadable", Message: "not opened: " + ctx.Err().Error(), Err: err}
		}
		return nil, &FileError{File: path, Code: "unreadable", Message: "cannot open: " + causeText(err),
			Hint: "check the file name and that you may read it", Err: err}
	}
	cr := cancelio.NewReader(ctx, f)
	r, err := newReader(cr, path, corporate)
	if err != nil {
		cr.Close()
		f.Close()
		return nil, err
	}
	r.closer = multiCloser{cr, f}
	return r, nil
}

// NewReaderContext is NewReader whose reads of r end as soon as ctx is done, also when
// a read blocks (standard input from a terminal or a pipe that never ends); the error is
// then a *FileError that wraps ctx.Err(). Close releases the context watcher; it does
// not close r.
func NewReaderContext(ctx context.Context, r io.Reader, name string) (*Reader, error) {
	return newReaderContext(ctx, r, name, false)
}

func newReaderContext(ctx context.Context, r io.Reader, name string, corporate bool) (*Reader, error) {
	cr := cancelio.NewReader(ctx, r)
	rd, err := newReader(cr, name, corporate)
	if err != nil {
		cr.Close()
		return nil, err
	}
	rd.closer = cr
	return rd, nil
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
