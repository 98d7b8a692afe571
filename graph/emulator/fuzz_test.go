package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// FuzzGraphRequest feeds arbitrary methods, paths, queries and bodies to the handler
// (in process): it must never panic and must always answer with a Graph error body or a
// success status; after every request the emulated tenant must still be consistent
// (checkState) and no answer may echo a hash.
func FuzzGraphRequest(f *testing.F) {
	seeds := []struct{ method, path, query, body string }{
		{"POST", "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities", "", `{"serialNumber":"A","hardwareIdentifier":"T0E="}`},
		{"POST", "/beta/deviceManagement/importedWindowsAutopilotDeviceIdentities/import", "", `{"importedWindowsAutopilotDeviceIdentities":[{"serialNumber":"A"},{"hardwareIdentifier":"@@"}]}`},
		{"GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", "$filter=contains(serialNumber,'a''b')&$top=3", ""},
		{"GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", "$filter=contains(serialNumber,)&$skiptoken=ZW11OjE", ""},
		{"POST", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities('d1')/updateDeviceProperties", "", `{"groupTag":null,"displayName":"x"}`},
		{"POST", "/v1.0/$batch", "", `{"requests":[{"id":"1","method":"GET","url":"/deviceManagement/windowsAutopilotDeviceIdentities/d1"},{"id":"2","method":"DELETE","url":"deviceManagement/windowsAutopilotDeviceIdentities/d1","dependsOn":["1"]}]}`},
		{"POST", "/beta/deviceManagement/windowsAutopilotSettings/sync", "", ""},
		{"DELETE", "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/('')", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, []byte(s.body))
	}
	srv, err := emulator.Start(func() emulator.Config {
		c := testConfig()
		c.RequestLimit, c.WriteLimit = 1<<30, 1<<30
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "d1", SerialNumber: "S1"}}}
		return c
	}())
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	tok := srv.IssueToken([]string{emulator.RoleReadWrite}, 24*time.Hour)
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest("GET", "https://127.0.0.1/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Method = method
		req.URL.Path = path
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 400 && rec.Code != http.StatusBadGateway {
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" {
				t.Fatalf("%s %s?%s: status %d without a Graph error body: %q", method, path, query, rec.Code, rec.Body.String())
			}
		}
		if echoedHash.Match(rec.Body.Bytes()) {
			t.Fatalf("%s %s?%s: the answer echoes a hardwareIdentifier: %.200q", method, path, query, rec.Body.String())
		}
		checkState(t, srv)
	})
}

// echoedHash matches a hardwareIdentifier with a value in an answer (the service never
// returns the hash: null or "").
var echoedHash = regexp.MustCompile(`"hardwareIdentifier"\s*:\s*"[^"]`)

// checkState is the emulated tenant's invariant: ids are unique, every import record
// has a status of the documented enum, a completed record names a registration, and a
// record in error has an error code.
func checkState(t *testing.T, srv *emulator.Server) {
	t.Helper()
	ids := map[string]bool{}
	for _, d := range srv.Registered() {
		if d.ID == "" || ids[d.ID] {
			t.Fatalf("registered device id %q empty or repeated", d.ID)
		}
		ids[d.ID] = true
	}
	recs := map[string]bool{}
	for _, r := range srv.Imported() {
		if r.ID == "" || recs[r.ID] {
			t.Fatalf("import record id %q empty or repeated", r.ID)
		}
		recs[r.ID] = true
		switch st := r.State.DeviceImportStatus; st {
		case "unknown", "pending", "partial":
		case "complete":
			if r.State.DeviceRegistrationID == "" {
				t.Fatalf("import record %s complete without a registration id", r.ID)
			}
		case "error":
			if r.State.DeviceErrorCode == 0 {
				t.Fatalf("import record %s in error without an error code", r.ID)
			}
		default:
			t.Fatalf("import record %s has status %q, not of the enum", r.ID, st)
		}
	}
}
