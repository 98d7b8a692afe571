package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/apimport/apimport/importer"
)

func TestRetryAfterParsing(t *testing.T) {
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, ok := retryAfter(http.Header{"Retry-After": {tt.value}})
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter(%q) = %v, %v", tt.value, got, ok)
			}
		})
	}
	d, ok := retryAfter(http.Header{"Retry-After": {time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)}})
	if !ok || d < 80*time.Second || d > 90*time.Second {
		t.Errorf("HTTP date: %v, %v", d, ok)
	}
}

func TestNotSentClassification(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"dial refused", &net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "graph.example"}, true},
		{"read reset", &net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, false},
		{"eof", errors.New("EOF"), false},
		{"wrapped dial", fmt.Errorf("post: %w", &net.OpError{Op: "dial", Err: errors.New("x")}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notSent(tt.err); got != tt.want {
				t.Errorf("notSent = %v", got)
			}
		})
	}
}

func TestAmbiguousError(t *testing.T) {
	inner := &importer.APIError{StatusCode: 502, Code: "BadGateway"}
	err := fmt.Errorf("importing batch 3: %w", &AmbiguousError{Op: "import", Err: inner})
	if !IsAmbiguous(err) {
		t.Fatal("IsAmbiguous = false")
	}
	var ae *importer.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Errorf("the importer.APIError is not reachable through AmbiguousError")
	}
	if !strings.Contains(err.Error(), "outcome unknown") {
		t.Errorf("message = %q", err)
	}
	if IsAmbiguous(inner) || IsAmbiguous(nil) {
		t.Error("plain errors reported ambiguous")
	}
}

func TestImportRejectsBase64Text(t *testing.T) {
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		writeJSON(w, 200, map[string]any{"value": []any{}})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	text := []byte(base64.StdEncoding.EncodeToString(make([]byte, 96)))
	_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: text}})
	if err == nil || !strings.Contains(err.Error(), "decoded bytes") || IsAmbiguous(err) {
		t.Fatalf("err = %v", err)
	}
	if len(srv.requests()) != 0 {
		t.Error("a request was sent")
	}
	for _, items := range [][]importer.ImportItem{{{Serial: "", Hardware: []byte{1}}}, {{Serial: "S", Hardware: nil}}} {
		if _, err := c.Import(context.Background(), items); err == nil {
			t.Errorf("Import(%+v) accepted", items)
		}
	}
	if recs, err := c.Import(context.Background(), nil); err != nil || recs != nil {
		t.Errorf("empty import = %v, %v", recs, err)
	}
}

func TestUserAgentAndTelemetryHeaders(t *testing.T) {
	var ua, crid string
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		ua, crid = r.Header.Get("User-Agent"), r.Header.Get("client-request-id")
		writeJSON(w, 200, importedJSON("a", "S", "complete"))
	})
	c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.UserAgent = "apimport/1.2.3" })
	if _, err := c.GetImported(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ua, "apimport/1.2.3") {
		t.Errorf("User-Agent = %q", ua)
	}
	if crid == "" {
		t.Error("no client-request-id header")
	}
}

