package graph

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/digits"
)

// AmbiguousError reports a write whose outcome is unknown: the request may or may
// not have been processed (a 5xx answer, a dropped connection or a timeout after
// the request was sent). The client never retries such a write; the caller must
// reconcile (for imports: list the import records) before sending it again.
type AmbiguousError struct {
	Op  string // "import", "update device", …
	Err error
}

// Error names the operation and says the outcome is unknown.
func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s: outcome unknown, the request may have been processed: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error (an *APIError or a transport error).
func (e *AmbiguousError) Unwrap() error { return e.Err }

// IsAmbiguous reports whether err is (or wraps) an *AmbiguousError.
func IsAmbiguous(err error) bool {
	var ae *AmbiguousError
	return errors.As(err, &ae)
}

// counters are the Stats of one Client, shared by the transport and the client.
type counters struct {
	requests, writes, throttled, retries atomic.Int64
}

func (c *counters) snapshot() importer.Stats {
	return importer.Stats{Requests: int(c.requests.Load()), Writes: int(c.writes.Load()),
		Throttled: int(c.throttled.Load()), Retries: int(c.retries.Load())}
}

// callOpts travel in the request context from a Client method to the transport.
type callOpts struct {
	weight     int  // requests this HTTP request stands for ($batch: its items); 0 = 1
	writes     int  // writes among them, used when batch is set
	batch      bool // weight and writes are explicit (a $batch POST is not itself a write)
	noRetry    bool // send once, never retry, never pause the budget (sync)
	idempotent bool // safe to resend even though the method is POST ($batch of GETs)
	trace      *callTrace
}

// callTrace records, for one client call, whether a request left this machine
// and the last status seen, so a failed write can be classified as ambiguous.
type callTrace struct {
	mu     sync.Mutex
	sent   bool // some attempt reached the network (not a dial failure)
	status int  // status of the last answered attempt; 0 = none (dropped, timed out)
}

func (t *callTrace) record(status int, sent bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sent {
		t.sent = true
		t.status = status
	}
}

// ambiguous reports whether the call's outcome is unknown: a request was sent
// and the last attempt got no answer, a 5xx, or a 2xx that could not be read.
func (t *callTrace) ambiguous() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent && (t.status == 0 || t.status >= 500 || t.status < 300)
}

type callOptsKey struct{}

func withCallOpts(ctx context.Context, o callOpts) context.Context {
	return context.WithValue(ctx, callOptsKey{}, o)
}

func callOptsFrom(ctx context.Context) callOpts {
	if o, ok := ctx.Value(callOptsKey{}).(callOpts); ok {
		return o
	}
	return callOpts{}
}

func isWriteMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func isIdempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodPut:
		return true
	}
	return false
}

// newBaseTransport returns an *http.Transport honouring HTTPS_PROXY/NO_PROXY that
// trusts the system roots plus, when caFile is set, the PEM certificates in it
// (a TLS-inspecting proxy's CA, or the emulator's).
//
// Connecting gives up after dialTimeout (http.DefaultTransport waits 30 s), so a
// host behind a firewall that drops packets is reported in seconds, not minutes.
func newBaseTransport(caFile string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.ForceAttemptHTTP2 = true
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	if caFile != "" {
		pool, err := certPoolWith(caFile)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// dialTimeout bounds one TCP connect (DNS included).
const dialTimeout = 10 * time.Second

// certPoolWith returns the system roots plus the PEM certificates in caFile. Its
// errors match importer.ErrConfig (an unusable --ca-file is a usage error).
func certPoolWith(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: reading CA file: %w", importer.ErrConfig, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s: no PEM certificate found", importer.ErrConfig, caFile)
	}
	return pool, nil
}

