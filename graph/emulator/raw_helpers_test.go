package emulator_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

func decodeJSON(res *http.Response, v any) error {
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("status %d body %q: %w", res.StatusCode, b, err)
	}
	return nil
}

// raw sends a request with a ReadWrite token; body (if not nil) is JSON, gzipped when gz.
func raw(t testing.TB, srv *emulator.Server, method, path string, body any, gz bool) (*http.Response, []byte) {
	t.Helper()
	return rawTok(t, srv, srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour), method, path, body, gz)
}

func rawTok(t testing.TB, srv *emulator.Server, tok, method, path string, body any, gz bool) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		default:
			b, _ = json.Marshal(v)
		}
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			b = buf.Bytes()
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.GraphURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	res, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

type graphErr struct {
	Error struct {
		Code       string            `json:"code"`
		Message    string            `json:"message"`
		InnerError map[string]string `json:"innerError"`
	} `json:"error"`
}

func parseErr(t testing.TB, b []byte) graphErr {
	t.Helper()
	var e graphErr
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not a Graph error body: %q", b)
	}
	if e.Error.InnerError["request-id"] == "" || e.Error.InnerError["date"] == "" || e.Error.InnerError["client-request-id"] == "" {
		t.Fatalf("innerError incomplete: %v", e.Error.InnerError)
	}
	return e
}
