package mapping

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// ssrsRendering describes one way the ConfigMgr report "Windows Autopilot Device
// Information" reaches apimport as CSV (see the csvreport package documentation, "The
// ConfigMgr report"): the SSRS CSV renderer's mode (ExcelMode true, the default, or
// false: flat), its Encoding device setting (UTF-8 or Unicode), NoHeader, and the
// delivery: a file-share subscription or URL access (&rs:Format=CSV) both write the
// renderer's bytes as they are; URL access read through PowerShell 5.1's
// (Invoke-WebRequest …).Content | Out-File re-encodes them.
type ssrsRendering struct {
	name      string
	flat      bool   // ExcelMode=false
	noHeader  bool   // NoHeader=true
	encoding  string // "utf-8", "utf-8-bom", "unicode"
	finalCRLF bool   // the last record ends with CRLF
	psContent bool   // URL access saved with (Invoke-WebRequest).Content | Out-File (PowerShell 5.1)
	wantMode  string // in the ssrs_layout note
	wantEnc   string // in the ssrs_layout note
}

var ssrsRenderings = []ssrsRendering{
	{name: "excel utf-8 bom, file share", encoding: "utf-8-bom", finalCRLF: true, wantMode: "Excel mode", wantEnc: "UTF-8 with BOM"},
	{name: "excel utf-8 no bom, url access", encoding: "utf-8", wantMode: "Excel mode", wantEnc: "UTF-8"},
	{name: "excel unicode, file share", encoding: "unicode", finalCRLF: true, wantMode: "Excel mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "excel unicode, url access", encoding: "unicode", wantMode: "Excel mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "flat utf-8 bom, file share", flat: true, encoding: "utf-8-bom", finalCRLF: true, wantMode: "flat mode", wantEnc: "UTF-8 with BOM"},
	{name: "flat utf-8 bom, url access", flat: true, encoding: "utf-8-bom", wantMode: "flat mode", wantEnc: "UTF-8 with BOM"},
	{name: "flat unicode, file share", flat: true, encoding: "unicode", finalCRLF: true, wantMode: "flat mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "flat unicode, url access", flat: true, encoding: "unicode", wantMode: "flat mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "flat utf-8 no header (NoHeader=true), url access", flat: true, noHeader: true, encoding: "utf-8", wantMode: "flat mode", wantEnc: "UTF-8"},
	{name: "excel unicode no header (NoHeader=true), file share", noHeader: true, encoding: "unicode", finalCRLF: true, wantMode: "Excel mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "excel utf-8 bom, url access through PowerShell .Content | Out-File", encoding: "utf-8-bom", psContent: true, finalCRLF: true, wantMode: "Excel mode", wantEnc: "Unicode (UTF-16LE)"},
	{name: "flat utf-8 bom, url access through PowerShell .Content | Out-File", flat: true, encoding: "utf-8-bom", psContent: true, finalCRLF: true, wantMode: "flat mode", wantEnc: "Unicode (UTF-16LE)"},
}

// ssrsDevice is one device row of a generated report; hash "" is a device whose hash is
// not in inventory.
type ssrsDevice struct{ serial, productID, hash string }

// renderSSRS builds the report's CSV bytes the way the SSRS CSV renderer writes them:
// CRLF record delimiters, a field quoted only when it holds the delimiter, a quote or a
// line break, text boxes named Textbox_ReportName and Textbox_Description, column label
// text boxes Textbox2..4 and detail text boxes Details_Table0_SerialNumber,
// Details_Table0_WindowsProductID, Details_Table0_HardwareHash.
func renderSSRS(t *testing.T, r ssrsRendering, devs []ssrsDevice) []byte {
	t.Helper()
	quote := func(v string) string {
		if strings.ContainsAny(v, ",\"\r\n") {
			return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		return v
	}
	join := func(cells ...string) string {
		for i, c := range cells {
			cells[i] = quote(c)
		}
		return strings.Join(cells, ",")
	}
	textNames := []string{"Textbox_ReportName", "Textbox_Description"}
	textValues := []string{"Windows Autopilot Device Information", "Serial number, Windows product ID and hardware hash of clients"}
	tableNames := []string{"Textbox2", "Textbox3", "Textbox4", "Details_Table0_SerialNumber", "Details_Table0_WindowsProductID", "Details_Table0_HardwareHash"}
	labels := []string{"Device Serial Number", "Windows Product ID", "Hardware Hash"}
	var lines []string
	if r.flat {
		if !r.noHeader {
			lines = append(lines, join(append(append([]string{}, textNames...), tableNames...)...))
		}
		for _, d := range devs {
			cells := append(append(append([]string{}, textValues...), labels...), d.serial, d.productID, d.hash)
			lines = append(lines, join(cells...))
		}
	} else {
		lines = append(lines, join(textNames...), join(textValues...), "")
		if !r.noHeader {
			lines = append(lines, join(tableNames...))
		}
		for _, d := range devs {
			lines = append(lines, join(append(append([]string{}, labels...), d.serial, d.productID, d.hash)...))
		}
	}
	text := strings.Join(lines, "\r\n")
	if r.finalCRLF {
		text += "\r\n"
	}
	var out []byte
	switch r.encoding {
	case "utf-8":
		out = []byte(text)
	case "utf-8-bom":
		out = append([]byte{0xEF, 0xBB, 0xBF}, text...)
	case "unicode":
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		out = b
	default:
		t.Fatalf("encoding %q", r.encoding)
	}
	if r.psContent {
		// PowerShell 5.1 decodes a response without charset as ISO-8859-1 (the BOM
		// becomes "ï»¿"), Out-File writes UTF-16LE with BOM.
		latin := make([]rune, len(out))
		for i, b := range out {
			latin[i] = rune(b)
		}
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(string(latin)))
		if err != nil {
			t.Fatal(err)
		}
		out = b
	}
	return out
}

// TestSSRSRenderingsMissingHash: in every rendering, encoding and delivery of the
// ConfigMgr report, devices without a hash are invalid (missing_hash) and every other
// device stays valid; the note names the rendering (issue 9).
func TestSSRSRenderingsMissingHash(t *testing.T) {
	const n = 14
	var devs []ssrsDevice
	for i := range n {
		serial := fmt.Sprintf("CZC41%05d", i)
		hash := b64(machine(serial, i+1))
		if i == 0 || i == 6 || i == n-1 { // the first, one in the middle, the last
			hash = ""
		}
		devs = append(devs, ssrsDevice{serial, fmt.Sprintf("00330-80000-00000-AA%03d", i), hash})
	}
	dir := t.TempDir()
	for _, r := range ssrsRenderings {
		t.Run(r.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.NewReplacer(" ", "_", ",", "", "(", "", ")", "", "|", "", ".", "", "=", "").Replace(r.name)+".csv",
				string(renderSSRS(t, r, devs)))
			rep, err := CheckFiles(context.Background(), []string{path}, Options{}, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.FileErrors) > 0 {
				t.Fatalf("file errors: %v", rep.FileErrors[0])
			}
			if len(rep.Results) != n {
				t.Fatalf("%d results, want %d", len(rep.Results), n)
			}
			for i, res := range rep.Results {
				want := StatusValid
				if devs[i].hash == "" {
					want = StatusInvalid
				}
				if res.Serial != devs[i].serial || res.Status != want {
					t.Errorf("row %d: %s %s %v, want %s %s", i, res.Serial, res.Status, res.Codes, devs[i].serial, want)
				}
				if want == StatusInvalid && (len(res.Codes) != 1 || res.Codes[0] != CodeMissingHash) {
					t.Errorf("row %d: codes %v, want [missing_hash]", i, res.Codes)
				}
			}
			var layout string
			for _, nt := range rep.Notes {
				if nt.Code == "ssrs_layout" {
					layout = nt.Message
				}
				if nt.Code == "header_changed" || nt.Code == "unknown_column" {
					t.Errorf("unexpected note %s: %s", nt.Code, nt.Message)
				}
			}
			if !strings.Contains(layout, r.wantMode) || !strings.Contains(layout, r.wantEnc) {
				t.Errorf("layout note %q, want %q and %q", layout, r.wantMode, r.wantEnc)
			}
			if r.noHeader != strings.Contains(layout, "no header row") {
				t.Errorf("layout note %q: header row?", layout)
			}
			if got := rep.Formats[path].Layout; got != "ssrs" {
				t.Errorf("layout %s", got)
			}
			_ = filepath.Base(path)
		})
	}
}