// retryTransport is the single throttle and retry layer: every HTTP request the
// SDK sends passes through it, below the kiota middleware (so it sees the final,
// gzip-compressed body, which it buffers once and replays byte for byte).
type retryTransport struct {
	base   http.RoundTripper
	lim    *limiter
	policy RetryPolicy
	stats  *counters
	log    *slog.Logger
	// reached is set once the host has answered any request (see ConnectRetries).
	reached atomic.Bool
	// now is the clock (tests replace it); nil means time.Now.
	clock func() time.Time
	// token, when set, returns a fresh bearer token. A 401 answer to a request that
	// carried one (a token that expired while the request waited for budget or a
	// Retry-After) is resent once with a fresh token: the service refused it before
	// processing anything, so even a write is safe to resend.
	token func(ctx context.Context) (string, error)
}

func (t *retryTransport) now() time.Time {
	if t.clock != nil {
		return t.clock()
	}
	return time.Now()
}

// RoundTrip sends req under the budget, retrying per the policy (see Client).
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	o := callOptsFrom(ctx)
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
		body = b
	}
	n := max(o.weight, 1)
	w := 0
	switch {
	case o.batch:
		w = o.writes
	case isWriteMethod(req.Method):
		w = n
	}
	idempotent := o.idempotent || isIdempotentMethod(req.Method)
	reauthed := false
	start := t.now()
	connectFailures := 0

	for attempt := 0; ; attempt++ {
		if err := t.lim.acquire(ctx, n, w); err != nil {
			return nil, err
		}
		resp, err := t.attempt(ctx, req, body, n, w, attempt)
		retriesLeft := !o.noRetry && attempt < t.policy.MaxRetries
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			// Every network failure leaves as a *importer.HostError naming the host
			// (class ErrNetwork or ErrTLS).
			he := classifyTransportError(req.URL.Host, err)
			sent := !notSent(err)
			if !idempotent && sent {
				return nil, &AmbiguousError{Op: req.Method + " " + redactURL(req), Err: he}
			}
			if !retriesLeft || he.Class == importer.ErrTLS {
				return nil, he
			}
			wait := t.policy.backoff(attempt)
			if !sent && !t.reached.Load() {
				// Nothing answered yet from this host (the pre-flight, or a wrong
				// --graph-url): a refused connection or an unknown name is reported
				// after ConnectRetries quick tries within NetworkDeadline, not after
				// minutes of backoff. Once the host has answered, a connect failure
				// is a blip and gets the normal policy.
				connectFailures++
				wait = t.policy.ConnectDelay
				if connectFailures > t.policy.ConnectRetries || t.now().Add(wait).Sub(start) > t.policy.NetworkDeadline {
					return nil, he
				}
			}
			t.stats.retries.Add(1)
			if err := sleepCtx(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		t.reached.Store(true)
		ra, hasRA := retryAfter(resp.Header)
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			if reauthed || t.token == nil || !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
				return resp, nil
			}
			tok, err := t.token(ctx)
			if err != nil || tok == "" {
				return resp, nil // the 401 says more than the credential's error
			}
			drain(resp)
			reauthed = true
			req = req.Clone(ctx)
			req.Header.Set("Authorization", "Bearer "+tok)
		case resp.StatusCode == http.StatusTooManyRequests:
			t.stats.throttled.Add(1)
			// Not processed by the service: always safe to resend, writes included.
			if !retriesLeft || (hasRA && ra > t.policy.MaxRetryAfter) {
				if hasRA && !o.noRetry && ra <= t.policy.MaxRetryAfter {
					// Retries are spent, but the Retry-After is still honoured: the
					// next request of any caller (the engine re-queuing this one
					// included) waits it out. A longer one is the caller's to judge
					// (the engine gives up on the chunk rather than block past --wait).
					t.lim.pause(ra)
				}
				return resp, nil
			}
			d := ra
			if !hasRA {
				d = t.policy.backoff(attempt)
			}
			t.lim.pause(d) // throttling is per app: everybody waits
			drain(resp)
		case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusBadGateway,
			resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
			if !idempotent || !retriesLeft || (hasRA && ra > t.policy.MaxRetryAfter) {
				return resp, nil
			}
			drain(resp)
			if hasRA && resp.StatusCode == http.StatusServiceUnavailable {
				t.lim.pause(ra)
			} else {
				d := ra
				if !hasRA {
					d = t.policy.backoff(attempt)
				}
				if err := sleepCtx(ctx, d); err != nil {
					return nil, err
				}
			}
		default:
			return resp, nil
		}
		t.stats.retries.Add(1)
	}
}

