package hwhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkProblems asserts the invariants every Problem list must meet.
func checkProblems(t *testing.T, h *Hash) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString(h.Raw)
	for _, p := range h.Problems {
		if !knownCodes[p.Code] {
			t.Errorf("problem code %q is not documented", p.Code)
		}
		if warningCodes[p.Code] != p.Warning {
			t.Errorf("code %s has Warning=%v", p.Code, p.Warning)
		}
		m := p.Message
		if m == "" || strings.HasSuffix(m, ".") || m[0] >= 'A' && m[0] <= 'Z' {
			t.Errorf("message %q: want lowercase start, no final period", m)
		}
		if len(b64) >= 60 && strings.Contains(m, b64[8:40]) {
			t.Errorf("message of %s contains hash data", p.Code)
		}
	}
}

func codes(h *Hash) []string {
	var out []string
	for _, p := range h.Problems {
		out = append(out, p.Code)
	}
	return out
}

func TestEncodeRoundTrip(t *testing.T) {
	unicodeDev := Device{Serial: "SÉRIE-ü-1", Manufacturer: "Fabricant Société", Model: "Modèle 7"}
	long := strings.Repeat("x", 400)
	tests := []struct {
		name        string
		dev         Device
		wantRecords int
		wantSerial  string // when the encoder changes the value (truncation)
	}{
		{"full", fullDevice(), 15, ""},
		{"minimal", Device{Serial: "S1", Manufacturer: "M"}, 4, ""},
		{"utf8 strings", unicodeDev, 5, ""},
		{"padded serial is trimmed", Device{Serial: "  AB12  ", Manufacturer: "M"}, 4, "AB12"},
		{"long serial truncated", Device{Serial: long, Manufacturer: "M"}, 4, long[:MaxEncodedString-1]},
		{"long utf-8 serial truncated on a rune boundary", Device{Serial: "a" + strings.Repeat("é", 200), Manufacturer: "M"}, 4,
			"a" + strings.Repeat("é", 126)},
		{"many MACs capped", Device{Serial: "S", Manufacturer: "M", MACs: make([][6]byte, 40)}, 4 + MaxEncodedRepeats, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.dev.Encode()
			if len(raw) != StandardLength {
				t.Fatalf("Encode length %d, want %d", len(raw), StandardLength)
			}
			h := ParseBytes(raw)
			checkProblems(t, h)
			if !h.Valid() || len(h.Problems) != 0 {
				t.Fatalf("encoded hash: valid=%v problems=%v", h.Valid(), h.Problems)
			}
			in := h.Info
			if in.Records != tt.wantRecords {
				t.Errorf("Records = %d, want %d", in.Records, tt.wantRecords)
			}
			wantSerial := tt.wantSerial
			if wantSerial == "" {
				wantSerial = tt.dev.Serial
			}
			d := tt.dev
			for _, c := range []struct{ field, got, want string }{
				{"Serial", in.Serial, wantSerial},
				{"Manufacturer", in.Manufacturer, d.Manufacturer},
				{"Model", in.Model, d.Model},
				{"SKU", in.SKU, d.SKU},
				{"Family", in.Family, d.Family},
				{"TPMVersion", in.TPMVersion, d.TPMVersion},
				{"ProductKeyID", in.ProductKeyID, d.ProductKeyID},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
				}
			}
			wantMACs := len(d.MACs)
			if wantMACs > MaxEncodedRepeats {
				wantMACs = MaxEncodedRepeats
			}
			if len(in.MACs) != wantMACs {
				t.Errorf("%d MACs, want %d", len(in.MACs), wantMACs)
			}
			for i := range in.MACs {
				if want := macString(d.MACs[i]); in.MACs[i] != want {
					t.Errorf("MAC %d = %s, want %s", i, in.MACs[i], want)
				}
			}
			if !slices.Equal(in.DiskSerials, d.DiskSerials) {
				t.Errorf("DiskSerials = %q, want %q", in.DiskSerials, d.DiskSerials)
			}
			if d.UUID != ([16]byte{}) && !guidRE.MatchString(in.SMBIOSUUID) {
				t.Errorf("SMBIOSUUID %q is not a lowercase GUID", in.SMBIOSUUID)
			}
			if len(d.EKPub) > 0 {
				sum := sha256.Sum256(d.EKPub)
				if in.TPMEKDigest != hex.EncodeToString(sum[:]) || in.OfflineIDType != 1 {
					t.Errorf("TPMEKDigest/OfflineIDType = %s/%d, want sha256(EKPub)/1", in.TPMEKDigest, in.OfflineIDType)
				}
			} else if in.TPMEKDigest != "" {
				t.Errorf("TPMEKDigest %q without EKPub", in.TPMEKDigest)
			}
			if got := ParseBytes(raw).Base64(); got != d.EncodeBase64() {
				t.Error("Base64() differs from EncodeBase64()")
			}
			if h2 := Parse(d.EncodeBase64()); !bytes.Equal(h2.Raw, raw) || !h2.Valid() {
				t.Error("Parse(EncodeBase64()) does not give back Encode()")
			}
		})
	}
}

