package csvreport

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated files in testdata/")

// tdPart is a piece of a testdata file: text in an encoding, or raw bytes.
type tdPart struct {
	text string
	enc  string
	raw  []byte
}

type tdFile struct {
	name  string
	parts []tdPart
}

func (f tdFile) bytes(tb testing.TB) []byte {
	var b []byte
	for _, p := range f.parts {
		if p.raw != nil {
			b = append(b, p.raw...)
			continue
		}
		b = append(b, encodeAs(tb, p.text, p.enc)...)
	}
	return b
}

func utf8Part(s string) tdPart { return tdPart{text: s, enc: "utf-8"} }

const canonHeader = "Device Serial Number,Windows Product ID,Hardware Hash"

// testdataFiles defines every file in testdata/. All content is synthetic (fake serials,
// fakeHash hashes). Regenerate with: go test -run TestTestdataFiles -update
func testdataFiles() []tdFile {
	h := fakeHash
	ssrsLabels := "Device Serial Number,Windows Product ID,Hardware Hash"
	binary := make([]byte, 2048)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	return []tdFile{
		{"canonical_utf16le.csv", []tdPart{{text: crlf(
			canonHeader+",Group Tag,Assigned User",
			"SYN-0001,,"+h(1)+",Sales,",
			"SYN-0002,,"+h(2)+",,user@contoso.example",
			"0000123,,"+h(3)+",,"), enc: "utf-16le"}}},
		{"canonical_utf8_quoted_lf.csv", []tdPart{utf8Part(
			`"Device Serial Number","Windows Product ID","Hardware Hash","Group Tag"` + "\n" +
				`"SYN-0101","","` + h(101) + `","Sales, EU"` + "\n" +
				`"SYN-0102","","` + h(102) + `",""` + "\n")}},
		{"partner.csv", []tdPart{utf8Part(crlf(
			"Device serial number,Windows product ID,Hardware hash,Manufacturer name,Device model",
			"SYN-0201,,"+h(201)+",,",
			"SYN-0202,,,Contoso Ltd,Laptop 7"))}},
		{"preamble.csv", []tdPart{utf8Part(crlf(
			"Exported by admin on 2024-05-01",
			"Devices: 2",
			"",
			canonHeader,
			"SYN-0301,,"+h(301),
			"SYN-0302,,"+h(302)))}},
		{"ssrs_configmgr.csv", []tdPart{utf8Part(crlf(
			"Textbox_ReportName,Textbox_Description",
			`Windows Autopilot Device Information,"Serial number, Windows product ID and hardware hash of devices"`,
			"",
			"Details_Table0_Textbox1,Details_Table0_Textbox2,Details_Table0_Textbox3,Details_Table0_SerialNumber,Details_Table0_ProductID,Details_Table0_DeviceHardwareData0",
			ssrsLabels+",SSRS-0001,,"+h(401),
			ssrsLabels+",SSRS-0002,00330-80000-00000-AA123,"+h(402)))}},
		{"ssrs_bom_quoted_preamble.csv", []tdPart{{text: crlf(
			"Textbox1,Textbox2,Textbox3",
			`"Windows Autopilot Device Information, all devices","Collection: ""All Systems""","Run at 5/1/2024 10:00:00 AM, by CONTOSO\admin"`,
			"",
			"a1,a2,a3,b1,b2,b3",
			ssrsLabels+",SSRS-0101,,"+h(411)), enc: "utf-8-bom"}}},
		{"ssrs_utf16le.csv", []tdPart{{text: crlf(
			"Textbox_ReportName",
			"Windows Autopilot Device Information",
			"",
			"Textbox4,Textbox5,Textbox6,SerialNumber0,ProductID0,DeviceHardwareData0",
			ssrsLabels+",SSRS-0201,,"+h(421),
			ssrsLabels+",SSRS-0202,,"+h(422)), enc: "utf-16le"}}},
		{"ssrs_canonical_header.csv", []tdPart{utf8Part(crlf(
			"Windows Autopilot Device Information",
			"",
			canonHeader+","+canonHeader,
			ssrsLabels+",SSRS-0301,,"+h(431)))}},
		{"ssrs_more_columns.csv", []tdPart{utf8Part(crlf(
			"Windows Autopilot Device Information",
			"",
			"Textbox1,Textbox2,Textbox3,Details_Table0_SerialNumber,Details_Table0_ProductID,Details_Table0_Hash,Details_Table0_GroupTag,Details_Table0_Netbios_Name0",
			ssrsLabels+",SSRS-0401,,"+h(441)+",Kiosk,PC-0401",
			ssrsLabels+",SSRS-0402,,"+h(442)+",,PC-0402"))}},
		{"ssrs_four_labels.csv", []tdPart{utf8Part(crlf(
			"Textbox1",
			"",
			"c1,c2,c3,c4,c5,c6,c7,c8",
			ssrsLabels+",Group Tag,SSRS-0501,,"+h(451)+",Lab"))}},
		{"merged_utf16le.csv", []tdPart{
			{text: crlf(canonHeader, "SYN-0601,,"+h(601), "SYN-0602,,"+h(602)), enc: "utf-16le"},
			{text: crlf(canonHeader, "SYN-0603,,"+h(603)), enc: "utf-16le"},
			{text: crlf(canonHeader, "SYN-0604,,"+h(604)), enc: "utf-16le"},
		}},
		{"merged_switch.csv", []tdPart{utf8Part(crlf(
			canonHeader,
			"SYN-0701,,"+h(701),
			canonHeader+",Group Tag",
			"SYN-0702,,"+h(702)+",Sales",
			canonHeader+",Group Tag",
			"SYN-0703,,"+h(703)+",HR"))}},
		{"headerless.csv", []tdPart{utf8Part(crlf(
			"SYN-0801,,"+h(801),
			"SYN-0802,,"+h(802)+",Lab"))}},
		{"malformed.csv", []tdPart{utf8Part(crlf(
			canonHeader+",Group Tag",         // 1
			"SYN-0901,,"+h(901)+",Sales",     // 2 ok
			"SYN-0902,,"+h(902)+",Sales, EU", // 3 five fields
			"",                               // 4 blank
			"SYN-0903,,"+h(903),              // 5 ok: only the optional group tag missing
			"SYN-0904",                       // 6 no hash
			"SYN-0905,,"+h(905)+`,Tag "A"`,   // 7 bare quote
			`"SYN-0906",,"`+h(906)+`","two`,  // 8 multi-line quoted field…
			`lines"`,                         // 9 …ends here
			"SYN-0907,,"+h(907)+",",          // 10 ok: trailing comma
			"SYN-0908,,"+h(908)+",Lab,",      // 11 ok: trailing comma after the last column
			"SYN-0909\x00,,"+h(909),          // 12 NUL byte
			"", ""))}},                       // trailing blank lines
		{"ansi_windows1252.csv", []tdPart{{text: crlf(
			canonHeader+",Group Tag,Assigned User",
			"SYN-1001,,"+h(1001)+",Vertrieb Süd,jürgen@contoso.example"), enc: "windows-1252"}}},
		{"utf16le_nobom.csv", []tdPart{{text: crlf(canonHeader, "SYN-1101,,"+h(1101)), enc: "utf-16le-nobom"}}},
		{"reject_corporate_identifiers.csv", []tdPart{utf8Part(crlf(
			"Microsoft,Surface Laptop 5,0123456789012",
			"Contoso,Laptop 7,SYN-1201"))}},
		{"reject_no_hash_column.csv", []tdPart{utf8Part(crlf(
			"Device Serial Number,Windows Product ID,Group Tag",
			"SYN-1301,,Sales"))}},
		{"reject_graph_export.csv", []tdPart{utf8Part(crlf(
			`"displayName","serialNumber","manufacturer","model","enrollmentState","groupTag","id"`,
			`"PC-1401","SYN-1401","Contoso","Laptop 7","enrolled","Sales","00000000-0000-0000-0000-000000001401"`))}},
		{"reject_empty.csv", []tdPart{{raw: []byte{}}}},
		{"reject_blank_lines.csv", []tdPart{utf8Part("\r\n\r\n   \r\n,,\r\n")}},
		{"reject_binary.csv", []tdPart{{raw: binary}}},
		{"reject_semicolon.csv", []tdPart{utf8Part(crlf(
			"Device Serial Number;Windows Product ID;Hardware Hash",
			"SYN-1501;;"+h(1501)))}},
		{"reject_no_header.csv", []tdPart{utf8Part(crlf("hello,world", "this is,not an export"))}},
		{"reject_duplicate_column.csv", []tdPart{utf8Part(crlf(
			"Serial Number,Hardware Hash,Device Serial Number",
			"SYN-1601,"+h(1601)+",SYN-1601"))}},
	}
}

// TestTestdataFiles checks that testdata/ holds exactly what testdataFiles generates
// (run with -update to rewrite it).
func TestTestdataFiles(t *testing.T) {
	for _, f := range testdataFiles() {
		path := filepath.Join("testdata", f.name)
		want := f.bytes(t)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestTestdataFiles -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (run go test -run TestTestdataFiles -update)", path)
		}
	}
}

// testdataPath returns testdata/name after checking name is generated.
func testdataPath(t *testing.T, name string) string {
	t.Helper()
	for _, f := range testdataFiles() {
		if f.name == name {
			return filepath.Join("testdata", name)
		}
	}
	t.Fatalf("no testdata file %q", name)
	return ""
}
