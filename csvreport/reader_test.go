package csvreport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEncodingLineEndQuoting reads the same three devices written in every encoding, line
// ending, quoting style and file ending.
func TestEncodingLineEndQuoting(t *testing.T) {
	type dev struct{ serial, tag, user string }
	devs := []dev{
		{"SYN-0001", "Vertrieb Süd", ""},
		{"0000123", "", "anna@contoso.example"},
		{"VMware-56 4d 8d 37", "Lab, 2nd floor", ""},
	}
	encodings := []struct {
		enc      string
		want     string // Format.Encoding
		wantNote string
	}{
		{"utf-8", "utf-8", ""},
		{"utf-8-bom", "utf-8-bom", ""},
		{"utf-16le", "utf-16le", ""},
		{"utf-16be", "utf-16be", ""},
		{"utf-16le-nobom", "utf-16le", "utf16_no_bom"},
		{"utf-16be-nobom", "utf-16be", "utf16_no_bom"},
		{"windows-1252", "windows-1252", "encoding_ansi"},
	}
	eols := map[string]string{"crlf": "\r\n", "lf": "\n", "cr": "\r"}
	quotings := []string{"none", "all", "minimal"}
	endings := []string{"final-eol", "no-final-eol", "blank-lines"}

	quote := func(style, v string) string {
		switch style {
		case "all":
			return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		case "minimal":
			if strings.ContainsAny(v, ",\"\r\n") {
				return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
		}
		return v
	}
	for _, e := range encodings {
		for eolName, eol := range eols {
			for _, q := range quotings {
				for _, ending := range endings {
					name := fmt.Sprintf("%s/%s/%s/%s", e.enc, eolName, q, ending)
					t.Run(name, func(t *testing.T) {
						var lines []string
						hdr := []string{"Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag", "Assigned User"}
						var cells []string
						for _, h := range hdr {
							cells = append(cells, quote(q, h))
						}
						lines = append(lines, strings.Join(cells, ","))
						for i, d := range devs {
							tag := d.tag
							if q == "none" {
								tag = strings.ReplaceAll(tag, ",", "") // quote-stripped files cannot hold a comma
							}
							vals := []string{d.serial, "", fakeHash(i), tag, d.user}
							cells = cells[:0]
							for _, v := range vals {
								cells = append(cells, quote(q, v))
							}
							lines = append(lines, strings.Join(cells, ","))
						}
						text := strings.Join(lines, eol)
						switch ending {
						case "final-eol":
							text += eol
						case "blank-lines":
							text += eol + eol + eol
						}
						res := readBytes(t, encodeAs(t, text, e.enc), "in.csv")
						if res.err != nil {
							t.Fatalf("error: %v", res.err)
						}
						if res.format.Encoding != e.want || res.format.Layout != LayoutCanonical || !res.format.HasGroupTag || !res.format.HasAssignedUser {
							t.Errorf("format = %+v", res.format)
						}
						if len(res.rows) != len(devs) {
							t.Fatalf("got %d rows, want %d", len(res.rows), len(devs))
						}
						for i, d := range devs {
							row := res.rows[i]
							wantTag := d.tag
							if q == "none" {
								wantTag = strings.ReplaceAll(wantTag, ",", "")
							}
							if row.Serial != d.serial || row.Hash != fakeHash(i) || row.GroupTag != wantTag || row.AssignedUser != d.user ||
								row.Line != i+2 || row.File != "in.csv" || row.Problem != nil {
								t.Errorf("row %d = {line %d serial %q hash %s tag %q user %q problem %v}", i, row.Line, row.Serial, short(row.Hash), row.GroupTag, row.AssignedUser, row.Problem)
							}
						}
						if e.wantNote != "" && !slices.Contains(res.noteCodes(), e.wantNote) {
							t.Errorf("notes %v, want %s", res.noteCodes(), e.wantNote)
						}
					})
				}
			}
		}
	}
}

func TestHeaderVariants(t *testing.T) {
	h := fakeHash(7)
	tests := []struct {
		name      string
		header    string
		row       string
		want      Row // File/Line not compared
		layout    Layout
		wantNotes []string
	}{
		{"canonical", "Device Serial Number,Windows Product ID,Hardware Hash", "S1,P1," + h,
			Row{Serial: "S1", ProductID: "P1", Hash: h}, LayoutCanonical, nil},
		{"lower case and underscores", "serial_number,windows_product_id,hardware_hash,group_tag", "S1,," + h + ",T",
			Row{Serial: "S1", Hash: h, GroupTag: "T"}, LayoutCanonical, nil},
		{"camel case graph names", "serialNumber,productKey,hardwareIdentifier,groupTag,assignedUserPrincipalName", "S1,P," + h + ",T,u@x",
			Row{Serial: "S1", ProductID: "P", Hash: h, GroupTag: "T", AssignedUser: "u@x"}, LayoutCanonical, nil},
		{"reordered", "Hardware Hash,Group Tag,Serial", h + ",T,S1",
			Row{Serial: "S1", Hash: h, GroupTag: "T"}, LayoutCanonical, nil},
		{"configmgr view names", "Manufacturer,Model,Serial_Number,HardwareHash", "Contoso,L7,S1," + h,
			Row{Serial: "S1", Hash: h, Manufacturer: "Contoso", Model: "L7"}, LayoutPartner, nil},
		{"DeviceHardwareData0 and OrderID", "SerialNumber,DeviceHardwareData0,OrderID", "S1," + h + ",PO-1",
			Row{Serial: "S1", Hash: h, GroupTag: "PO-1"}, LayoutCanonical, nil},
		{"DeviceHardwareData and Order ID", "DeviceSerialNumber,DeviceHardwareData,Order ID", "S1," + h + ",PO-1",
			Row{Serial: "S1", Hash: h, GroupTag: "PO-1"}, LayoutCanonical, nil},
		{"spaces, BOM and zero-width", "\ufeff Device Serial Number ,\u200bWindows Product ID,Hardware Hash\u200d", "S1,," + h,
			Row{Serial: "S1", Hash: h}, LayoutCanonical, nil},
		{"partner layout", "Device Serial Number,Windows Product ID,Hardware Hash,Manufacturer name,Device model", "S1,,,Contoso,L7",
			Row{Serial: "S1", Manufacturer: "Contoso", Model: "L7"}, LayoutPartner, []string{"partner_tuple"}},
		{"unknown extra column", "Device Serial Number,Windows Product ID,Hardware Hash,Computer Name", "S1,," + h + ",PC1",
			Row{Serial: "S1", Hash: h}, LayoutCanonical, []string{"unknown_column"}},
		{"six columns starting with the report labels", "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User,Computer Name", "S1,," + h + ",T,,PC1",
			Row{Serial: "S1", Hash: h, GroupTag: "T"}, LayoutCanonical, []string{"unknown_column"}},
		{"trailing comma in header and rows", "Device Serial Number,Windows Product ID,Hardware Hash,", "S1,," + h + ",",
			Row{Serial: "S1", Hash: h}, LayoutCanonical, nil},
		{"values trimmed, inner spaces kept", "Serial,Hardware Hash", "  VMware-56 4d 8d  ,  " + h + "  ",
			Row{Serial: "VMware-56 4d 8d", Hash: h}, LayoutCanonical, nil},
		{"leading zeros kept", "Serial,Hardware Hash", "000123," + h,
			Row{Serial: "000123", Hash: h}, LayoutCanonical, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBytes(t, []byte(crlf(tt.header, tt.row)), "h.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.rows) != 1 {
				t.Fatalf("%d rows", len(res.rows))
			}
			got := res.rows[0]
			if got.Line != 2 || got.Problem != nil {
				t.Errorf("line %d problem %v", got.Line, got.Problem)
			}
			got.File, got.Line = "", 0
			if got != tt.want {
				t.Errorf("row = %+v\nwant  %+v", got, tt.want)
			}
			if res.format.Layout != tt.layout {
				t.Errorf("layout = %s, want %s", res.format.Layout, tt.layout)
			}
			if !slices.Equal(res.noteCodes(), tt.wantNotes) {
				t.Errorf("notes = %v, want %v", res.noteCodes(), tt.wantNotes)
			}
		})
	}
}

