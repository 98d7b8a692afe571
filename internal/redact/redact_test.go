package redact

import (
	"strings"
	"testing"
)

func TestHashes(t *testing.T) {
	hash := strings.Repeat("QUJDRA==", 500) // 4,000 base64 characters
	for _, tc := range []struct{ in, want string }{
		{"serial CZC4100037", "serial CZC4100037"},
		{"a " + hash + " b", "a " + hash[:Keep] + "…(4000 characters) b"},
		{hash, hash[:Keep] + "…(4000 characters)"},
		{strings.Repeat("x", Run-1), strings.Repeat("x", Run-1)},
		{"Url: https://fef.example/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService/deviceManagement/windowsAutopilotDeviceIdentities?x", "Url: https://fef.example/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService/deviceManagement/windowsAutopilotDeviceIdentities?x"},
		{"Cannot convert the literal '" + hash + "' x " + hash, "Cannot convert the literal '" + hash[:Keep] + "…(4000 characters)' x " + hash[:Keep] + "…(4000 characters)"},
	} {
		if got := Hashes(tc.in); got != tc.want {
			t.Errorf("Hashes(%.40q…) = %.80q", tc.in, got)
		}
		if strings.Contains(Hashes(tc.in), hash) {
			t.Errorf("a full hash survived")
		}
	}
}