// attempt sends one copy of req with a fresh body reader and a per-attempt timeout.
func (t *retryTransport) attempt(ctx context.Context, req *http.Request, body []byte, n, w, attempt int) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.policy.AttemptTimeout)
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	t.stats.requests.Add(int64(n))
	t.stats.writes.Add(int64(w))
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	t.logAttempt(r, resp, err, time.Since(start), attempt)
	trace := callOptsFrom(ctx).trace
	if err != nil {
		cancel()
		trace.record(0, !notSent(err))
		return nil, err
	}
	trace.record(resp.StatusCode, true)
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func (t *retryTransport) logAttempt(r *http.Request, resp *http.Response, err error, d time.Duration, attempt int) {
	if t.log == nil || !t.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("url", redactURL(r)),
		slog.Duration("duration", d),
		slog.Int("attempt", attempt),
	}
	if r.Header.Get("Authorization") != "" {
		attrs = append(attrs, slog.String("authorization", "[REDACTED]"))
	}
	if v := r.Header.Get("client-request-id"); v != "" {
		attrs = append(attrs, slog.String("client_request_id", v))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
		if v := resp.Header.Get("request-id"); v != "" {
			attrs = append(attrs, slog.String("request_id", v))
		}
		if v := resp.Header.Get("Retry-After"); v != "" {
			attrs = append(attrs, slog.String("retry_after", v))
		}
	}
	t.log.LogAttrs(r.Context(), slog.LevelDebug, "graph request", attrs...)
}

// DebugLogger returns a debug-level logger writing text records to w when the
// comma-separated value of APIMPORT_DEBUG (passed as debugEnv) includes "api",
// else nil. Use it as ClientConfig.Logger. Records never hold bodies or tokens.
func DebugLogger(debugEnv string, w io.Writer) *slog.Logger {
	for _, v := range strings.Split(debugEnv, ",") {
		if strings.EqualFold(strings.TrimSpace(v), "api") {
			return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	return nil
}

// redactURL returns the request URL without userinfo (bodies and headers are never logged).
func redactURL(r *http.Request) string {
	if r.URL == nil {
		return ""
	}
	u := *r.URL
	u.User = nil
	return u.String()
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// retryAfter parses the Retry-After header (see parseRetryAfter) against the clock.
func retryAfter(h http.Header) (time.Duration, bool) {
	return parseRetryAfter(h.Get("Retry-After"), time.Now())
}

// maxRetryAfterValue is the ceiling of a parsed Retry-After: far above any
// RetryPolicy.MaxRetryAfter, so a huge value is returned to the caller as "too
// long to wait", never wrapped into a negative or overflowing duration.
const maxRetryAfterValue = 24 * time.Hour

// parseRetryAfter reads a Retry-After value per RFC 9110 §10.2.3: delay-seconds
// (1*DIGIT; a decimal fraction is tolerated) or an HTTP-date (IMF-fixdate, or the
// obsolete RFC 850 and asctime forms). ok is false for an absent or malformed
// value — a sign, an exponent, "Inf", "NaN", garbage — which the caller treats as
// no header (its own backoff applies). A date in the past is 0; anything above
// maxRetryAfterValue is clamped to it. The result is never negative.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if digits.Decimal(v) { // DIGITS or DIGITS "." DIGITS
		s, err := strconv.ParseFloat(v, 64)
		if err != nil { // only a value too large for float64 fails here
			return maxRetryAfterValue, true
		}
		if s >= maxRetryAfterValue.Seconds() {
			return maxRetryAfterValue, true
		}
		return time.Duration(s * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now) // saturates instead of overflowing
	return min(max(d, 0), maxRetryAfterValue), true
}

// notSent reports whether err happened before the request left this machine
// (dialing failed), so even a POST can be resent safely.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || isTLSError(err) // a failed handshake sent nothing
}