// wantRow is what tests check of a row.
type wantRow struct {
	line    int
	serial  string
	hashSet bool
	tag     string
	problem string // Problem.Code, "" for none
}

func checkRows(t *testing.T, rows []Row, want []wantRow) {
	t.Helper()
	if len(rows) != len(want) {
		for _, r := range rows {
			t.Logf("row line %d serial %q problem %v", r.Line, r.Serial, r.Problem)
		}
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		code := ""
		if r.Problem != nil {
			code = r.Problem.Code
			if r.Problem.Message == "" {
				t.Errorf("row %d: problem %s without message", i, code)
			}
		}
		if r.Line != w.line || r.Serial != w.serial || (r.Hash != "") != w.hashSet || r.GroupTag != w.tag || code != w.problem {
			t.Errorf("row %d = {line %d serial %q hash %s tag %q problem %v}, want %+v", i, r.Line, r.Serial, short(r.Hash), r.GroupTag, r.Problem, w)
		}
		if w.hashSet && len(r.Hash) != 4000 && !strings.HasPrefix(r.Hash, "T0FBQUFB") {
			t.Errorf("row %d: hash length %d", i, len(r.Hash))
		}
	}
}

// TestTestdata reads every generated file that is an import file.
func TestTestdata(t *testing.T) {
	tests := []struct {
		file      string
		format    Format
		rows      []wantRow
		notes     []string
		noteLines []int
	}{
		{"canonical_utf16le.csv", Format{"utf-16le", LayoutCanonical, true, true},
			[]wantRow{{2, "SYN-0001", true, "Sales", ""}, {3, "SYN-0002", true, "", ""}, {4, "0000123", true, "", ""}}, nil, nil},
		{"canonical_utf8_quoted_lf.csv", Format{"utf-8", LayoutCanonical, true, false},
			[]wantRow{{2, "SYN-0101", true, "Sales, EU", ""}, {3, "SYN-0102", true, "", ""}}, nil, nil},
		{"partner.csv", Format{"utf-8", LayoutPartner, false, false},
			[]wantRow{{2, "SYN-0201", true, "", ""}, {3, "SYN-0202", false, "", ""}}, []string{"partner_tuple"}, []int{3}},
		{"preamble.csv", Format{"utf-8", LayoutCanonical, false, false},
			[]wantRow{{5, "SYN-0301", true, "", ""}, {6, "SYN-0302", true, "", ""}}, []string{"preamble_skipped"}, []int{1}},
		{"ssrs_configmgr.csv", Format{"utf-8", LayoutSSRS, false, false},
			[]wantRow{{5, "SSRS-0001", true, "", ""}, {6, "SSRS-0002", true, "", ""}}, []string{"ssrs_layout"}, []int{5}},
		{"ssrs_bom_quoted_preamble.csv", Format{"utf-8-bom", LayoutSSRS, false, false},
			[]wantRow{{5, "SSRS-0101", true, "", ""}}, []string{"ssrs_layout"}, []int{5}},
		{"ssrs_utf16le.csv", Format{"utf-16le", LayoutSSRS, false, false},
			[]wantRow{{5, "SSRS-0201", true, "", ""}, {6, "SSRS-0202", true, "", ""}}, []string{"ssrs_layout"}, []int{5}},
		{"ssrs_canonical_header.csv", Format{"utf-8", LayoutSSRS, false, false},
			[]wantRow{{4, "SSRS-0301", true, "", ""}}, []string{"ssrs_layout"}, []int{4}},
		{"ssrs_more_columns.csv", Format{"utf-8", LayoutSSRS, true, false},
			[]wantRow{{4, "SSRS-0401", true, "Kiosk", ""}, {5, "SSRS-0402", true, "", ""}}, []string{"unknown_column", "ssrs_layout"}, []int{4, 4}},
		{"ssrs_four_labels.csv", Format{"utf-8", LayoutSSRS, true, false},
			[]wantRow{{4, "SSRS-0501", true, "Lab", ""}}, []string{"ssrs_layout"}, []int{4}},
		{"merged_utf16le.csv", Format{"utf-16le", LayoutCanonical, false, false},
			[]wantRow{{2, "SYN-0601", true, "", ""}, {3, "SYN-0602", true, "", ""}, {5, "SYN-0603", true, "", ""}, {7, "SYN-0604", true, "", ""}},
			[]string{"repeated_header"}, []int{4}},
		{"merged_switch.csv", Format{"utf-8", LayoutCanonical, true, false},
			[]wantRow{{2, "SYN-0701", true, "", ""}, {4, "SYN-0702", true, "Sales", ""}, {6, "SYN-0703", true, "HR", ""}},
			[]string{"header_changed", "repeated_header"}, []int{3, 5}},
		{"headerless.csv", Format{"utf-8", LayoutHeaderless, true, false}, // row 2 has a group tag
			[]wantRow{{1, "SYN-0801", true, "", ""}, {2, "SYN-0802", true, "Lab", ""}}, []string{"headerless"}, []int{1}},
		{"malformed.csv", Format{"utf-8", LayoutCanonical, true, false},
			[]wantRow{
				{2, "SYN-0901", true, "Sales", ""},
				{3, "SYN-0902", true, "Sales", "row_columns"},
				{5, "SYN-0903", true, "", ""},
				{6, "SYN-0904", false, "", "row_columns"},
				{7, "SYN-0905", true, `Tag "A"`, "row_quote"},
				{8, "SYN-0906", true, "two\nlines", "row_multiline"},
				{10, "SYN-0907", true, "", ""},
				{11, "SYN-0908", true, "Lab", ""},
				{12, "SYN-0909", true, "", ""}, // the NUL is dropped, with a note
			}, []string{"utf16_appended"}, []int{12}},
		{"ansi_windows1252.csv", Format{"windows-1252", LayoutCanonical, true, true},
			[]wantRow{{2, "SYN-1001", true, "Vertrieb Süd", ""}}, []string{"encoding_ansi"}, []int{0}},
		{"reject_semicolon.csv", Format{"utf-8", LayoutCanonical, false, false}, // Excel with ";" as list separator: read anyway
			[]wantRow{{2, "SYN-1501", true, "", ""}}, []string{"delimiter"}, []int{1}},
		{"utf16le_nobom.csv", Format{"utf-16le", LayoutCanonical, false, false},
			[]wantRow{{2, "SYN-1101", true, "", ""}}, []string{"utf16_no_bom"}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rd, err := Open(testdataPath(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res := drain(t, rd)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := rd.Format(); got != tt.format {
				t.Errorf("format = %+v, want %+v", got, tt.format)
			}
			checkRows(t, res.rows, tt.rows)
			if !slices.Equal(res.noteCodes(), tt.notes) {
				t.Errorf("notes = %v, want %v", res.noteCodes(), tt.notes)
			}
			for i, n := range res.notes {
				if i < len(tt.noteLines) && n.Line != tt.noteLines[i] {
					t.Errorf("note %s on line %d, want %d", n.Code, n.Line, tt.noteLines[i])
				}
				if n.File != filepath.Join("testdata", tt.file) || n.Message == "" {
					t.Errorf("note %+v", n)
				}
			}
			if tt.file == "ansi_windows1252.csv" && res.rows[0].AssignedUser != "jürgen@contoso.example" {
				t.Errorf("user = %q", res.rows[0].AssignedUser)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		file     string
		code     string
		line     int
		msgPart  string
		hintPart string
	}{
		{"reject_corporate_identifiers.csv", "corporate_identifiers", 1, "corporate device identifier", "Corporate device identifiers"},
		{"reject_no_hash_column.csv", "no_hash_column", 1, "no hardware hash column", "Get-WindowsAutopilotInfo"},
		{"reject_graph_export.csv", "device_list_export", 1, "already registered", "Get-WindowsAutopilotInfo"},
		{"reject_empty.csv", "empty", 0, "empty", "export"},
		{"reject_blank_lines.csv", "empty", 0, "only blank lines", "export"},
		{"reject_binary.csv", "not_csv", 0, "not a text file", "CSV"},
		{"reject_no_header.csv", "no_header", 0, "no header row", "Device Serial Number,Windows Product ID,Hardware Hash"},
		{"reject_duplicate_column.csv", "duplicate_column", 1, `columns 1 ("Serial Number") and 3 ("Device Serial Number")`, "remove or rename"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := testdataPath(t, tt.file)
			res := readFile(t, path)
			fe := res.fileErr(t)
			if fe.Code != tt.code || fe.Line != tt.line || fe.File != path {
				t.Errorf("error = %+v, want code %s line %d", fe, tt.code, tt.line)
			}
			if !strings.Contains(fe.Message, tt.msgPart) || !strings.Contains(fe.Hint, tt.hintPart) {
				t.Errorf("message %q / hint %q", fe.Message, fe.Hint)
			}
			checkMessageStyle(t, fe.Message)
		})
	}
}

func checkMessageStyle(t *testing.T, msg string) {
	t.Helper()
	if msg == "" || strings.HasSuffix(msg, ".") || strings.ToLower(msg[:1]) != msg[:1] {
		t.Errorf("message %q: want lowercase start, no final period", msg)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		code string
	}{
		{"missing file", filepath.Join(dir, "nope.csv"), "unreadable"},
		{"directory", dir, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path)
			var fe *FileError
			if !errors.As(err, &fe) || fe.Code != tt.code || fe.File != tt.path {
				t.Fatalf("err = %#v", err)
			}
			checkMessageStyle(t, fe.Message)
			if tt.name == "missing file" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("missing file error does not wrap os.ErrNotExist")
			}
		})
	}
}

