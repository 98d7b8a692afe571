package mapping

import (
	"encoding/base64"
	"fmt"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
)

// machine returns a synthetic device; n picks its UUID and TPM key, so two values of n are
// two different machines even when they share a serial.
func machine(serial string, n int) hwhash.Device {
	d := hwhash.Device{
		Serial:       serial,
		Manufacturer: "Contoso",
		Model:        "Book 13",
		TPMVersion:   "2.0",
		EKPub:        []byte(fmt.Sprintf("ek-modulus-%d", n)),
		CaptureTime:  1_700_000_000,
	}
	d.UUID[0], d.UUID[1], d.UUID[15] = byte(n), byte(n>>8), 0x42
	d.MACs = [][6]byte{{0x00, 0x15, 0x5d, byte(n >> 8), byte(n), 0x01}}
	return d
}

// recaptured is the same machine captured again later: another hash, same identity.
func recaptured(d hwhash.Device) hwhash.Device {
	d.CaptureTime += 86_400 * 3
	return d
}

func b64(d hwhash.Device) string { return d.EncodeBase64() }

// corrupt returns the base64 of d's hash with byte i changed (not re-checksummed).
func corrupt(d hwhash.Device, i int) string {
	raw := d.Encode()
	raw[i] ^= 0x55
	return base64.StdEncoding.EncodeToString(raw)
}

func row(file string, line int, serial, hash string) csvreport.Row {
	return csvreport.Row{File: file, Line: line, Serial: serial, Hash: hash}
}

func codesOf(fs []Finding, warning bool) []string {
	var out []string
	for _, f := range fs {
		if f.Warning == warning {
			out = append(out, f.Code)
		}
	}
	return out
}
