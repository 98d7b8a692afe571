package graph

import (
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound       = errors.New("not found")
	ErrSyncTooSoon    = errors.New("sync called within 10 minutes of the previous sync")
	ErrSyncInProgress = errors.New("a sync is already in progress")
)

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

// IsAuth reports whether err is an authentication or permission failure: a 401/403
// answer, or the credential failing to get a token (a secret revoked or expired
// mid-run), which no retry fixes.
func IsAuth(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) && (ae.StatusCode == 401 || ae.StatusCode == 403) {
		return true
	}
	var afe *azidentity.AuthenticationFailedError
	var are *azidentity.AuthenticationRequiredError
	return errors.As(err, &afe) || errors.As(err, &are)
}