func TestRealSamples(t *testing.T) {
	dir := samplesDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("found %d hash samples, want 6", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := readFile(t, f)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.format != (Format{Encoding: "utf-16le", Layout: LayoutCanonical}) {
				t.Errorf("format = %+v", res.format)
			}
			if len(res.rows) != 1 {
				t.Fatalf("%d rows", len(res.rows))
			}
			r := res.rows[0]
			if r.Line != 2 || len(r.Hash) != 4000 || !strings.HasPrefix(r.Hash, "T0") || r.Problem != nil || r.ProductID != "" {
				t.Errorf("row: line %d hash %s (%d) problem %v", r.Line, short(r.Hash), len(r.Hash), r.Problem)
			}
			// Serial lengths as documented in samples-public/README.md (the values are not
			// repeated here).
			wantLen := map[string]int{"6cc4304": 8, "a5f2af5": 0, "8ec586a": 0, "dd069fa": 10, "823e09f": 10, "2b36e62": 54}
			found := false
			for commit, n := range wantLen {
				if strings.Contains(f, commit) {
					found = true
					if len(r.Serial) != n {
						t.Errorf("serial has %d characters, want %d", len(r.Serial), n)
					}
				}
			}
			if !found {
				t.Errorf("unexpected sample %s", f)
			}
			if strings.Contains(f, "m3sterkw0n") && (!strings.HasPrefix(r.Serial, "VMware-56 4d ") || len(r.Serial) != 54) {
				t.Errorf("VMware serial not kept verbatim: %q", r.Serial)
			}
			if len(res.notes) != 0 {
				t.Errorf("notes: %v", res.notes)
			}
		})
	}
	t.Run("device list export", func(t *testing.T) {
		res := readFile(t, filepath.Join(dir, "ennnbeee-autopilotgrouptagger-ff11568-AutopilotDevices.csv"))
		fe := res.fileErr(t)
		if fe.Code != "device_list_export" || fe.Line != 1 || !strings.Contains(fe.Hint, "Get-WindowsAutopilotInfo") {
			t.Errorf("error = %+v", fe)
		}
	})
}

