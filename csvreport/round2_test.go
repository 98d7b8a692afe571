package csvreport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apimport/apimport/hwhash"
)

// encoded returns a real (verifying) hash built with the hwhash encoder.
func encoded(serial string) string {
	return hwhash.Device{Serial: serial, Manufacturer: "Contoso", Model: "Book 13", CaptureTime: 1_700_000_000}.EncodeBase64()
}

func notesWith(res result, code string) []Note {
	var out []Note
	for _, n := range res.notes {
		if n.Code == code {
			out = append(out, n)
		}
	}
	return out
}

// TestFlatRendering: the SSRS flat rendering (ExcelMode=false) puts the report's text
// boxes and the column labels on every row under a header of element names; it is read
// as the report, and a device without hash stays a device row, not a header.
func TestFlatRendering(t *testing.T) {
	hdr := "Textbox_ReportName,Textbox_Description,Textbox2,Textbox3,Textbox4,Details_Table0_SerialNumber,Details_Table0_WindowsProductID,Details_Table0_HardwareHash"
	pre := `Windows Autopilot Device Information,"Serial number, Windows product ID and hardware hash",Device Serial Number,Windows Product ID,Hardware Hash,`
	var lines []string
	lines = append(lines, hdr)
	for i := range 6 {
		h := encoded(fmt.Sprintf("S%d", i))
		if i == 2 {
			h = ""
		}
		lines = append(lines, pre+fmt.Sprintf("S%d,00330-80000-00000-AA%03d,%s", i, i, h))
	}
	for _, enc := range []string{"utf-8-bom", "utf-16le"} {
		t.Run(enc, func(t *testing.T) {
			res := readBytes(t, encodeAs(t, crlf(lines...), enc), "flat.csv")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.format.Layout != LayoutSSRS || len(res.rows) != 6 {
				t.Fatalf("layout %s, %d rows", res.format.Layout, len(res.rows))
			}
			for i, r := range res.rows {
				if r.Serial != fmt.Sprintf("S%d", i) || r.Line != i+2 || r.Problem != nil || (r.Hash == "") != (i == 2) {
					t.Errorf("row %d: %s line %d problem %v hash %q", i, r.Serial, r.Line, r.Problem, short(r.Hash))
				}
			}
			n := notesWith(res, "ssrs_layout")
			if len(n) != 1 || !strings.Contains(n[0].Message, "flat mode") || !strings.Contains(n[0].Message, "2 text boxes") {
				t.Errorf("notes %+v", res.notes)
			}
			if len(notesWith(res, "unknown_column")) > 0 || len(notesWith(res, "header_changed")) > 0 {
				t.Errorf("notes %+v", res.notes)
			}
		})
	}
}

// TestDeviceRowNeverHeader: a report row with the labels and a serial but no hash, in a
// file read by a header (not as the report), is a data row: it is neither a new header
// (which misread every later row) nor a skipped repeat of the header.
func TestDeviceRowNeverHeader(t *testing.T) {
	hdr := "Textbox2,Textbox3,Textbox4,Details_Table0_SerialNumber,Details_Table0_WindowsProductID,Details_Table0_HardwareHash,Computer"
	text := crlf(hdr,
		"x,y,z,S1,,"+encoded("S1")+",PC1",
		"Device Serial Number,Windows Product ID,Hardware Hash,S2,,,PC2",
		"x,y,z,S3,,"+encoded("S3")+",PC3")
	res := readBytes(t, []byte(text), "h.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.rows) != 3 || res.rows[1].Serial != "S2" || res.rows[1].Hash != "" || res.rows[2].Serial != "S3" || res.rows[2].Hash == "" {
		t.Fatalf("rows %+v", res.rows)
	}
	if len(notesWith(res, "header_changed")) > 0 {
		t.Errorf("notes %+v", res.notes)
	}
	// The same in a canonical file: the row is reported (malformed), not skipped.
	res = readBytes(t, []byte(crlf(canonHeader, "S1,,"+encoded("S1"), "Device Serial Number,Windows Product ID,Hardware Hash,S2,,", "S3,,"+encoded("S3"))), "c.csv")
	if res.err != nil || len(res.rows) != 3 || res.rows[1].Problem == nil || res.rows[2].Serial != "S3" {
		t.Fatalf("rows %+v, %v", res.rows, res.err)
	}
}