func macString(m [6]byte) string {
	parts := make([]string, 6)
	for i, b := range m {
		parts[i] = hex.EncodeToString([]byte{b})
	}
	return strings.Join(parts, ":")
}

func TestEncodeUUIDOrder(t *testing.T) {
	// Record 12 holds the GUID in bytes_le order, as .NET Guid.ToByteArray writes it.
	d := Device{Serial: "S", Manufacturer: "M",
		UUID: [16]byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
	if got, want := ParseBytes(d.Encode()).Info.SMBIOSUUID, "00112233-4455-6677-8899-aabbccddeeff"; got != want {
		t.Errorf("SMBIOSUUID = %s, want %s", got, want)
	}
}

func TestIdentityAcrossCaptures(t *testing.T) {
	a, b := fullDevice(), fullDevice()
	b.CaptureTime += 3600
	ra, rb := a.Encode(), b.Encode()
	if bytes.Equal(ra, rb) {
		t.Fatal("two captures at different times encode to identical bytes")
	}
	if Fingerprint(ra) == Fingerprint(rb) {
		t.Error("different captures share a fingerprint")
	}
	ia, ib := ParseBytes(ra).Identity(), ParseBytes(rb).Identity()
	if ia != ib {
		t.Errorf("identity differs between captures: %+v vs %+v", ia, ib)
	}
	want := Identity{Serial: a.Serial, Manufacturer: a.Manufacturer, Model: a.Model,
		UUID: ParseBytes(ra).Info.SMBIOSUUID, EKDigest: ParseBytes(ra).Info.TPMEKDigest}
	if ia != want || ia.UUID == "" || ia.EKDigest == "" {
		t.Errorf("Identity = %+v, want %+v with UUID and EK digest", ia, want)
	}
	c := fullDevice()
	c.Serial = "OTHER"
	if ParseBytes(c.Encode()).Identity() == ia {
		t.Error("a different serial gives the same identity")
	}
}

func TestFingerprint(t *testing.T) {
	enc := fullDevice().Encode()
	used := ParseBytes(enc).Info.Used
	usedSum := sha256.Sum256(enc[:used])
	damaged := append([]byte(nil), enc...)
	damaged[2] = 0xff // T points nowhere: no trailer to read
	tests := []struct {
		name string
		raw  []byte
		want []byte // the digest whose first 6 bytes the fingerprint shows
	}{
		{"nil", nil, nil},
		{"encoded: the trailer digest, sha256 of [0,T)", enc, usedSum[:]},
		{"one byte", []byte{1}, nil},
		{"no trailer", damaged, nil},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		fp := Fingerprint(tt.raw)
		want := tt.want
		if want == nil {
			sum := sha256.Sum256(tt.raw)
			want = sum[:]
		}
		if fp != hex.EncodeToString(want)[:12] {
			t.Errorf("%s: Fingerprint = %s, want %s", tt.name, fp, hex.EncodeToString(want)[:12])
		}
		if other, dup := seen[fp]; dup {
			t.Errorf("%s and %s share fingerprint %s", tt.name, other, fp)
		}
		seen[fp] = tt.name
	}
}

func TestNilHash(t *testing.T) {
	var h *Hash
	if h.Valid() || h.Identity() != (Identity{}) || h.Base64() != "" || h.Errors() != nil {
		t.Error("nil *Hash methods must return zero values")
	}
}

func TestCanonical(t *testing.T) {
	full := good()
	badSum := good()
	badSum[40] ^= 1
	junk := good()
	junk[2999] = 7
	tests := []struct {
		name      string
		raw       []byte
		canonical bool // Canonical is the full good hash; else it is Raw unchanged
	}{
		{"standard length", full, true},
		{"cut inside the zero padding", full[:1536], true},
		{"cut right after the checksum", full[:usedLen(full)+trailerLen], true},
		{"zeros appended", append(good(), make([]byte, 72)...), true},
		{"cut before the end of the checksum", full[:usedLen(full)+20], false},
		{"cut short, checksum fails", badSum[:1536], false},
		{"non-zero bytes after the checksum", junk, false},
		{"non-zero bytes appended", append(good(), 0, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ParseBytes(append([]byte(nil), tt.raw...))
			got := h.Canonical()
			want := tt.raw
			if tt.canonical {
				want = full
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Canonical: %d bytes, want %d (equal to the full hash: %v)", len(got), len(want), bytes.Equal(got, full))
			}
			if h.CanonicalBase64() != b64(want) {
				t.Error("CanonicalBase64 is not the base64 of Canonical")
			}
			if tt.canonical && len(tt.raw) != StandardLength && !bytes.Equal(h.Raw, tt.raw) {
				t.Error("Canonical changed Raw")
			}
		})
	}
	var nilHash *Hash
	if nilHash.Canonical() != nil || nilHash.CanonicalBase64() != "" {
		t.Error("nil *Hash: Canonical must be empty")
	}
}

// corrupt describes one way to break a good hash.
type corrupt struct {
	name      string
	input     func() string // base64 input for Parse
	wantCodes []string      // every code that must be present
	wantValid bool
	wantMsg   string // substring of some problem message
}

func b64(raw []byte) string { return base64.StdEncoding.EncodeToString(raw) }

// good returns a fresh valid hash.
func good() []byte { return fullDevice().Encode() }

// edit returns a fresh valid hash changed by f.
func edit(f func(raw []byte) []byte) func() string { return func() string { return b64(f(good())) } }

func TestParseProblems(t *testing.T) {
	tests := []corrupt{
		{name: "valid", input: edit(func(r []byte) []byte { return r }), wantValid: true},
		{name: "line-wrapped with CRLF, tabs and NULs", wantValid: true, input: func() string {
			s := b64(good())
			var b strings.Builder
			for i := 0; i < len(s); i += 76 {
				b.WriteString(s[i:min(i+76, len(s))])
				b.WriteString("\r\n\t\x00")
			}
			return "  " + b.String()
		}},
		{name: "flipped byte in records", wantCodes: []string{CodeChecksum}, wantMsg: "checksum does not match",
			input: edit(func(r []byte) []byte { r[40] ^= 1; return r })},
		{name: "flipped byte in checksum", wantCodes: []string{CodeChecksum},
			input: edit(func(r []byte) []byte { r[usedLen(r)+10] ^= 0x80; return r })},
		{name: "bad magic", wantCodes: []string{CodeLayout}, wantMsg: `"OA" magic`,
			input: edit(func(r []byte) []byte { r[0] = 'X'; return r })},
		{name: "T is 4", wantCodes: []string{CodeLayout}, wantMsg: "out of range",
			input: edit(func(r []byte) []byte { binary.LittleEndian.PutUint16(r[2:], 4); return r })},
		{name: "T past the end", wantCodes: []string{CodeLayout}, wantMsg: "record area length 2990 is out of range",
			input: edit(func(r []byte) []byte { binary.LittleEndian.PutUint16(r[2:], 2990); return r })},
		{name: "truncated before the trailer", wantCodes: []string{CodeLayout, CodeLength}, wantMsg: "out of range",
			input: edit(func(r []byte) []byte { return r[:usedLen(r)+20] })},
		{name: "truncated to 30 bytes", wantCodes: []string{CodeLayout}, wantMsg: "too short",
			input: edit(func(r []byte) []byte { return r[:30] })},
		{name: "truncated inside zero padding", wantValid: true, wantCodes: []string{CodeLength}, wantMsg: "the value was cut short",
			input: edit(func(r []byte) []byte { return r[:1500] })},
		{name: "cut at 2048 characters", wantValid: true, wantCodes: []string{CodeLength}, wantMsg: "the zeros are restored when it is written",
			input: func() string { return b64(good())[:2048] }},
		{name: "record overruns T", wantCodes: []string{CodeLayout},
			wantMsg: "record 2 at offset 32 runs past the end (len 1000,",
			input:   edit(func(r []byte) []byte { binary.LittleEndian.PutUint16(r[34:], 1000); return resign(r) })},
		{name: "record length below 4", wantCodes: []string{CodeLayout}, wantMsg: "record 2 at offset 32 has length 3",
			input: edit(func(r []byte) []byte { binary.LittleEndian.PutUint16(r[34:], 3); return resign(r) })},
		{name: "records end before T", wantCodes: []string{CodeLayout}, wantMsg: "header runs past the end of the record area (2 bytes left)",
			input: func() string {
				r := buildRaw(str(RecManufacturer, "M"), str(RecSerial, "S"))
				t0 := usedLen(r)
				// Two more bytes inside T: move the trailer and re-sign.
				copy(r[t0+2:], r[t0:t0+4])
				r[t0], r[t0+1] = 0, 0
				binary.LittleEndian.PutUint16(r[2:], uint16(t0+2))
				return b64(resign(r))
			}},
		{name: "bad trailer", wantCodes: []string{CodeLayout}, wantMsg: "trailer at offset",
			input: edit(func(r []byte) []byte { r[usedLen(r)+1] = 'X'; return r })},
		{name: "missing serial", wantCodes: []string{CodeMissingSerial}, wantMsg: "record 14",
			input: func() string { d := fullDevice(); d.OmitSerial = true; return d.EncodeBase64() }},
		{name: "blank serial", wantCodes: []string{CodeMissingSerial},
			input: func() string { return b64(buildRaw(str(RecManufacturer, "M"), str(RecSerial, " \x00 "))) }},
		{name: "missing manufacturer", wantCodes: []string{CodeMissingManufacturer}, wantMsg: "record 16",
			input: func() string { d := fullDevice(); d.OmitManufacturer = true; return d.EncodeBase64() }},
		{name: "missing both", wantCodes: []string{CodeMissingSerial, CodeMissingManufacturer},
			input: func() string { return b64(buildRaw(str(RecModel, "X"))) }},
		{name: "unpadded base64", wantValid: true, wantCodes: []string{CodePadding, CodeLength}, wantMsg: "added 2 '='",
			input: func() string {
				s := b64(append(good(), 0))
				if !strings.HasSuffix(s, "==") {
					panic("test setup: expected == padding")
				}
				return strings.TrimRight(s, "=")
			}},
		{name: "one = missing", wantValid: true, wantCodes: []string{CodePadding, CodeLength}, wantMsg: "added 1 '='",
			input: func() string { return strings.TrimSuffix(b64(append(good(), 0, 0)), "=") }},
		{name: "base64url character", wantCodes: []string{CodeNotBase64}, wantMsg: "base64url",
			input: func() string { s := b64(good()); return s[:100] + "-" + s[101:] }},
		{name: "asterisk", wantCodes: []string{CodeNotBase64}, wantMsg: "character '*' at offset 7",
			input: func() string { s := b64(good()); return s[:7] + "*" + s[8:] }},
		{name: "offset counts skipped whitespace", wantCodes: []string{CodeNotBase64}, wantMsg: "character '*' at offset 5",
			input: func() string { return " \r\n\tT*E=" }},
		{name: "non-ascii", wantCodes: []string{CodeNotBase64}, wantMsg: "character 'é' at offset 3",
			input: func() string { s := b64(good()); return s[:3] + "é" + s[5:] }},
		{name: "invalid utf-8", wantCodes: []string{CodeNotBase64}, wantMsg: "byte 0xff at offset 3",
			input: func() string { s := b64(good()); return s[:3] + "\xff" + s[4:] }},
		{name: "padding in the middle", wantCodes: []string{CodeNotBase64}, wantMsg: "after '=' padding",
			input: func() string { s := b64(good()); return s[:8] + "==" + s[8:] }},
		{name: "three =", wantCodes: []string{CodeNotBase64}, wantMsg: "too many '='",
			input: func() string { return "QQ===" }},
		{name: "one char too many", wantCodes: []string{CodeNotBase64}, wantMsg: "cannot be a base64 length",
			input: func() string { return b64(good()) + "A" }},
		{name: "padding on a full quantum", wantCodes: []string{CodeNotBase64}, wantMsg: "'=' padding where none belongs",
			input: func() string { return "QUJD==" }},
		{name: "partial padding completed", wantCodes: []string{CodePadding, CodeLayout}, wantMsg: "added 1 '='",
			input: func() string { return "QUJDQQ=" }},
		{name: "empty", wantCodes: []string{CodeNotBase64}, wantMsg: "empty", input: func() string { return "" }},
		{name: "whitespace only", wantCodes: []string{CodeNotBase64}, wantMsg: "empty", input: func() string { return " \r\n\t" }},
		{name: "quoted csv cell", wantCodes: []string{CodeNotBase64}, wantMsg: "column boundaries",
			input: func() string { return `"` + b64(good()) + `"` }},
		{name: "trailing data", wantValid: true, wantCodes: []string{CodeTrailingData}, wantMsg: "offset 2999",
			input: edit(func(r []byte) []byte { r[2999] = 7; return r })},
		{name: "ek mismatch", wantValid: true, wantCodes: []string{CodeEKMismatch},
			input: func() string {
				d := fullDevice()
				ek := make([]byte, 10+32)
				copy(ek, ekPrefix[:])
				return b64(buildRaw(str(RecManufacturer, d.Manufacturer), str(RecSerial, d.Serial),
					rec{RecOfflineID, ek}, rec{RecTPMEKPub, d.EKPub}))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Parse(tt.input())
			if h == nil {
				t.Fatal("Parse returned nil")
			}
			checkProblems(t, h)
			if h.Valid() != tt.wantValid {
				t.Errorf("Valid() = %v, want %v (problems %v)", h.Valid(), tt.wantValid, h.Problems)
			}
			got := codes(h)
			for _, c := range tt.wantCodes {
				if !slices.Contains(got, c) {
					t.Errorf("codes %v lack %s", got, c)
				}
			}
			if len(tt.wantCodes) == 0 && len(got) != 0 {
				t.Errorf("unexpected problems %v", h.Problems)
			}
			if tt.wantMsg != "" && !slices.ContainsFunc(h.Problems, func(p Problem) bool { return strings.Contains(p.Message, tt.wantMsg) }) {
				t.Errorf("no message contains %q: %v", tt.wantMsg, h.Problems)
			}
			if !tt.wantValid && len(h.Errors()) == 0 {
				t.Error("invalid hash without an error-level problem")
			}
		})
	}
}

func TestParseBytesEmpty(t *testing.T) {
	for _, raw := range [][]byte{nil, {}} {
		h := ParseBytes(raw)
		if h.Valid() || !slices.Contains(codes(h), CodeLayout) {
			t.Errorf("ParseBytes(%v): valid=%v codes=%v, want a layout error", raw, h.Valid(), codes(h))
		}
	}
}

func TestFieldDecoding(t *testing.T) {
	utf16le := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		return b
	}
	tests := []struct {
		name  string
		rec   rec
		field func(Info) string
		want  string
	}{
		{"8-bit NUL-terminated", str(RecModel, "HP EliteBook 840 G8"), func(i Info) string { return i.Model }, "HP EliteBook 840 G8"},
		{"no terminator", rec{RecModel, []byte("X1 Carbon")}, func(i Info) string { return i.Model }, "X1 Carbon"},
		{"text after NUL ignored", rec{RecModel, []byte("A\x00garbage")}, func(i Info) string { return i.Model }, "A"},
		{"spaces trimmed", str(RecSKU, "  SKU 1  "), func(i Info) string { return i.SKU }, "SKU 1"},
		{"latin-1", rec{RecFamily, []byte{'C', 'a', 'f', 0xe9, 0}}, func(i Info) string { return i.Family }, "Café"},
		{"utf-16le", rec{RecModel, append(utf16le("Surface Pro"), 0, 0)}, func(i Info) string { return i.Model }, "Surface Pro"},
		{"utf-16le without terminator", rec{RecSKU, utf16le("Ab")}, func(i Info) string { return i.SKU }, "Ab"},
		{"single char", str(RecFamily, "Z"), func(i Info) string { return i.Family }, "Z"},
		{"disk serial", rec{RecDiskSerial, []byte(" WD-123 |WDC PC SN|")}, func(i Info) string { return strings.Join(i.DiskSerials, ",") }, "WD-123"},
		{"disk serial without model", rec{RecDiskSerial, []byte("ABC\x00")}, func(i Info) string { return strings.Join(i.DiskSerials, ",") }, "ABC"},
		{"empty disk serial skipped", rec{RecDiskSerial, []byte("|model|")}, func(i Info) string { return strings.Join(i.DiskSerials, ",") }, ""},
		{"os build", rec{RecVersion, []byte{0, 0, 10, 0, 0xca, 0x09, 0x5d, 0x58, 0, 0, 10, 0, 0x0d, 0x0c, 0x5d, 0x58, 1, 2, 3, 4, 0, 2, 9, 8}},
			func(i Info) string { return i.OSBuild }, "10.0.22621.3085"},
		{"short version record", rec{RecVersion, []byte{1, 2, 3}}, func(i Info) string { return i.OSBuild }, ""},
		{"mac", rec{RecNetwork, []byte{14, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 8, 0, 0, 0}},
			func(i Info) string { return strings.Join(i.MACs, ",") }, "de:ad:be:ef:00:01"},
		{"short network record", rec{RecNetwork, []byte{14, 0, 0, 0, 1}}, func(i Info) string { return strings.Join(i.MACs, ",") }, ""},
		{"uuid bytes_le", rec{RecSMBIOSUUID, []byte{0xf5, 0xca, 0x97, 0xec, 0x7c, 0xb9, 0x67, 0x48, 0xb8, 0x6e, 0xe7, 0xdb, 0xf7, 0x2e, 0xa0, 0xa1}},
			func(i Info) string { return i.SMBIOSUUID }, "ec97caf5-b97c-4867-b86e-e7dbf72ea0a1"},
		{"short uuid", rec{RecSMBIOSUUID, []byte{1, 2}}, func(i Info) string { return i.SMBIOSUUID }, ""},
		{"ek from record 25", rec{RecTPMEKPub, []byte("modulus")}, func(i Info) string { return i.TPMEKDigest },
			"6aa905bf176b6d2a989a835f4c11c2a61bd8c35268258f17f169ee0755fdc628"},
		{"offline id type 3 is not an EK", rec{RecOfflineID, append([]byte{0, 0, 0, 0, 3, 1, 0x20, 0, 0, 0}, bytes.Repeat([]byte{0xab}, 32)...)},
			func(i Info) string { return i.TPMEKDigest + "|" + i.OfflineID[:4] }, "|abab"},
		{"unknown types counted", rec{37, []byte{1}}, func(i Info) string { return strings.Repeat("u", i.UnknownRecords) }, "u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ParseBytes(buildRaw(str(RecManufacturer, "M"), str(RecSerial, "S"), tt.rec))
			if !h.Valid() {
				t.Fatalf("problems %v", h.Problems)
			}
			if got := tt.field(h.Info); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEKDigestFromRecord25(t *testing.T) {
	// The table above pins a digest; cross-check it so a typo there cannot hide a bug.
	sum := sha256.Sum256([]byte("modulus"))
	h := ParseBytes(buildRaw(str(RecManufacturer, "M"), str(RecSerial, "S"), rec{RecTPMEKPub, []byte("modulus")}))
	if h.Info.TPMEKDigest != hex.EncodeToString(sum[:]) {
		t.Errorf("TPMEKDigest = %s, want sha256 of record 25", h.Info.TPMEKDigest)
	}
}

// TestParsePathsAgree checks that the no-copy fast path and the lenient scanning path
// decode the same bytes.
func TestParsePathsAgree(t *testing.T) {
	raw := good()
	s := b64(raw)
	wrap := func(sep string) string {
		var b strings.Builder
		for i := 0; i < len(s); i += 64 {
			b.WriteString(s[i:min(i+64, len(s))])
			b.WriteString(sep)
		}
		return b.String()
	}
	tests := []struct{ name, in string }{
		{"plain", s},
		{"CRLF wrapped (fast path)", wrap("\r\n")},
		{"space wrapped (scanning path)", wrap(" ")},
		{"NUL terminated", s + "\x00"},
		{"tabs around", "\t" + s + "\t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Parse(tt.in)
			if !bytes.Equal(h.Raw, raw) || !h.Valid() || len(h.Problems) != 0 {
				t.Errorf("Raw equal=%v valid=%v problems=%v", bytes.Equal(h.Raw, raw), h.Valid(), h.Problems)
			}
			if h.Base64() != s {
				t.Error("Base64() is not the canonical form")
			}
		})
	}
}
