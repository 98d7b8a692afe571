package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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
	return tok, classifyCredentialError(err, c.tr.last())
}

// classifyCredentialError maps an azidentity error (and the transport failure seen
// while it was produced, if any) to the error contract.
func classifyCredentialError(err error, transportErr *importer.HostError) error {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if afe.RawResponse.StatusCode >= 500 {
			return &importer.HostError{Host: afe.RawResponse.Request.URL.Host, Class: importer.ErrNetwork, Err: err}
		}
		return fmt.Errorf("%w: %w", importer.ErrCredential, err)
	}
	if transportErr != nil {
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
type recordingTransport struct {
	base policy.Transporter
	mu   sync.Mutex
	err  *importer.HostError
}

func (t *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.base.Do(req)
	if err != nil && req.Context().Err() == nil {
		he := classifyTransportError(req.URL.Host, err)
		t.mu.Lock()
		t.err = he
		t.mu.Unlock()
	}
	return resp, err
}

func (t *recordingTransport) reset() {
	t.mu.Lock()
	t.err = nil
	t.mu.Unlock()
}

func (t *recordingTransport) last() *importer.HostError {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// classifyTransportError tells a TLS failure from any other failure to reach host.
func classifyTransportError(host string, err error) *importer.HostError {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &ae) {
		return &importer.HostError{Host: host, Class: importer.ErrTLS, Err: err}
	}
	return &importer.HostError{Host: host, Class: importer.ErrNetwork, Err: err}
}
