package samples

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/apimport/apimport/hwhash"
)

var update = flag.Bool("update", false, "rewrite the sample files")

// machine returns a made-up device; n selects the serial, capture the capture time.
func machine(n int, capture uint64) hwhash.Device {
	makers := []struct{ mfr, model, family string }{
		{"Contoso", "Contoso Book 13", "Book"},
		{"Fabrikam Inc.", "Fabrikam Pro 7", "Pro"},
		{"Contoso", "Contoso Desk 800 G2", "Desk"},
	}
	m := makers[n%len(makers)]
	d := hwhash.Device{
		Serial:       fmt.Sprintf("CZC%07d", 4100000+n*37),
		Manufacturer: m.mfr,
		Model:        m.model,
		SKU:          fmt.Sprintf("SKU-%03d", n%5),
		Family:       m.family,
		TPMVersion:   "TPM-Version:2.0 -Level:0-Revision:1.38-VendorID:'CTSO'-Firmware:7.2.3.1",
		DiskSerials:  []string{fmt.Sprintf("S4EVNX0N%06d", 900000+n)},
		EKPub:        bytes.Repeat([]byte{byte(n + 1)}, 256),
		CaptureTime:  capture,
	}
	d.UUID[0], d.UUID[1], d.UUID[15] = byte(n), 0x5a, byte(n*7)
	d.MACs = [][6]byte{{0x00, 0x15, 0x5d, 0x01, byte(n), 0x10}}
	return d
}

func hashOf(d hwhash.Device) string { return d.EncodeBase64() }

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2+2*len(u))
	b[0], b[1] = 0xFF, 0xFE
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2+2*i:], r)
	}
	return b
}

func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

const canon = "Device Serial Number,Windows Product ID,Hardware Hash"

// files returns every sample: name -> bytes.
func files() map[string][]byte {
	out := map[string][]byte{}

	// Get-WindowsAutopilotInfo under Windows PowerShell 5.1: UTF-16LE with BOM, no quotes,
	// empty product ID, CRLF with a final CRLF.
	var l []string
	l = append(l, canon)
	for n := 1; n <= 5; n++ {
		d := machine(n, 1000)
		l = append(l, d.Serial+",,"+hashOf(d))
	}
	out["canonical-utf16.csv"] = utf16le(crlf(l...))

	// The ConfigMgr report "Windows Autopilot Device Information" exported as CSV from the
	// console (SSRS, Excel mode): text-box preamble, a blank line, element-name header, and
	// rows whose first three cells repeat the labels. UTF-8 with BOM. The product ID column
	// holds OS product IDs, which are not PKIDs.
	l = []string{
		"Textbox_ReportName,Textbox_Description",
		`Windows Autopilot Device Information,"Serial number, Windows product ID and hardware hash of clients"`,
		"",
		"Textbox2,Textbox3,Textbox4,Details_Table0_SerialNumber,Details_Table0_WindowsProductID,Details_Table0_HardwareHash",
	}
	for n := 10; n < 14; n++ {
		d := machine(n, 2000)
		l = append(l, fmt.Sprintf("Device Serial Number,Windows Product ID,Hardware Hash,%s,00330-80000-00000-AA%03d,%s", d.Serial, n, hashOf(d)))
	}
	out["configmgr-report.csv"] = append([]byte{0xEF, 0xBB, 0xBF}, crlf(l...)...)

	// Two Get-WindowsAutopilotInfo files merged with Get-Content | Add-Content: the header
	// repeats mid-file, and one machine was captured twice (a duplicate, not a conflict).
	l = []string{canon}
	for n := 20; n < 23; n++ {
		d := machine(n, 3000)
		l = append(l, d.Serial+",,"+hashOf(d))
	}
	l = append(l, canon)
	for n := 22; n < 25; n++ {
		d := machine(n, 3100) // machine 22 again, captured later
		l = append(l, d.Serial+",,"+hashOf(d))
	}
	out["merged.csv"] = utf16le(crlf(l...))

	// PowerShell 7 output with -GroupTag and -AssignedUser: UTF-8 without BOM.
	l = []string{canon + ",Group Tag,Assigned User"}
	for n := 30; n < 34; n++ {
		d := machine(n, 4000)
		user := ""
		if n%2 == 0 {
			user = fmt.Sprintf("user%d@contoso.com", n)
		}
		l = append(l, d.Serial+",,"+hashOf(d)+",Sales-Kiosk,"+user)
	}
	out["grouptag.csv"] = []byte(crlf(l...))

	// The typical mistakes admins send in, one per row (UTF-8, quoted like Export-Csv).
	good := machine(40, 5000)
	recap := machine(40, 5001) // the same machine captured again
	other := machine(41, 5000)
	other.Serial = machine(42, 0).Serial // another machine claiming machine 42's serial
	m42 := machine(42, 5000)
	brokenRaw := machine(43, 5000).Encode()
	brokenRaw[100] ^= 0x01 // one flipped bit: the SHA-256 trailer no longer matches
	broken := base64.StdEncoding.EncodeToString(brokenRaw)
	mismatch := machine(44, 5000)
	placeholder := machine(45, 5000)
	placeholder.Serial = "To be filled by O.E.M."
	unpadded := machine(46, 5000)
	row := func(serial, pid, hash, tag, user string) string {
		return fmt.Sprintf("%q,%q,%q,%q,%q", serial, pid, hash, tag, user)
	}
	l = []string{`"Device Serial Number","Windows Product ID","Hardware Hash","Group Tag","Assigned User"`,
		row(good.Serial, "", hashOf(good), "Lab", ""),                                                   // valid
		row(good.Serial, "", hashOf(good), "Lab", ""),                                                   // same row twice: duplicate
		row(recap.Serial, "", hashOf(recap), "Lab", ""),                                                 // recaptured: duplicate
		row(m42.Serial, "", hashOf(m42), "Lab", ""),                                                     // conflict with the next row
		row(other.Serial, "", hashOf(other), "Lab", ""),                                                 // same serial, other machine
		row("CZC9999999", "", "", "Lab", ""),                                                            // missing hash
		row(machine(43, 0).Serial, "", broken, "Lab", ""),                                               // checksum
		row("CZC0000001", "", hashOf(mismatch), "Lab", ""),                                              // serial differs from the hash
		row(placeholder.Serial, "", hashOf(placeholder), "Lab", ""),                                     // placeholder serial
		row(unpadded.Serial, "", hashOf(unpadded)+"", "Lab, Floor 2", ""),                               // comma in group tag
		row(machine(47, 0).Serial, "", hashOf(machine(47, 5000)), "Lab", "not-an-upn"),                  // bad user
		row(machine(48, 0).Serial, "12345678901234567890", hashOf(machine(48, 5000))[:3998], "Lab", ""), // bad product ID, unpadded hash
	}
	out["mistakes.csv"] = []byte(crlf(l...))

	// Not an import file: the Intune/Graph list of registered devices (no hash column).
	out["not-an-import-file.csv"] = []byte(crlf(
		`"displayName","serialNumber","manufacturer","model","enrollmentState","groupTag","Id"`,
		`"DESKTOP-01","CZC4100037","Contoso","Contoso Book 13","enrolled","Sales","6f1c0f5e-0000-4000-8000-000000000001"`,
	))
	return out
}

func TestSamples(t *testing.T) {
	for name, want := range files() {
		path := filepath.Join(".", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./samples -update)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (run go test ./samples -update)", name)
		}
	}
}
