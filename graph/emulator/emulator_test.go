package emulator_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

const importedPath = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"

func TestRequestBodyValidation(t *testing.T) {
	hash := base64.StdEncoding.EncodeToString(machine("SN-V", "Contoso", 1))
	unpadded := strings.TrimRight(hash[:len(hash)-2], "=") + "A" // length not a multiple of 4
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(hash)
	if urlSafe == hash {
		urlSafe = "ab-_" + hash[4:]
	}
	tests := []struct {
		name    string
		path    string
		body    any
		gz      bool
		mutate  func(*emulator.Config)
		status  int
		wantMsg string
	}{
		{"valid", importedPath, map[string]any{"serialNumber": "SN-V", "hardwareIdentifier": hash, "groupTag": "", "state": map[string]any{"deviceImportStatus": "pending"}, "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity"}, false, nil, 201, ""},
		{"valid gzip", importedPath, map[string]any{"serialNumber": "SN-V", "hardwareIdentifier": hash}, true, nil, 201, ""},
		{"hash with line breaks", importedPath, map[string]any{"serialNumber": "SN-V", "hardwareIdentifier": hash[:100] + "\r\n" + hash[100:]}, false, nil, 201, ""},
		{"bad padding", importedPath, map[string]any{"serialNumber": "SN-V", "hardwareIdentifier": unpadded}, false, nil, 400, "Cannot convert the literal '" + unpadded[:16] + "...' to the expected type 'Edm.Binary'."},
		{"url-safe alphabet", importedPath, map[string]any{"serialNumber": "SN-V", "hardwareIdentifier": urlSafe}, false, nil, 400, "to the expected type 'Edm.Binary'"},
		{"number as binary", importedPath, map[string]any{"hardwareIdentifier": 12}, false, nil, 400, "'Edm.Binary'"},
		{"number as string", importedPath, map[string]any{"serialNumber": 12}, false, nil, 400, "'Edm.String'"},
		{"deprecated orderIdentifier", importedPath, map[string]any{"serialNumber": "SN-V", "orderIdentifier": "x"}, false, nil, 400, "The property 'orderIdentifier' does not exist on type 'microsoft.graph.importedWindowsAutopilotDeviceIdentity'"},
		{"unknown property allowed when configured", importedPath, map[string]any{"serialNumber": "SN-V", "orderIdentifier": "x"}, false, func(c *emulator.Config) { f := false; c.RejectUnknown = &f }, 201, ""},
		{"not JSON", importedPath, "{nope", false, nil, 400, "Invalid request body"},
		{"import: unknown parameter", importedPath + "/import", map[string]any{"devices": []any{}}, false, nil, 400, "The parameter 'devices'"},
		{"import: empty list", importedPath + "/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{}}, false, nil, 200, ""},
		{"import: bad item fails the call", importedPath + "/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{map[string]any{"hardwareIdentifier": "abc"}}}, false, nil, 400, "Edm.Binary"},
		{"import: over max_import_items", importedPath + "/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{map[string]any{}, map[string]any{}, map[string]any{}}}, false, func(c *emulator.Config) { c.MaxImportItems = 2 }, 400, "at most 2"},
		{"updateDeviceProperties: unknown parameter", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/d1/updateDeviceProperties", map[string]any{"orderIdentifier": "x"}, false, nil, 400, "not a valid parameter for the operation 'updateDeviceProperties'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startEmu(t, func(c *emulator.Config) {
				c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "d1", SerialNumber: "S1"}}}
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			res, b := raw(t, srv, http.MethodPost, tt.path, tt.body, tt.gz)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.status >= 400 {
				e := parseErr(t, b)
				if e.Error.Code != "BadRequest" || !strings.Contains(e.Error.Message, tt.wantMsg) {
					t.Fatalf("error %s %q, want BadRequest containing %q", e.Error.Code, e.Error.Message, tt.wantMsg)
				}
				if strings.Contains(string(b), hash[:64]) {
					t.Fatal("error echoes the hash")
				}
				if n := len(srv.Imported()); n != 0 {
					t.Fatalf("a rejected request created %d records", n)
				}
			}
		})
	}
}

func TestContentEncoding(t *testing.T) {
	srv := startEmu(t, nil)
	req, _ := http.NewRequest(http.MethodPost, srv.GraphURL+importedPath, strings.NewReader(`{"serialNumber":"x"}`))
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "br")
	res, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("br body: %d, want 415 (the SDK then resends uncompressed)", res.StatusCode)
	}
	// gzip header over a plain body (what a mis-ordered retry sends) is refused
	req, _ = http.NewRequest(http.MethodPost, srv.GraphURL+importedPath, strings.NewReader(`{"serialNumber":"x"}`))
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour))
	req.Header.Set("Content-Encoding", "gzip")
	res, err = srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("fake gzip: %d, want 400", res.StatusCode)
	}
}

