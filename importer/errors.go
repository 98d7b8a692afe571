package importer

import (
	"errors"
	"fmt"
	"time"
)

// The error contract between a Service (package graph) and its callers. A Service
// wraps every failure it returns so that errors.Is matches one of these classes;
// cmd/apimport maps them to exit codes and hints in one place. No caller matches
// error text.
var (
	// ErrNotFound: the resource does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrSyncTooSoon: the sync was called within 10 minutes of the previous one.
	ErrSyncTooSoon = errors.New("sync called within 10 minutes of the previous sync")
	// ErrSyncInProgress: a sync is already running (409).
	ErrSyncInProgress = errors.New("a sync is already in progress")

	// ErrCredential: the authority or Graph refused the credentials (bad secret or
	// certificate, unknown client, expired or revoked secret, 401).
	ErrCredential = errors.New("credentials rejected")
	// ErrPermission: the token lacks a permission the call needs (403, missing role).
	ErrPermission = errors.New("permission missing")
	// ErrCredentialUnavailable: the chosen credential cannot work here (az not
	// installed or not logged in, no managed identity endpoint, no federated token file).
	ErrCredentialUnavailable = errors.New("credential unavailable")
	// ErrNetwork: a host could not be reached (DNS, connection refused, timeout, proxy).
	ErrNetwork = errors.New("network failure")
	// ErrTLS: the TLS handshake with a host failed (unknown authority: a TLS-inspecting
	// proxy without --ca-file, expired or mismatched certificate).
	ErrTLS = errors.New("TLS failure")
	// ErrThrottled: the service kept answering 429 beyond the retry budget.
	ErrThrottled = errors.New("throttled")
	// ErrConfig: a setting is unusable (a malformed URL, an unreadable CA file).
	ErrConfig = errors.New("invalid configuration")

	// ErrInterrupted wraps the context error when a run is cancelled.
	ErrInterrupted = errors.New("interrupted")
	// ErrJournalLocked: another run holds the journal.
	ErrJournalLocked = errors.New("journal is locked by another run")
	// ErrJournalTenant: the journal belongs to another tenant or cloud.
	ErrJournalTenant = errors.New("journal belongs to another tenant")
	// ErrJournalWrite: the journal could not be written; the run stops.
	ErrJournalWrite = errors.New("journal write failed")
	// ErrLocal: a local file the run needs (the hashes' spill file) failed; the run
	// stops before sending anything more.
	ErrLocal = errors.New("local file failure")
)

// IsAuth reports whether err is an authentication or permission failure, which no
// retry fixes: the run stops.
func IsAuth(err error) bool {
	return errors.Is(err, ErrCredential) || errors.Is(err, ErrPermission) || errors.Is(err, ErrCredentialUnavailable)
}

// HostError is a network or TLS failure with the host it happened with.
type HostError struct {
	Host  string // host[:port] of the authority or Graph
	Class error  // ErrNetwork or ErrTLS
	Err   error  // the underlying error
}

func (e *HostError) Error() string { return e.Host + ": " + e.Err.Error() }

// Unwrap makes errors.Is match the class and the cause.
func (e *HostError) Unwrap() []error { return []error{e.Class, e.Err} }

// APIError is a Graph error response, parsed nil-safely (an error body of "{}" is fine).
type APIError struct {
	StatusCode      int
	Code            string // error.code
	Message         string // error.message; when Intune nested a JSON document there, its "Message"
	RequestID       string // innerError.request-id
	ClientRequestID string
	RetryAfter      time.Duration // from the Retry-After header, 0 when absent
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error message"
	}
	s := fmt.Sprintf("graph: HTTP %d", e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	s += ": " + msg
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

// Is classifies the answer: 401 is ErrCredential, 403 ErrPermission, 404 ErrNotFound,
// 429 ErrThrottled.
func (e *APIError) Is(target error) bool {
	switch e.StatusCode {
	case 401:
		return target == ErrCredential
	case 403:
		return target == ErrPermission
	case 404:
		return target == ErrNotFound
	case 429:
		return target == ErrThrottled
	}
	return false
}
