// Package textsafe makes untrusted strings — file names, CSV cells, values decoded from
// a hardware hash — safe to print in line-oriented text output and to write into CSV
// files that people open in spreadsheet programs.
//
// A file name may hold any byte but "/" and NUL on Unix: a line break in it would forge
// "file:line: …" lines in text output, an escape sequence would drive the terminal, a
// bidirectional override would reorder what is shown. A CSV cell that starts with "=",
// "+", "-" or "@" is run as a formula by Excel, LibreOffice and Google Sheets (CSV
// injection, https://owasp.org/www-community/attacks/CSV_Injection).
package textsafe

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Display returns s as it should appear in text output: unchanged when every character
// is printable (spaces, backslashes and quotes included, so ordinary Windows and Unix
// paths look as typed), otherwise as a double-quoted Go string literal in which control
// characters, invisible format characters (bidirectional overrides, zero-width
// characters), other non-printable characters and invalid UTF-8 are escaped (\n, \x1b,
// \u202e, …). The result never holds a line break or any other non-printable character,
// and a quoted result tells a name with an escape apart from one with a backslash.
func Display(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

// Inline escapes the non-printable characters of s like Display, without quoting the
// result: for free text (a message, a hint) that embeds names, so that it stays one line
// and drives nothing. A backslash in s is kept as is.
func Inline(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i]), 16))
		case r == ' ' || strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // "'\n'", "'\x1b'", "'\u202e'"
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// printable reports whether s is valid UTF-8 made of printable characters and spaces
// (U+0020) only.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F { // the fast path: printable ASCII
			return printableSlow(s[i:])
		}
	}
	return true
}

func printableSlow(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r != ' ' && !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// formulaStart lists the first characters that make a spreadsheet read a cell as a
// formula or split it: "=", "+", "-", "@" (OWASP), tab and carriage return (OWASP: they
// can start a new cell or line in some programs), and the full-width forms of the first
// four, which some East Asian spreadsheet versions also take as formula prefixes.
const formulaStart = "=+-@\t\r＝＋－＠"

// IsFormula reports whether a spreadsheet program may read s, as a CSV cell, as a
// formula: it starts with one of = + - @, a tab or a carriage return (or a full-width
// = + - @).
func IsFormula(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return strings.ContainsRune(formulaStart, r)
}

// CSVCell returns s made safe to write as one cell of a CSV file that may be opened in a
// spreadsheet: a cell that IsFormula is prefixed with a single quote, which spreadsheets
// show as text and do not run (the OWASP recommendation). Any other cell is returned
// unchanged; quoting of commas, quotes and line breaks is left to the CSV writer
// (encoding/csv). Use it for every cell whose value comes from input or the service
// (file names, serials, messages), not for cells the tool formats itself (numbers).
func CSVCell(s string) string {
	if IsFormula(s) {
		return "'" + s
	}
	return s
}
