//go:build !unix

package cancelio

import "os"

// openNoBlock opens path; opening a named pipe on Windows does not wait for a writer.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }
