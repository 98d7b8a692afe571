package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/apimport/apimport/importer"
)

// stubCred is a TokenCredential returning a fixed token and counting calls.
type stubCred struct {
	token string
	calls atomic.Int32
	err   error
}

func (s *stubCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.calls.Add(1)
	if s.err != nil {
		return azcore.AccessToken{}, s.err
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fastRetry keeps tests quick: tiny backoff, default retry count.
var fastRetry = RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second}

// seen is one request as the stub server received it.
type seen struct {
	Method, Path, Query, Auth, Encoding string
	Body                                []byte
}

// stubServer is an httptest Graph stub: handler decides per request; every
// request (body gunzipped) is recorded.
type stubServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newStub(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte, n int)) *stubServer {
	t.Helper()
	s := &stubServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "bad gzip", 400)
				return
			}
			rd = zr
		}
		body, _ := io.ReadAll(rd)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Encoding"), body})
		n := len(s.reqs)
		s.mu.Unlock()
		h(w, r, body, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stubServer) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func newTestClient(t *testing.T, url string, mod func(*ClientConfig)) (*Client, *stubCred) {
	t.Helper()
	cred := &stubCred{token: "test-token"}
	cfg := ClientConfig{GraphURL: url, Retry: fastRetry}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cred, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, cred
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func importedJSON(id, serial, status string) map[string]any {
	return map[string]any{"id": id, "serialNumber": serial, "groupTag": "", "importId": "",
		"state": map[string]any{"deviceImportStatus": status, "deviceRegistrationId": "", "deviceErrorCode": 0, "deviceErrorName": ""}}
}

func TestImportSendsDecodedHashGzipped(t *testing.T) {
	hash := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		var in struct {
			Items []map[string]any `json:"importedWindowsAutopilotDeviceIdentities"`
		}
		_ = json.Unmarshal(body, &in)
		var out []any
		// answer in reverse order: the client must still match by serial
		for i := len(in.Items) - 1; i >= 0; i-- {
			out = append(out, importedJSON(fmt.Sprintf("id-%d", i), in.Items[i]["serialNumber"].(string), "unknown"))
		}
		writeJSON(w, 200, map[string]any{"value": out})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	recs, err := c.Import(context.Background(), []importer.ImportItem{
		{Serial: "SN1", GroupTag: "Kiosk", Hardware: hash},
		{Serial: "SN2", AssignedUser: "a@b.c", Hardware: hash},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Serial != "SN1" || recs[1].Serial != "SN2" || recs[0].ID != "id-0" || recs[1].ID != "id-1" {
		t.Fatalf("records not in item order: %+v", recs)
	}
	if recs[0].Status != importer.ImportUnknown || recs[0].Final() {
		t.Errorf("status = %q", recs[0].Status)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/import" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if r.Auth != "Bearer test-token" {
		t.Errorf("Authorization = %q", r.Auth)
	}
	if r.Encoding != "gzip" {
		t.Errorf("Content-Encoding = %q, want gzip", r.Encoding)
	}
	var in struct {
		Items []map[string]any `json:"importedWindowsAutopilotDeviceIdentities"`
	}
	if err := json.Unmarshal(r.Body, &in); err != nil {
		t.Fatal(err)
	}
	if got := in.Items[0]["hardwareIdentifier"]; got != base64.StdEncoding.EncodeToString(hash) {
		t.Errorf("hardwareIdentifier = %v, want single base64 of the decoded bytes", got)
	}
	if in.Items[0]["groupTag"] != "Kiosk" || in.Items[1]["assignedUserPrincipalName"] != "a@b.c" {
		t.Errorf("body fields: %v", in.Items)
	}
	if st := c.Stats(); st.Requests != 1 || st.Writes != 1 || st.Retries != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestImportMissingRecordIsAmbiguous(t *testing.T) {
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		writeJSON(w, 200, map[string]any{"value": []any{importedJSON("a", "SN1", "unknown")}})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1}}, {Serial: "SN2", Hardware: []byte{1}}})
	if !IsAmbiguous(err) || !strings.Contains(err.Error(), "SN2") {
		t.Fatalf("err = %v, want ambiguous naming SN2", err)
	}
}

func TestErrorBodies(t *testing.T) {
	nested := `{"error":{"code":"BadRequest","message":"{\r\n \"_version\": 3,\r\n \"Message\": \"An error has occurred - Operation ID (for customer support): 0000 - Activity ID: 1111\",\r\n \"RetryAfter\": null\r\n}","innerError":{"date":"2026-01-01T00:00:00","request-id":"req-1","client-request-id":"creq-1"}}}`
	tests := []struct {
		name        string
		status      int
		body        string
		header      map[string]string
		wantCode    string
		wantMsg     string
		wantReqID   string
		wantAuth    bool
		wantNotFind bool
	}{
		{name: "empty object", status: 400, body: `{}`, header: map[string]string{"request-id": "hdr-req"}, wantReqID: "hdr-req"},
		{name: "empty error", status: 400, body: `{"error":{}}`},
		{name: "no body", status: 400, body: ``},
		{name: "nested intune message", status: 400, body: nested, wantCode: "BadRequest",
			wantMsg: "An error has occurred - Operation ID (for customer support): 0000 - Activity ID: 1111", wantReqID: "req-1"},
		{name: "plain message", status: 403, body: `{"error":{"code":"Forbidden","message":"Application is not authorized"}}`,
			wantCode: "Forbidden", wantMsg: "Application is not authorized", wantAuth: true},
		{name: "401", status: 401, body: `{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}`, wantCode: "InvalidAuthenticationToken", wantMsg: "expired", wantAuth: true},
		{name: "404", status: 404, body: `{"error":{"code":"ResourceNotFound","message":"nope"}}`, wantCode: "ResourceNotFound", wantMsg: "nope", wantNotFind: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.body != "" {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c, _ := newTestClient(t, srv.URL, nil)
			_, err := c.GetImported(context.Background(), "x")
			var ae *importer.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			_ = err.Error() // must not panic
			if ae.StatusCode != tt.status || ae.Code != tt.wantCode || ae.Message != tt.wantMsg || ae.RequestID != tt.wantReqID {
				t.Errorf("APIError = %+v", ae)
			}
			if importer.IsAuth(err) != tt.wantAuth {
				t.Errorf("IsAuth = %v", importer.IsAuth(err))
			}
			if errors.Is(err, importer.ErrNotFound) != tt.wantNotFind {
				t.Errorf("errors.Is(importer.ErrNotFound) = %v", errors.Is(err, importer.ErrNotFound))
			}
		})
	}
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name       string
		method     string // GET = GetImported, POST = Import, DELETE = DeleteImported
		statuses   []int  // answers in order; then 200/204
		retryAfter string
		wantSent   int
		wantAmbig  bool
		wantErr    bool
		wantThrot  int
	}{
		{name: "GET 500 retried", method: "GET", statuses: []int{500, 502}, wantSent: 3},
		{name: "GET 503 504 retried", method: "GET", statuses: []int{503, 504}, wantSent: 3},
		{name: "DELETE 500 retried", method: "DELETE", statuses: []int{500}, wantSent: 2},
		{name: "POST 500 not retried, ambiguous", method: "POST", statuses: []int{500}, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "POST 503 not retried, ambiguous", method: "POST", statuses: []int{503}, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "POST 429 retried", method: "POST", statuses: []int{429, 429}, retryAfter: "0", wantSent: 3, wantThrot: 2},
		{name: "GET 429 without Retry-After", method: "GET", statuses: []int{429}, wantSent: 2, wantThrot: 1},
		{name: "GET 400 not retried", method: "GET", statuses: []int{400}, wantSent: 1, wantErr: true},
		{name: "GET bounded retries", method: "GET", statuses: []int{500, 500, 500, 500, 500, 500, 500, 500}, wantSent: 7, wantErr: true},
		{name: "POST 429 bounded", method: "POST", statuses: []int{429, 429, 429, 429, 429, 429, 429, 429}, retryAfter: "0", wantSent: 7, wantErr: true, wantThrot: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				if n <= len(tt.statuses) {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					writeJSON(w, tt.statuses[n-1], map[string]any{"error": map[string]any{"code": "x", "message": "injected"}})
					return
				}
				switch r.Method {
				case "DELETE":
					w.WriteHeader(204)
				case "POST":
					writeJSON(w, 200, map[string]any{"value": []any{importedJSON("a", "SN1", "unknown")}})
				default:
					writeJSON(w, 200, importedJSON("a", "SN1", "complete"))
				}
			})
			c, _ := newTestClient(t, srv.URL, nil)
			ctx := context.Background()
			var err error
			switch tt.method {
			case "GET":
				_, err = c.GetImported(ctx, "a")
			case "POST":
				_, err = c.Import(ctx, []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1, 2}}})
			case "DELETE":
				err = c.DeleteImported(ctx, "a")
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if IsAmbiguous(err) != tt.wantAmbig {
				t.Errorf("IsAmbiguous(%v) = %v", err, IsAmbiguous(err))
			}
			reqs := srv.requests()
			if len(reqs) != tt.wantSent {
				t.Errorf("sent %d requests, want %d", len(reqs), tt.wantSent)
			}
			for i := 1; i < len(reqs); i++ {
				if !bytes.Equal(reqs[i].Body, reqs[0].Body) {
					t.Errorf("retry %d body differs from the first attempt", i)
				}
			}
			st := c.Stats()
			if st.Requests != tt.wantSent || st.Retries != tt.wantSent-1 || st.Throttled != tt.wantThrot {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// dropServer accepts connections and closes them after reading the request.
func dropServer(t *testing.T, drops int, then http.HandlerFunc) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if int(n.Add(1)) <= drops {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		then(w, r)
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestDroppedConnection(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			writeJSON(w, 200, map[string]any{"value": []any{importedJSON("a", "SN1", "unknown")}})
			return
		}
		writeJSON(w, 200, importedJSON("a", "SN1", "complete"))
	}
	t.Run("GET retried", func(t *testing.T) {
		u, n := dropServer(t, 2, ok)
		c, _ := newTestClient(t, u, nil)
		rec, err := c.GetImported(context.Background(), "a")
		if err != nil || rec.Status != importer.ImportComplete {
			t.Fatalf("rec %+v err %v", rec, err)
		}
		if n.Load() != 3 {
			t.Errorf("server saw %d requests, want 3", n.Load())
		}
	})
	t.Run("POST ambiguous, sent once", func(t *testing.T) {
		u, n := dropServer(t, 1, ok)
		c, _ := newTestClient(t, u, nil)
		_, err := c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1}}})
		if !IsAmbiguous(err) {
			t.Fatalf("err = %v, want ambiguous", err)
		}
		if n.Load() != 1 {
			t.Errorf("server saw %d requests, want 1", n.Load())
		}
	})
	t.Run("POST not sent is retried", func(t *testing.T) {
		// a port nobody listens on: the dial fails, nothing was sent
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := newTestClient(t, "http://"+addr, func(cfg *ClientConfig) { cfg.Retry.MaxRetries = 2 })
		_, err = c.Import(context.Background(), []importer.ImportItem{{Serial: "SN1", Hardware: []byte{1}}})
		if err == nil || IsAmbiguous(err) {
			t.Fatalf("err = %v, want a plain (not ambiguous) connection error", err)
		}
		if st := c.Stats(); st.Requests != 3 || st.Retries != 2 {
			t.Errorf("stats = %+v, want 3 attempts", st)
		}
	})
}

func TestRetryAfterPausesEveryone(t *testing.T) {
	var first atomic.Bool
	var throttledAt, otherAt atomic.Int64
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		if strings.HasSuffix(r.URL.Path, "/slow") && first.CompareAndSwap(false, true) {
			throttledAt.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "Please retry again later."}})
			return
		}
		if strings.HasSuffix(r.URL.Path, "/other") {
			otherAt.Store(time.Now().UnixNano())
		}
		writeJSON(w, 200, importedJSON("x", "S", "complete"))
	})
	c, _ := newTestClient(t, srv.URL, nil)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := c.GetImported(ctx, "slow"); done <- err }()
	for throttledAt.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for { // wait until the client has read the 429 and paused the budget
		c.lim.mu.Lock()
		paused := c.lim.pausedUntil.After(time.Now())
		c.lim.mu.Unlock()
		if paused {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.GetImported(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if gap := time.Duration(otherAt.Load() - throttledAt.Load()); gap < 900*time.Millisecond {
		t.Errorf("an unrelated request went out %v after the 429 with Retry-After: 1; the budget was not paused", gap)
	}
	if st := c.Stats(); st.Throttled != 1 || st.Retries != 1 || st.Requests != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLongRetryAfterIsReturned(t *testing.T) {
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "later"}})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	_, err := c.GetImported(context.Background(), "a")
	var ae *importer.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want importer.APIError 429 with RetryAfter 1h", err)
	}
	if len(srv.requests()) != 1 {
		t.Errorf("sent %d, want 1", len(srv.requests()))
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "later"}})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetImported(ctx, "a")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; the wait ignored ctx", d)
	}
}

