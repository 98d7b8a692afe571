package graph

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/apimport/apimport/importer"
)

// classifiedCredential wraps an azidentity credential so that every failure to get a
// token matches one class of the importer error contract (errors.Is): ErrCredential
// when the authority refused the credentials, ErrCredentialUnavailable when the
// credential cannot work here (az missing, no managed identity), and a HostError of
// class ErrNetwork or ErrTLS when the authority could not be reached. azidentity does
// not wrap transport errors (it keeps only their text), so the credential's own
// transport records the last one; nothing here reads error text.
type classifiedCredential struct {
	cred azcore.TokenCredential
	tr   *recordingTransport
}

func (c *classifiedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.tr.reset()
	tok, err := c.cred.GetToken(ctx, opts)
	if err == nil || ctx.Err() != nil {
		return tok, err
	}
	return tok, classifyCredentialError(err, c.tr.last(), c.tr.unreachableIsUnavailable)
}

// classifyCredentialError maps an azidentity error (and the transport failure seen
// while it was produced, if any) to the error contract.
func classifyCredentialError(err error, transportErr *importer.HostError, unreachableIsUnavailable bool) error {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if afe.RawResponse.StatusCode >= 500 {
			return &importer.HostError{Host: afe.RawResponse.Request.URL.Host, Class: importer.ErrNetwork, Err: err}
		}
		if rejected := authorityRejection(afe.RawResponse); rejected != nil {
			return rejected
		}
		return fmt.Errorf("%w: %w", importer.ErrCredential, err)
	}
	if transportErr != nil {
		if unreachableIsUnavailable {
			return fmt.Errorf("%w: no managed identity endpoint answered at %s (not on Azure?): %w",
				importer.ErrCredentialUnavailable, transportErr.Host, err)
		}
		return &importer.HostError{Host: transportErr.Host, Class: transportErr.Class, Err: err}
	}
	var are *azidentity.AuthenticationRequiredError
	if errors.As(err, &are) {
		return fmt.Errorf("%w: %w", importer.ErrCredential, err)
	}
	if errors.As(err, &afe) {
		return fmt.Errorf("%w: %w", importer.ErrCredential, err)
	}
	// azidentity's credentialUnavailableError (az not found, no IMDS, no token file)
	// is unexported; it is the only other non-retriable error it returns.
	var nr interface{ NonRetriable() }
	if errors.As(err, &nr) {
		return fmt.Errorf("%w: %w", importer.ErrCredentialUnavailable, err)
	}
	return fmt.Errorf("%w: %w", importer.ErrCredential, err)
}

// recordingTransport is the credential's HTTP transport: it remembers the last
// network or TLS failure, classified, for classifiedCredential.
//
// It also bounds azcore's retries of failures no retry fixes: a TLS failure and a
// refused redirect are final at once, and a connection that could not be made (refused, unknown name)
// is retried once, then final (managed identity's IMDS policy would otherwise
// retry an absent endpoint for more than a minute).
type recordingTransport struct {
	base policy.Transporter
	// unreachableIsUnavailable: a network failure means the credential cannot
	// work here (managed identity off Azure), not that a host is down.
	unreachableIsUnavailable bool
	// plainHost is the host:port of an http:// loopback authority (a rehearsal
	// stand-in): requests to https://plainHost go out as http, and the https form
	// replaces http://plainHost in its OpenID configuration, whose issuer MSAL
	// compares with the authority it was given.
	plainHost string

	mu           sync.Mutex
	err          *importer.HostError
	dialFailures int
}

func (t *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	plain := t.plainHost != "" && req.URL.Scheme == "https" && strings.EqualFold(req.URL.Host, t.plainHost)
	if plain {
		req = req.Clone(req.Context())
		req.URL.Scheme = "http"
	}
	resp, err := t.base.Do(req)
	if plain && err == nil && strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		resp, err = upgradeDiscovery(resp, t.plainHost)
	}
	if err != nil && req.Context().Err() == nil {
		he := classifyTransportError(req.URL.Host, err)
		t.mu.Lock()
		t.err = he
		var re *RedirectError
		final := he.Class == importer.ErrTLS || errors.As(err, &re)
		if notSent(err) {
			t.dialFailures++
			final = final || t.dialFailures > 1
		}
		t.mu.Unlock()
		if final {
			return resp, nonRetriable{err}
		}
	}
	return resp, err
}

// nonRetriable tells azcore's retry policy to stop (errorinfo.NonRetriable).
type nonRetriable struct{ error }

func (e nonRetriable) NonRetriable() {}
func (e nonRetriable) Unwrap() error { return e.error }

func (t *recordingTransport) reset() {
	t.mu.Lock()
	t.err = nil
	t.dialFailures = 0
	t.mu.Unlock()
}

func (t *recordingTransport) last() *importer.HostError {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// classifyTransportError tells a TLS failure from any other failure to reach host.
// An error that already is a *importer.HostError keeps its class.
func classifyTransportError(host string, err error) *importer.HostError {
	var prev *importer.HostError
	if errors.As(err, &prev) {
		return prev
	}
	if isTLSError(err) {
		return &importer.HostError{Host: host, Class: importer.ErrTLS, Err: err}
	}
	return &importer.HostError{Host: host, Class: importer.ErrNetwork, Err: err}
}

// isTLSError reports a failed TLS handshake, by the typed errors crypto/tls and
// crypto/x509 return (never by text).
func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &ae)
}

// hasClass reports whether err already matches a class of the error contract.
func hasClass(err error) bool {
	for _, c := range []error{importer.ErrConfig, importer.ErrCredential, importer.ErrPermission,
		importer.ErrCredentialUnavailable, importer.ErrNetwork, importer.ErrTLS, importer.ErrThrottled} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// upgradeDiscovery rewrites http://host to https://host in an OpenID configuration
// served by a plain-http loopback authority (only that host, only that document).
func upgradeDiscovery(resp *http.Response, host string) (*http.Response, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte("http://"+host), []byte("https://"+host))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// rejectionError is the authority's refusal in its own short words (the AADSTS code
// and the first sentence of its description) instead of azidentity's whole dump.
type rejectionError struct {
	msg string
	err error
}

func (e *rejectionError) Error() string   { return e.msg }
func (e *rejectionError) Unwrap() []error { return []error{importer.ErrCredential, e.err} }

// authorityRejection reads an Entra ID error answer ({"error", "error_description"});
// nil when the body is not one.
func authorityRejection(resp *http.Response) error {
	body, err := runtime.Payload(resp)
	if err != nil || len(body) == 0 {
		return nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return nil
	}
	desc, _, _ := strings.Cut(e.Description, "\r\n")
	desc, _, _ = strings.Cut(desc, "\n")
	if len(desc) > 300 {
		desc = desc[:300] + "…"
	}
	msg := "the authority refused the credentials (" + e.Error + ")"
	if desc != "" {
		msg += ": " + desc
	}
	if strings.HasPrefix(desc, "AADSTS7000215") {
		msg += " (give the secret's value, not its ID)"
	}
	return &rejectionError{msg: msg, err: fmt.Errorf("HTTP %d from %s", resp.StatusCode, resp.Request.URL.Host)}
}
