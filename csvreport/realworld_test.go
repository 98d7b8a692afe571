package csvreport

import (
	"slices"
	"strings"
	"testing"
)

// TestRealWorldShapes covers shapes found while playing acceptance tester (see
// cmd/apimport/acceptance_test.go for the same files through the CLI): mixed encodings,
// ConfigMgr report footers and devices without hash, hand-made quoting, pasted hashes.
func TestRealWorldShapes(t *testing.T) {
	h1, h2, h3 := fakeHash(1), fakeHash(2), fakeHash(3)
	pre := "Textbox_ReportName\r\nWindows Autopilot Device Information\r\n\r\n"
	elem := "Textbox1,Textbox2,Textbox3,Details_Table0_SerialNumber0,Details_Table0_ProductID,Details_Table0_HardwareHash\r\n"
	lab := "Device Serial Number,Windows Product ID,Hardware Hash,"
	tests := []struct {
		name      string
		data      []byte
		rows      []wantRow
		notes     []string
		noteLines []int
	}{
		{"utf-16le with ascii rows appended",
			append(encodeAs(t, crlf(canonHeader, "S1,,"+h1), "utf-16le"), crlf("S2,,"+h2, "S3,,"+h3)...),
			[]wantRow{{2, "S1", true, "", ""}, {3, "S2", true, "", ""}, {4, "S3", true, "", ""}}, []string{"ascii_appended"}, []int{3}},
		{"header in ascii, rows appended in utf-16",
			append([]byte(canonHeader+"\r\n"), encodeAs(t, crlf("S1,,"+h1, "S2,,"+h2), "utf-16le-nobom")...),
			[]wantRow{{2, "S1", true, "", ""}, {3, "S2", true, "", ""}}, []string{"utf16_appended"}, []int{2}},
		{"utf-8 BOM file with utf-16 (BOM) appended",
			append(encodeAs(t, crlf(canonHeader, "S1,,"+h1), "utf-8-bom"), encodeAs(t, crlf("S2,,"+h2), "utf-16le")...),
			[]wantRow{{2, "S1", true, "", ""}, {3, "S2", true, "", ""}}, []string{"utf16_appended"}, []int{3}},
		{"ssrs footer lines skipped",
			[]byte(pre + elem + lab + "S1,," + h1 + "\r\n\r\nTextbox9\r\nTotal: 1\r\n"),
			[]wantRow{{5, "S1", true, "", ""}}, []string{"ssrs_layout", "ssrs_other_line", "ssrs_other_line"}, []int{5, 7, 8}},
		{"ssrs single device without hash",
			[]byte(pre + elem + lab + "S1,,\r\n"),
			[]wantRow{{5, "S1", false, "", ""}}, []string{"ssrs_layout", "ssrs_no_hash"}, []int{5, 5}},
		{"ssrs hash wrapped over lines",
			[]byte(pre + elem + lab + "S1,,\"" + h1[:100] + "\r\n" + h1[100:] + "\"\r\n" + lab + "S2,," + h2 + "\r\n"),
			[]wantRow{{5, "S1", false, "", ""}, {7, "S2", true, "", ""}}, []string{"ssrs_layout", "hash_wrapped"}, []int{5, 5}},
		{"no header, first device without hash",
			[]byte(crlf("S0,,", "S1,,"+h1)),
			[]wantRow{{1, "S0", false, "", ""}, {2, "S1", true, "", ""}}, []string{"headerless"}, []int{2}},
		{"quoted after a space",
			[]byte(crlf(`"Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag"`, `"S1", "", "`+h1+`", "Sales EU"`)),
			[]wantRow{{2, "S1", true, "Sales EU", ""}}, nil, nil},
		{"partner tuple and excel serial",
			[]byte(crlf(canonHeader+",Manufacturer name,Device model", "1.23457E+11,,"+h1+",,", "S2,,,Contoso,L7")),
			[]wantRow{{2, "1.23457E+11", true, "", ""}, {3, "S2", false, "", ""}}, []string{"serial_scientific", "partner_tuple"}, []int{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBytes(t, tt.data, "r.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if tt.name == "ssrs hash wrapped over lines" { // the hash keeps its line break; hwhash ignores it
				if len(res.rows) == 0 || stripSpace(res.rows[0].Hash) != h1 {
					t.Fatalf("wrapped hash not kept whole")
				}
				res.rows[0].Hash = ""
			}
			checkRows(t, res.rows, tt.rows)
			if !slices.Equal(res.noteCodes(), tt.notes) {
				t.Fatalf("notes %v, want %v", res.noteCodes(), tt.notes)
			}
			for i, n := range res.notes {
				if n.Line != tt.noteLines[i] {
					t.Errorf("note %s on line %d, want %d", n.Code, n.Line, tt.noteLines[i])
				}
			}
		})
	}
}

func TestPastedHashCleaned(t *testing.T) {
	h := fakeHash(4)
	res := readBytes(t, []byte(crlf(canonHeader, "S1,,"+h[:10]+"\u200b"+h[10:20]+"\u00a0"+h[20:]+"\ufeff")), "p.csv")
	if res.err != nil || len(res.rows) != 1 || res.rows[0].Hash != h {
		t.Fatalf("err %v, rows %+v", res.err, res.rows)
	}
}

