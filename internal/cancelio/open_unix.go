//go:build unix

package cancelio

import (
	"os"
	"syscall"
)

// openNoBlock opens path with O_NONBLOCK, so that a FIFO (swapped in after the type
// check) does not wait for a writer; for a regular file the flag changes nothing.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
