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

// TestAssumedBehavioursAreConfigurable covers the switches for behaviours doc.go marks
// ASSUMED or documents as service quirks.
func TestAssumedBehavioursAreConfigurable(t *testing.T) {
	reg := "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
	tests := []struct {
		name   string
		mutate func(*emulator.Config)
		path   string
		status int
		header string // Retry-After wanted on a 429
	}{
		{"$select is a 500 by default", nil, reg + "?$select=serialNumber", 500, ""},
		{"$select ignored with select_status -1", func(c *emulator.Config) { c.SelectStatus = -1 }, reg + "?$select=serialNumber", 200, ""},
		{"$select status configurable", func(c *emulator.Config) { c.SelectStatus = 400 }, reg + "?$select=serialNumber", 400, ""},
		{"hyphen in contains allowed by default", nil, reg + "?$filter=" + urlq("contains(serialNumber,'ec2a-7e9f')"), 200, ""},
		{"hyphen in contains rejected when configured", func(c *emulator.Config) { c.RejectHyphenContains = true }, reg + "?$filter=" + urlq("contains(serialNumber,'ec2a-7e9f')"), 400, ""},
		{"fixed Retry-After", func(c *emulator.Config) { c.RequestLimit = 1; c.RetryAfterSeconds = 42 }, reg, 429, "42"},
		{"computed Retry-After", func(c *emulator.Config) { c.RequestLimit = 1; c.ThrottleWindow = emulator.Duration(30 * time.Second) }, reg, 429, "30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startEmu(t, tt.mutate)
			now := time.Now()
			srv.SetClock(func() time.Time { return now })
			res, b := raw(t, srv, http.MethodGet, tt.path, nil, false)
			if tt.status == 429 {
				res, b = raw(t, srv, http.MethodGet, tt.path, nil, false)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, b)
			}
			if tt.header != "" && res.Header.Get("Retry-After") != tt.header {
				t.Fatalf("Retry-After %q, want %q", res.Header.Get("Retry-After"), tt.header)
			}
		})
	}
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "(", "%28", ")", "%29", ",", "%2C").Replace(s)
}

// TestSameMachineTwoUploads: two captures of one machine in separate uploads are decided
// in creation order, so the second sees the first registration (806); identical hashes
// in separate uploads are not 807 (that is within one upload only).
func TestSameMachineTwoUploads(t *testing.T) {
	srv := startEmu(t, nil)
	now := time.Now()
	srv.SetClock(func() time.Time { return now })
	h1 := base64.StdEncoding.EncodeToString(machine("SN-TWICE", "Contoso", 1))
	h2 := base64.StdEncoding.EncodeToString(machine("SN-TWICE", "Contoso", 2))
	for _, h := range []string{h1, h2, h1} {
		if res, b := raw(t, srv, http.MethodPost, importedPath, map[string]any{"serialNumber": "SN-TWICE", "hardwareIdentifier": h}, false); res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, b)
		}
	}
	now = now.Add(time.Second)
	var got []int
	for _, r := range srv.Imported() {
		got = append(got, r.State.DeviceErrorCode)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 806 || got[2] != 806 {
		t.Fatalf("codes %v, want [0 806 806]", got)
	}
}

func TestInitialStatus(t *testing.T) {
	for _, st := range []string{"", emulator.StatusPending, emulator.StatusPartial} {
		t.Run("status "+st, func(t *testing.T) {
			srv := startEmu(t, func(c *emulator.Config) { c.InitialStatus = st })
			now := time.Now()
			srv.SetClock(func() time.Time { return now })
			h := base64.StdEncoding.EncodeToString(machine("SN-IS", "Contoso", 1))
			res, b := raw(t, srv, http.MethodPost, importedPath, map[string]any{"serialNumber": "SN-IS", "hardwareIdentifier": h}, false)
			if res.StatusCode != 201 {
				t.Fatalf("create: %d %s", res.StatusCode, b)
			}
			want := st
			if want == "" {
				want = emulator.StatusUnknown
			}
			var rec struct {
				State struct {
					Status string `json:"deviceImportStatus"`
				} `json:"state"`
			}
			json.Unmarshal(b, &rec)
			if rec.State.Status != want {
				t.Fatalf("initial status %q, want %q", rec.State.Status, want)
			}
			now = now.Add(time.Second)
			if got := srv.Imported()[0].State.DeviceImportStatus; got != emulator.StatusComplete {
				t.Fatalf("after the delay: %q", got)
			}
		})
	}
}
