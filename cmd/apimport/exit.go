package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/apimport/apimport/importer"
)

// Exit codes: the contract for scripts and schedulers (documented in -h and README).
const (
	exitOK          = 0   // every row valid / registered
	exitFatal       = 1   // a file unreadable or not an import file, a network or TLS failure, bug
	exitUsage       = 2   // bad flags, arguments or settings (URL, CA file, another tenant's journal)
	exitRows        = 3   // finished, but some rows invalid, in conflict, rejected or timed out
	exitAuth        = 4   // credentials rejected, permission missing, credential unavailable here
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

// Hints for the classes of the importer error contract.
const (
	hintCredential  = "check --tenant-id, --client-id and the secret or certificate (an expired secret is rejected too)"
	hintPermission  = "in Entra ID: App registrations > API permissions > add the Microsoft Graph application permission named above and grant admin consent"
	hintUnavailable = "this --auth mode cannot work here: azure-cli needs the az CLI installed and 'az login'; managed-identity and workload-identity work only on Azure with an identity assigned"
	hintConfig      = "check --authority-url, --graph-url and --ca-file (https URLs; http only for 127.0.0.1/localhost rehearsals; a PEM CA file)"
	hintThrottled   = "the service kept throttling beyond the retry budget; run the same command again later"
	hintTenant      = "each tenant has its own journal: omit --journal to use the tenant's default, or name the journal of this tenant"
	hintLocked      = "another run uses this journal; wait for it or use a different --journal"
)

// classify is the one place that maps an error to its exit code and hint, by the
// importer error contract (errors.Is/As), never by its text.
func classify(err error) (code int, hint string) {
	var ee *exitError
	var he *importer.HostError
	switch {
	case err == nil:
		return exitOK, ""
	case errors.As(err, &ee):
		return ee.code, ee.hint
	case errors.Is(err, context.Canceled), errors.Is(err, importer.ErrInterrupted):
		return exitInterrupted, ""
	case errors.Is(err, importer.ErrConfig):
		return exitUsage, hintConfig
	case errors.Is(err, importer.ErrJournalTenant):
		return exitUsage, hintTenant
	case errors.Is(err, importer.ErrJournalLocked):
		return exitFatal, hintLocked
	case errors.As(err, &he) && errors.Is(he.Class, importer.ErrTLS):
		return exitFatal, "the TLS handshake with " + he.Host + " failed: behind a TLS-inspecting proxy, pass its CA certificate with --ca-file; check the system clock"
	case errors.As(err, &he):
		return exitFatal, he.Host + " could not be reached: check the network, DNS, firewall and proxy settings (HTTPS_PROXY, NO_PROXY)"
	case errors.Is(err, importer.ErrPermission):
		return exitAuth, hintPermission
	case errors.Is(err, importer.ErrCredentialUnavailable):
		return exitAuth, hintUnavailable
	case errors.Is(err, importer.ErrCredential):
		return exitAuth, hintCredential
	case errors.Is(err, importer.ErrThrottled):
		return exitFatal, hintThrottled
	}
	return exitFatal, ""
}

// codeOf maps an error to an exit code.
func codeOf(err error) int {
	code, _ := classify(err)
	return code
}
