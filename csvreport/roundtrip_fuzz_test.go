package csvreport

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/apimport/apimport/hwhash"
	"golang.org/x/text/encoding/charmap"
)

// roundTripEncodings are the encodings the exports come in (Windows PowerShell 5.1:
// UTF-16LE with BOM; PowerShell 7: UTF-8; Export-Csv: UTF-8 BOM; ANSI; UTF-16 without BOM
// from Out-File/redirection; big-endian for completeness).
var roundTripEncodings = [...]string{"utf-8", "utf-8-bom", "utf-16le", "utf-16be", "windows-1252", "utf-16le-nobom"}

// FuzzReaderRoundTrip is FuzzReader's oracle: rows written in every supported shape —
// encoding, separator (comma, semicolon, tab), line end (CRLF, LF), quoting (none, or
// every field as Export-Csv does), 3 to 5 columns — with hashes from hwhash's encoder are
// read back equal: the same number of rows, each with its line, serial, product ID,
// hash, group tag and user, and no problem. shape picks the format, n the row count, and
// the strings are the values (cleaned of what the shape cannot carry: separators and
// quotes, line breaks, invisible characters, what ANSI cannot encode).
func FuzzReaderRoundTrip(f *testing.F) {
	f.Add(uint16(0), uint8(1), "CZC1234567", "00330-80000-00000-AA123", "Sales", "ann@contoso.com")
	f.Add(uint16(2), uint8(3), "PF3ABC12", "", "", "")
	f.Add(uint16(4+6*1+18*1), uint8(2), "Gerät-Ä", "3300000012345", "Büro;Nord", "jörg@contoso.de")
	f.Add(uint16(1+6*2+36), uint8(4), "S \"q\" 1", "", "a,b\tc", "x@y.z")
	f.Add(uint16(3+72*2), uint8(5), "日本-1", "", "タグ", "")
	f.Add(uint16(5+72), uint8(1), "lower", "", "", "")
	f.Fuzz(func(t *testing.T, shape uint16, n uint8, serial, pid, tag, user string) {
		enc := roundTripEncodings[int(shape)%len(roundTripEncodings)]
		sep := [...]string{",", ";", "\t"}[int(shape)/6%3]
		eol := [...]string{"\r\n", "\n"}[int(shape)/18%2]
		quoted := shape/36%2 == 1
		cols := 3 + int(shape)/72%3
		rows := 1 + int(n)%8
		ansi := enc == "windows-1252"
		clean := func(prefix, s string) string {
			var b strings.Builder
			b.WriteString(prefix)
			for _, r := range s {
				switch {
				case r == utf8.RuneError, !unicode.IsPrint(r) && r != ' ', isInvisible(r), r == '\u00a0':
				case r == '"': // a quote inside a value is a row_quote problem, by design
				case !quoted && strings.ContainsRune(sep, r):
				case ansi && !encodable1252(r):
				default:
					b.WriteRune(r)
				}
			}
			return strings.TrimSpace(b.String())
		}
		// Prefixes keep a value from being a header name or a number Excel wrote.
		serial, pid, tag, user = clean("S", serial), clean("P", pid), clean("T", tag), clean("U", user)
		header := []string{"Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag", "Assigned User"}[:cols]
		cell := func(s string) string {
			if quoted {
				return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
			}
			return s
		}
		line := func(cells []string) string {
			out := make([]string, len(cells))
			for i, c := range cells {
				out[i] = cell(c)
			}
			return strings.Join(out, sep) + eol
		}
		var text strings.Builder
		text.WriteString(line(header))
		want := make([]Row, rows)
		for i := range rows {
			d := hwhash.Device{Serial: serial, Manufacturer: "Contoso", Model: "Book", CaptureTime: uint64(i)}
			w := Row{File: "rt.csv", Line: i + 2, Serial: serial + strconv.Itoa(i), ProductID: pid, Hash: d.EncodeBase64()}
			cells := []string{w.Serial, w.ProductID, w.Hash}
			if cols > 3 {
				w.GroupTag = tag
				cells = append(cells, tag)
			}
			if cols > 4 {
				w.AssignedUser = user
				cells = append(cells, user)
			}
			want[i] = w
			text.WriteString(line(cells))
		}
		data := encodeAs(t, text.String(), enc)
		if ansi && utf8.Valid(data) && !isASCII(data) {
			t.Skip("these ANSI bytes are also valid UTF-8: the file is rightly read as UTF-8")
		}
		rd, err := NewReader(bytes.NewReader(data), "rt.csv")
		if err != nil {
			t.Fatalf("%s, sep %q, eol %q, quoted %v: %v", enc, sep, eol, quoted, err)
		}
		defer rd.Close()
		var got []Row
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if len(got) != len(want) {
			t.Fatalf("%s, sep %q, eol %q, quoted %v: %d rows, want %d (values %q %q %q %q)", enc, sep, eol, quoted, len(got), len(want), serial, pid, tag, user)
		}
		for i := range want {
			if got[i] != want[i] {
				g, w := got[i], want[i]
				g.Hash, w.Hash = short(g.Hash), short(w.Hash) // never a whole hash in the output
				t.Fatalf("%s, sep %q, eol %q, quoted %v: row %d (hash equal: %v)\n got %+v (problem %v)\nwant %+v",
					enc, sep, eol, quoted, i, got[i].Hash == want[i].Hash, g, got[i].Problem, w)
			}
		}
	})
}

func encodable1252(r rune) bool {
	_, err := charmap.Windows1252.NewEncoder().String(string(r))
	return err == nil && r != '\u0081' && r != '\u008d' && r != '\u008f' && r != '\u0090' && r != '\u009d'
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
