package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// Fidelity fixes found by driving the emulator with Microsoft's JavaScript Graph
// client and @azure/identity (issue 10; conformance/node).

// TestImportedRecordsDoNotEchoHash: every answer carrying an import record has
// hardwareIdentifier null (the service returns it empty), whatever the route.
func TestImportedRecordsDoNotEchoHash(t *testing.T) {
	srv := startEmu(t, nil)
	hash := base64.StdEncoding.EncodeToString(machine("SN-ECHO", "Contoso", 1))
	item := map[string]any{"serialNumber": "SN-ECHO", "hardwareIdentifier": hash}
	res, created := raw(t, srv, http.MethodPost, importedPath, item, false)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, created)
	}
	var one struct {
		ID string          `json:"id"`
		HW json.RawMessage `json:"hardwareIdentifier"`
	}
	if err := json.Unmarshal(created, &one); err != nil {
		t.Fatal(err)
	}
	_, imported := raw(t, srv, http.MethodPost, importedPath+"/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{item}}, false)
	_, got := raw(t, srv, http.MethodGet, importedPath+"/"+one.ID, nil, false)
	_, list := raw(t, srv, http.MethodGet, importedPath, nil, false)
	_, batch := raw(t, srv, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/deviceManagement/importedWindowsAutopilotDeviceIdentities/" + one.ID}}}, false)
	for name, b := range map[string][]byte{"create": created, "import": imported, "get": got, "list": list, "batch": batch} {
		if strings.Contains(string(b), hash[:40]) {
			t.Errorf("%s echoes the hash", name)
		}
		if !strings.Contains(string(b), `"hardwareIdentifier":null`) {
			t.Errorf("%s: hardwareIdentifier not null: %.300s", name, b)
		}
	}
	// the hash is still kept and judged: the record completes
	for _, r := range srv.Imported() {
		if len(r.HardwareIdentifier) == 0 {
			t.Errorf("%s: the emulator lost the hash it judges", r.SerialNumber)
		}
	}
}

// TestBatchIDs: ids are compared case-insensitively; a duplicate fails the whole
// batch with 400 and runs nothing; dependsOn matches ids case-insensitively too.
func TestBatchIDs(t *testing.T) {
	srv := startEmu(t, nil)
	get := func(id string) map[string]any {
		return map[string]any{"id": id, "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities"}
	}
	tests := []struct {
		name     string
		requests []any
		status   int
	}{
		{"unique", []any{get("a"), get("b")}, 200},
		{"exact duplicate", []any{get("a"), get("a")}, 400},
		{"duplicate in another case", []any{get("item-A"), get("ITEM-a")}, 400},
		{"dependsOn in another case", []any{get("First"), map[string]any{"id": "second", "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities", "dependsOn": []string{"FIRST"}}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			res, b := raw(t, srv, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": tt.requests}, false)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.status == 400 {
				if e := parseErr(t, b); !strings.Contains(e.Error.Message, "not unique") {
					t.Errorf("message %q", e.Error.Message)
				}
				for _, e := range srv.Requests()[before:] {
					if e.Batch {
						t.Errorf("an item of a rejected batch ran: %+v", e)
					}
				}
				return
			}
			var out struct {
				Responses []struct {
					ID     string `json:"id"`
					Status int    `json:"status"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Responses {
				if r.Status != 200 {
					t.Errorf("item %s: %d", r.ID, r.Status)
				}
			}
		})
	}
}

// TestBatchHeaderNames: item headers are spelled as Graph spells them, not in Go's
// canonical form, and carry no transport headers.
func TestBatchHeaderNames(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) { c.RequestLimit = 1 })
	res, b := raw(t, srv, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities"},
		map[string]any{"id": "2", "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities"},
	}}, false)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{200: {"Content-Type", "OData-Version", "Cache-Control", "request-id", "client-request-id"},
		429: {"Content-Type", "Retry-After", "request-id"}}
	for _, r := range out.Responses {
		for _, k := range want[r.Status] {
			if r.Headers[k] == "" {
				t.Errorf("item %s (%d): no %q in %v", r.ID, r.Status, k, r.Headers)
			}
		}
		for k := range r.Headers {
			switch k {
			case "Odata-Version", "Request-Id", "Client-Request-Id", "Strict-Transport-Security", "X-Ms-Ags-Diagnostic":
				t.Errorf("item %s: header %q", r.ID, k)
			}
		}
	}
	if len(out.Responses) != 2 || out.Responses[1].Status != 429 {
		t.Fatalf("want a 200 and a throttled 429: %s", b)
	}
}

// TestSyncCooldownRetryAfter: the 10-minute 429 has no Retry-After by default (the
// nested message says "RetryAfter": null), with one when configured, and
// omit_retry_after (throttling) does not change it.
func TestSyncCooldownRetryAfter(t *testing.T) {
	const sync = "/beta/deviceManagement/windowsAutopilotSettings/sync"
	tests := []struct {
		name   string
		mutate func(*emulator.Config)
		want   bool
	}{
		{"default: none", nil, false},
		{"sync_cooldown_retry_after", func(c *emulator.Config) { c.SyncCooldownRetryAfter = true }, true},
		{"omit_retry_after does not add or remove it", func(c *emulator.Config) { c.OmitRetryAfter = true; c.SyncCooldownRetryAfter = true }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
			srv := startEmu(t, func(c *emulator.Config) {
				c.SyncDuration = emulator.Duration(time.Second)
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			srv.SetClock(func() time.Time { return now })
			if res, b := raw(t, srv, http.MethodPost, sync, nil, false); res.StatusCode != 204 {
				t.Fatalf("first sync: %d %s", res.StatusCode, b)
			}
			now = now.Add(2 * time.Minute)
			res, b := raw(t, srv, http.MethodPost, sync, nil, false)
			if res.StatusCode != 429 {
				t.Fatalf("second sync: %d %s", res.StatusCode, b)
			}
			e := parseErr(t, b)
			if !strings.Contains(e.Error.Message, `"RetryAfter": null`) {
				t.Errorf("nested message %q", e.Error.Message)
			}
			ra := res.Header.Get("Retry-After")
			if (ra != "") != tt.want {
				t.Errorf("Retry-After %q, want present=%v", ra, tt.want)
			}
			if tt.want && ra != "480" {
				t.Errorf("Retry-After %q, want 480 (seconds left)", ra)
			}
		})
	}
	cfg, err := emulator.LoadConfig(writeTemp(t, `{"sync_cooldown_retry_after": true}`))
	if err != nil || !cfg.SyncCooldownRetryAfter {
		t.Errorf("config: %v %v", cfg.SyncCooldownRetryAfter, err)
	}
}
