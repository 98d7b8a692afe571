package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// FuzzGraphRequest feeds arbitrary methods, paths, queries and bodies to the handler
// (in process): it must never panic and must always answer with a Graph error body or a
// success status.
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
	})
}
