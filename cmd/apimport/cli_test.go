package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
)

var update = flag.Bool("update", false, "update golden files in testdata/")

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runCLIStdin(t, "", args...)
}

// runCLIStdin runs the program with stdin as its standard input.
func runCLIStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/apimport -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sample(name string) string { return filepath.Join("..", "..", "samples", name) }

// assertNoHash fails when any full hash of the file appears in the output.
func assertNoHash(t *testing.T, res result) {
	t.Helper()
	for _, s := range []string{res.stdout, res.stderr} {
		for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '"' || r == ' ' || r == '\n' || r == '\r' }) {
			if len(field) >= 1000 {
				t.Fatalf("output contains a %d-character hash-like string", len(field))
			}
		}
	}
}

func TestCheckSamples(t *testing.T) {
	tests := []struct {
		file string
		code int
	}{
		{"canonical-utf16.csv", exitOK},
		{"configmgr-report.csv", exitOK},
		{"merged.csv", exitOK},
		{"grouptag.csv", exitOK},
		{"mistakes.csv", exitRows},
		{"not-an-import-file.csv", exitFatal},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := runCLI(t, "check", sample(tt.file))
			if res.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, tt.code, res.stdout, res.stderr)
			}
			assertNoHash(t, res)
			golden(t, tt.file+".check.txt", res.stdout+"--- stderr\n"+res.stderr)

			res = runCLI(t, "check", "--json", sample(tt.file))
			if res.code != tt.code {
				t.Errorf("--json: exit %d, want %d", res.code, tt.code)
			}
			assertNoHash(t, res)
			checkJSONLines(t, res.stdout)
			golden(t, tt.file+".check.jsonl", res.stdout)
		})
	}
}

// checkJSONLines verifies the JSON Lines contract: every line an object with
// message_type, row objects before one final summary, and counts that add up.
func checkJSONLines(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	rows := 0
	status := map[string]int{}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		switch m["message_type"] {
		case "row":
			rows++
			status[m["status"].(string)]++
			for _, k := range []string{"file", "line", "serial", "status", "codes", "manufacturer", "model"} {
				if _, ok := m[k]; !ok {
					t.Errorf("row line %d lacks %q", i+1, k)
				}
			}
		case "summary":
			if i != len(lines)-1 {
				t.Errorf("summary is not the last line")
			}
			num := func(k string) int { return int(m[k].(float64)) }
			if num("rows") != rows {
				t.Errorf("summary rows %d, counted %d", num("rows"), rows)
			}
			if num("valid") != status["valid"] || num("invalid") != status["invalid"] || num("duplicates") != status["duplicate"] || num("conflicts") != status["conflict"] {
				t.Errorf("summary %v does not match row statuses %v", m, status)
			}
			if num("devices") != status["valid"] {
				t.Errorf("devices %d != valid rows %d", num("devices"), status["valid"])
			}
		case "file_error":
		default:
			t.Errorf("line %d: unexpected message_type %v", i+1, m["message_type"])
		}
	}
}

