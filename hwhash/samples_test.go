package hwhash

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// TestRealSamples checks the decoder against real Get-WindowsAutopilotInfo exports.
// Only fingerprints are logged: the hashes and serials identify real machines.
func TestRealSamples(t *testing.T) {
	samples := readSamples(t, samplesDir(t))
	if len(samples) < 6 {
		t.Fatalf("found %d sample rows, want at least 6", len(samples))
	}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			h := Parse(s.hash)
			checkProblems(t, h)
			t.Logf("fingerprint %s, %d records (%d unknown), T=%d", Fingerprint(h.Raw), h.Info.Records, h.Info.UnknownRecords, h.Info.Used)
			if !h.Valid() || len(h.Problems) != 0 {
				t.Fatalf("real hash: valid=%v codes=%v", h.Valid(), codes(h))
			}
			in := h.Info
			if in.Length != StandardLength || in.Records < 20 {
				t.Errorf("Length=%d Records=%d, want 3000 bytes and 20+ records", in.Length, in.Records)
			}
			if h.Base64() != strings.TrimSpace(s.hash) {
				t.Error("Base64() does not reproduce the exported string")
			}
			if csvSerial := strings.TrimSpace(s.serial); csvSerial != "" && in.Serial != csvSerial {
				t.Errorf("record 14 serial (%d chars) differs from the CSV serial (%d chars)", len(in.Serial), len(csvSerial))
			}
			if in.Manufacturer == "" || in.Model == "" || in.Serial == "" {
				t.Errorf("manufacturer %q, model %q or serial empty", in.Manufacturer, in.Model)
			}
			if !guidRE.MatchString(in.SMBIOSUUID) {
				t.Errorf("SMBIOSUUID %q is not a lowercase GUID", in.SMBIOSUUID)
			}
			if !regexp64(in.OfflineID) {
				t.Errorf("OfflineID %q is not 64 hex digits", in.OfflineID)
			}
			// Type 1 (TPM_EK) hashes carry a TPM version and an EK digest; the VMs with
			// type 3 have neither.
			if (in.OfflineIDType == 1) != (in.TPMEKDigest != "") || (in.TPMEKDigest != "") != (in.TPMVersion != "") {
				t.Errorf("OfflineIDType %d, EK digest present %v, TPM version present %v: inconsistent",
					in.OfflineIDType, in.TPMEKDigest != "", in.TPMVersion != "")
			}
			if in.TPMVersion != "" && !strings.HasPrefix(in.TPMVersion, "TPM-Version:2.0") {
				t.Errorf("TPMVersion %q", in.TPMVersion)
			}
			for _, m := range in.MACs {
				if len(m) != 17 || strings.Count(m, ":") != 5 {
					t.Errorf("MAC %q is not aa:bb:cc:dd:ee:ff", m)
				}
			}
			if in.ProductKeyID != "" && (len(in.ProductKeyID) != 13 || strings.Trim(in.ProductKeyID, "0123456789") != "") {
				t.Errorf("ProductKeyID has %d chars, want 13 digits", len(in.ProductKeyID))
			}
			if !strings.HasPrefix(in.OSBuild, "10.0.") {
				t.Errorf("OSBuild %q, want 10.0.x.y", in.OSBuild)
			}
			if slices.Contains(in.DiskSerials, "") || slices.ContainsFunc(in.DiskSerials, func(d string) bool { return strings.Contains(d, "|") }) {
				t.Errorf("disk serials contain an empty or unsplit value")
			}
			id := h.Identity()
			if id.Serial != in.Serial || id.UUID != in.SMBIOSUUID || id.EKDigest != in.TPMEKDigest {
				t.Error("Identity does not match Info")
			}
			// VMware serials spell the raw SMBIOS UUID bytes: "VMware-56 4d … 5a 41".
			if rest, ok := strings.CutPrefix(in.Serial, "VMware-"); ok {
				b, err := hex.DecodeString(strings.NewReplacer(" ", "", "-", "").Replace(rest))
				if err != nil || len(b) != 16 {
					t.Fatalf("VMware serial does not hold 16 hex bytes: %v", err)
				}
				if in.SMBIOSUUID != guid(b) {
					t.Error("SMBIOS UUID is not the bytes_le GUID of the VMware serial bytes")
				}
			}

			// Any single changed byte in the checksummed area must be caught.
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(s.hash))
			for _, off := range []int{5, in.Used / 2, in.Used - 1} {
				bad := slices.Clone(raw)
				bad[off] ^= 0x01
				if hb := ParseBytes(bad); hb.Valid() || !slices.ContainsFunc(hb.Problems, func(p Problem) bool {
					return p.Code == CodeChecksum || p.Code == CodeLayout
				}) {
					t.Errorf("flipping byte %d not detected (codes %v)", off, codes(hb))
				}
			}
		})
	}
}

func regexp64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
