package textsafe

import (
	"strings"
	"testing"
)

func TestDisplay(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"samples/mistakes.csv", "samples/mistakes.csv"},
		{`C:\Autopilot\inbox\Export 1.csv`, `C:\Autopilot\inbox\Export 1.csv`},
		{"exports/Gerät \"neu\".csv", "exports/Gerät \"neu\".csv"},
		{"a\nb.csv:1: FORGED: valid", `"a\nb.csv:1: FORGED: valid"`},
		{"a\r.csv", `"a\r.csv"`},
		{"tab\there", `"tab\there"`},
		{"esc\x1b[31mred", `"esc\x1b[31mred"`},
		{"bidi\u202egnp.csv", `"bidi\u202egnp.csv"`},
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"del\x7f", `"del\x7f"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{"nbsp\u00a0x", `"nbsp\u00a0x"`},
		{"repl\ufffd", "repl\ufffd"},
		{`back\slash` + "\n", `"back\\slash\n"`},
	}
	for _, tt := range tests {
		if got := Display(tt.in); got != tt.want {
			t.Errorf("Display(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestInline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"same device as a.csv:2", "same device as a.csv:2"},
		{"same device as a\nb.csv:2", `same device as a\nb.csv:2`},
		{"x\x1b]0;title\x07y", `x\x1b]0;title\ay`},
		{"bidi\u202eok", `bidi\u202eok`},
		{"bad\xff", `bad\xff`},
		{`C:\x` + "\r\n", `C:\x\r\n`},
		{"ünïcode ok", "ünïcode ok"},
	}
	for _, tt := range tests {
		if got := Inline(tt.in); got != tt.want {
			t.Errorf("Inline(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// Whatever the input, Display and Inline return one printable line.
func FuzzDisplay(f *testing.F) {
	f.Add("a\nb")
	f.Add("\xff\u202e\x00")
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Display(s), Inline(s)} {
			if !printable(out) || strings.ContainsAny(out, "\r\n") {
				t.Fatalf("%q -> %q is not one printable line", s, out)
			}
		}
		if printable(s) && (Display(s) != s || Inline(s) != s) {
			t.Fatalf("printable %q changed", s)
		}
	})
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"CZC4101480", "CZC4101480"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1", "'+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"＝1+1", "'＝1+1"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
	}
	for _, tt := range tests {
		if got := CSVCell(tt.in); got != tt.want {
			t.Errorf("CSVCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if IsFormula(tt.in) != (tt.in != tt.want) {
			t.Errorf("IsFormula(%q) = %v", tt.in, IsFormula(tt.in))
		}
	}
}