func TestRouting(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "d1", SerialNumber: "S1"}}}
	})
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		msg    string
	}{
		{"v1.0 has no windowsAutopilotSettings", "GET", "/v1.0/deviceManagement/windowsAutopilotSettings", nil, 400, "Resource not found for the segment 'windowsAutopilotSettings'."},
		{"beta settings", "GET", "/beta/deviceManagement/windowsAutopilotSettings", nil, 200, ""},
		{"beta import list", "GET", "/beta/deviceManagement/importedWindowsAutopilotDeviceIdentities", nil, 200, ""},
		{"unknown root segment", "GET", "/v1.0/users", nil, 400, "Resource not found for the segment 'users'."},
		{"unknown collection", "GET", "/v1.0/deviceManagement/deviceConfigurations", nil, 400, "segment 'deviceConfigurations'"},
		{"unknown action", "POST", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/d1/wipe", map[string]any{}, 400, "segment 'wipe'"},
		{"wrong method", "PATCH", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", map[string]any{}, 405, ""},
		{"case-insensitive segments", "POST", "/beta/devicemanagement/WindowsAutopilotDeviceIdentities/d1/UpdateDeviceProperties", map[string]any{"groupTag": "g"}, 204, ""},
		{"key in parentheses", "GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities('d1')", nil, 200, ""},
		{"namespace-qualified action", "POST", "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/microsoft.graph.import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{}}, 200, ""},
		{"bad skiptoken", "GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$skiptoken=zzz", nil, 400, ""},
		{"bad top", "GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$top=-1", nil, 400, "$top"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := raw(t, srv, tt.method, tt.path, tt.body, false)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if res.Header.Get("request-id") == "" || res.Header.Get("client-request-id") == "" {
				t.Fatal("missing request-id/client-request-id headers")
			}
			log := srv.Requests()
			if last := log[len(log)-1]; last.RequestID != res.Header.Get("request-id") || last.Status != tt.status {
				t.Fatalf("log entry %+v does not match the response (request-id %s)", last, res.Header.Get("request-id"))
			}
			if tt.status >= 400 {
				if e := parseErr(t, b); !strings.Contains(e.Error.Message, tt.msg) {
					t.Fatalf("message %q, want %q", e.Error.Message, tt.msg)
				}
			}
		})
	}
}

func TestBatchValidation(t *testing.T) {
	srv := startEmu(t, nil)
	item := func(id, url string) map[string]any { return map[string]any{"id": id, "method": "GET", "url": url} }
	many := []any{}
	for i := 0; i < 21; i++ {
		many = append(many, item(fmt.Sprint(i), "/deviceManagement/windowsAutopilotDeviceIdentities"))
	}
	tests := []struct {
		name       string
		body       any
		status     int
		itemStatus map[string]int
	}{
		{"21 requests", map[string]any{"requests": many}, 400, nil},
		{"20 requests", map[string]any{"requests": many[:20]}, 200, map[string]int{"0": 200, "19": 200}},
		{"no requests", map[string]any{"requests": []any{}}, 400, nil},
		{"duplicate ids", map[string]any{"requests": []any{item("a", "/deviceManagement/windowsAutopilotDeviceIdentities"), item("a", "/deviceManagement/windowsAutopilotDeviceIdentities")}}, 400, nil},
		{"dependsOn unknown id", map[string]any{"requests": []any{map[string]any{"id": "a", "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities", "dependsOn": []string{"z"}}}}, 400, nil},
		{"body without Content-Type", map[string]any{"requests": []any{map[string]any{"id": "a", "method": "POST", "url": "/deviceManagement/importedWindowsAutopilotDeviceIdentities", "body": map[string]any{}}}}, 400, nil},
		{"absolute url", map[string]any{"requests": []any{item("a", "https://graph.microsoft.com/v1.0/deviceManagement/windowsAutopilotDeviceIdentities")}}, 200, map[string]int{"a": 400}},
		{"relative url without slash", map[string]any{"requests": []any{item("a", "deviceManagement/windowsAutopilotDeviceIdentities")}}, 200, map[string]int{"a": 200}},
		{"dependency ok", map[string]any{"requests": []any{item("a", "/deviceManagement/windowsAutopilotDeviceIdentities"),
			map[string]any{"id": "b", "method": "GET", "url": "/deviceManagement/windowsAutopilotDeviceIdentities", "dependsOn": []string{"a"}}}}, 200, map[string]int{"a": 200, "b": 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := raw(t, srv, http.MethodPost, "/v1.0/$batch", tt.body, true)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.status != 200 {
				parseErr(t, b)
				return
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
			got := map[string]int{}
			for _, r := range out.Responses {
				got[r.ID] = r.Status
			}
			for id, st := range tt.itemStatus {
				if got[id] != st {
					t.Fatalf("item %s: %d, want %d (%s)", id, got[id], st, b)
				}
			}
		})
	}
	res, _ := rawTok(t, srv, "", http.MethodPost, "/v1.0/$batch", map[string]any{"requests": many[:1]}, false)
	if res.StatusCode != 401 {
		t.Fatalf("unauthenticated batch: %d", res.StatusCode)
	}
}

func statuses(t *testing.T, srv *emulator.Server, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		res, _ := raw(t, srv, http.MethodGet, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil, false)
		s := fmt.Sprint(res.StatusCode)
		if res.StatusCode == 503 {
			s += "/" + res.Header.Get("Retry-After")
		}
		out = append(out, s)
	}
	return out
}

func TestFaultsDeterministic(t *testing.T) {
	mk := func(seed int64) *emulator.Server {
		return startEmu(t, func(c *emulator.Config) {
			c.RandomSeed = seed
			c.Faults = emulator.Faults{Error5xx: 0.3, Error503: 0.2, RetryAfterSeconds: 7}
		})
	}
	a, b, other := statuses(t, mk(42), 40), statuses(t, mk(42), 40), statuses(t, mk(43), 40)
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if strings.Join(a, " ") == strings.Join(other, " ") {
		t.Fatal("different seeds gave the same faults")
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	if count["200"] == 0 || count["503/7"] == 0 || count["500"]+count["502"]+count["504"] == 0 {
		t.Fatalf("fault mix %v lacks a kind", count)
	}
	for s := range count {
		if s == "503/" {
			t.Fatal("503 without Retry-After")
		}
	}
}

func TestFaultDropAndSlow(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) { c.Faults = emulator.Faults{DropConnection: 1} })
	req, _ := http.NewRequest(http.MethodGet, srv.GraphURL+"/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour))
	if res, err := srv.HTTPClient().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped connection answered %d", res.StatusCode)
	}
	// dropped after processing: the write happened, the client cannot tell
	srv.SetFaults(emulator.Faults{DropConnection: 1, DropAfterProcessing: true})
	body := strings.NewReader(`{"serialNumber":"SN-DROP"}`)
	req, _ = http.NewRequest(http.MethodPost, srv.GraphURL+importedPath, body)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour))
	if res, err := srv.HTTPClient().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped connection answered %d", res.StatusCode)
	}
	if n := len(srv.Imported()); n != 1 {
		t.Fatalf("%d imported after drop_after_processing, want 1", n)
	}
	srv.SetFaults(emulator.Faults{SlowResponse: 1, SlowDelay: emulator.Duration(time.Millisecond)})
	if res, _ := raw(t, srv, http.MethodGet, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil, false); res.StatusCode != 200 {
		t.Fatalf("slow response status %d", res.StatusCode)
	}
	var kinds []string
	for _, e := range srv.Requests() {
		kinds = append(kinds, e.Fault)
	}
	if strings.Join(kinds, ",") != "drop,drop,slow" {
		t.Fatalf("logged faults %v", kinds)
	}
}

