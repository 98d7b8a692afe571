package hwhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// knownCodes is the documented problem code set (hwhash.go).
var knownCodes = map[string]bool{
	CodeNotBase64: true, CodeLayout: true, CodeChecksum: true, CodeMissingSerial: true,
	CodeMissingManufacturer: true, CodePadding: true, CodeLength: true, CodeTrailingData: true,
	CodeEKMismatch: true,
}

// warningCodes are the codes that must always be warnings.
var warningCodes = map[string]bool{CodePadding: true, CodeLength: true, CodeTrailingData: true, CodeEKMismatch: true}

// rec is one record for buildRaw.
type rec struct {
	typ  uint16
	data []byte
}

func str(typ uint16, s string) rec { return rec{typ, append([]byte(s), 0)} }

// buildRaw assembles records into a correctly signed 3000-byte hash.
func buildRaw(recs ...rec) []byte {
	buf := []byte{'O', 'A', 0, 0}
	for _, r := range recs {
		buf = binary.LittleEndian.AppendUint16(buf, r.typ)
		buf = binary.LittleEndian.AppendUint16(buf, uint16(4+len(r.data)))
		buf = append(buf, r.data...)
	}
	binary.LittleEndian.PutUint16(buf[2:], uint16(len(buf)))
	t := len(buf)
	sum := sha256.Sum256(buf)
	buf = append(buf, 'C', 'S', 0x24, 0)
	buf = append(buf, sum[:]...)
	out := make([]byte, 3000)
	copy(out, buf[:t+36])
	return out
}

// resign recomputes the SHA-256 trailer after a test edited bytes before T.
func resign(raw []byte) []byte {
	t := int(binary.LittleEndian.Uint16(raw[2:]))
	sum := sha256.Sum256(raw[:t])
	copy(raw[t+4:], sum[:])
	return raw
}

// usedLen returns T.
func usedLen(raw []byte) int { return int(binary.LittleEndian.Uint16(raw[2:])) }

// fullDevice sets every field the encoder knows.
func fullDevice() Device {
	return Device{
		Serial: "PF3ABC12", Manufacturer: "LENOVO", Model: "21G2001VUS",
		SKU: "LENOVO_MT_21G2", Family: "ThinkPad P14s Gen 5",
		UUID:         [16]byte{0x0b, 0x53, 0xf7, 0xcc, 0x35, 0x67, 0x11, 0xb2, 0xa8, 0x5c, 0xd8, 0x17, 0x83, 0x8b, 0xfa, 0x35},
		MACs:         [][6]byte{{0x40, 0xc7, 0x3c, 0x61, 0xaf, 0xad}, {0xc8, 0x53, 0x09, 0xe5, 0xae, 0xda}},
		DiskSerials:  []string{"8CE3_8E10_0123_4567.", "WD-0001"},
		TPMVersion:   "TPM-Version:2.0 -Level:0-Revision:1.59-VendorID:'NTC '-Firmware:458754.262144",
		EKPub:        bytes.Repeat([]byte{0xa5}, 256),
		ProductKeyID: "3556252499682",
		CaptureTime:  1764086400,
	}
}

// sample is one row of a real Get-WindowsAutopilotInfo export.
type sample struct {
	file, serial, hash string
}

// samplesDir returns the public samples directory, skipping the test when it is absent
// (failing under CI=true).
func samplesDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "samples-public")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("samples dir %s missing under CI: %v", dir, err)
		}
		tb.Skipf("samples dir %s missing: %v", dir, err)
	}
	return dir
}

// readSamples reads the rows of every *HWID*.csv (UTF-16LE with BOM).
func readSamples(tb testing.TB, dir string) []sample {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []sample
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		text, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(b)
		if err != nil {
			tb.Fatalf("%s: utf-16 decode: %v", filepath.Base(f), err)
		}
		rows, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil {
			tb.Fatalf("%s: csv: %v", filepath.Base(f), err)
		}
		if len(rows) < 2 {
			tb.Fatalf("%s: %d rows, want a header and at least one device", filepath.Base(f), len(rows))
		}
		si, hi := -1, -1
		for i, h := range rows[0] {
			switch strings.TrimSpace(h) {
			case "Device Serial Number":
				si = i
			case "Hardware Hash":
				hi = i
			}
		}
		if si < 0 || hi < 0 {
			tb.Fatalf("%s: header %q lacks Device Serial Number/Hardware Hash", filepath.Base(f), rows[0])
		}
		for _, r := range rows[1:] {
			out = append(out, sample{file: filepath.Base(f), serial: r[si], hash: r[hi]})
		}
	}
	return out
}
