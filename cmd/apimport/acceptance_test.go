package main

// Acceptance cases: files shaped like the real-world exports described in
// shared/docs/input-formats.md and graph-api.md §5-§6 (every producer, encoding, layout and
// breakage found there), generated into t.TempDir() with real, verifying hashes from
// hwhash.Device.EncodeBase64, then run through the CLI as a user would. Each case asserts
// the exit code, the status and codes of every row by file and line, file errors, and
// that the notes and hints on stderr name file:line and say what to do.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"

	"github.com/apimport/apimport/hwhash"
)

// accHash is a verifying hash of a LENOVO 20XW machine; n makes the machine distinct
// (SMBIOS UUID), capture makes another capture of the same machine.
func accHash(serial string, n byte, capture uint64) string {
	d := hwhash.Device{Serial: serial, Manufacturer: "LENOVO", Model: "20XW0026GE", CaptureTime: capture}
	d.UUID[0], d.UUID[1] = n, 0x42
	return d.EncodeBase64()
}

// utf16LE encodes s as UTF-16LE, with the BOM when bom is set (PowerShell 5.1 Out-File).
func utf16LE(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = []byte{0xFF, 0xFE}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func utf16BE(s string) []byte {
	out := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

func utf8BOM(s string) []byte { return append([]byte{0xEF, 0xBB, 0xBF}, s...) }

func ansi(t *testing.T, s string) []byte {
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wrap breaks s into CRLF-separated lines of width characters (a console window).
func wrap(s string, width int) string {
	var parts []string
	for i := 0; i < len(s); i += width {
		parts = append(parts, s[i:min(i+width, len(s))])
	}
	return strings.Join(parts, "\r\n")
}

// lines joins CRLF-terminated lines (the Windows default, with a final CRLF).
func lines(l ...string) string { return strings.Join(l, "\r\n") + "\r\n" }

// quoted is an Export-Csv line: every field quoted.
func quoted(f ...string) string { return `"` + strings.Join(f, `","`) + `"` }

const (
	hdr3       = "Device Serial Number,Windows Product ID,Hardware Hash"
	hdrTag     = hdr3 + ",Group Tag"
	hdrUser    = hdr3 + ",Group Tag,Assigned User"
	hdrPartner = hdr3 + ",Manufacturer name,Device model"
	// The ConfigMgr SSRS export: report text boxes (a quoted comma in the description),
	// an empty line, the element-name header, then label,label,label,value,value,value.
	ssrsPre  = "Textbox_ReportName,Textbox_Description\r\nWindows Autopilot Device Information,\"Serial number, product ID and hardware hash of Windows 10 devices\"\r\n\r\n"
	ssrsElem = "Textbox1,Textbox2,Textbox3,Details_Table0_SerialNumber0,Details_Table0_ProductID,Details_Table0_DeviceHardwareData0\r\n"
	ssrsLab  = "Device Serial Number,Windows Product ID,Hardware Hash,"
	osPID    = "00330-80000-00000-AA123" // an OS product ID, not a PKID
)

// Hashes used across cases: A, B, C are three machines; A2 is A captured again.
var (
	hA  = accHash("PF3ABC12", 1, 1)
	hA2 = accHash("PF3ABC12", 1, 2)
	hB  = accHash("PF3ABC13", 2, 1)
	hC  = accHash("PF3ABC14", 3, 1)
)

type accFile struct {
	name string
	data []byte
}

type accRow struct {
	file     string
	line     int
	status   string
	codes    []string // exact, sorted
	warnings []string // each must be present
}

type accCase struct {
	name  string
	files []accFile
	flags []string
	code  int
	rows  []accRow // every data row, in output order
	// fileErrs are the codes of the expected file errors, in order.
	fileErrs []string
	// stderr are substrings of the text-mode stderr (notes, errors, hints); {f} is the
	// path of the first file.
	stderr []string
	// stdout are substrings of the text-mode stdout (findings: file:line: serial: code: message).
	stdout []string
	// notStdout must not appear in the text-mode stdout.
	notStdout []string
	// convertHeader, when set, is the header line convert must write (the valid rows follow).
	convertHeader string
}

func v(file string, line int, warnings ...string) accRow {
	return accRow{file, line, "valid", nil, warnings}
}

func bad(file string, line int, codes ...string) accRow {
	slices.Sort(codes)
	return accRow{file, line, "invalid", codes, nil}
}

func accCases(t *testing.T) []accCase {
	ssrs := ssrsPre + ssrsElem + ssrsLab + "PF3ABC12," + osPID + "," + hA + "\r\n" + ssrsLab + "PF3ABC13,," + hB + "\r\n"
	gwai3 := lines(hdr3, "PF3ABC12,,"+hA, "PF3ABC13,,"+hB)
	// A hash as 2999 bytes, its base64 without the '=' padding (#6150).
	raw, _ := base64.StdEncoding.DecodeString(hC)
	unpadded := strings.TrimRight(base64.StdEncoding.EncodeToString(raw[:2999]), "=")
	ssrsNote := "read as a ConfigMgr report export"
	ssrs20 := ssrsPre + ssrsElem
	var ssrs20Rows []accRow
	for i := range 20 {
		sn := fmt.Sprintf("CZC%05d", i)
		ssrs20 += ssrsLab + sn + "," + osPID + "," + accHash(sn, byte(100+i), 1) + "\r\n"
		ssrs20Rows = append(ssrs20Rows, v("ssrs-20.csv", 5+i, "product_id_ignored"))
	}
	return []accCase{
		// --- ConfigMgr "Windows Autopilot Device Information" report, SSRS CSV export ---
		{name: "ssrs utf-8 no BOM", files: []accFile{{"ssrs.csv", []byte(ssrs)}},
			rows:   []accRow{v("ssrs.csv", 5, "product_id_ignored"), v("ssrs.csv", 6)},
			stderr: []string{"ssrs.csv:5: " + ssrsNote, "skipped 2 report line(s)"}, convertHeader: hdr3},
		{name: "ssrs utf-8 BOM", files: []accFile{{"ssrs-bom.csv", utf8BOM(ssrs)}},
			rows:   []accRow{v("ssrs-bom.csv", 5, "product_id_ignored"), v("ssrs-bom.csv", 6)},
			stderr: []string{"ssrs-bom.csv:5: " + ssrsNote}, convertHeader: hdr3},
		{name: "ssrs 2005 utf-16le", files: []accFile{{"ssrs-2005.csv", utf16LE(ssrs, true)}},
			rows:   []accRow{v("ssrs-2005.csv", 5, "product_id_ignored"), v("ssrs-2005.csv", 6)},
			stderr: []string{"ssrs-2005.csv:5: " + ssrsNote}, convertHeader: hdr3},
		{name: "ssrs preamble text box with a line break", files: []accFile{{"ssrs-ml.csv", []byte("Textbox_ReportName,Textbox_Description\r\nWindows Autopilot Device Information,\"Serial numbers and hashes\r\nfor Windows 10 1703 and later\"\r\n\r\n" +
			ssrsElem + ssrsLab + "PF3ABC12,," + hA + "\r\n" + ssrsLab + "PF3ABC13,," + hB + "\r\n")}},
			rows: []accRow{v("ssrs-ml.csv", 6), v("ssrs-ml.csv", 7)}, stderr: []string{"ssrs-ml.csv:6: " + ssrsNote}},
		{name: "ssrs no final CRLF, LF only", files: []accFile{{"ssrs-lf.csv", []byte(strings.TrimSuffix(strings.ReplaceAll(ssrs, "\r\n", "\n"), "\n"))}},
			rows: []accRow{v("ssrs-lf.csv", 5, "product_id_ignored"), v("ssrs-lf.csv", 6)}},
		{name: "ssrs element names containing the canonical names", files: []accFile{{"ssrs-elem.csv", []byte(ssrsPre +
			"Device_Serial_Number,Windows_Product_ID,Hardware_Hash,SerialNumber,ProductID,HardwareHash\r\n" + ssrsLab + "PF3ABC12,," + hA + "\r\n")}},
			rows: []accRow{v("ssrs-elem.csv", 5)}, stderr: []string{"ssrs-elem.csv:5: " + ssrsNote}},
		{name: "ssrs extra trailing columns", files: []accFile{{"ssrs-extra.csv", []byte(ssrsPre +
			"Textbox1,Textbox2,Textbox3,Details_Table0_SerialNumber,Details_Table0_ProductID,Details_Table0_HardwareHash,Details_Table0_Netbios_Name0,Details_Table0_LastHWScan\r\n" +
			ssrsLab + "PF3ABC12,," + hA + ",PC-001,11/25/2026 10:00:00 AM\r\n" + ssrsLab + "PF3ABC13,," + hB + ",PC-002,\r\n")}},
			rows:   []accRow{v("ssrs-extra.csv", 5), v("ssrs-extra.csv", 6)},
			stderr: []string{`ssrs-extra.csv:5: column 7 "Details_Table0_Netbios_Name0" of the report rows is not an import column; it is ignored`}},
		{name: "ssrs hash quoted and wrapped over two lines", files: []accFile{{"ssrs-wrap.csv", []byte(ssrsPre + ssrsElem +
			ssrsLab + "PF3ABC12,,\"" + hA[:2000] + "\r\n" + hA[2000:] + "\"\r\n" + ssrsLab + "PF3ABC13,," + hB + "\r\n")}},
			rows:   []accRow{v("ssrs-wrap.csv", 5), v("ssrs-wrap.csv", 7)},
			stderr: []string{"ssrs-wrap.csv:5: the Hardware Hash value spans several lines"}, convertHeader: hdr3},
		{name: "ssrs quoted serial with a comma", files: []accFile{{"ssrs-comma.csv", []byte(ssrsPre + ssrsElem +
			ssrsLab + "\"PF3,ABC\",," + accHash("PF3,ABC", 9, 1) + "\r\n")}},
			rows: []accRow{v("ssrs-comma.csv", 5)}},
		{name: "ssrs 20 devices: the per-row product ID warning is summarised", files: []accFile{{"ssrs-20.csv", []byte(ssrs20)}},
			rows:      ssrs20Rows,
			stdout:    []string{"ssrs-20.csv:5: CZC00000: product_id_ignored: warning:", "(the same on 19 more rows of this file; said once, --json lists every row)"},
			notStdout: []string{"ssrs-20.csv:6:"}},
		{name: "ssrs with a trailing report region (totals, footer)", files: []accFile{{"ssrs-footer.csv", []byte(ssrsPre + ssrsElem +
			ssrsLab + "PF3ABC12,," + hA + "\r\n" + ssrsLab + "PF3ABC13,," + hB + "\r\n\r\nTextbox9,Textbox10\r\n\"Generated 11/25/2026, 10:00\",Page 1 of 1\r\n")}},
			rows:   []accRow{v("ssrs-footer.csv", 5), v("ssrs-footer.csv", 6)},
			stderr: []string{`ssrs-footer.csv:8: report line "Textbox9,Textbox10" is not a device row`, "ssrs-footer.csv:9: "}},
		{name: "ssrs row without labels but with a hash is still a row", files: []accFile{{"ssrs-nolabel.csv", []byte(ssrsPre + ssrsElem +
			ssrsLab + "PF3ABC12,," + hA + "\r\n" + "PF3ABC13,," + hB + "\r\n")}},
			code: exitRows, rows: []accRow{v("ssrs-nolabel.csv", 5), {"ssrs-nolabel.csv", 6, "invalid", nil, nil}},
			stdout: []string{"ssrs-nolabel.csv:6: ", "row_columns: expected the report labels"}},
		{name: "ssrs single device without hash (inventory class missing)", files: []accFile{{"ssrs-nohash.csv", []byte(ssrsPre + ssrsElem + ssrsLab + "PF3ABC12,,\r\n")}},
			code: exitRows, rows: []accRow{bad("ssrs-nohash.csv", 5, "missing_hash")},
			stderr: []string{"ssrs-nohash.csv:5: the ConfigMgr report has no hardware hash", "MDM_DevDetail_Ext01"}},
		{name: "ssrs first device without hash", files: []accFile{{"ssrs-firstnohash.csv", []byte(ssrsPre + ssrsElem + ssrsLab + "PF3ABC13,,\r\n" + ssrsLab + "PF3ABC12,," + hA + "\r\n")}},
			code: exitRows, rows: []accRow{bad("ssrs-firstnohash.csv", 5, "missing_hash"), v("ssrs-firstnohash.csv", 6)},
			stderr: []string{"ssrs-firstnohash.csv:5: the ConfigMgr report has no hardware hash"}},
		{name: "ssrs report without devices, element header kept", files: []accFile{{"ssrs-empty.csv", []byte(ssrsPre + ssrsElem)}},
			code: exitFatal, fileErrs: []string{"no_rows"},
			stderr: []string{"ssrs-empty.csv: the file has a header but no device rows", "hint: ", "MDM_DevDetail_Ext01"}},
		{name: "ssrs report without devices, preamble only", files: []accFile{{"ssrs-none.csv", []byte(ssrsPre)}},
			code: exitFatal, fileErrs: []string{"no_rows"},
			stderr: []string{"ssrs-none.csv: this is a ConfigMgr report export (Windows Autopilot Device Information) without any device rows", "hint: ", "MDM_DevDetail_Ext01"}},

		// --- Get-WindowsAutopilotInfo (Out-File: UTF-16LE + BOM, no quotes, CRLF) ---
		{name: "gwai default", files: []accFile{{"AutopilotHWID.csv", utf16LE(gwai3, true)}},
			rows: []accRow{v("AutopilotHWID.csv", 2), v("AutopilotHWID.csv", 3)}, convertHeader: hdr3},
		{name: "gwai -GroupTag", files: []accFile{{"tag.csv", utf16LE(lines(hdrTag, "PF3ABC12,,"+hA+",Sales", "PF3ABC13,,"+hB+",Sales"), true)}},
			rows: []accRow{v("tag.csv", 2), v("tag.csv", 3)}, convertHeader: hdrTag},
		{name: "gwai -AssignedUser with empty group tag", files: []accFile{{"user.csv", utf16LE(lines(hdrUser, "PF3ABC12,,"+hA+",,alice@contoso.com"), true)}},
			rows: []accRow{v("user.csv", 2)}, convertHeader: hdrUser},
		{name: "gwai -Partner: hash row and tuple row", files: []accFile{{"partner.csv", utf16LE(lines(hdrPartner, "PF3ABC12,,"+hA+",,", "PF3ABC13,,,LENOVO,20XW0026GE"), true)}},
			code: exitRows, rows: []accRow{v("partner.csv", 2), bad("partner.csv", 3, "missing_hash")},
			stderr: []string{"partner.csv:3: rows with Manufacturer name and Device model but no Hardware Hash", "Partner Center"},
			stdout: []string{"partner.csv:3: PF3ABC13: missing_hash: the row has a manufacturer and model but no hardware hash", "only be uploaded through Partner Center"}, convertHeader: hdr3},
		{name: "gwai -Partner -Force", files: []accFile{{"partner-force.csv", utf16LE(lines(hdrPartner, "PF3ABC12,,"+hA+",LENOVO,20XW0026GE"), true)}},
			rows: []accRow{v("partner-force.csv", 2)}},
		{name: "partner center template, lower-case header, tuple only", files: []accFile{{"pc.csv", []byte(lines(
			"Device serial number,Windows product ID,Hardware hash,Manufacturer name,Device Model", "PF3ABC12,,,Microsoft Corporation,Surface Laptop"))}},
			code: exitRows, rows: []accRow{bad("pc.csv", 2, "missing_hash")}, stderr: []string{"pc.csv:2: rows with Manufacturer name", "Partner Center"}},
		{name: "gwai -Append run twice on one PC, new device first", files: []accFile{{"append.csv", utf16LE(lines(hdr3, "PF3ABC13,,"+hB, "PF3ABC12,,"+hA2, "PF3ABC12,,"+hA), true)}},
			rows:   []accRow{v("append.csv", 2), v("append.csv", 3), {"append.csv", 4, "duplicate", []string{"duplicate"}, nil}},
			stdout: []string{"append.csv:4: PF3ABC12: duplicate: same device as ", "append.csv:3"}},
		{name: "gwai -Append with a different group tag", files: []accFile{{"append-tag.csv", utf16LE(lines(hdrTag, "PF3ABC12,,"+hA2+",Kiosk", "PF3ABC12,,"+hA+",Sales"), true)}},
			rows: []accRow{v("append-tag.csv", 2), {"append-tag.csv", 3, "duplicate", []string{"duplicate"}, []string{"duplicate_differs"}}}},
		{name: "one serial, two machines", files: []accFile{{"conflict.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA, "PF3ABC12,,"+accHash("PF3ABC12", 7, 1)))}},
			code: exitRows, rows: []accRow{{"conflict.csv", 2, "conflict", []string{"conflict"}, nil}, {"conflict.csv", 3, "conflict", []string{"conflict"}, nil}},
			stdout: []string{"conflict.csv:2: PF3ABC12: conflict:", "conflict.csv:3"}},
		{name: "same device in two files", files: []accFile{{"pc1.csv", utf16LE(lines(hdr3, "PF3ABC12,,"+hA), true)}, {"pc1-again.csv", utf16LE(lines(hdr3, "PF3ABC12,,"+hA2), true)}},
			rows: []accRow{v("pc1.csv", 2), {"pc1-again.csv", 2, "duplicate", []string{"duplicate"}, nil}}, stdout: []string{"pc1-again.csv:2: PF3ABC12: duplicate: same device as ", "pc1.csv:2"}},
		{name: "MMD merge recipe (one header, UTF-16)", files: []accFile{{"aggregatedDevices.csv", utf16LE(lines(hdrTag, "PF3ABC12,,"+hA+",", "PF3ABC13,,"+hB+",Lab", "PF3ABC14,,"+hC+","), true)}},
			rows: []accRow{v("aggregatedDevices.csv", 2), v("aggregatedDevices.csv", 3), v("aggregatedDevices.csv", 4)}, convertHeader: hdrTag},
		{name: "files concatenated with Get-Content | Add-Content (header repeated)", files: []accFile{{"concat.csv", utf16LE(gwai3+lines(hdr3, "PF3ABC14,,"+hC), true)}},
			rows:   []accRow{v("concat.csv", 2), v("concat.csv", 3), v("concat.csv", 5)},
			stderr: []string{"concat.csv:4: header line repeated inside the file"}},
		{name: "two UTF-16 files joined with copy /b (second BOM mid-file)", files: []accFile{{"copyb.csv", append(utf16LE(gwai3, true), utf16LE(lines(hdr3, "PF3ABC14,,"+hC), true)...)}},
			rows: []accRow{v("copyb.csv", 2), v("copyb.csv", 3), v("copyb.csv", 5)}},
		{name: "Out-File -Append: UTF-16 rows after an ANSI file (PowerShell#9423)", files: []accFile{{"mixed.csv", append([]byte(gwai3), utf16LE(lines("PF3ABC14,,"+hC, ",,"), false)...)}},
			rows:   []accRow{v("mixed.csv", 2), v("mixed.csv", 3), v("mixed.csv", 4)},
			stderr: []string{"mixed.csv:4: NUL bytes from this line on, dropped", "save it again in one encoding"}, convertHeader: hdr3},
		{name: "Set-Content header, then rows appended with Out-File", files: []accFile{{"hdr-then-utf16.csv", append([]byte(hdr3+"\r\n"), utf16LE(lines("PF3ABC12,,"+hA, "PF3ABC13,,"+hB), false)...)}},
			rows:   []accRow{v("hdr-then-utf16.csv", 2), v("hdr-then-utf16.csv", 3)},
			stderr: []string{"hdr-then-utf16.csv:2: NUL bytes"}},
		{name: "Out-File -Append: UTF-16 (with BOM) after a UTF-8 BOM file", files: []accFile{{"mixed-bom.csv", append(utf8BOM(gwai3), utf16LE(lines("PF3ABC14,,"+hC), true)...)}},
			rows:   []accRow{v("mixed-bom.csv", 2), v("mixed-bom.csv", 3), v("mixed-bom.csv", 4)},
			stderr: []string{"mixed-bom.csv:4: NUL bytes"}},
		{name: "Out-File -Append: UTF-16 rows after an ANSI file with a non-ASCII tag", files: []accFile{{"mixed-ansi.csv", append(ansi(t, lines(hdrTag, "PF3ABC12,,"+hA+",Vertrieb Süd")), utf16LE(lines("PF3ABC13,,"+hB+",Vertrieb Süd"), false)...)}},
			rows:   []accRow{v("mixed-ansi.csv", 2), v("mixed-ansi.csv", 3)},
			stderr: []string{"mixed-ansi.csv:3: NUL bytes"}, convertHeader: hdrTag},
		{name: "PowerShell 7 >> onto a PowerShell 5.1 file: ASCII after UTF-16", files: []accFile{{"ps7-append.csv", append(utf16LE(gwai3, true), lines("PF3ABC14,,"+hC)...)}},
			rows:   []accRow{v("ps7-append.csv", 2), v("ps7-append.csv", 3), v("ps7-append.csv", 4)},
			stderr: []string{"ps7-append.csv:4: from this line on the UTF-16 file continues in ASCII/UTF-8"}, convertHeader: hdr3},
		{name: "UTF-16 file cut one byte short", files: []accFile{{"cut16.csv", func() []byte { b := utf16LE(gwai3, true); return b[:len(b)-1] }()}},
			rows: []accRow{v("cut16.csv", 2), v("cut16.csv", 3)}},
		{name: "PowerShell 7 Out-File: UTF-8 without BOM", files: []accFile{{"ps7.csv", []byte(gwai3)}},
			rows: []accRow{v("ps7.csv", 2), v("ps7.csv", 3)}},
		{name: "Export-Csv -Encoding utf8: BOM, every field quoted", files: []accFile{{"export.csv", utf8BOM(lines(quoted("Device Serial Number", "Windows Product ID", "Hardware Hash"), quoted("PF3ABC12", "", hA), quoted("PF3ABC13", "", hB)))}},
			rows: []accRow{v("export.csv", 2), v("export.csv", 3)}, convertHeader: hdr3},
		{name: "Set-Content -Encoding ASCII, quoted, group tag", files: []accFile{{"ascii.csv", []byte(lines(quoted("Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag"), quoted("PF3ABC12", "", hA, "Sales")))}},
			rows: []accRow{v("ascii.csv", 2)}, convertHeader: hdrTag},
		{name: "UTF-16BE with BOM", files: []accFile{{"be.csv", utf16BE(gwai3)}}, rows: []accRow{v("be.csv", 2), v("be.csv", 3)}},
		// The headerless manufacturer,model,serial file (Community -identifier, the portal's
		// corporate identifier file) is read as corporate identifiers: corporate_test.go.

		// --- other producers ---
		{name: "MMD custom ConfigMgr query", files: []accFile{{"mmd.csv", []byte(lines("Manufacturer, Model, Serial_Number, HardwareHash", "LENOVO, 20XW0026GE, PF3ABC12, "+hA))}},
			rows: []accRow{v("mmd.csv", 2)}, convertHeader: hdr3},
		{name: "M365 Business device list: no header, column B blank", files: []accFile{{"m365.csv", []byte(lines("PF3ABC12,,"+hA, "PF3ABC13,,"+hB))}},
			rows: []accRow{v("m365.csv", 1), v("m365.csv", 2)}, stderr: []string{"m365.csv:1: no header row"}, convertHeader: hdr3},
		{name: "no header, first device without hash", files: []accFile{{"m365-nohash.csv", []byte(lines("PF3ABC11,,", "PF3ABC12,,"+hA))}},
			code: exitRows, rows: []accRow{bad("m365-nohash.csv", 1, "missing_hash"), v("m365-nohash.csv", 2)}},
		{name: "Export-Csv without -NoTypeInformation (#TYPE line)", files: []accFile{{"type.csv", []byte(lines("#TYPE System.Management.Automation.PSCustomObject",
			quoted("Device Serial Number", "Windows Product ID", "Hardware Hash"), quoted("PF3ABC12", "", hA)))}},
			rows: []accRow{v("type.csv", 3)}, stderr: []string{"type.csv:1: skipped 1 line(s) before the header"}},
		{name: "OOBE DeviceHash csv, 5 columns", files: []accFile{{"DeviceHash_PC1.csv", []byte(lines(hdrUser, "PF3ABC12,,"+hA+",,"))}},
			rows: []accRow{v("DeviceHash_PC1.csv", 2)}, convertHeader: hdr3},
		{name: "trailing space in header (Group Tag )", files: []accFile{{"space.csv", []byte(lines(hdr3+",Group Tag ", "PF3ABC12,,"+hA+",Sales"))}},
			rows: []accRow{v("space.csv", 2)}, convertHeader: hdrTag},
		{name: "hand-made: quoted values after a space", files: []accFile{{"spaced.csv", []byte(lines(`"Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag"`,
			`"PF3ABC12", "", "`+hA+`", "Sales ""A"""`))}},
			code: exitRows, rows: []accRow{bad("spaced.csv", 2, "bad_group_tag", "row_quote")}, stdout: []string{`spaced.csv:2: PF3ABC12: bad_group_tag: group tag "Sales \"A\""`}},
		{name: "lower-case headers", files: []accFile{{"lower.csv", []byte(lines(strings.ToLower(hdrTag), "PF3ABC12,,"+hA+",Sales"))}},
			rows: []accRow{v("lower.csv", 2)}, convertHeader: hdrTag},
		{name: "OrderID instead of Group Tag", files: []accFile{{"orderid.csv", []byte(lines(hdr3+",OrderID", "PF3ABC12,,"+hA+",Kiosk"))}},
			rows: []accRow{v("orderid.csv", 2)}, convertHeader: hdrTag},
		{name: "ANSI group tag", files: []accFile{{"ansi.csv", ansi(t, lines(hdrTag, "PF3ABC12,,"+hA+",Vertrieb Süd"))}},
			rows: []accRow{v("ansi.csv", 2)}, stderr: []string{"ansi.csv: the file is not valid UTF-8: read as Windows-1252"}, convertHeader: hdrTag},
		{name: "Excel re-save with semicolons", files: []accFile{{"excel-de.csv", ansi(t, lines("Device Serial Number;Windows Product ID;Hardware Hash;Group Tag", "PF3ABC12;;"+hA+";Vertrieb Süd"))}},
			rows:   []accRow{v("excel-de.csv", 2)},
			stderr: []string{"excel-de.csv:1: the columns are separated by semicolons, not commas", "apimport convert writes them"}, convertHeader: hdrTag},
		{name: "Excel re-save with semicolons, every field quoted, sep= line", files: []accFile{{"excel-q.csv", []byte(lines("sep=;", `"Device Serial Number";"Windows Product ID";"Hardware Hash"`, `"PF3ABC12";"";"`+hA+`"`))}},
			rows: []accRow{v("excel-q.csv", 3)}, stderr: []string{"excel-q.csv:2: the columns are separated by semicolons"}, convertHeader: hdr3},
		{name: "Excel Unicode Text (UTF-16, tabs)", files: []accFile{{"unicode.txt", utf16LE(strings.ReplaceAll(gwai3, ",", "\t"), true)}},
			rows: []accRow{v("unicode.txt", 2), v("unicode.txt", 3)}, stderr: []string{"unicode.txt:1: the columns are separated by tabs"}, convertHeader: hdr3},
		{name: "semicolon header, rows cut off", files: []accFile{{"semi-bad.csv", []byte(lines("Device Serial Number;Windows Product ID;Hardware Hash", "PF3ABC12;;"))}},
			code: exitRows, rows: []accRow{bad("semi-bad.csv", 2, "missing_hash")}},
		{name: "Excel re-save, every field quoted, commas", files: []accFile{{"excel-comma.csv", []byte(lines(quoted("Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag"), quoted("PF3ABC12", "", hA, "Sales")))}},
			rows: []accRow{v("excel-comma.csv", 2)}},
		{name: "Excel turned a numeric serial into scientific notation", files: []accFile{{"excel-sci.csv", []byte(lines(hdr3, "1.23457E+11,,"+accHash("123456789012", 5, 1)))}},
			code: exitRows, rows: []accRow{bad("excel-sci.csv", 2, "serial_mismatch")},
			stderr: []string{`excel-sci.csv:2: the serial number "1.23457E+11" is a number in scientific notation`, "do not open or save the file in Excel"}},
		{name: "Excel dropped the leading zeros of a serial", files: []accFile{{"excel-zeros.csv", []byte(lines(hdr3, "1234567,,"+accHash("0001234567", 6, 1)))}},
			code: exitRows, rows: []accRow{bad("excel-zeros.csv", 2, "serial_mismatch")},
			stdout: []string{`excel-zeros.csv:2: 1234567: serial_mismatch: the serial number "1234567" is "0001234567" inside the hash without its leading zeros: Excel drops them`}},
		{name: "placeholder serial from OEM firmware", files: []accFile{{"default.csv", []byte(lines(hdr3, "Default string,,"+accHash("Default string", 8, 1)))}},
			code: exitRows, rows: []accRow{bad("default.csv", 2, "placeholder_serial")}, stdout: []string{"default.csv:2: Default string: placeholder_serial:", "capture the hash again"}},
		{name: "VM without serial: taken from the hash", files: []accFile{{"vm.csv", utf16LE(lines(hdr3, ",,"+accHash("VMware-56 4d 1a", 10, 1)), true)}},
			rows: []accRow{v("vm.csv", 2, "serial_from_hash")}, convertHeader: hdr3},
		{name: "Graph imported-identities export (hardwareIdentifier)", files: []accFile{{"imported.csv", []byte(lines(quoted("serialNumber", "productKey", "hardwareIdentifier", "groupTag", "assignedUserPrincipalName"), quoted("PF3ABC12", "", hA, "Lab", "")))}},
			rows: []accRow{v("imported.csv", 2)}, convertHeader: hdrTag},
		{name: "two columns: Serial Number and Hardware Hash", files: []accFile{{"two.csv", []byte(lines("Serial Number,Hardware Hash", "PF3ABC12,"+hA))}},
			rows: []accRow{v("two.csv", 2)}, convertHeader: hdr3},
		{name: "invalid assigned user", files: []accFile{{"upn.csv", []byte(lines(hdrUser, "PF3ABC12,,"+hA+",,alice"))}},
			code: exitRows, rows: []accRow{bad("upn.csv", 2, "bad_user")}, stdout: []string{`upn.csv:2: PF3ABC12: bad_user: assigned user "alice"`}},
		{name: "numeric serial with leading zeros kept", files: []accFile{{"zeros.csv", []byte(lines(hdr3, "0001234567,,"+accHash("0001234567", 6, 1)))}},
			rows: []accRow{v("zeros.csv", 2)}},

		// --- hash shapes ---
		{name: "unpadded base64 hash (#6150)", files: []accFile{{"unpadded.csv", []byte(lines(hdr3, "PF3ABC14,,"+unpadded))}},
			rows: []accRow{v("unpadded.csv", 2, "hash_padding", "hash_length")}, convertHeader: hdr3},
		{name: "4096-character hash", files: []accFile{{"h4096.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA+strings.Repeat("A", 96)))}},
			rows: []accRow{v("h4096.csv", 2, "hash_length")}},
		{name: "hash copied from a console window, wrapped at 120 columns, unquoted", files: []accFile{{"console.csv", []byte(lines(hdr3, "PF3ABC12,,"+wrap(hA, 120), "PF3ABC13,,"+hB))}},
			rows:   []accRow{v("console.csv", 2), v("console.csv", 36)},
			stderr: []string{"console.csv:2: the Hardware Hash continues on the next 33 lines without quotes"}, convertHeader: hdr3},
		{name: "hash with spaces", files: []accFile{{"hspace.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA[:1000]+" "+hA[1000:3000]+" "+hA[3000:]))}},
			rows: []accRow{v("hspace.csv", 2)}, convertHeader: hdr3},
		{name: "hash pasted from a web page (zero-width space, no-break space)", files: []accFile{{"pasted.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA[:100]+"\u200b"+hA[100:2000]+"\u00a0"+hA[2000:]))}},
			rows: []accRow{v("pasted.csv", 2)}, convertHeader: hdr3},
		{name: "hash cut short inside its data", files: []accFile{{"cut.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA[:100]))}},
			code: exitRows, rows: []accRow{{"cut.csv", 2, "invalid", nil, nil}}, stdout: []string{"cut.csv:2: PF3ABC12: hash_", "copy the whole Hardware Hash value again"}},
		{name: "hash text that is not base64", files: []accFile{{"dots.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA[:200]+"..."))}},
			code: exitRows, rows: []accRow{bad("dots.csv", 2, "hash_not_base64")}, stdout: []string{"dots.csv:2: PF3ABC12: hash_not_base64: hash is not base64: character '.' at offset 200: copy the whole Hardware Hash value again"}},
		{name: "hash edited (checksum)", files: []accFile{{"edited.csv", []byte(lines(hdr3, "PF3ABC12,,"+hA[:60]+"x"+hA[61:]))}},
			code: exitRows, rows: []accRow{bad("edited.csv", 2, "hash_checksum")}},
		{name: "empty hash (WinPE, not elevated)", files: []accFile{{"nohash.csv", []byte(lines(hdr3, "PF3ABC12,,"))}},
			code: exitRows, rows: []accRow{bad("nohash.csv", 2, "missing_hash")}, stdout: []string{"nohash.csv:2: PF3ABC12: missing_hash:", "elevated"}},

		// --- layout breakage ---
		{name: "blank lines between and after rows", files: []accFile{{"blank.csv", []byte(hdr3 + "\r\n\r\nPF3ABC12,," + hA + "\r\n\r\n\r\nPF3ABC13,," + hB + "\r\n\r\n")}},
			rows: []accRow{v("blank.csv", 3), v("blank.csv", 6)}},
		{name: "trailing commas", files: []accFile{{"commas.csv", []byte(lines(hdr3+",,", "PF3ABC12,,"+hA+",,"))}}, rows: []accRow{v("commas.csv", 2)}},
		{name: "mixed CRLF and LF, lone CR", files: []accFile{{"eol.csv", []byte(hdr3 + "\nPF3ABC12,," + hA + "\r\nPF3ABC13,," + hB + "\rPF3ABC14,," + hC)}},
			rows: []accRow{v("eol.csv", 2), v("eol.csv", 3), v("eol.csv", 4)}},
		{name: "comma inside a group tag of a quote-stripped file", files: []accFile{{"tagcomma.csv", utf16LE(lines(hdrTag, "PF3ABC12,,"+hA+",Sales,EMEA", "PF3ABC13,,"+hB+",Sales"), true)}},
			code: exitRows, rows: []accRow{bad("tagcomma.csv", 2, "row_columns"), v("tagcomma.csv", 3)},
			stdout: []string{"tagcomma.csv:2: PF3ABC12: row_columns: expected 4 fields, got 5: a value probably contains a comma"}},
		{name: "unclosed quote swallows the next row", files: []accFile{{"quote.csv", []byte(lines(hdr3, `"PF3ABC12,,`+hA, "PF3ABC13,,"+hB))}},
			code: exitRows, rows: []accRow{bad("quote.csv", 2, "row_multiline")},
			stdout: []string{"quote.csv:2: ", "row_multiline: Device Serial Number holds a line break (the record runs from line 2 to 3)", "remove the stray quote"}},
		{name: "header only", files: []accFile{{"hdr.csv", []byte(lines(hdr3))}}, code: exitFatal, fileErrs: []string{"no_rows"},
			stderr: []string{"hdr.csv: the file has a header but no device rows", "hint: "}},
		{name: "empty file", files: []accFile{{"empty.csv", nil}}, code: exitFatal, fileErrs: []string{"empty"}, stderr: []string{"empty.csv: the file is empty", "hint: "}},

		// --- exports that are not import files ---
		{name: "Graph/Intune Autopilot device list", files: []accFile{{"devices.csv", []byte(lines(quoted("id", "serialNumber", "manufacturer", "model", "groupTag", "purchaseOrderIdentifier", "enrollmentState"), quoted("1", "PF3ABC12", "LENOVO", "20XW", "", "", "enrolled")))}},
			code: exitFatal, fileErrs: []string{"device_list_export"}, stderr: []string{"devices.csv:1: this is a list of devices already registered", "hint: export hashes with Get-WindowsAutopilotInfo"}},
		{name: "portal Windows Autopilot devices export", files: []accFile{{"portal.csv", []byte(lines(quoted("Serial number", "Manufacturer", "Model", "Group tag", "Profile status", "Purchase order"), quoted("PF3ABC12", "LENOVO", "20XW", "", "Assigned", "")))}},
			code: exitFatal, fileErrs: []string{"device_list_export"}},
		{name: "Endpoint Analytics export", files: []accFile{{"ea.csv", []byte(lines(quoted("Device name", "Serial number", "Manufacturer", "Model", "Windows version", "Hardware hash available"), quoted("PC1", "PF3ABC12", "LENOVO", "20XW", "10.0", "No")))}},
			code: exitFatal, fileErrs: []string{"device_list_export"}, stderr: []string{"ea.csv:1: ", "hint: "}},

		// --- several files at once: one bad file does not stop the others ---
		{name: "good file and device list together", files: []accFile{{"good.csv", []byte(gwai3)}, {"list.csv", []byte(lines(quoted("serialNumber", "manufacturer", "model", "enrollmentState"), quoted("X", "Y", "Z", "enrolled")))}},
			code: exitFatal, fileErrs: []string{"device_list_export"}, rows: []accRow{v("good.csv", 2), v("good.csv", 3)}},
	}
}

type accJSONRow struct {
	Type     string   `json:"message_type"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Status   string   `json:"status"`
	Codes    []string `json:"codes"`
	Warnings []string `json:"warnings"`
	Code     string   `json:"code"` // file_error
	Hint     string   `json:"hint"`
}

func TestAcceptance(t *testing.T) {
	for _, tc := range accCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for _, f := range tc.files {
				p := filepath.Join(dir, f.name)
				if err := os.WriteFile(p, f.data, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			args := append(append([]string{"check"}, tc.flags...), paths...)

			// Text mode: exit code, findings, notes and hints.
			res := runCLI(t, args...)
			assertNoHash(t, res)
			if res.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tc.code, res.stdout, res.stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(res.stderr, strings.ReplaceAll(s, "{f}", paths[0])) {
					t.Errorf("stderr lacks %q:\n%s", s, res.stderr)
				}
			}
			for _, s := range tc.stdout {
				if !strings.Contains(res.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, res.stdout)
				}
			}
			for _, s := range tc.notStdout {
				if strings.Contains(res.stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, res.stdout)
				}
			}
			if strings.Contains(res.stderr+res.stdout, "panic") || strings.ContainsRune(res.stdout, 0) {
				t.Errorf("panic or NUL in output:\n%s\n%s", res.stdout, res.stderr)
			}
			// Every finding line names file:line and stays on one line.
			for _, l := range strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n") {
				if strings.Contains(l, " rows in ") || strings.Contains(l, " row in ") || strings.HasPrefix(l, "warning ") {
					continue
				}
				if !strings.HasPrefix(l, dir) || !strings.Contains(l, ".csv:") {
					t.Errorf("finding without file:line: %q", l)
				}
			}

			// JSON mode: every row by file and line, with status and codes; the notes
			// still reach stderr.
			textStderr := res.stderr
			res = runCLI(t, append([]string{"check", "--json"}, args[1:]...)...)
			assertNoHash(t, res)
			for _, l := range strings.Split(textStderr, "\n") {
				if strings.HasPrefix(l, "apimport: note: ") && !strings.Contains(res.stderr, l) {
					t.Errorf("--json: note missing on stderr: %s", l)
				}
			}
			if res.code != tc.code {
				t.Errorf("--json: exit %d, want %d", res.code, tc.code)
			}
			checkJSONLines(t, res.stdout)
			var got []accRow
			var fileErrs []string
			for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				var m accJSONRow
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				switch m.Type {
				case "row":
					got = append(got, accRow{filepath.Base(m.File), m.Line, m.Status, m.Codes, m.Warnings})
				case "file_error":
					fileErrs = append(fileErrs, m.Code)
					if m.Hint == "" {
						t.Errorf("file error %s without hint", m.Code)
					}
				}
			}
			if !slices.Equal(fileErrs, tc.fileErrs) {
				t.Errorf("file errors %v, want %v", fileErrs, tc.fileErrs)
			}
			if len(got) != len(tc.rows) {
				t.Errorf("%d rows, want %d: %+v", len(got), len(tc.rows), got)
			}
			valid := 0
			for i := range min(len(got), len(tc.rows)) {
				g, w := got[i], tc.rows[i]
				if g.file != w.file || g.line != w.line || g.status != w.status {
					t.Errorf("row %d: %s:%d %s %v, want %s:%d %s", i, g.file, g.line, g.status, g.codes, w.file, w.line, w.status)
				}
				if w.codes != nil && !slices.Equal(g.codes, w.codes) {
					t.Errorf("%s:%d: codes %v, want %v", g.file, g.line, g.codes, w.codes)
				}
				if w.status == "invalid" && len(g.codes) == 0 {
					t.Errorf("%s:%d: invalid without a code", g.file, g.line)
				}
				for _, wn := range w.warnings {
					if !slices.Contains(g.warnings, wn) {
						t.Errorf("%s:%d: warnings %v lack %s", g.file, g.line, g.warnings, wn)
					}
				}
				if g.status == "valid" {
					valid++
				}
			}

			// decode never fails on these files and never prints a hash.
			dres := runCLI(t, append([]string{"decode"}, paths...)...)
			assertNoHash(t, dres)
			if dres.code == exitUsage || strings.Contains(dres.stderr, "panic") {
				t.Errorf("decode: exit %d: %s", dres.code, dres.stderr)
			}
			for _, l := range strings.Split(textStderr, "\n") {
				if strings.HasPrefix(l, "apimport: note: ") && !strings.Contains(dres.stderr, l) {
					t.Errorf("decode: note missing on stderr: %s", l)
				}
			}

			if tc.convertHeader != "" {
				checkConvert(t, paths, tc.convertHeader, valid)
			}
		})
	}
}

// checkConvert runs convert and checks the portal file: the header, one unquoted ANSI
// CRLF line per valid device, every hash verifying and padded.
func checkConvert(t *testing.T, paths []string, header string, valid int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "import.csv")
	res := runCLI(t, append([]string{"convert", "-o", out}, paths...)...)
	assertNoHash(t, res)
	if res.code != exitOK && res.code != exitRows {
		t.Fatalf("convert: exit %d: %s", res.code, res.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b, "\"\x00") || bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}) {
		t.Error("portal file has quotes, NULs or a BOM")
	}
	text := string(b)
	if strings.Count(text, "\n") != strings.Count(text, "\r\n") || !strings.HasSuffix(text, "\r\n") {
		t.Error("portal file line ends are not CRLF")
	}
	ls := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	if ls[0] != header {
		t.Errorf("convert header %q, want %q", ls[0], header)
	}
	if len(ls)-1 != valid {
		t.Errorf("convert wrote %d devices, want %d", len(ls)-1, valid)
	}
	cols := strings.Count(header, ",") + 1
	for _, l := range ls[1:] {
		f := strings.Split(l, ",")
		if len(f) != cols {
			t.Errorf("portal row has %d fields, want %d", len(f), cols)
			continue
		}
		if h := hwhash.Parse(f[2]); !h.Valid() || len(f[2])%4 != 0 || strings.ContainsAny(f[2], " \t") {
			t.Errorf("portal row %s: hash does not verify or is not canonical base64: %v", f[0], h.Problems)
		}
	}
}

// TestAcceptanceLargeMergedFile: a 3,000-device export, every 10th device captured twice
// (-Append), in UTF-16: every row is accounted for, and convert splits at 500 devices.
func TestAcceptanceLargeMergedFile(t *testing.T) {
	var b strings.Builder
	b.WriteString(hdrTag + "\r\n")
	const n = 3000
	dups := 0
	for i := range n {
		d := hwhash.Device{Serial: fmt.Sprintf("LRG%06d", i), Manufacturer: "HP", Model: "EliteBook 840 G9"}
		d.UUID[0], d.UUID[1], d.UUID[2] = byte(i), byte(i>>8), 0x99
		fmt.Fprintf(&b, "%s,,%s,Fleet\r\n", d.Serial, d.EncodeBase64())
		if i%10 == 0 {
			d.CaptureTime = 7
			fmt.Fprintf(&b, "%s,,%s,Fleet\r\n", d.Serial, d.EncodeBase64())
			dups++
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "fleet.csv")
	if err := os.WriteFile(in, utf16LE(b.String(), true), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", in)
	want := fmt.Sprintf("%d rows in 1 file: %d valid, 0 invalid, %d duplicates, 0 conflicts; %d devices would be registered", n+dups, n, dups, n)
	if res.code != exitOK || !strings.Contains(res.stdout, want) {
		t.Fatalf("exit %d, stdout tail %q, want %q", res.code, res.stdout[max(0, len(res.stdout)-200):], want)
	}
	res = runCLI(t, "convert", "-o", filepath.Join(dir, "out.csv"), in)
	if res.code != exitOK {
		t.Fatalf("convert: exit %d: %s", res.code, res.stderr)
	}
	total := 0
	for i := 1; i <= 6; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out-%03d.csv", i)))
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.Count(string(b), "\r\n") - 1
		if rows != 500 {
			t.Errorf("out-%03d.csv: %d rows, want 500", i, rows)
		}
		total += rows
	}
	if total != n {
		t.Errorf("%d devices written, want %d", total, n)
	}
}

// TestAcceptanceDecodeEmptyExport: decode treats a header-only export like check does.
func TestAcceptanceDecodeEmptyExport(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	one := filepath.Join(dir, "one.csv")
	if err := os.WriteFile(empty, []byte(lines(hdrTag)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(one, utf16LE(lines(hdr3, "PF3ABC12,,"+hA), true), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "decode", empty, one)
	if res.code != exitFatal || !strings.Contains(res.stderr, "empty.csv: the file has a header but no device rows") || !strings.Contains(res.stderr, "hint: ") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "one.csv:2: PF3ABC12: ok") || !strings.Contains(res.stdout, "1 hash decoded: 1 verify, 0 do not") {
		t.Errorf("stdout %q", res.stdout)
	}
	res = runCLI(t, "decode", "--json", empty)
	if res.code != exitFatal || !strings.Contains(res.stdout, `"message_type":"file_error"`) || !strings.Contains(res.stdout, `"code":"no_rows"`) {
		t.Errorf("--json: exit %d, stdout %q", res.code, res.stdout)
	}
}

// TestAcceptanceConvertOutputPath: a bad -o is a usage error before any input is read.
func TestAcceptanceConvertOutputPath(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(lines(hdr3, "PF3ABC12,,"+hA)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ out, want string }{
		{filepath.Join(dir, "missing", "x.csv"), "does not exist"},
		{dir, "is a folder"},
	} {
		res := runCLI(t, "convert", "-o", tt.out, in)
		if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) || !strings.Contains(res.stderr, "hint: ") || res.stdout != "" {
			t.Errorf("-o %s: exit %d, stderr %q", tt.out, res.code, res.stderr)
		}
	}
}

// TestAcceptancePublicSamplesJoined: the real Get-WindowsAutopilotInfo files (UTF-16LE,
// real hashes) joined the ways admins join them: copy /b (BOM and header repeated) and a
// PowerShell 7 append of another file's row in UTF-8. Every row must come out as it does
// when each file is checked alone.
func TestAcceptancePublicSamplesJoined(t *testing.T) {
	dir := publicSamples(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	if len(files) < 2 {
		t.Fatalf("found %d hash files", len(files))
	}
	var joined []byte
	want := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, b...)
		res := runCLI(t, "check", "--json", f)
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			var m accJSONRow
			if json.Unmarshal([]byte(l), &m) == nil && m.Type == "row" {
				want[m.Status]++
			}
		}
	}
	out := t.TempDir()
	copyb := filepath.Join(out, "copyb.csv")
	if err := os.WriteFile(copyb, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", "--json", copyb)
	assertNoHash(t, res)
	got := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m accJSONRow
		if json.Unmarshal([]byte(l), &m) == nil && m.Type == "row" {
			got[m.Status]++
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("joined file: statuses %v, want %v (as each file alone)", got, want)
	}
	if !strings.Contains(res.stderr, "header line repeated inside the file") {
		t.Errorf("no repeated-header note: %s", res.stderr)
	}

	// PowerShell 7 appends the data row of the second file, in UTF-8, to the first.
	first, _ := os.ReadFile(files[0])
	second, _ := os.ReadFile(files[1])
	u := make([]uint16, 0, len(second)/2)
	for i := 2; i+1 < len(second); i += 2 { // skip the BOM
		u = append(u, uint16(second[i])|uint16(second[i+1])<<8)
	}
	row := strings.SplitN(string(utf16.Decode(u)), "\r\n", 2)[1] // the data row(s), CRLF-terminated
	mixed := filepath.Join(out, "mixed.csv")
	if err := os.WriteFile(mixed, append(first, row...), 0o644); err != nil {
		t.Fatal(err)
	}
	res = runCLI(t, "check", "--json", mixed, files[0], files[1])
	assertNoHash(t, res)
	var rows []accJSONRow
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m accJSONRow
		if json.Unmarshal([]byte(l), &m) == nil && m.Type == "row" {
			rows = append(rows, m)
		}
	}
	// mixed.csv rows 2 and 3, then the two originals: each original repeats one row of
	// mixed.csv, so it must be a duplicate or share the same invalid verdict.
	if len(rows) != 4 || rows[0].Line != 2 || rows[1].Line != 3 {
		t.Fatalf("rows %+v", rows)
	}
	for i, orig := range rows[2:] {
		m := rows[i]
		if m.Status == "valid" && orig.Status != "duplicate" || m.Status == "invalid" && (orig.Status != "invalid" || !slices.Equal(m.Codes, orig.Codes)) {
			t.Errorf("mixed.csv:%d is %s %v but its original is %s %v", m.Line, m.Status, m.Codes, orig.Status, orig.Codes)
		}
	}
	if !strings.Contains(res.stderr, "mixed.csv:3: from this line on the UTF-16 file continues in ASCII/UTF-8") {
		t.Errorf("no ascii_appended note: %s", res.stderr)
	}
}