type throttleStep struct {
	at    float64 // seconds from start
	write bool
	want  int
	retry string // expected Retry-After on a 429
}

func TestThrottleModes(t *testing.T) {
	f := false
	tests := []struct {
		name         string
		mode         string
		count        *bool
		reqs, writes int
		steps        []throttleStep
	}{
		{"sliding", "sliding", &f, 2, 1, []throttleStep{{0, false, 200, ""}, {5, false, 200, ""}, {6, false, 429, "4"}, {10.5, false, 200, ""}, {10.6, false, 429, "5"}}},
		{"sliding, throttled not counted", "sliding", &f, 2, 1, []throttleStep{{0, false, 200, ""}, {0, false, 200, ""}, {1, false, 429, "9"}, {10.5, false, 200, ""}, {10.6, false, 200, ""}}},
		{"sliding, throttled counted (default)", "sliding", nil, 2, 1, []throttleStep{{0, false, 200, ""}, {0, false, 200, ""}, {1, false, 429, "9"}, {10.5, false, 200, ""}, {10.6, false, 429, "1"}}},
		{"fixed", "fixed", nil, 2, 1, []throttleStep{{0, false, 200, ""}, {5, false, 200, ""}, {6, false, 429, "4"}, {10, false, 200, ""}, {11, false, 200, ""}, {12, false, 429, "8"}}},
		{"writes limited, reads not", "sliding", nil, 10, 1, []throttleStep{{0, true, 201, ""}, {1, true, 429, "9"}, {2, false, 200, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			now := start
			srv := startEmu(t, func(c *emulator.Config) {
				c.RequestLimit, c.WriteLimit = tt.reqs, tt.writes
				c.ThrottleWindow = emulator.Duration(10 * time.Second)
				c.ThrottleMode = tt.mode
				c.CountThrottled = tt.count
			})
			srv.SetClock(func() time.Time { return now })
			tok := srv.IssueToken([]string{emulator.RoleReadWrite}, 100*time.Hour)
			for i, st := range tt.steps {
				now = start.Add(time.Duration(st.at * float64(time.Second)))
				method, path, body := http.MethodGet, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", any(nil)
				if st.write {
					method, path, body = http.MethodPost, importedPath, map[string]any{"serialNumber": "x"}
				}
				res, b := rawTok(t, srv, tok, method, path, body, false)
				if res.StatusCode != st.want {
					t.Fatalf("step %d (t=%v): %d, want %d: %s", i, st.at, res.StatusCode, st.want, b)
				}
				if st.want == 429 {
					if e := parseErr(t, b); e.Error.Code != "TooManyRequests" || e.Error.InnerError["code"] != "429" {
						t.Fatalf("429 body %s", b)
					}
					if got := res.Header.Get("Retry-After"); got != st.retry {
						t.Fatalf("step %d: Retry-After %q, want %q", i, got, st.retry)
					}
				}
			}
		})
	}
}

func TestPersistenceAndLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Dir = filepath.Join(dir, "emu")
	cfg.StateFile = filepath.Join(dir, "state.json")
	cfg.LogFile = filepath.Join(dir, "requests.jsonl")
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hash := base64.StdEncoding.EncodeToString(machine("SN-PERSIST", "Contoso", 1))
	res, b := raw(t, srv, http.MethodPost, importedPath, map[string]any{"serialNumber": "SN-PERSIST", "hardwareIdentifier": hash}, false)
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	first := struct{ tenant, client, secret string }{srv.TenantID, srv.ClientID, srv.ClientSecret}
	ca1, _ := os.ReadFile(srv.CAFile)
	time.Sleep(30 * time.Millisecond) // past processing_delay
	if n := len(srv.Registered()); n != 1 {
		t.Fatalf("%d registered", n)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2 := startEmu(t, func(c *emulator.Config) { *c = cfg })
	if got := (struct{ tenant, client, secret string }{srv2.TenantID, srv2.ClientID, srv2.ClientSecret}); got != first {
		t.Fatal("identity changed across restart with the same dir")
	}
	ca2, _ := os.ReadFile(srv2.CAFile)
	if string(ca1) != string(ca2) {
		t.Fatal("CA changed across restart with the same dir")
	}
	reg := srv2.Registered()
	if len(reg) != 1 || reg[0].SerialNumber != "SN-PERSIST" || reg[0].Manufacturer != "Contoso" {
		t.Fatalf("registered after restart: %+v", reg)
	}
	imp := srv2.Imported()
	if len(imp) != 1 || imp[0].State.DeviceImportStatus != emulator.StatusComplete || imp[0].State.DeviceRegistrationID != reg[0].ID {
		t.Fatalf("imported after restart: %+v", imp)
	}
	srv2.Close()

	f, err := os.Open(cfg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	sawSerial := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		if strings.Contains(sc.Text(), hash[:40]) {
			t.Fatal("log contains the hardware hash")
		}
		var e emulator.LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %d: %v", lines, err)
		}
		if e.Method == http.MethodPost && e.Status == 201 && len(e.Serials) == 1 && e.Serials[0] == "SN-PERSIST" && e.Write {
			sawSerial = true
		}
	}
	if !sawSerial {
		t.Fatal("log has no entry for the create with its serial")
	}
}

