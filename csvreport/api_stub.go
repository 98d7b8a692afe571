package csvreport

import "io"

// TEMPORARY stubs so that other packages compile while csvreport is written.
// The csvreport implementer replaces this file with the real code (same signatures).

// Reader streams rows of one file.
type Reader struct{}

// Open opens path and detects encoding and layout. A file that is not an import file
// returns a *FileError.
func Open(path string) (*Reader, error) {
	return nil, &FileError{File: path, Code: "unreadable", Message: "not implemented"}
}

// NewReader reads from r; name is used as Row.File.
func NewReader(r io.Reader, name string) (*Reader, error) {
	return nil, &FileError{File: name, Code: "unreadable", Message: "not implemented"}
}

// Next returns the next data row, or io.EOF. Header lines repeated mid-file are skipped
// (they are not data rows). An error other than io.EOF is a *FileError.
func (r *Reader) Next() (Row, error) { return Row{}, io.EOF }

// Format returns what was detected.
func (r *Reader) Format() Format { return Format{} }

// Notes returns file-level remarks gathered so far.
func (r *Reader) Notes() []Note { return nil }

// Close closes the underlying file when Open opened it.
func (r *Reader) Close() error { return nil }

// ExpandArgs expands glob patterns (Windows shells do not) and rejects patterns that
// match nothing, keeping argument order and dropping repeats.
func ExpandArgs(args []string) ([]string, error) { return args, nil }
