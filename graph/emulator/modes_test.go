package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

// fakeClock is a settable emulator clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestVisibilityDelayHidesNewRecords: with visibility_delay, a record the import
// action just created is missing from GET {id}, the list and a $batch GET until the
// delay has passed; DELETE finds it (issue 8 item 3, ASSUMED mode).
func TestVisibilityDelayHidesNewRecords(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.VisibilityDelay = emulator.Duration(30 * time.Second)
		c.ProcessingDelay = emulator.Duration(5 * time.Second)
	})
	clk := &fakeClock{t: time.Now()}
	srv.SetClock(clk.now)
	const base = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"
	hash := base64.StdEncoding.EncodeToString(hwhash.Device{Serial: "LATE1", Manufacturer: "HP", Model: "M"}.Encode())
	item := func(serial, h string) map[string]any {
		return map[string]any{"serialNumber": serial, "hardwareIdentifier": h, "groupTag": "", "productKey": "", "assignedUserPrincipalName": ""}
	}
	res, b := raw(t, srv, http.MethodPost, base+"/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{item("LATE1", hash)}}, false)
	var created struct {
		Value []struct{ ID string } `json:"value"`
	}
	if res.StatusCode != 200 || decodeJSONBytes(b, &created) != nil || len(created.Value) != 1 {
		t.Fatalf("import: %d %.200s", res.StatusCode, b)
	}
	id := created.Value[0].ID

	visible := func() (get int, listed int, batch int) {
		res, _ := raw(t, srv, http.MethodGet, base+"/"+id, nil, false)
		get = res.StatusCode
		_, b := raw(t, srv, http.MethodGet, base+"?$filter="+urlq("contains(serialNumber,'LATE1')"), nil, false)
		var list struct{ Value []any }
		_ = decodeJSONBytes(b, &list)
		listed = len(list.Value)
		_, b = raw(t, srv, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
			map[string]any{"id": "1", "method": "GET", "url": "/deviceManagement/importedWindowsAutopilotDeviceIdentities/" + id}}}, false)
		var br struct{ Responses []struct{ Status int } }
		if err := decodeJSONBytes(b, &br); err != nil {
			t.Fatal(err)
		}
		if len(br.Responses) == 1 {
			batch = br.Responses[0].Status
		}
		return
	}
	if get, listed, batch := visible(); get != 404 || listed != 0 || batch != 404 {
		t.Errorf("fresh record: GET %d, listed %d, $batch %d; want 404, 0, 404", get, listed, batch)
	}
	clk.add(29 * time.Second)
	if get, listed, _ := visible(); get != 404 || listed != 0 {
		t.Errorf("after 29 s: GET %d, listed %d; want still hidden", get, listed)
	}
	clk.add(time.Second)
	if get, listed, batch := visible(); get != 200 || listed != 1 || batch != 200 {
		t.Errorf("after 30 s: GET %d, listed %d, $batch %d; want visible", get, listed, batch)
	}
	// The verdict was decided on schedule meanwhile.
	for _, r := range srv.Imported() {
		if r.ID == id && r.State.DeviceImportStatus != "complete" {
			t.Errorf("status %q, want complete", r.State.DeviceImportStatus)
		}
	}

	// DELETE finds a hidden record.
	res, b = raw(t, srv, http.MethodPost, base, item("LATE2", hash), false)
	var one struct{ ID string }
	if res.StatusCode != 201 || decodeJSONBytes(b, &one) != nil {
		t.Fatalf("create: %d %.200s", res.StatusCode, b)
	}
	if res, _ := raw(t, srv, http.MethodDelete, base+"/"+one.ID, nil, false); res.StatusCode != 204 {
		t.Errorf("DELETE of a hidden record: %d, want 204", res.StatusCode)
	}
}

// TestSyncThrottledMode: sync_throttled answers the first n syncs with the
// gateway's throttling 429 and leaves lastManualSyncTriggerDateTime alone; then the
// sync runs, and the next one is the 10-minute rule (Intune-shaped 429).
func TestSyncThrottledMode(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) { c.SyncThrottled = 2; c.RetryAfterSeconds = 7 })
	const sync = "/beta/deviceManagement/windowsAutopilotSettings/sync"
	for i := 0; i < 2; i++ {
		res, b := raw(t, srv, http.MethodPost, sync, nil, false)
		e := parseErr(t, b)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "7" || e.Error.Message != "Please retry again later." {
			t.Fatalf("throttled sync %d: %d Retry-After %q %q", i, res.StatusCode, res.Header.Get("Retry-After"), e.Error.Message)
		}
	}
	if st := srv.Snapshot().Settings; st != nil && !st.LastManualSyncTriggerDateTime.IsZero() {
		t.Errorf("a throttled sync set the trigger time: %v", st.LastManualSyncTriggerDateTime)
	}
	if res, _ := raw(t, srv, http.MethodPost, sync, nil, false); res.StatusCode != 204 {
		t.Fatalf("third sync: %d, want 204", res.StatusCode)
	}
	srv.SetSyncThrottled(0)
	res, b := raw(t, srv, http.MethodPost, sync, nil, false)
	if e := parseErr(t, b); res.StatusCode != 409 && (res.StatusCode != 429 || e.Error.Message == "Please retry again later.") {
		t.Errorf("sync after a sync: %d %q, want 409 or the 10-minute 429", res.StatusCode, e.Error.Message)
	}
	if _, err := emulator.LoadConfig(writeTemp(t, `{"sync_throttled": -1}`)); err == nil {
		t.Error("negative sync_throttled accepted")
	}
	if _, err := emulator.LoadConfig(writeTemp(t, `{"visibility_delay": "-1s"}`)); err == nil {
		t.Error("negative visibility_delay accepted")
	}
	cfg, err := emulator.LoadConfig(writeTemp(t, `{"visibility_delay": "90s", "sync_throttled": 3}`))
	if err != nil || cfg.VisibilityDelay.D() != 90*time.Second || cfg.SyncThrottled != 3 {
		t.Errorf("config: %+v %v", cfg.VisibilityDelay, err)
	}
}

func decodeJSONBytes(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%.200s: %w", b, err)
	}
	return nil
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "emulator.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