// TestBatchReservesBudgetPerItem checks that a $batch of n items spends n units
// of the request budget before it is sent.
func TestBatchReservesBudgetPerItem(t *testing.T) {
	const window = 400 * time.Millisecond
	var times []time.Time
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		times = append(times, time.Now())
		var in struct {
			Requests []struct{ ID, URL string } `json:"requests"`
		}
		_ = json.Unmarshal(body, &in)
		var out []any
		for _, q := range in.Requests {
			id := q.URL[strings.LastIndex(q.URL, "/")+1:]
			out = append(out, map[string]any{"id": q.ID, "status": 200, "headers": map[string]string{"Content-Type": "application/json"},
				"body": importedJSON(id, "S"+id, "complete")})
		}
		writeJSON(w, 200, map[string]any{"responses": out})
	})
	c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.Limits = Limits{Window: window, Requests: 20, Writes: 5} })
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	got, err := c.GetImportedMany(context.Background(), ids)
	if err != nil || len(got) != 40 {
		t.Fatalf("%d records, %v", len(got), err)
	}
	if len(times) != 2 {
		t.Fatalf("%d batches, want 2", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < window*3/4 { // 3/4: tolerance for scheduling delay
		t.Errorf("second batch of 20 sent %v after the first; the budget of 20 per %v was not reserved per item", gap, window)
	}
	if st := c.Stats(); st.Requests != 40 || st.Writes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWriteAmbiguityClassification(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter, r *http.Request)
		credErr   error
		timeout   time.Duration
		wantAmbig bool
		wantIs    error
	}{
		{name: "unreadable 200", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"value":[{"id":`))
		}, wantAmbig: true},
		{name: "400 is not ambiguous", handler: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "BadRequest", "message": "bad"}})
		}},
		{name: "token failure is not ambiguous", credErr: errors.New("AADSTS700016: application not found")},
		{name: "cancelled in flight is ambiguous", handler: func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			writeJSON(w, 200, map[string]any{"value": []any{}})
		}, timeout: 100 * time.Millisecond, wantAmbig: true, wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.handler
			if h == nil {
				h = func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") }
			}
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) { h(w, r) })
			c, cred := newTestClient(t, srv.URL, nil)
			cred.err = tt.credErr
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := c.Import(ctx, []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2, 3}}})
			if err == nil {
				t.Fatal("no error")
			}
			if IsAmbiguous(err) != tt.wantAmbig {
				t.Errorf("IsAmbiguous(%v) = %v", err, IsAmbiguous(err))
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if n := len(srv.requests()); n > 1 {
				t.Errorf("write sent %d times", n)
			}
		})
	}
}

func TestDebugLogger(t *testing.T) {
	var sb strings.Builder
	for _, tt := range []struct {
		env  string
		want bool
	}{{"", false}, {"api", true}, {"csv, API", true}, {"apis", false}, {"1", false}} {
		if got := DebugLogger(tt.env, &sb) != nil; got != tt.want {
			t.Errorf("DebugLogger(%q) enabled = %v", tt.env, got)
		}
	}
}

// seqCred returns tok-1, tok-2, … one per call.
type seqCred struct{ n atomic.Int32 }

func (s *seqCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: fmt.Sprintf("tok-%d", s.n.Add(1)), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestExpiredTokenIsRenewedOnceAndTheWriteResent(t *testing.T) {
	for _, always401 := range []bool{false, true} {
		t.Run(fmt.Sprint("always 401 ", always401), func(t *testing.T) {
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				if always401 || r.Header.Get("Authorization") == "Bearer tok-1" {
					writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "InvalidAuthenticationToken",
						"message": "Lifetime validation failed, the token is expired."}})
					return
				}
				writeJSON(w, 200, map[string]any{"value": []any{importedJSON("id-1", "SN1", "unknown")}})
			})
			c, err := NewClient(&seqCred{}, ClientConfig{GraphURL: srv.URL, Retry: fastRetry})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2, 3}}})
			reqs := srv.requests()
			if always401 {
				if !importer.IsAuth(err) || len(reqs) != 2 {
					t.Fatalf("err %v after %d requests; want an auth error after one renewal", err, len(reqs))
				}
				return
			}
			if err != nil || len(recs) != 1 || recs[0].ID != "id-1" {
				t.Fatalf("import: %v %+v", err, recs)
			}
			if len(reqs) != 2 || reqs[1].Auth != "Bearer tok-2" {
				t.Fatalf("requests %d, last auth %q; want the POST resent once with a fresh token", len(reqs), reqs[len(reqs)-1].Auth)
			}
		})
	}
}

func TestErrorEchoingTheHashIsElided(t *testing.T) {
	hash := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a, 0x01, 0xfe}, 1000)) // 4000 characters
	for _, nested := range []bool{false, true} {
		t.Run(fmt.Sprint("nested ", nested), func(t *testing.T) {
			msg := "Cannot convert the literal '" + hash + "' to the expected type 'Edm.Binary'."
			if nested {
				b, _ := json.Marshal(map[string]any{"_version": 3, "Message": msg})
				msg = string(b)
			}
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "BadRequest", "message": msg}})
			})
			c, _ := newTestClient(t, srv.URL, nil)
			_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2, 3}}})
			var ae *importer.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 400 {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), hash[:100]) {
				t.Errorf("the hash reached the error message: %.200s…", err.Error())
			}
			if !strings.Contains(err.Error(), "Cannot convert the literal") || !strings.Contains(err.Error(), "…(4000 characters)") {
				t.Errorf("message lost its words: %.300s", err.Error())
			}
		})
	}
	// Ordinary messages are untouched, Intune's long URL paths included.
	long := "An error has occurred - Url: https://fef.msub0x.manage.microsoft.com/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService/deviceManagement/windowsAutopilotDeviceIdentities?api-version=5021-07-01"
	if got := elideBlobs(long); got != long {
		t.Errorf("elideBlobs changed %q to %q", long, got)
	}
}

func TestRetryAfterHonouredWhenRetriesAreSpent(t *testing.T) {
	// With retries spent, the last 429's Retry-After still pauses the budget, so
	// whoever sends next (the engine re-queuing the chunk) waits it out instead of
	// hitting the throttled service at once. A Retry-After beyond MaxRetryAfter does
	// not block later calls (the engine gives up on that chunk instead).
	tests := []struct {
		name          string
		maxRetryAfter time.Duration
		held          bool
	}{
		{"within MaxRetryAfter", 2 * time.Hour, true},
		{"beyond MaxRetryAfter", time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				w.Header().Set("Retry-After", "3600")
				writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "Please retry again later."}})
			})
			c, _ := newTestClient(t, srv.URL, func(cc *ClientConfig) {
				cc.Retry.MaxRetries = -1
				cc.Retry.MaxRetryAfter = tt.maxRetryAfter
			})
			_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2, 3}}})
			var ae *importer.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter != time.Hour {
				t.Fatalf("err = %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err = c.Import(ctx, []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2, 3}}})
			held := errors.Is(err, context.DeadlineExceeded) && len(srv.requests()) == 1
			if held != tt.held {
				t.Errorf("second call held back = %v, want %v (err %v, %d requests)", held, tt.held, err, len(srv.requests()))
			}
		})
	}
}