func TestCheckMistakesEveryRowReported(t *testing.T) {
	res := runCLI(t, "check", "--json", sample("mistakes.csv"))
	want := map[int]string{ // line -> status
		2: "valid", 3: "duplicate", 4: "duplicate", 5: "conflict", 6: "conflict", 7: "invalid",
		8: "invalid", 9: "invalid", 10: "invalid", 11: "invalid", 12: "invalid", 13: "valid",
	}
	wantCode := map[int]string{7: "missing_hash", 8: "hash_checksum", 9: "serial_mismatch", 10: "placeholder_serial", 11: "bad_group_tag", 12: "bad_user"}
	seen := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m struct {
			Type   string   `json:"message_type"`
			Line   int      `json:"line"`
			Status string   `json:"status"`
			Codes  []string `json:"codes"`
			Warn   []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "row" {
			continue
		}
		if seen[m.Line] {
			t.Errorf("line %d reported twice", m.Line)
		}
		seen[m.Line] = true
		if want[m.Line] != m.Status {
			t.Errorf("line %d: status %s, want %s (codes %v)", m.Line, m.Status, want[m.Line], m.Codes)
		}
		if c := wantCode[m.Line]; c != "" && !contains(m.Codes, c) {
			t.Errorf("line %d: codes %v lack %s", m.Line, m.Codes, c)
		}
		if m.Line == 13 && (!contains(m.Warn, "product_id_ignored") || !contains(m.Warn, "hash_padding")) {
			t.Errorf("line 13: warnings %v, want product_id_ignored and hash_padding", m.Warn)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("reported %d rows, want %d", len(seen), len(want))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"check"}, "requires at least 1 arg"},
		{"unknown flag", []string{"check", "--bogus", sample("grouptag.csv")}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad user flag", []string{"check", "--assigned-user", "not a upn", sample("grouptag.csv")}, "assigned"},
		{"bad group tag flag", []string{"check", "--group-tag", "a,b", sample("grouptag.csv")}, "group tag"},
		{"missing file", []string{"check", "does-not-exist-*.csv"}, "does-not-exist"},
		{"decode: pattern without match has a hint", []string{"decode", "does-not-exist-*.csv"}, "hint: check the file name"},
		{"output is input", []string{"convert", "-o", sample("grouptag.csv"), sample("grouptag.csv")}, "also an input"},
		{"empty variable shifts flags", []string{"import", "--dry-run", "--offline", "--group-tag", "--journal", "j.jsonl", sample("grouptag.csv")}, "--group-tag got \"--journal\" as its value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, tt.args...)
			if res.code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", res.code, exitUsage, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout not empty on usage error: %q", res.stdout)
			}
			if !strings.Contains(strings.ToLower(res.stderr), strings.ToLower(tt.want)) {
				t.Errorf("stderr %q lacks %q", res.stderr, tt.want)
			}
		})
	}
}

func TestHeaderOnlyFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty-report.csv")
	if err := os.WriteFile(path, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", path, sample("grouptag.csv"))
	if res.code != exitFatal {
		t.Errorf("exit %d, want %d", res.code, exitFatal)
	}
	if !strings.Contains(res.stderr, "empty-report.csv: the file has a header but no device rows") || !strings.Contains(res.stderr, "hint:") {
		t.Errorf("stderr: %s", res.stderr)
	}
	if !strings.Contains(res.stdout, "4 rows in 2 files") {
		t.Errorf("the other file was not checked: %s", res.stdout)
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"check", sample("canonical-utf16.csv")}, strings.NewReader(""), &out, &errb)
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d (stderr %q)", code, exitInterrupted, errb.String())
	}
}

func TestConvertCanonical(t *testing.T) {
	dir := t.TempDir()
	outPath := filepath.Join(dir, "import.csv")
	res := runCLI(t, "convert", "-o", outPath, sample("grouptag.csv"))
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(b, '"') {
		t.Error("portal file contains quotes")
	}
	lines := strings.Split(string(b), "\r\n")
	if lines[0] != "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User" {
		t.Errorf("header %q", lines[0])
	}
	if lines[len(lines)-1] != "" || len(lines) != 6 {
		t.Errorf("want 4 CRLF-terminated rows after the header, got %d parts", len(lines))
	}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Split(l, ",")
		if len(f) != 5 || f[3] != "Sales-Kiosk" {
			t.Errorf("row %q", l)
		}
		if h := hwhash.Parse(f[2]); !h.Valid() {
			t.Errorf("converted hash does not verify: %v", h.Problems)
		}
	}
	if strings.Contains(string(b), "\n") && strings.Count(string(b), "\n") != strings.Count(string(b), "\r\n") {
		t.Error("bare LF in output")
	}
	if _, err := os.Stat(filepath.Join(dir, "import-001.csv")); err == nil {
		t.Error("split files written for fewer than 500 devices")
	}
}

