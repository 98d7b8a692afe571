package hwhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that Valid implies a verified checksum and a
// serial and manufacturer, and that every problem carries a documented code.
func FuzzParse(f *testing.F) {
	f.Add(fullDevice().EncodeBase64())
	f.Add(Device{Serial: "S", Manufacturer: "M"}.EncodeBase64())
	f.Add(Device{Serial: "S", OmitManufacturer: true}.EncodeBase64())
	f.Add(strings.TrimRight(base64.StdEncoding.EncodeToString(append(fullDevice().Encode(), 0)), "="))
	f.Add(base64.StdEncoding.EncodeToString(buildRaw(str(RecManufacturer, "M"), str(RecSerial, "S"), rec{37, []byte{1, 2}})))
	for _, junk := range []string{"", "=", "T0E=", "T0EAAA==", "QUJD==", "-_-_", "\x00 \r\n", "T0G\xffAAAA", "🙂🙂🙂🙂"} {
		f.Add(junk)
	}
	if dir, ok := fuzzSamplesDir(); ok {
		for _, s := range readSamples(f, dir) {
			f.Add(s.hash)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := Parse(s)
		if h == nil {
			t.Fatal("Parse returned nil")
		}
		checkHashInvariants(t, h)
	})
}

// FuzzParseBytes drives ParseBytes directly, so mutations reach the record walk without
// having to keep the base64 well formed.
func FuzzParseBytes(f *testing.F) {
	f.Add(fullDevice().Encode())
	f.Add(buildRaw(str(RecManufacturer, "M"), str(RecSerial, "S")))
	f.Add(fullDevice().Encode()[:1536])
	f.Add(append(fullDevice().Encode(), 0, 0, 0))
	f.Add([]byte("OA"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkHashInvariants(t, ParseBytes(raw))
	})
}

func checkHashInvariants(t *testing.T, h *Hash) {
	t.Helper()
	for _, p := range h.Problems {
		if !knownCodes[p.Code] {
			t.Fatalf("undocumented code %q", p.Code)
		}
		if warningCodes[p.Code] != p.Warning {
			t.Fatalf("code %s with Warning=%v", p.Code, p.Warning)
		}
		if p.Message == "" {
			t.Fatalf("code %s without a message", p.Code)
		}
	}
	if c := h.Canonical(); !bytes.Equal(c, h.Raw) {
		// Only a valid hash is ever padded or trimmed, only with zeros after its checksum,
		// and the result is the same hash at the standard length.
		if !h.Valid() || len(c) != StandardLength || !bytes.Equal(c[:min(len(c), len(h.Raw))], h.Raw[:min(len(c), len(h.Raw))]) {
			t.Fatalf("Canonical changed a %d-byte hash (valid %v) into %d bytes", len(h.Raw), h.Valid(), len(c))
		}
		if got := ParseBytes(c); !got.Valid() || Fingerprint(c) != Fingerprint(h.Raw) || got.Info.Serial != h.Info.Serial {
			t.Fatal("the canonical form does not verify like the original")
		}
	}
	if !h.Valid() {
		if len(h.Errors()) == 0 && len(h.Raw) > 0 {
			t.Fatal("invalid without an error")
		}
		return
	}
	raw := h.Raw
	tl := h.Info.Used
	if tl <= 4 || tl+36 > len(raw) || !bytes.Equal(raw[tl:tl+4], []byte("CS$\x00")) {
		t.Fatalf("valid hash with T=%d, len %d or bad trailer", tl, len(raw))
	}
	sum := sha256.Sum256(raw[:tl])
	if !bytes.Equal(sum[:], raw[tl+4:tl+36]) {
		t.Fatal("valid hash whose checksum does not match")
	}
	if strings.Trim(h.Info.Serial, " \x00") == "" || strings.Trim(h.Info.Manufacturer, " \x00") == "" {
		t.Fatal("valid hash without serial or manufacturer")
	}
	if id := h.Identity(); id.Serial == "" || id.Manufacturer == "" {
		t.Fatal("valid hash with an empty identity")
	}
	if got := ParseBytes(raw); !got.Valid() || got.Info.Serial != h.Info.Serial {
		t.Fatal("re-parsing a valid hash changes the verdict")
	}
}

// fuzzSamplesDir is samplesDir without skipping: fuzz seeds are optional.
func fuzzSamplesDir() (string, bool) {
	dir := "../../shared/samples-public"
	if _, err := os.Stat(dir); err != nil {
		return "", false
	}
	return dir, true
}