func TestGetImportedManyBatches(t *testing.T) {
	var throttledOnce sync.Map
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		if r.URL.Path != "/v1.0/$batch" {
			http.Error(w, "unexpected "+r.URL.Path, 500)
			return
		}
		var in struct {
			Requests []struct{ ID, Method, URL string } `json:"requests"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if len(in.Requests) > 20 {
			http.Error(w, "too many", 400)
			return
		}
		var out []any
		for _, q := range in.Requests {
			id := q.URL[strings.LastIndex(q.URL, "/")+1:]
			switch {
			case strings.HasPrefix(id, "missing"):
				out = append(out, map[string]any{"id": q.ID, "status": 404, "headers": map[string]string{"Content-Type": "application/json"},
					"body": map[string]any{"error": map[string]any{"code": "ResourceNotFound", "message": "gone"}}})
			case strings.HasPrefix(id, "throttle"):
				if _, loaded := throttledOnce.LoadOrStore(id, true); !loaded {
					out = append(out, map[string]any{"id": q.ID, "status": 429, "headers": map[string]string{"Retry-After": "0", "Content-Type": "application/json"},
						"body": map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "later"}}})
					continue
				}
				fallthrough
			default:
				out = append(out, map[string]any{"id": q.ID, "status": 200, "headers": map[string]string{"Content-Type": "application/json"},
					"body": importedJSON(id, "SER-"+id, "complete")})
			}
		}
		writeJSON(w, 200, map[string]any{"responses": out})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	var ids []string
	for i := 0; i < 23; i++ {
		ids = append(ids, fmt.Sprintf("id%d", i))
	}
	ids = append(ids, "missing1", "throttle1", "throttle2", "id0") // duplicate id0 asked once
	got, err := c.GetImportedMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 {
		t.Errorf("got %d records, want 25 (23 + 2 throttled, missing absent)", len(got))
	}
	if _, ok := got["missing1"]; ok {
		t.Error("missing id present in the map")
	}
	if r := got["throttle2"]; r.Serial != "SER-throttle2" || r.Status != importer.ImportComplete {
		t.Errorf("throttled item = %+v", r)
	}
	reqs := srv.requests()
	if len(reqs) != 3 { // 20 + 6, then a retry batch of the 2 throttled items
		t.Errorf("%d batch requests, want 3", len(reqs))
	}
	st := c.Stats()
	if st.Requests != 28 || st.Writes != 0 || st.Throttled != 2 || st.Retries != 2 {
		t.Errorf("stats = %+v, want 28 requests (inner items), 0 writes, 2 throttled, 2 retries", st)
	}
}

func TestPagingAndFind(t *testing.T) {
	var srvURL string
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/importedWindowsAutopilotDeviceIdentities"):
			if r.URL.Query().Get("$skiptoken") == "" {
				writeJSON(w, 200, map[string]any{"value": []any{importedJSON("1", "A", "unknown"), importedJSON("2", "B", "error")},
					"@odata.nextLink": srvURL + "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$skiptoken=p2"})
				return
			}
			writeJSON(w, 200, map[string]any{"value": []any{importedJSON("3", "C", "complete")}})
		case strings.HasSuffix(r.URL.Path, "/windowsAutopilotDeviceIdentities"):
			f := r.URL.Query().Get("$filter")
			devs := []any{
				map[string]any{"id": "d1", "serialNumber": "O'BRIEN-1"},
				map[string]any{"id": "d2", "serialNumber": "o'brien-10"},
				map[string]any{"id": "d3", "serialNumber": "ABC 123"},
				map[string]any{"id": "d4", "serialNumber": "ABC 1234"},
				map[string]any{"id": "d5", "serialNumber": "PF3X"},
			}
			if strings.Contains(f, "-") {
				writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "BadRequest", "message": "filter"}})
				return
			}
			writeJSON(w, 200, map[string]any{"value": devs})
		}
	})
	srvURL = srv.URL
	c, _ := newTestClient(t, srv.URL, nil)
	ctx := context.Background()
	var ids []string
	if err := c.ListImported(ctx, func(r importer.ImportRecord) bool { ids = append(ids, r.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "1,2,3" {
		t.Errorf("paged ids = %v", ids)
	}
	ids = nil
	if err := c.ListImported(ctx, func(r importer.ImportRecord) bool { ids = append(ids, r.ID); return false }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Errorf("fn returning false did not stop: %v", ids)
	}
	before := len(srv.requests())
	tests := []struct {
		serial     string
		wantIDs    string
		wantFilter string // "" = unfiltered listing
	}{
		{"PF3X", "d5", "contains(serialNumber,'PF3X')"},
		{"ABC 123", "d3", "contains(serialNumber,'ABC')"},
		{"O'BRIEN-1", "d1", "contains(serialNumber,'O''BRIEN')"},
		{"nothing", "", "contains(serialNumber,'nothing')"},
		{"a-b", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.serial, func(t *testing.T) {
			devs, err := c.FindDevices(ctx, tt.serial)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.ID)
			}
			if strings.Join(got, ",") != tt.wantIDs {
				t.Errorf("found %v, want %s", got, tt.wantIDs)
			}
			reqs := srv.requests()[before:]
			before += len(reqs)
			var filter string
			for _, r := range reqs {
				q, _ := url.ParseQuery(r.Query)
				filter = q.Get("$filter")
				break
			}
			if filter != tt.wantFilter {
				t.Errorf("first $filter = %q, want %q", filter, tt.wantFilter)
			}
		})
	}
}

func TestListImportedFollowsManyPages(t *testing.T) {
	// The service chooses the page size: a tenant with 100,000 import records at 100 a
	// page needs 1,000 pages. Found in review: the listing stopped after 1,000 pages
	// (a bound meant for deployment profiles). A link seen twice still stops it.
	const pages = 1005
	var srvURL string
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		p, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		page := map[string]any{"value": []any{importedJSON(strconv.Itoa(p), "S"+strconv.Itoa(p), "complete")}}
		switch {
		case r.URL.Query().Get("loop") != "":
			page["@odata.nextLink"] = srvURL + r.URL.Path + "?loop=1&$skiptoken=" + strconv.Itoa(p) // itself
		case p+1 < pages:
			page["@odata.nextLink"] = srvURL + r.URL.Path + "?$skiptoken=" + strconv.Itoa(p+1)
		}
		writeJSON(w, 200, page)
	})
	srvURL = srv.URL
	c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.Limits = Limits{Window: time.Second, Writes: 100, Requests: 100_000} })
	n := 0
	if err := c.ListImported(context.Background(), func(importer.ImportRecord) bool { n++; return true }); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	if n != pages {
		t.Errorf("listed %d records, want %d", n, pages)
	}
	err := c.getPaged(context.Background(), "list", srv.URL+"/v1.0/x?loop=1&$skiptoken=7", func(json.RawMessage) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "does not end") {
		t.Errorf("a nextLink to itself: err = %v", err)
	}
}

func TestSyncAndUpdate(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)
	var mu sync.Mutex
	lastManual := "0001-01-01T00:00:00Z"
	syncN, updN := 0, 0
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.URL.Path == "/beta/deviceManagement/windowsAutopilotSettings" && r.Method == "GET":
			writeJSON(w, 200, map[string]any{"lastSyncDateTime": "2026-11-25T10:00:00Z", "lastManualSyncTriggerDateTime": lastManual, "syncStatus": "completed"})
		case r.URL.Path == "/beta/deviceManagement/windowsAutopilotSettings/sync":
			syncN++
			switch syncN {
			case 1:
				lastManual = t0.Format(time.RFC3339)
				w.WriteHeader(204)
			case 2: // one minute later: the 10-minute rule
				w.Header().Set("Retry-After", "0")
				writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "too soon"}})
			case 3:
				writeJSON(w, 409, map[string]any{"error": map[string]any{"code": "Conflict", "message": "running"}})
			default:
				writeJSON(w, 503, map[string]any{"error": map[string]any{"code": "x", "message": "down"}})
			}
		case strings.HasSuffix(r.URL.Path, "/updateDeviceProperties"):
			updN++
			if updN == 1 {
				writeJSON(w, 502, map[string]any{"error": map[string]any{"code": "BadGateway", "message": "x"}})
				return
			}
			w.WriteHeader(204)
		}
	})
	c, _ := newTestClient(t, srv.URL, nil)
	c.clock = func() time.Time { return t0.Add(time.Minute) }
	ctx := context.Background()
	info, err := c.GetSyncInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != "completed" || !info.LastSync.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) || !info.LastManualSync.IsZero() && info.LastManualSync.Year() != 1 {
		t.Errorf("sync info = %+v", info)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := c.Sync(ctx); !errors.Is(err, importer.ErrSyncTooSoon) || errors.Is(err, importer.ErrThrottled) {
		t.Errorf("429 a minute after a sync: %v, want ErrSyncTooSoon (and not ErrThrottled)", err)
	}
	if err := c.Sync(ctx); !errors.Is(err, importer.ErrSyncInProgress) {
		t.Errorf("409: %v, want ErrSyncInProgress", err)
	}
	var ae *importer.APIError
	if err := c.Sync(ctx); !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Errorf("503: %v", err)
	}
	syncs := 0
	for _, r := range srv.requests() {
		if strings.HasSuffix(r.Path, "/sync") {
			syncs++
		}
	}
	if syncs != 4 {
		t.Errorf("%d sync requests, want 4 (too soon, 409 and 503 are not retried)", syncs)
	}
	tag := "Kiosk"
	// updateDeviceProperties is idempotent: the 502 is retried, not reported as ambiguous.
	if err := c.UpdateDevice(ctx, "dev1", importer.DeviceUpdate{GroupTag: &tag}); err != nil {
		t.Errorf("update on 502: %v, want success after a retry", err)
	}
	if err := c.UpdateDevice(ctx, "dev1", importer.DeviceUpdate{GroupTag: &tag}); err != nil {
		t.Fatal(err)
	}
	updates := 0
	for _, r := range srv.requests() {
		if strings.HasSuffix(r.Path, "/updateDeviceProperties") {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("%d update requests, want 3 (the 502 retried once, then a second update)", updates)
	}
	last := srv.requests()[len(srv.requests())-1]
	var body map[string]any
	_ = json.Unmarshal(last.Body, &body)
	if len(body) != 1 || body["groupTag"] != "Kiosk" {
		t.Errorf("update body = %s, want only groupTag", last.Body)
	}
	if last.Path != "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/dev1/updateDeviceProperties" {
		t.Errorf("path %s", last.Path)
	}
	if st := c.Stats(); st.Throttled != 1 {
		t.Errorf("stats = %+v, want the sync 429 counted", st)
	}
}

func TestDebugLogRedactsAuthorization(t *testing.T) {
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		w.Header().Set("request-id", "rid-42")
		writeJSON(w, 200, importedJSON("a", "S", "complete"))
	})
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cred := &stubCred{token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}
	c, err := NewClient(cred, ClientConfig{GraphURL: srv.URL, Logger: log, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetImported(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if srv.requests()[0].Auth != "Bearer "+cred.token {
		t.Fatal("token was not sent")
	}
	out := buf.String()
	for _, bad := range []string{"Bearer ey", cred.token, "eyJ"} {
		if strings.Contains(out, bad) {
			t.Errorf("debug log contains %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"method=GET", "status=200", "request_id=rid-42", "authorization=[REDACTED]", "/importedWindowsAutopilotDeviceIdentities/a"} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
}

func TestNoTokenForForeignHost(t *testing.T) {
	// A nextLink pointing at a host that is not the Graph host must not receive our token.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	var otherAuth atomic.Value
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store("auth=" + r.Header.Get("Authorization"))
		writeJSON(w, 200, map[string]any{"value": []any{importedJSON("2", "B", "unknown")}})
	}))
	other.Listener.Close()
	other.Listener = ln
	other.Start()
	t.Cleanup(other.Close)
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		writeJSON(w, 200, map[string]any{"value": []any{importedJSON("1", "A", "unknown")},
			"@odata.nextLink": other.URL + "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$skiptoken=x"})
	})
	c, _ := newTestClient(t, srv.URL, nil)
	n := 0
	err = c.ListImported(context.Background(), func(importer.ImportRecord) bool { n++; return true })
	if srv.requests()[0].Auth != "Bearer test-token" {
		t.Fatalf("the Graph host got no token")
	}
	got, _ := otherAuth.Load().(string)
	if err == nil && got != "auth=" {
		t.Fatalf("foreign host received %q", got)
	}
	if err == nil && n != 2 {
		t.Errorf("listed %d records, want 2", n)
	}
}