// TestCRCRLFLineNumbers: "\r\r\n" line ends (CRLF written through a text-mode stream)
// are one line end each; line numbers are not doubled (issue 8).
func TestCRCRLFLineNumbers(t *testing.T) {
	text := strings.ReplaceAll(crlf(canonHeader, "S1,,"+encoded("S1"), "S2,,"+encoded("S2"), "S3,,"+encoded("S3")), "\r\n", "\r\r\n")
	for _, enc := range []string{"utf-8", "utf-16le"} {
		res := readBytes(t, encodeAs(t, text, enc), "crcr.csv")
		if res.err != nil {
			t.Fatal(res.err)
		}
		checkRows(t, res.rows, []wantRow{{2, "S1", true, "", ""}, {3, "S2", true, "", ""}, {4, "S3", true, "", ""}})
	}
	// Lone CRs (classic Mac) still end lines, blank lines included.
	res := readBytes(t, []byte(canonHeader+"\r\rS1,,"+encoded("S1")+"\rS2,,"+encoded("S2")), "mac.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, []wantRow{{3, "S1", true, "", ""}, {4, "S2", true, "", ""}})
}

// TestWideHeaderNotesCapped: a header of 100,000 columns gives a handful of notes, not
// one per column (issue 8).
func TestWideHeaderNotesCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(canonHeader)
	for i := range 100_000 {
		fmt.Fprintf(&b, ",C%d", i)
	}
	text := crlf(b.String(), "S1,,"+encoded("S1"))
	res := readBytes(t, []byte(text), "wide.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.rows) != 1 || len(res.notes) > maxUnknownColumnNotes+1 {
		t.Fatalf("%d rows, %d notes", len(res.rows), len(res.notes))
	}
	last := res.notes[len(res.notes)-1]
	if !strings.Contains(last.Message, "99995 more columns") {
		t.Errorf("last note %q", last.Message)
	}
}

// TestNotesCappedPerCode: a note that repeats per row (an unquoted wrapped hash on every
// row) is kept maxNotesPerCode times, then counted.
func TestNotesCappedPerCode(t *testing.T) {
	lines := []string{canonHeader}
	for i := range 25 {
		h := encoded(fmt.Sprintf("S%d", i))
		lines = append(lines, fmt.Sprintf("S%d,,%s", i, h[:2000]), h[2000:])
	}
	res := readBytes(t, []byte(crlf(lines...)), "wrapped.csv")
	if res.err != nil || len(res.rows) != 25 {
		t.Fatalf("%d rows, %v", len(res.rows), res.err)
	}
	n := notesWith(res, "hash_wrapped")
	if len(n) != maxNotesPerCode+1 || !strings.Contains(n[len(n)-1].Message, "15 more notes") {
		t.Errorf("%d hash_wrapped notes, last %+v", len(n), n[len(n)-1])
	}
}

// TestUnclosedQuoteAtStart: a quote opened on line 1 and never closed is named as such,
// in a small file and in one over the record limit (issue 8).
func TestUnclosedQuoteAtStart(t *testing.T) {
	small := `"` + crlf(canonHeader, "S1,,"+encoded("S1"), "S2,,"+encoded("S2"))
	var big strings.Builder
	big.WriteString(`"` + canonHeader + "\r\n")
	for i := range 300 {
		fmt.Fprintf(&big, "S%d,,%s\r\n", i, encoded(fmt.Sprintf("S%d", i)))
	}
	for _, tt := range []struct{ name, text, code string }{{"small", small, "unclosed_quote"}, {"big", big.String(), "record_too_long"}} {
		t.Run(tt.name, func(t *testing.T) {
			fe := readBytes(t, []byte(tt.text), "q.csv").fileErr(t)
			if fe.Code != tt.code || fe.Line != 1 || !strings.Contains(fe.Message, "on line 1 is never closed") || !strings.Contains(fe.Hint, "remove that quote") {
				t.Errorf("error %+v", fe)
			}
		})
	}
}

