package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/mapping"
)

// TestCheckReportProductIDsOnce: a 5,000-row ConfigMgr report (OS product ID on every
// row) gives at most one text line about product IDs, with the count; --json keeps the
// warning on every row (issue 9).
func TestCheckReportProductIDsOnce(t *testing.T) {
	const n = 5000
	var b strings.Builder
	b.WriteString(ssrsPre + ssrsElem)
	for i := range n {
		serial := fmt.Sprintf("CZC%07d", i)
		d := hwhash.Device{Serial: serial, Manufacturer: "Contoso", Model: "Book"}
		d.UUID[0], d.UUID[1] = byte(i), byte(i>>8)
		fmt.Fprintf(&b, "%s%s,00330-80000-00000-AA%03d,%s\r\n", ssrsLab, serial, i%1000, d.EncodeBase64())
	}
	path := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", path)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var lines []string
	for _, l := range strings.Split(res.stdout+res.stderr, "\n") {
		if low := strings.ToLower(l); strings.Contains(low, "product_id") || strings.Contains(low, "product id") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "product_id_ignored: warning:") || !strings.Contains(lines[0], "the same on 4999 more rows of this file") {
		t.Errorf("product ID lines: %q", lines)
	}
	res = runCLI(t, "check", "--json", path)
	rows := 0
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var r jsonRow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.MessageType != "row" {
			continue
		}
		rows++
		if !slices.Equal(r.Warnings, []string{mapping.CodeProductIDIgnored}) {
			t.Fatalf("row %d warnings %v", r.Line, r.Warnings)
		}
	}
	if rows != n {
		t.Errorf("%d rows in --json, want %d", rows, n)
	}
}

