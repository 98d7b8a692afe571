package graph

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/apimport/apimport/importer"
)

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// permissionToken is a JWT carrying RequiredPermission (Preflight decodes it).
var permissionToken = jwt(map[string]any{"tid": "T", "appid": "A", "roles": []string{RequiredPermission}})

func TestRetryAfterRFC9110(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{"-Inf", 0, false},
		{"infinity", 0, false},
		{"NaN", 0, false},
		{"-3", 0, false},
		{"+5", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"5s", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"soon", 0, false},
		{"9223372036", maxRetryAfterValue, true}, // just above int64 nanoseconds
		{"99999999999999999999999999999999", maxRetryAfterValue, true}, // would wrap to a negative duration
		{strings.Repeat("9", 400), maxRetryAfterValue, true},           // beyond float64
		{"Sun, 29 Nov 2026 12:01:30 GMT", 90 * time.Second, true},      // IMF-fixdate
		{"Sunday, 29-Nov-26 12:00:10 GMT", 10 * time.Second, true},     // obsolete RFC 850
		{"Sun Nov 29 12:00:05 2026", 5 * time.Second, true},            // obsolete asctime
		{"Sun, 29 Nov 2026 11:00:00 GMT", 0, true},                     // in the past
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfterValue, true},    // far future
		{"Sun, 29 Nov 2026 12:01:30 +0100", 0, false},                  // not an HTTP-date
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
			if got < 0 {
				t.Errorf("negative duration %v", got)
			}
		})
	}
}

// TestHostileRetryAfter: a 429 whose Retry-After is garbage is retried after the
// client's own backoff (not at once, not never); a huge one is returned at once as
// ErrThrottled with the clamped wait, without a retry storm.
func TestHostileRetryAfter(t *testing.T) {
	for _, v := range []string{"Inf", "-1", "NaN", "1e9", "garbage"} {
		t.Run(v, func(t *testing.T) {
			var times []time.Time
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				times = append(times, time.Now())
				if n == 1 {
					w.Header().Set("Retry-After", v)
					writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "later"}})
					return
				}
				writeJSON(w, 200, importedJSON("a", "S", "complete"))
			})
			c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) {
				cfg.Retry = RetryPolicy{BaseDelay: 50 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
			})
			if _, err := c.GetImported(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			if len(times) != 2 {
				t.Fatalf("%d requests, want 2", len(times))
			}
			c.lim.mu.Lock()
			paused := c.lim.pausedUntil
			c.lim.mu.Unlock()
			// full jitter may pick 0, so the proof is the pause set from the backoff,
			// not the gap: it must lie within the backoff ceiling, never in the past
			// by more than that, never a year away.
			if d := paused.Sub(times[0]); paused.IsZero() || d < 0 || d > time.Second {
				t.Errorf("pause after Retry-After %q: until %v (%v after the 429)", v, paused, d)
			}
		})
	}
	for _, v := range []string{"99999999999999999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		t.Run(v, func(t *testing.T) {
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				w.Header().Set("Retry-After", v)
				writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "later"}})
			})
			c, _ := newTestClient(t, srv.URL, nil)
			_, err := c.GetImported(context.Background(), "a")
			var ae *importer.APIError
			if !errors.As(err, &ae) || ae.RetryAfter != maxRetryAfterValue {
				t.Fatalf("err = %v, want an APIError with RetryAfter clamped to %v", err, maxRetryAfterValue)
			}
			assertOneClass(t, err, importer.ErrThrottled)
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (a wait beyond MaxRetryAfter is the caller's)", n)
			}
		})
	}
}