func TestSeedPendingAndSnapshot(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := startEmu(t, nil)
	srv.SetClock(func() time.Time { return now })
	err := srv.Seed(emulator.State{
		Imported: []emulator.ImportedIdentity{
			{ID: "p1", SerialNumber: "SN-P1", HardwareIdentifier: machine("SN-P1", "Contoso", 1), CreatedAt: now, ProcessAt: now.Add(time.Minute)},
			{ID: "p2", SerialNumber: "SN-P2", HardwareIdentifier: []byte{1}, CreatedAt: now, ProcessAt: now.Add(2 * time.Minute), PresetErrorCode: 808},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	statusOf := func() string {
		var s []string
		for _, r := range srv.Imported() {
			s = append(s, r.State.DeviceImportStatus+fmt.Sprint(r.State.DeviceErrorCode))
		}
		return strings.Join(s, ",")
	}
	if got := statusOf(); got != "unknown0,unknown0" {
		t.Fatalf("at start: %s", got)
	}
	now = now.Add(time.Minute)
	if got := statusOf(); got != "complete0,unknown0" {
		t.Fatalf("after 1m: %s", got)
	}
	now = now.Add(time.Minute)
	if got := statusOf(); got != "complete0,error808" {
		t.Fatalf("after 2m: %s", got)
	}
	if err := srv.Seed(emulator.State{Imported: []emulator.ImportedIdentity{{ID: "p1"}}}); err == nil {
		t.Fatal("duplicate id accepted")
	}
	snap := srv.Snapshot()
	if len(snap.Registered) != 1 || len(snap.Imported) != 2 || snap.Settings == nil {
		t.Fatalf("snapshot %d/%d", len(snap.Registered), len(snap.Imported))
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		json    string
		wantErr string
		check   func(emulator.Config) bool
	}{
		{"durations and faults", `{"processing_delay":"150ms","throttle_window":2,"faults":{"error_5xx":0.1,"slow_delay":"5ms"},"page_size":50}`, "",
			func(c emulator.Config) bool {
				return c.ProcessingDelay.D() == 150*time.Millisecond && c.ThrottleWindow.D() == 2*time.Second && c.Faults.Error5xx == 0.1 &&
					c.Faults.SlowDelay.D() == 5*time.Millisecond && c.PageSize == 50 && c.WriteLimit == 100 && c.SyncCooldown.D() == 10*time.Minute
			}},
		{"seed", `{"seed":{"registered":[{"serialNumber":"A"}],"other_tenant_serials":["B"]}}`, "",
			func(c emulator.Config) bool {
				return len(c.Seed.Registered) == 1 && c.Seed.OtherTenantSerials[0] == "B"
			}},
		{"unknown key", `{"procesing_delay":"1s"}`, "unknown field", nil},
		{"bad duration", `{"processing_delay":"soon"}`, "invalid duration", nil},
		{"bad rate", `{"faults":{"error_5xx":2}}`, "between 0 and 1", nil},
		{"bad mode", `{"throttle_mode":"leaky"}`, "throttle_mode", nil},
		{"bad initial status", `{"initial_status":"complete"}`, "initial_status", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("c%d.json", i))
			os.WriteFile(p, []byte(tt.json), 0o600)
			cfg, err := emulator.LoadConfig(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("err %v, want one naming %s and containing %q", err, p, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
	if _, err := emulator.LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	srv := startEmu(t, nil)
	res, err := srv.HTTPClient().Get(srv.AuthorityURL + srv.TenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := decodeJSON(res, &m); err != nil {
		t.Fatal(err)
	}
	if m["token_endpoint"] != srv.AuthorityURL+srv.TenantID+"/oauth2/v2.0/token" || m["issuer"] != srv.AuthorityURL+srv.TenantID+"/v2.0" || m["authorization_endpoint"] == nil {
		t.Fatalf("openid-configuration %v", m)
	}
	res2, err := srv.HTTPClient().Get(srv.AuthorityURL + "00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != 400 {
		t.Fatalf("unknown tenant: %d", res2.StatusCode)
	}
}

func TestThrottlePerApp(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.RequestLimit = 2
		c.ThrottleWindow = emulator.Duration(time.Hour)
		c.Clients = []emulator.ClientConfig{{ClientID: "33333333-3333-4333-8333-333333333333", ClientSecret: "s3"}}
	})
	a := srv.IssueToken([]string{emulator.RoleReadWrite}, time.Hour)
	b := srv.IssueTokenFor("33333333-3333-4333-8333-333333333333", []string{emulator.RoleReadWrite}, time.Hour)
	get := func(tok string) int {
		res, _ := rawTok(t, srv, tok, http.MethodGet, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil, false)
		return res.StatusCode
	}
	got := []int{get(a), get(a), get(a), get(b), get(b), get(b)}
	if fmt.Sprint(got) != "[200 200 429 200 200 429]" {
		t.Fatalf("statuses %v: each app must have its own budget", got)
	}
	apps := map[string]int{}
	for _, e := range srv.Requests() {
		if e.Throttled {
			apps[e.AppID]++
		}
	}
	if apps[srv.ClientID] != 1 || apps["33333333-3333-4333-8333-333333333333"] != 1 {
		t.Fatalf("throttled per app %v", apps)
	}
}