// TestCheckProductIDExcel: a product ID in Excel's scientific notation names Excel.
func TestCheckProductIDExcel(t *testing.T) {
	h := hwhash.Device{Serial: "CZC1", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	path := filepath.Join(t.TempDir(), "excel.csv")
	if err := os.WriteFile(path, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\nCZC1,3.30761E+12,"+h+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", path)
	if res.code != exitOK || !strings.Contains(res.stdout, "product_id_ignored: warning: the Windows Product ID is a number in scientific notation") ||
		!strings.Contains(res.stdout, "Excel") {
		t.Errorf("exit %d, stdout %s", res.code, res.stdout)
	}
}

// writeLodz writes an export whose group tag Windows-1252 cannot carry.
func writeLodz(t *testing.T) string {
	t.Helper()
	h := hwhash.Device{Serial: "CZC7", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	path := filepath.Join(t.TempDir(), "lodz.csv")
	if err := os.WriteFile(path, []byte("Device Serial Number,Windows Product ID,Hardware Hash,Group Tag\r\nCZC7,,"+h+",Łódź-Biuro\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckFlagsWhatConvertRefuses: check warns (exit 0: import can send it) about every
// row that convert leaves out because the portal file cannot carry it (issue 9).
func TestCheckFlagsWhatConvertRefuses(t *testing.T) {
	lodz := writeLodz(t)
	res := runCLI(t, "check", lodz)
	if res.code != exitOK || !strings.Contains(res.stdout, "CZC7: not_ansi: warning: the group tag \"Łódź-Biuro\"") {
		t.Errorf("check: exit %d, stdout %s", res.code, res.stdout)
	}
	res = runCLI(t, "check", "--json", lodz)
	if !strings.Contains(res.stdout, `"warnings":["not_ansi"]`) {
		t.Errorf("check --json: %s", res.stdout)
	}
	if res := runCLI(t, "convert", lodz); res.code != exitRows || !strings.Contains(res.stderr, "not_ansi:") {
		t.Errorf("convert: exit %d, stderr %s", res.code, res.stderr)
	}

	// Every sample and fixture: the rows convert refuses are the rows check warns about.
	files := []string{lodz}
	for _, pat := range []string{"../../samples/*.csv", "../../csvreport/testdata/*.csv"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	comma := filepath.Join(t.TempDir(), "comma.csv")
	h := hwhash.Device{Serial: "AB,12", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	if err := os.WriteFile(comma, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\n\"AB,12\",,"+h+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files = append(files, comma)
	refusedTotal := 0
	for _, f := range files {
		env := &cliEnv{ctx: context.Background(), stdin: strings.NewReader(""), stdout: new(strings.Builder), stderr: new(strings.Builder)}
		rep, _, err := checkInputs(env, []string{f}, mapping.Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		warned := map[int]string{}
		for r := range withPortalWarnings(slices.Values(rep.Results)) {
			for _, x := range r.Findings {
				if x.Warning && (x.Code == codeNotANSI || x.Code == codeNotPortalSafe) {
					warned[r.Line] = x.Code
				}
			}
		}
		checkPortalSafe(rep)
		refused := map[int]string{}
		for _, r := range rep.Results {
			for _, c := range r.Codes {
				if c == codeNotANSI || c == codeNotPortalSafe {
					refused[r.Line] = c
				}
			}
		}
		refusedTotal += len(refused)
		if fmt.Sprint(warned) != fmt.Sprint(refused) {
			t.Errorf("%s: check warns %v, convert refuses %v", f, warned, refused)
		}
	}
	if refusedTotal < 2 {
		t.Errorf("only %d refused rows in the fixtures: the test proves nothing", refusedTotal)
	}
}

// TestREADMECodeTable: every code check, convert, decode or import can print is in the
// README's table of codes (issue 9).
func TestREADMECodeTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "| code | meaning |\n| --- | --- |\n| `missing_serial`")
	if start < 0 {
		t.Fatal("README: code table not found")
	}
	end := strings.Index(text[start:], "\n\n")
	table := text[start : start+end]
	inTable := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(table, -1) {
		inTable[m[1]] = true
	}
	codes := []string{
		mapping.CodeMissingSerial, mapping.CodeMissingHash, mapping.CodeSerialMismatch, mapping.CodePlaceholderSerial,
		mapping.CodeBadGroupTag, mapping.CodeBadUser, mapping.CodeDuplicate, mapping.CodeConflict,
		mapping.CodeSerialFromHash, mapping.CodeProductIDIgnored, mapping.CodeDuplicateDiffers, mapping.CodeSerialCase,
		mapping.CodeGroupTagOverridden, mapping.CodeUserOverridden,
		hwhash.CodeLayout, hwhash.CodeChecksum, hwhash.CodeMissingSerial, hwhash.CodeMissingManufacturer,
		hwhash.CodePadding, hwhash.CodeLength, hwhash.CodeTrailingData, hwhash.CodeEKMismatch, "hash_not_base64",
		"row_columns", "row_quote", "row_multiline", "row_encoding",
		codeNotANSI, codeNotPortalSafe,
		mapping.CodeMissingManufacturer, mapping.CodeMissingModel, mapping.CodeCommaInValue, mapping.CodeBadCharacter,
		mapping.CodeTooLong, mapping.CodeSerialPeriod,
	}
	// And whatever the commands print for the samples and fixtures.
	files := []string{writeLodz(t)}
	for _, pat := range []string{"../../samples/*.csv", "../../csvreport/testdata/*.csv"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	code := regexp.MustCompile(`: ([a-z][a-z0-9_]+): (warning: )?`)
	for _, f := range files {
		res := runCLI(t, "check", "--json", f)
		for _, l := range strings.Split(res.stdout, "\n") {
			var r jsonRow
			if json.Unmarshal([]byte(l), &r) == nil && r.MessageType == "row" {
				codes = append(codes, r.Codes...)
				codes = append(codes, r.Warnings...)
			}
		}
		res = runCLI(t, "convert", "-o", filepath.Join(t.TempDir(), "out.csv"), f)
		for _, l := range strings.Split(res.stderr, "\n") {
			if m := code.FindStringSubmatch(l); m != nil && !strings.HasPrefix(l, "apimport:") {
				codes = append(codes, m[1])
			}
		}
	}
	slices.Sort(codes)
	for _, c := range slices.Compact(codes) {
		if !inTable[c] {
			t.Errorf("code %q is not in the README's code table", c)
		}
	}
}

// TestAllowEmpty: with --allow-empty, every command that takes FILE patterns ends with
// exit 0 and "nothing to do" when the patterns match nothing (a quiet day in a drop
// folder); without it, exit 2 with a hint naming the flag. import does not even sign in.
func TestAllowEmpty(t *testing.T) {
	dir := t.TempDir()
	pattern := filepath.Join(dir, "inbox", "**", "*.csv")
	for _, args := range [][]string{
		{"check"}, {"check", "--json"}, {"convert", "-o", filepath.Join(dir, "out.csv")}, {"decode"},
		{"import", "--auth", "client-secret", "--tenant-id", "00000000-0000-0000-0000-000000000001", "--client-id", "x"},
	} {
		name := strings.Join(args[:1], " ")
		res := runCLI(t, append(slices.Clone(args), pattern)...)
		if res.code != exitUsage || !strings.Contains(res.stderr, "no files match") || !strings.Contains(res.stderr, "--allow-empty") {
			t.Errorf("%s without --allow-empty: exit %d, stderr %q", name, res.code, res.stderr)
		}
		res = runCLI(t, append(slices.Clone(args), "--allow-empty", pattern)...)
		if res.code != exitOK || !strings.Contains(res.stderr, "nothing to do") || res.stdout != "" {
			t.Errorf("%s --allow-empty: exit %d, stdout %q, stderr %q", name, res.code, res.stdout, res.stderr)
		}
		if res := runCLI(t, args[0], "-h"); !strings.Contains(res.stdout, "--allow-empty") {
			t.Errorf("%s -h lacks --allow-empty", name)
		}
	}
	// A pattern that matches nothing is skipped when another one matches.
	sub := filepath.Join(dir, "inbox", "site1")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sample("grouptag.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "a.csv"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", "--allow-empty", filepath.Join(dir, "none", "*.csv"), pattern)
	if res.code != exitOK || !strings.Contains(res.stdout, "4 rows in 1 file") {
		t.Errorf("check: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

// TestQuoteThePath: an unquoted path with spaces, split by the shell into arguments,
// gets "quote the path" (exit 2) instead of one error per fragment.
func TestQuoteThePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Autopilot exports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sample("grouptag.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(filepath.Join(dir, "*.csv"), " ", 2)
	for _, cmd := range []string{"check", "decode"} {
		res := runCLI(t, cmd, parts[0], parts[1])
		if res.code != exitUsage || !strings.Contains(res.stderr, "quote the path") || !strings.Contains(res.stderr, `"`+filepath.Join(dir, "*.csv")+`"`) {
			t.Errorf("%s: exit %d, stderr %q", cmd, res.code, res.stderr)
		}
	}
}