// TestUnreachableGraphFailsFast: with the default policy, a Graph URL where
// nothing listens is reported within seconds as a HostError of class ErrNetwork
// naming the host, after ConnectRetries quick tries (it used to take ~61 s).
func TestUnreachableGraphFailsFast(t *testing.T) {
	addr := closedPort(t)
	c, err := NewClient(&stubCred{token: permissionToken}, ClientConfig{GraphURL: "https://" + addr + "/",
		Retry: RetryPolicy{ConnectDelay: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Preflight(context.Background())
	elapsed := time.Since(start)
	var he *importer.HostError
	if !errors.As(err, &he) || he.Host != addr {
		t.Fatalf("err = %v, want a HostError for %s", err, addr)
	}
	assertOneClass(t, err, importer.ErrNetwork)
	if st := c.Stats(); st.Requests != 3 || st.Retries != 2 {
		t.Errorf("stats = %+v, want 3 attempts (ConnectRetries 2)", st)
	}
	if elapsed > 5*time.Second {
		t.Errorf("reported after %v", elapsed)
	}
	t.Logf("unreachable Graph reported after %v: %v", elapsed, err)

	// A write that never left the machine is not ambiguous, and has the same class.
	_, err = c.Import(context.Background(), []importer.ImportItem{{Serial: "S", Hardware: []byte{1}}})
	if IsAmbiguous(err) {
		t.Errorf("refused connection reported ambiguous: %v", err)
	}
	assertOneClass(t, err, importer.ErrNetwork)
}

// TestConnectFailurePolicy: before the host ever answered, connect failures stop
// at ConnectRetries and at NetworkDeadline (checked on a fake clock); after it
// answered, they get the normal MaxRetries.
func TestConnectFailurePolicy(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c, _ := newTestClient(t, "http://"+closedPort(t), func(cfg *ClientConfig) {
			cfg.Retry.ConnectRetries = 100
			cfg.Retry.ConnectDelay = time.Millisecond
			cfg.Retry.NetworkDeadline = 10 * time.Second
		})
		var now atomic.Int64
		base := time.Now()
		c.rt.clock = func() time.Time { return base.Add(time.Duration(now.Add(int64(6 * time.Second)))) } // 6 s per look
		_, err := c.GetImported(context.Background(), "a")
		assertOneClass(t, err, importer.ErrNetwork)
		if st := c.Stats(); st.Requests != 2 {
			t.Errorf("%d attempts, want 2 (the third would start 12 s after the first, past the 10 s deadline)", st.Requests)
		}
	})
	t.Run("after the host answered", func(t *testing.T) {
		srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
			writeJSON(w, 200, importedJSON("a", "S", "complete"))
		})
		c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) {
			cfg.Retry.ConnectRetries = -1
			cfg.Retry.MaxRetries = 3
		})
		if _, err := c.GetImported(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		_, err := c.GetImported(context.Background(), "a")
		assertOneClass(t, err, importer.ErrNetwork)
		if st := c.Stats(); st.Requests != 1+4 {
			t.Errorf("%d attempts after the host had answered, want 4 (MaxRetries 3)", st.Requests-1)
		}
	})
}

// TestGraphErrorClasses: every failure of a Client call matches exactly one class.
func TestGraphErrorClasses(t *testing.T) {
	answer := func(status int) func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		return func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, status, map[string]any{"error": map[string]any{"code": "x", "message": "y"}})
		}
	}
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, body []byte, n int)
		credErr error
		want    error
	}{
		{"401", answer(401), nil, importer.ErrCredential},
		{"403", answer(403), nil, importer.ErrPermission},
		{"429 beyond retries", answer(429), nil, importer.ErrThrottled},
		{"token refused", nil, fmt.Errorf("%w: AADSTS7000215", importer.ErrCredential), importer.ErrCredential},
		{"authority unreachable", nil, &importer.HostError{Host: "login.example", Class: importer.ErrNetwork, Err: errors.New("refused")}, importer.ErrNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.handler
			if h == nil {
				h = func(w http.ResponseWriter, r *http.Request, body []byte, n int) { t.Error("request sent") }
			}
			srv := newStub(t, h)
			c, cred := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.Retry.MaxRetries = 1 })
			cred.err = tt.credErr
			_, err := c.GetImported(context.Background(), "a")
			assertOneClass(t, err, tt.want)
			_, err = c.Import(context.Background(), []importer.ImportItem{{Serial: "S", Hardware: []byte{1}}})
			assertOneClass(t, err, tt.want)
		})
	}
}