func TestConvertToStdoutHeaderFollowsColumns(t *testing.T) {
	res := runCLI(t, "convert", sample("canonical-utf16.csv"))
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if !strings.HasPrefix(res.stdout, "Device Serial Number,Windows Product ID,Hardware Hash\r\n") {
		t.Errorf("stdout starts %q", res.stdout[:60])
	}
	if n := strings.Count(res.stdout, "\r\n"); n != 6 {
		t.Errorf("%d lines, want header + 5", n)
	}
	res = runCLI(t, "convert", "--group-tag", "Kiosk", sample("canonical-utf16.csv"))
	if !strings.HasPrefix(res.stdout, "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag\r\n") {
		t.Errorf("with --group-tag stdout starts %q", res.stdout[:70])
	}
}

// bigExport writes n distinct devices as a UTF-8 Get-WindowsAutopilotInfo file.
func bigExport(t *testing.T, n int, tag string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("Device Serial Number,Windows Product ID,Hardware Hash,Group Tag\r\n")
	for i := 0; i < n; i++ {
		d := hwhash.Device{Serial: fmt.Sprintf("BIG%06d", i), Manufacturer: "Contoso", Model: "Book"}
		d.UUID[0], d.UUID[1] = byte(i), byte(i>>8)
		fmt.Fprintf(&b, "%s,,%s,%s\r\n", d.Serial, d.EncodeBase64(), tag)
	}
	path := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConvertSplitsAt500InInputOrder(t *testing.T) {
	in := bigExport(t, 1201, "Lab")
	dir := t.TempDir()
	res := runCLI(t, "convert", "-o", filepath.Join(dir, "devices.csv"), in)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	next := 0
	for i, want := range []int{500, 500, 201} {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("devices-%03d.csv", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
		if len(lines)-1 != want {
			t.Errorf("file %d: %d rows, want %d", i+1, len(lines)-1, want)
		}
		for _, l := range lines[1:] {
			if s := strings.SplitN(l, ",", 2)[0]; s != fmt.Sprintf("BIG%06d", next) {
				t.Fatalf("file %d: serial %s out of order, want BIG%06d", i+1, s, next)
			}
			next++
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "devices.csv")); err == nil {
		t.Error("unsplit devices.csv written too")
	}
	// A smaller second run into the same name leaves devices-003.csv behind: say so.
	small := bigExport(t, 600, "Lab")
	res = runCLI(t, "convert", "-o", filepath.Join(dir, "devices.csv"), small)
	if res.code != exitOK || !strings.Contains(res.stderr, "devices-003.csv is left from an earlier run") {
		t.Errorf("stale chunk not reported: exit %d, stderr %s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "devices-001.csv is left") {
		t.Errorf("a rewritten chunk reported stale: %s", res.stderr)
	}
	res = runCLI(t, "convert", in)
	if res.code != exitUsage || res.stdout != "" {
		t.Errorf("over 500 devices to stdout: exit %d, stdout %d bytes; want usage error", res.code, len(res.stdout))
	}
}

func TestConvertRefusesNonANSI(t *testing.T) {
	in := bigExport(t, 2, "営業")
	dir := t.TempDir()
	res := runCLI(t, "convert", "-o", filepath.Join(dir, "x.csv"), in)
	if res.code != exitRows {
		t.Errorf("exit %d, want %d", res.code, exitRows)
	}
	if !strings.Contains(res.stderr, codeNotANSI) {
		t.Errorf("stderr lacks %s: %s", codeNotANSI, res.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written although no device was valid: %v", entries)
	}
	// Windows-1252 can carry "Säles": it is written in that encoding, not UTF-8.
	in = bigExport(t, 1, "Säles")
	res = runCLI(t, "convert", "-o", filepath.Join(dir, "y.csv"), in)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "y.csv"))
	dec, _ := charmap.Windows1252.NewDecoder().Bytes(b)
	if !strings.Contains(string(dec), ",Säles\r\n") || bytes.Contains(b, []byte("Säles")) {
		t.Error("group tag not written as Windows-1252")
	}
}

func TestDecode(t *testing.T) {
	res := runCLI(t, "decode", sample("canonical-utf16.csv"))
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	assertNoHash(t, res)
	golden(t, "canonical-utf16.csv.decode.txt", res.stdout)
	res = runCLI(t, "decode", "--json", sample("mistakes.csv"))
	if res.code != exitRows {
		t.Errorf("mistakes: exit %d, want %d", res.code, exitRows)
	}
	assertNoHash(t, res)
	golden(t, "mistakes.csv.decode.jsonl", res.stdout)
}

// publicSamples is ../shared/samples-public beside the repository (tests only).
func publicSamples(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "shared", "samples-public")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("public samples missing in CI: %v", err)
		}
		t.Skip("../shared/samples-public not present")
	}
	return dir
}

