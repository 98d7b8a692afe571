package main

import (
	"errors"
	"fmt"
)

// Exit codes: the contract for scripts and schedulers (documented in -h and README).
const (
	exitOK          = 0   // every row valid / registered
	exitFatal       = 1   // a file unreadable or not an import file, Graph unreachable, bug
	exitUsage       = 2   // bad flags or arguments
	exitRows        = 3   // finished, but some rows invalid, in conflict, rejected or timed out
	exitAuth        = 4   // authentication or permission failure
	exitInterrupted = 130 // SIGINT/SIGTERM
)

// exitError carries an exit code up to run; the message (if any) is already printed
// unless msg is set.
type exitError struct {
	code int
	msg  string
	hint string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, a...)}
}

// codeOf maps an error to an exit code.
func codeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFatal
}