// TestGraphTLSFailure: a Graph certificate nobody vouches for (a TLS-inspecting
// proxy without --ca-file) is ErrTLS naming the host, not retried, and a write
// that failed in the handshake is not ambiguous.
func TestGraphTLSFailure(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	c, err := NewClient(&stubCred{token: permissionToken}, ClientConfig{GraphURL: srv.URL, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Preflight(context.Background())
	var he *importer.HostError
	if !errors.As(err, &he) || he.Host != srv.Listener.Addr().String() {
		t.Fatalf("err = %v, want a HostError naming %s", err, srv.Listener.Addr())
	}
	assertOneClass(t, err, importer.ErrTLS)
	if st := c.Stats(); st.Requests != 1 {
		t.Errorf("%d attempts, want 1: a certificate problem is not retried", st.Requests)
	}
	_, err = c.Import(context.Background(), []importer.ImportItem{{Serial: "S", Hardware: []byte{1}}})
	if IsAmbiguous(err) {
		t.Errorf("handshake failure reported ambiguous: %v", err)
	}
	assertOneClass(t, err, importer.ErrTLS)
	if hits.Load() != 0 {
		t.Error("a request reached the handler")
	}
}

// TestClientConfigErrors: unusable --graph-url and --ca-file values are ErrConfig
// (usage, exit 2); http on loopback is accepted for rehearsals.
func TestClientConfigErrors(t *testing.T) {
	dir := t.TempDir()
	noPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(noPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []ClientConfig{
		{GraphURL: "https://[::1"},
		{GraphURL: "https://graph.example.com:port"},
		{GraphURL: "http://graph.example.com"},
		{GraphURL: "http://10.0.0.1:8080"},
		{GraphURL: "ftp://graph.example.com"},
		{GraphURL: "graph.microsoft.com"},
		{GraphURL: "https://user:pw@graph.example.com"},
		{Cloud: "moon"},
		{CAFile: filepath.Join(dir, "missing.pem")},
		{CAFile: noPEM},
		{CAFile: dir},
	}
	for _, cfg := range bad {
		t.Run(cfg.Cloud+cfg.GraphURL+filepath.Base(cfg.CAFile), func(t *testing.T) {
			_, err := NewClient(&stubCred{}, cfg)
			assertOneClass(t, err, importer.ErrConfig)
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("the URL's password is echoed: %v", err)
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "http://127.0.0.2"} {
		if _, err := NewClient(&stubCred{}, ClientConfig{GraphURL: u}); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
		if _, err := ResolveEndpoints("", "", u, ""); err != nil {
			t.Errorf("authority %s refused: %v", u, err)
		}
	}
}

// TestRedirectsStayOnTheHost: the client follows a redirect on the same host and
// scheme, and refuses (ErrNetwork, nothing sent there) one that leaves the host
// or downgrades https to http (issue 8 item 8).
func TestRedirectsStayOnTheHost(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		writeJSON(w, 200, importedJSON("a", "S", "complete"))
	}))
	defer other.Close()

	t.Run("same host followed", func(t *testing.T) {
		srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
			if strings.HasSuffix(r.URL.Path, "/moved") {
				writeJSON(w, 200, importedJSON("a", "S", "complete"))
				return
			}
			http.Redirect(w, r, r.URL.Path+"/moved", http.StatusTemporaryRedirect)
		})
		c, _ := newTestClient(t, srv.URL, nil)
		if rec, err := c.GetImported(context.Background(), "a"); err != nil || rec.ID != "a" {
			t.Fatalf("rec %+v err %v", rec, err)
		}
	})
	t.Run("other host refused", func(t *testing.T) {
		srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		})
		c, cred := newTestClient(t, srv.URL, nil)
		cred.token = permissionToken
		for _, call := range []func() error{
			func() error { _, err := c.GetImported(context.Background(), "a"); return err },
			func() error { _, err := c.Preflight(context.Background()); return err },
			func() error {
				_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "S", Hardware: []byte{1}}})
				return err
			},
		} {
			err := call()
			var re *RedirectError
			if !errors.As(err, &re) || !strings.HasPrefix(re.To, other.URL) {
				t.Fatalf("err = %v, want a RedirectError to %s", err, other.URL)
			}
			assertOneClass(t, err, importer.ErrNetwork)
		}
		if elsewhere.Load() != 0 {
			t.Errorf("%d requests followed the redirect to another host", elsewhere.Load())
		}
	})
	t.Run("https to http refused", func(t *testing.T) {
		var plain atomic.Int32
		var srv *httptest.Server
		srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				plain.Add(1)
			}
			http.Redirect(w, r, "http://"+srv.Listener.Addr().String()+r.URL.Path, http.StatusMovedPermanently)
		}))
		defer srv.Close()
		c, err := NewClient(&stubCred{token: "t"}, ClientConfig{GraphURL: srv.URL, Retry: fastRetry,
			Transport: srv.Client().Transport})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetImported(context.Background(), "a")
		var re *RedirectError
		if !errors.As(err, &re) || !strings.HasPrefix(re.To, "http://") {
			t.Fatalf("err = %v, want a refused downgrade", err)
		}
		assertOneClass(t, err, importer.ErrNetwork)
		if plain.Load() != 0 {
			t.Error("the client followed the downgrade")
		}
	})
}