// TestOtherDelimiters: files Excel saved with semicolons (quoted or not) or as Unicode
// Text (UTF-16, tabs) are read again with their delimiter, from any io.Reader.
func TestOtherDelimiters(t *testing.T) {
	h := fakeHash(1)
	tests := []struct {
		name string
		data []byte
	}{
		{"semicolons", []byte(crlf("sep=;", "Device Serial Number;Windows Product ID;Hardware Hash;Group Tag", "S1;;"+h+";Sales EU"))},
		{"quoted semicolons", []byte(crlf(`"Device Serial Number";"Windows Product ID";"Hardware Hash";"Group Tag"`, `"S1";"";"`+h+`";"Sales EU"`))},
		{"unicode text", encodeAs(t, crlf("Device Serial Number	Windows Product ID	Hardware Hash	Group Tag", "S1		"+h+"	Sales EU"), "utf-16le")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBytes(t, tt.data, "d.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.rows) != 1 || res.rows[0].Serial != "S1" || res.rows[0].Hash != h || res.rows[0].GroupTag != "Sales EU" || res.rows[0].Problem != nil {
				t.Fatalf("rows %+v", res.rows)
			}
			if !slices.Contains(res.noteCodes(), "delimiter") {
				t.Errorf("notes %v", res.noteCodes())
			}
		})
	}
	// A semicolon header with no readable rows after it is still refused with the hint.
	res := readBytes(t, []byte(crlf("Device Serial Number;Windows Product ID;Hardware Hash")+strings.Repeat("x", 2<<20)), "big.csv")
	if fe := res.fileErr(t); fe.Code != "record_too_long" {
		t.Errorf("error %+v", fe)
	}
}

func TestIsScientific(t *testing.T) {
	for s, want := range map[string]bool{
		"1.23457E+11": true, "5E+14": true, "1.2e+05": true, " 9.99E+20 ": true,
		"1.23457E11": false, "E+11": false, "1.E+11": false, "PF3E+11": false, "1234567": false, "": false,
	} {
		if got := isScientific(s); got != want {
			t.Errorf("isScientific(%q) = %v", s, got)
		}
	}
}

func TestUnquoteSpaced(t *testing.T) {
	tests := []struct{ raw, want string }{
		{` "a"`, "a"},
		{` "a ""b"""`, `a "b"`},
		{` ""`, ""},
		{`"a"`, `"a"`},          // a field csv already unquoted that holds quotes: kept
		{` "a" "b"`, `"a" "b"`}, // not one quoted value
		{` x"y"`, `x"y"`},       // no leading quote
		{` "unbalanced`, `"unbalanced`},
	}
	for _, tt := range tests {
		if got := unquoteSpaced(strings.TrimSpace(tt.raw), tt.raw); got != tt.want {
			t.Errorf("unquoteSpaced(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestSSRSOtherLinesCapped(t *testing.T) {
	text := "Textbox_ReportName\r\nWindows Autopilot Device Information\r\n\r\n" +
		"Textbox1,Textbox2,Textbox3,Details_Table0_SerialNumber0,Details_Table0_ProductID,Details_Table0_HardwareHash\r\n" +
		"Device Serial Number,Windows Product ID,Hardware Hash,S1,," + fakeHash(1) + "\r\n\r\n"
	for i := range 8 {
		text += "Collection,Site " + string(rune('A'+i)) + "\r\n"
	}
	res := readBytes(t, []byte(text), "f.csv")
	if res.err != nil || len(res.rows) != 1 {
		t.Fatalf("err %v, %d rows", res.err, len(res.rows))
	}
	other := 0
	for _, n := range res.notes {
		if n.Code == "ssrs_other_line" {
			other++
		}
	}
	if other != maxOtherLineNotes+1 {
		t.Errorf("%d ssrs_other_line notes, want %d", other, maxOtherLineNotes+1)
	}
}

// TestUnquotedWrappedHash: a hash split over lines without quotes (copied from a console
// window) is joined back; a short serial-only line after a short hash is not swallowed.
func TestUnquotedWrappedHash(t *testing.T) {
	h := fakeHash(5)
	var wrapped []string
	for i := 0; i < len(h); i += 190 { // the last piece has 10 characters
		wrapped = append(wrapped, h[i:min(i+190, len(h))])
	}
	text := canonHeader + "\r\nS1,," + strings.Join(wrapped, "\r\n") + "\r\nS2,," + fakeHash(6) + "\r\nS3,," + h[:2000] + "\r\nS4\r\n"
	res := readBytes(t, []byte(text), "w.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.rows) != 4 || res.rows[0].Hash != h || res.rows[1].Line != 2+len(wrapped) || res.rows[2].Hash != h[:2000] || res.rows[3].Serial != "S4" {
		for _, r := range res.rows {
			t.Logf("line %d serial %q hash %d", r.Line, short(r.Serial), len(r.Hash))
		}
		t.Fatalf("%d rows", len(res.rows))
	}
	if !slices.Equal(res.noteCodes(), []string{"hash_wrapped"}) || res.notes[0].Line != 2 {
		t.Errorf("notes %+v", res.notes)
	}
}