// TestSSRSVariants covers SSRS shapes generated inline.
func TestSSRSVariants(t *testing.T) {
	h1, h2 := fakeHash(1), fakeHash(2)
	labels := "Device Serial Number,Windows Product ID,Hardware Hash"
	tests := []struct {
		name string
		text string
		enc  string
		want []wantRow
	}{
		{"no element header", crlf(labels+",S1,,"+h1, labels+",S2,,"+h2), "utf-8",
			[]wantRow{{1, "S1", true, "", ""}, {2, "S2", true, "", ""}}},
		{"lower-case labels, utf-16be", crlf("Report", "", "x,y,z,a,b,c", strings.ToLower(labels)+",S1,,"+h1), "utf-16be",
			[]wantRow{{4, "S1", true, "", ""}}},
		{"multi-line quoted preamble", crlf(`"Windows Autopilot Device Information`, `second line, with comma"`, "", "x,y,z,a,b,c", labels+",S1,,"+h1), "utf-8-bom",
			[]wantRow{{5, "S1", true, "", ""}}},
		{"row without labels is a problem row", crlf("x,y,z,a,b,c", labels+",S1,,"+h1, "S2,,"+h2), "utf-8",
			[]wantRow{{2, "S1", true, "", ""}, {3, "", false, "", "row_columns"}}},
		{"repeated element header skipped", crlf("x,y,z,a,b,c", labels+",S1,,"+h1, "", "x,y,z,a,b,c", labels+",S2,,"+h2), "utf-8",
			[]wantRow{{2, "S1", true, "", ""}, {5, "S2", true, "", ""}}},
		{"short hash (truncated export)", crlf("x,y,z,a,b,c", labels+",S1,,T0FBQUFBQUFBQUFBQUFB"), "utf-8",
			[]wantRow{{2, "S1", true, "", ""}}},
		{"label rows without hashes", crlf("x,y,z,a,b,c", labels+",S1,,", labels+",S2,,"), "utf-8",
			[]wantRow{{2, "S1", false, "", ""}, {3, "S2", false, "", ""}}},
		{"first row without hash", crlf("x,y,z,a,b,c", labels+",S1,,", labels+",S2,,"+h2), "utf-8",
			[]wantRow{{2, "S1", false, "", ""}, {3, "S2", true, "", ""}}},
		{"empty values", crlf("x,y,z,a,b,c", labels+",S1,,"+h1, labels+",,,"), "utf-8",
			[]wantRow{{2, "S1", true, "", ""}, {3, "", false, "", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBytes(t, encodeAs(t, tt.text, tt.enc), "r.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.format.Layout != LayoutSSRS {
				t.Errorf("layout %s", res.format.Layout)
			}
			checkRows(t, res.rows, tt.want)
		})
	}
}

func TestHeaderlessVariants(t *testing.T) {
	h := fakeHash(3)
	tests := []struct {
		name string
		text string
		want []wantRow
	}{
		{"serial,hash", crlf("S1,"+h, "S2,"+h), []wantRow{{1, "S1", true, "", ""}, {2, "S2", true, "", ""}}},
		{"hash moved", crlf("S1,,"+h, "S2,"+h+",,"), []wantRow{{1, "S1", true, "", ""}, {2, "S2", false, "", "row_columns"}}},
		{"header appears later", crlf("S1,,"+h, "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag", "S2,,"+h+",T"),
			[]wantRow{{1, "S1", true, "", ""}, {3, "S2", true, "T", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readBytes(t, []byte(tt.text), "hl.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.format.Layout != LayoutHeaderless {
				t.Errorf("layout %s", res.format.Layout)
			}
			checkRows(t, res.rows, tt.want)
		})
	}
}

func TestNoHeaderNotCorporate(t *testing.T) {
	// Short (truncated) hashes without header: not a corporate identifier list.
	res := readBytes(t, []byte(crlf("S1,,T0FBQUFBQUFB", "S2,,T0FBQUFBQUFC")), "short.csv")
	if fe := res.fileErr(t); fe.Code != "no_header" {
		t.Errorf("code %s, want no_header", fe.Code)
	}
}

func TestDuplicateHeaderMidFile(t *testing.T) {
	h := fakeHash(1)
	text := crlf(canonHeader, "S1,,"+h, "Serial,Hardware Hash,Serial Number", "S2,"+h+",S2")
	rd, err := NewReader(strings.NewReader(text), "d.csv")
	if err != nil {
		t.Fatal(err)
	}
	row, err := rd.Next()
	if err != nil || row.Serial != "S1" {
		t.Fatalf("first row %+v, %v", row, err)
	}
	_, err = rd.Next()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Code != "duplicate_column" || fe.Line != 3 {
		t.Fatalf("err = %v", err)
	}
	if _, err2 := rd.Next(); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}

// TestEncodingFallbackFarIn: a UTF-8 file whose only non-UTF-8 byte comes after the
// sniffed prefix is still read, the byte decoded as Windows-1252, with a note naming its line.
func TestEncodingFallbackFarIn(t *testing.T) {
	var b strings.Builder
	b.WriteString(canonHeader + ",Group Tag\r\n")
	n := 40 // 40 rows of ~4 KB: well past the 64 KiB prefix
	for i := range n {
		fmt.Fprintf(&b, "S%d,,%s,Lab\r\n", i, fakeHash(i))
	}
	data := []byte(b.String())
	data = append(data, []byte("SLAST,,"+fakeHash(99)+",Vertrieb S\xfcd\r\n")...) // 0xFC = ü in Windows-1252
	res := readBytes(t, data, "mixed.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.format.Encoding != "utf-8" || len(res.rows) != n+1 {
		t.Fatalf("format %+v, %d rows", res.format, len(res.rows))
	}
	last := res.rows[n]
	if last.GroupTag != "Vertrieb Süd" || last.Line != n+2 || last.Problem != nil {
		t.Errorf("last row: line %d tag %q problem %v", last.Line, last.GroupTag, last.Problem)
	}
	if len(res.notes) != 1 || res.notes[0].Code != "encoding_fallback" || res.notes[0].Line != n+2 {
		t.Errorf("notes = %+v", res.notes)
	}
}

// TestRecordTooLong: an unbalanced quote must not make the reader hold the rest of a big
// file as one record.
func TestRecordTooLong(t *testing.T) {
	var b strings.Builder
	b.WriteString(crlf(canonHeader, "S0,,"+fakeHash(0)))
	b.WriteString(`S1,"oops,` + fakeHash(1) + "\r\n")
	for i := range 400 { // ~1.6 MB of rows swallowed by the open quote
		fmt.Fprintf(&b, "S%d,,%s\r\n", i+2, fakeHash(i))
	}
	res := readBytes(t, []byte(b.String()), "q.csv")
	fe := res.fileErr(t)
	if fe.Code != "record_too_long" || fe.Line != 3 || len(res.rows) != 1 {
		t.Errorf("error %+v after %d rows", fe, len(res.rows))
	}
}

// TestNULAppended: UTF-16 text appended to a UTF-8 file (Out-File -Append) is read with
// its NUL bytes dropped, with a note on the first appended line; line numbers stay right.
func TestNULAppended(t *testing.T) {
	data := []byte(crlf(canonHeader, "S1,,"+fakeHash(1)))
	data = append(data, encodeAs(t, "S2,,"+fakeHash(2)+"\r\nS3,,"+fakeHash(3)+"\r\n", "utf-16le-nobom")...)
	res := readBytes(t, data, "append.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, []wantRow{{2, "S1", true, "", ""}, {3, "S2", true, "", ""}, {4, "S3", true, "", ""}})
	if !slices.Equal(res.noteCodes(), []string{"utf16_appended"}) || res.notes[0].Line != 3 {
		t.Errorf("notes %+v", res.notes)
	}
}

func TestBlankLinesAndLineNumbers(t *testing.T) {
	h := fakeHash(1)
	text := "\r\n\r\n" + canonHeader + "\r\n\r\n,,\r\nS1,,\"" + h + "\"\r\n   \r\n\"S2\nstill S2\",," + h + "\r\nS3,," + h
	res := readBytes(t, []byte(text), "b.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, []wantRow{{6, "S1", true, "", ""}, {8, "S2\nstill S2", true, "", "row_multiline"}, {10, "S3", true, "", ""}})
}

// TestUnclosedQuoteJoinsRows: rows swallowed by a quote that is never closed are not lost
// silently: the record that holds them is flagged with the line range.
func TestUnclosedQuoteJoinsRows(t *testing.T) {
	text := crlf(canonHeader+",Group Tag", "S1,,"+fakeHash(1)+`,"Sales`, "S2,,"+fakeHash(2)+",Lab", "S3,,"+fakeHash(3)+",")
	res := readBytes(t, []byte(text), "u.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.rows) != 1 || res.rows[0].Problem == nil || res.rows[0].Problem.Code != "row_multiline" ||
		!strings.Contains(res.rows[0].Problem.Message, "from line 2 to 4") {
		t.Fatalf("rows: %d, problem %+v", len(res.rows), res.rows[0].Problem)
	}
}

func TestNextAfterClose(t *testing.T) {
	rd, err := NewReader(strings.NewReader(crlf(canonHeader, "S1,,"+fakeHash(1))), "c.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	// Rows already decoded may still come out; after them an error, never a panic.
	for range 3 {
		if _, err := rd.Next(); err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v", err)
			}
			return
		}
	}
	t.Fatal("no error after close")
}

func TestExpandArgs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.csv", "b.csv", "c.txt", "we[ird].csv"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{"plain names kept, even missing ones", []string{p("c.txt"), p("missing.csv")}, []string{p("c.txt"), p("missing.csv")}, ""},
		{"glob expanded in order", []string{p("c.txt"), p("*.csv")}, []string{p("c.txt"), p("a.csv"), p("b.csv"), p("we[ird].csv")}, ""},
		{"repeats dropped", []string{p("b.csv"), p("*.csv"), p("b.csv")}, []string{p("b.csv"), p("a.csv"), p("we[ird].csv")}, ""},
		{"existing file with meta characters", []string{p("we[ird].csv")}, []string{p("we[ird].csv")}, ""},
		{"no match", []string{p("*.xlsx")}, nil, "no files match"},
		{"bad pattern", []string{p("[.csv")}, nil, "bad file pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandArgs(tt.args, false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.args[0]) {
					t.Fatalf("err = %v, want %q naming the pattern", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestReadError: an I/O error is a *FileError "unreadable" that wraps the cause, at open
// time or after the rows read so far.
func TestReadError(t *testing.T) {
	boom := errors.New("device not ready")
	var b strings.Builder
	b.WriteString(canonHeader + "\r\n")
	for i := range 30 { // ~120 KB: more than the sniffed prefix
		fmt.Fprintf(&b, "S%d,,%s\r\n", i, fakeHash(i))
	}
	tests := []struct {
		name     string
		r        io.Reader
		wantRows int
	}{
		{"at open", iotest.ErrReader(boom), 0},
		{"mid-file", io.MultiReader(strings.NewReader(b.String()), iotest.ErrReader(boom)), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := result{}
			rd, err := NewReader(tt.r, "e.csv")
			if err != nil {
				res.err = err
			} else {
				res = drain(t, rd)
			}
			fe := res.fileErr(t)
			if fe.Code != "unreadable" || !errors.Is(err, boom) && !errors.Is(res.err, boom) || len(res.rows) != tt.wantRows {
				t.Errorf("error %+v, %d rows", fe, len(res.rows))
			}
			checkMessageStyle(t, fe.Message)
		})
	}
}