// writeCA writes the certificate of an httptest TLS server as a PEM file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCredentialRedirectRefused: the authority's transport refuses a redirect to
// another host as well.
func TestCredentialRedirectRefused(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	auth := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer auth.Close()
	env := map[string]string{EnvClientSecret: "Sup3rS3cretValue"}
	cred, err := NewCredential(AuthConfig{Mode: AuthClientSecret, AuthorityURL: auth.URL, TenantID: "00000000-0000-0000-0000-000000000001",
		ClientID: "c", CAFile: writeCA(t, auth), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	var he *importer.HostError
	if !errors.As(err, &he) || he.Host != auth.Listener.Addr().String() {
		t.Fatalf("err = %v, want a HostError naming the authority", err)
	}
	assertOneClass(t, err, importer.ErrNetwork)
	if elsewhere.Load() != 0 {
		t.Errorf("the credential followed a redirect to another host %d times", elsewhere.Load())
	}
	if strings.Contains(err.Error(), env[EnvClientSecret]) {
		t.Error("the secret is in the error")
	}
}

// TestCredentialErrorClasses: token failures for the authority match one class:
// unreachable ErrNetwork, untrusted TLS ErrTLS, az missing and managed identity
// off Azure ErrCredentialUnavailable; each within seconds.
func TestCredentialErrorClasses(t *testing.T) {
	scope := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}
	secretEnv := func(k string) string {
		if k == EnvClientSecret {
			return "Sup3rS3cretValue"
		}
		return ""
	}
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	tlsSrv.Config.ErrorLog = nil
	tests := []struct {
		name  string
		cfg   AuthConfig
		setup func(t *testing.T)
		want  error
		host  string
	}{
		{name: "authority unreachable", cfg: AuthConfig{Mode: AuthClientSecret, AuthorityURL: "https://" + closedPort(t), TenantID: "t1", ClientID: "c", Getenv: secretEnv},
			want: importer.ErrNetwork},
		{name: "authority untrusted", cfg: AuthConfig{Mode: AuthClientSecret, AuthorityURL: tlsSrv.URL, TenantID: "t1", ClientID: "c", Getenv: secretEnv},
			want: importer.ErrTLS, host: tlsSrv.Listener.Addr().String()},
		{name: "az not installed", cfg: AuthConfig{Mode: AuthAzureCLI, TenantID: "t1"},
			setup: func(t *testing.T) { t.Setenv("PATH", t.TempDir()) }, want: importer.ErrCredentialUnavailable},
		{name: "managed identity endpoint absent", cfg: AuthConfig{Mode: AuthManagedIdentity},
			// IMDS (169.254.169.254) is a constant in MSAL; App Service's endpoint
			// comes from IDENTITY_ENDPOINT/IDENTITY_HEADER, which MSAL reads from the
			// process environment.
			setup: func(t *testing.T) {
				t.Setenv("IDENTITY_ENDPOINT", "http://"+closedPort(t)+"/msi/token")
				t.Setenv("IDENTITY_HEADER", "x")
				t.Setenv("MSI_ENDPOINT", "")
				t.Setenv("IMDS_ENDPOINT", "")
			}, want: importer.ErrCredentialUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			tt.cfg.NoPersistentCache = true
			cred, err := NewCredential(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err = cred.GetToken(ctx, scope)
			if ctx.Err() != nil {
				t.Fatalf("no answer in 30 s: %v", err)
			}
			assertOneClass(t, err, tt.want)
			var he *importer.HostError
			if tt.host != "" && (!errors.As(err, &he) || he.Host != tt.host) {
				t.Errorf("err = %v, want the host %s named", err, tt.host)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("reported after %v", d)
			}
			if strings.Contains(fmt.Sprint(err), "Sup3rS3cretValue") {
				t.Error("the secret is in the error")
			}
		})
	}
}

// TestLoopbackHTTPAuthority: an http:// authority on loopback (a rehearsal
// stand-in) issues tokens, although azidentity itself accepts only https.
func TestLoopbackHTTPAuthority(t *testing.T) {
	var paths []string
	var base string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		switch {
		case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
			writeJSON(w, 200, map[string]any{"token_endpoint": base + "/t1/oauth2/v2.0/token",
				"authorization_endpoint": base + "/t1/oauth2/v2.0/authorize", "issuer": base + "/t1/v2.0"})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != "Sup3rS3cretValue" {
				writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
				return
			}
			writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": permissionToken})
		default:
			http.NotFound(w, r)
		}
	}))
	defer sts.Close()
	base = sts.URL
	for _, secret := range []string{"Sup3rS3cretValue", "wrong"} {
		cred, err := NewCredential(AuthConfig{Mode: AuthClientSecret, AuthorityURL: sts.URL, TenantID: "t1", ClientID: "c",
			Getenv: func(k string) string {
				if k == EnvClientSecret {
					return secret
				}
				return ""
			}})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
		if secret == "wrong" {
			assertOneClass(t, err, importer.ErrCredential)
			continue
		}
		if err != nil || tok.Token != permissionToken {
			t.Fatalf("token %q, err %v (requests %v)", tok.Token, err, paths)
		}
	}
}