func TestPublicSamples(t *testing.T) {
	dir := publicSamples(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	if len(files) != 6 {
		t.Fatalf("found %d hash files, want 6", len(files))
	}
	for _, f := range files {
		res := runCLI(t, "check", "--json", f)
		assertNoHash(t, res)
		var row struct {
			Serial string   `json:"serial"`
			Status string   `json:"status"`
			Codes  []string `json:"codes"`
		}
		if err := json.Unmarshal([]byte(strings.SplitN(res.stdout, "\n", 2)[0]), &row); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		for _, c := range row.Codes {
			if strings.HasPrefix(c, "hash_") {
				t.Errorf("%s: the real hash does not verify: %v", filepath.Base(f), row.Codes)
			}
		}
		// Two real files come from a QEMU VM with no serial at all: the hash holds the SMBIOS
		// placeholder, so there is no serial to register. Every other file is valid.
		wantCode := exitOK
		if row.Serial == "" {
			wantCode = exitRows
			if !contains(row.Codes, "missing_serial") {
				t.Errorf("%s: empty serial not reported: %v", filepath.Base(f), row.Codes)
			}
		} else if row.Status != "valid" {
			t.Errorf("%s: status %s %v, want valid", filepath.Base(f), row.Status, row.Codes)
		}
		if res.code != wantCode {
			t.Errorf("%s: exit %d, want %d", filepath.Base(f), res.code, wantCode)
		}
		res = runCLI(t, "decode", f)
		if res.code != exitOK {
			t.Errorf("decode %s: exit %d", filepath.Base(f), res.code)
		}
		assertNoHash(t, res)
	}
	res := runCLI(t, "check", filepath.Join(dir, "ennnbeee-autopilotgrouptagger-ff11568-AutopilotDevices.csv"))
	if res.code != exitFatal {
		t.Errorf("device list export: exit %d, want %d", res.code, exitFatal)
	}
	if !strings.Contains(res.stderr, "hint:") {
		t.Errorf("device list export: no hint in %q", res.stderr)
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	res := runCLI(t, "--help")
	if res.code != exitOK || !strings.Contains(res.stdout, "130") || !strings.Contains(res.stdout, "check") {
		t.Errorf("help: exit %d\n%s", res.code, res.stdout)
	}
}

// TestStdinDash checks that "-" reads the standard input handed to run, not the
// process's os.Stdin, in every offline command (convert reads it twice).
func TestStdinDash(t *testing.T) {
	in, err := os.ReadFile(bigExport(t, 3, "Lab"))
	if err != nil {
		t.Fatal(err)
	}
	res := runCLIStdin(t, string(in), "check", "-")
	if res.code != exitOK || !strings.Contains(res.stdout, "3 rows in 1 file: 3 valid") {
		t.Errorf("check -: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	res = runCLIStdin(t, string(in), "decode", "-")
	if res.code != exitOK || !strings.Contains(res.stdout, "-:2: BIG000000: ok") || !strings.Contains(res.stdout, "3 hashes decoded: 3 verify") {
		t.Errorf("decode -: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	for _, args := range [][]string{{"convert", "-"}, {"convert", "-o", "-", "-"}} {
		res = runCLIStdin(t, string(in), args...)
		if res.code != exitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, res.code, res.stderr)
		}
		lines := strings.Split(res.stdout, "\r\n")
		if len(lines) != 5 || lines[0] != "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag" || !strings.HasPrefix(lines[3], "BIG000002,,") {
			t.Errorf("%v: stdout %d lines: %q", args, len(lines), lines[0])
		}
	}
	// Another file beside "-" is read too.
	other := bigExport(t, 1, "Lab")
	res = runCLIStdin(t, "", "check", "-", other)
	if res.code != exitFatal || !strings.Contains(res.stderr, "-: ") {
		t.Errorf("empty stdin: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestConvertRestoresHashCutInPadding checks that a hash cut at 2048 characters, which
// lost only zero padding, is a warning in check and written at full length by convert.
func TestConvertRestoresHashCutInPadding(t *testing.T) {
	d := hwhash.Device{Serial: "CUT0001", Manufacturer: "Contoso", Model: "Book"}
	full := d.EncodeBase64()
	in := filepath.Join(t.TempDir(), "cut.csv")
	if err := os.WriteFile(in, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\nCUT0001,,"+full[:2048]+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "check", in)
	if res.code != exitOK || !strings.Contains(res.stdout, "hash_length: warning: hash is 1536 bytes") || !strings.Contains(res.stdout, "cut short") {
		t.Errorf("check: exit %d, stdout %q", res.code, res.stdout)
	}
	res = runCLI(t, "convert", in)
	if res.code != exitOK {
		t.Fatalf("convert: exit %d, stderr %q", res.code, res.stderr)
	}
	if want := "Device Serial Number,Windows Product ID,Hardware Hash\r\nCUT0001,," + full + "\r\n"; res.stdout != want {
		t.Errorf("convert wrote %d bytes, want the full %d-character hash", len(res.stdout), len(full))
	}
}

// TestNoHashInOutputOfJoinedRows checks that a hash swallowed into another column by an
// unclosed quote (here Manufacturer name, printed in JSON) is not printed whole.
func TestNoHashInOutputOfJoinedRows(t *testing.T) {
	h := hwhash.Device{Serial: "PF2", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	in := filepath.Join(t.TempDir(), "joined.csv")
	csv := "Device Serial Number,Windows Product ID,Hardware Hash,Manufacturer name,Device model\r\n" +
		"PF1,,,\"LENOVO,X\r\nPF2,," + h + ",A,B\r\n"
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", in}, {"check", "--json", in}, {"decode", in}, {"decode", "--json", in}, {"convert", in}} {
		res := runCLI(t, args...)
		if res.code != exitRows {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, res.code, exitRows, res.stderr)
		}
		assertNoHash(t, res)
		if !strings.Contains(res.stdout+res.stderr, "row_multiline") && args[0] != "convert" {
			t.Errorf("%v: row_multiline not reported: %q", args, res.stdout)
		}
	}
}

// TestConvertRefusesValuesThePortalCannotCarry checks serials that are valid for Graph
// but cannot be written into the unquoted portal CSV (a quote in a serial is already a
// row_quote error of the reader).
func TestConvertRefusesValuesThePortalCannotCarry(t *testing.T) {
	tests := []struct {
		name, serial, cell string
	}{
		{"comma", "AB,12", `"AB,12"`},
		{"control character", "AB\x0112", "AB\x0112"},
		{"formula", "=1+2", "=1+2"},
		{"at sign", "@SUM(A1)", "@SUM(A1)"},
		{"minus", "-CMD", "-CMD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hwhash.Device{Serial: tt.serial, Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
			dir := t.TempDir()
			in := filepath.Join(dir, "in.csv")
			if err := os.WriteFile(in, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\n"+tt.cell+",,"+h+"\r\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if res := runCLI(t, "check", in); res.code != exitOK {
				t.Fatalf("check: exit %d, stdout %q", res.code, res.stdout)
			}
			res := runCLI(t, "convert", "-o", filepath.Join(dir, "out.csv"), in)
			if res.code != exitRows || !strings.Contains(res.stderr, codeNotPortalSafe+": the serial") || !strings.Contains(res.stderr, "apimport import") {
				t.Errorf("convert: exit %d, stderr %q", res.code, res.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "out.csv")); err == nil {
				t.Error("out.csv written without valid devices")
			}
		})
	}
}

func TestEachRowStopsOnInterrupt(t *testing.T) {
	r, err := csvreport.Open(sample("canonical-utf16.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err = eachRow(ctx, r, func(csvreport.Row) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("eachRow after cancel: err %v, %d rows handled; want context.Canceled and none", err, calls)
	}
}