// TestHashCleanedNote: hashes with spaces, zero-width or no-break spaces pasted in are
// cleaned with one note per file that gives the count (the README's promise).
func TestHashCleanedNote(t *testing.T) {
	h1, h2, h3 := encoded("S1"), encoded("S2"), encoded("S3")
	text := crlf(canonHeader,
		"S1,,"+h1[:100]+" "+h1[100:],
		"S2,,"+h2[:100]+"\u200b"+h2[100:200]+"\u00a0"+h2[200:],
		"S3,,"+h3)
	res := readBytes(t, []byte(text), "pasted.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.rows[1].Hash != h2 || res.rows[2].Hash != h3 {
		t.Errorf("hashes not cleaned: %q", short(res.rows[1].Hash))
	}
	n := notesWith(res, "hash_cleaned")
	if len(n) != 1 || n[0].Line != 2 || !strings.Contains(n[0].Message, "2 rows") {
		t.Errorf("notes %+v", res.notes)
	}
	if n := notesWith(readBytes(t, []byte(crlf(canonHeader, "S3,,"+h3)), "clean.csv"), "hash_cleaned"); len(n) != 0 {
		t.Errorf("clean file: %+v", n)
	}
}

// TestBOMAsText: a UTF-8 BOM decoded as ANSI and saved again ("ï»¿", PowerShell 5.1's
// (Invoke-WebRequest …).Content | Out-File of a URL-access download) is dropped, with a note.
func TestBOMAsText(t *testing.T) {
	text := "\u00ef\u00bb\u00bf" + crlf(canonHeader, "S1,,"+encoded("S1"))
	for _, enc := range []string{"utf-8", "utf-16le"} {
		res := readBytes(t, encodeAs(t, text, enc), "ps.csv")
		if res.err != nil {
			t.Fatal(res.err)
		}
		if len(res.rows) != 1 || res.rows[0].Serial != "S1" || !slices.Contains(res.noteCodes(), "bom_as_text") {
			t.Errorf("%s: rows %+v notes %v", enc, res.rows, res.noteCodes())
		}
	}
}

// TestExpandArgsDropFolder: ** matches any depth of folders (files only), --allow-empty
// skips patterns that match nothing, and an unquoted path with spaces split into
// arguments is recognised (issue 9).
func TestExpandArgsDropFolder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.csv", "sub/b.csv", "sub/deeper/c.csv", "sub/d.txt", "with space/e.csv", "folder.csv/f.csv"} {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := func(n string) string { return filepath.Join(dir, filepath.FromSlash(n)) }
	got, err := ExpandArgs([]string{p("**/*.csv")}, false)
	want := []string{p("a.csv"), p("folder.csv/f.csv"), p("sub/b.csv"), p("sub/deeper/c.csv"), p("with space/e.csv")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("**: got %v, %v; want %v", got, err, want)
	}
	got, err = ExpandArgs([]string{p("sub/**/*.csv")}, false)
	if want := []string{p("sub/b.csv"), p("sub/deeper/c.csv")}; err != nil || !slices.Equal(got, want) {
		t.Errorf("sub/**: got %v, %v; want %v", got, err, want)
	}

	_, err = ExpandArgs([]string{p("empty/*.csv")}, false)
	var nm *NoMatchError
	if !errors.As(err, &nm) || nm.Pattern != p("empty/*.csv") {
		t.Errorf("no match: %v", err)
	}
	got, err = ExpandArgs([]string{p("empty/*.csv"), p("a.csv")}, true)
	if err != nil || !slices.Equal(got, []string{p("a.csv")}) {
		t.Errorf("allow empty: %v, %v", got, err)
	}
	if got, err = ExpandArgs([]string{p("empty/**/*.csv")}, true); err != nil || len(got) != 0 {
		t.Errorf("allow empty, nothing: %v, %v", got, err)
	}

	// "<dir>/with space/*.csv" unquoted: two arguments, neither names anything.
	var sp *SplitPathError
	for _, args := range [][]string{
		{p("with"), "space/e.csv"},
		{p("a.csv"), p("with"), "space/*.csv"},
	} {
		_, err = ExpandArgs(args, false)
		if !errors.As(err, &sp) || !strings.HasSuffix(sp.Joined, "with space/"+filepath.Base(args[len(args)-1])) || len(sp.Args) != 2 {
			t.Errorf("%q: %v", args, err)
		}
	}
	// Missing files that do not join into anything are left to the reader to report.
	if got, err = ExpandArgs([]string{p("nope"), p("neither.csv")}, false); err != nil || len(got) != 2 {
		t.Errorf("missing: %v, %v", got, err)
	}
}
