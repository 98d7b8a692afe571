package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apimport/apimport/graph/emulator"
)

// corpFleet writes a portal-style corporate identifier file of n rows (no header) with
// bad rows mixed in, and returns its path and the expected counts.
type corpCounts struct{ rows, valid, invalid, duplicates, conflicts, periods int }

func writeCorpFleet(t *testing.T, dir string, n int) (string, corpCounts) {
	t.Helper()
	var b strings.Builder
	var c corpCounts
	for i := 0; i < n; i++ {
		c.rows++
		switch {
		case i%1000 == 500: // the previous line again
			fmt.Fprintf(&b, "Contoso,Laptop 7,CORP%05d\r\n", i-1)
			c.duplicates++
		case i%1000 == 700: // a comma inside the model: four fields
			fmt.Fprintf(&b, "Contoso,Laptop, 7,CORP%05d\r\n", i)
			c.invalid++
		case i%1000 == 800: // no model
			fmt.Fprintf(&b, "Contoso,,CORP%05d\r\n", i)
			c.invalid++
		case i == n-3: // the serial of line 2 with another model: both lines conflict
			fmt.Fprintf(&b, "Fabrikam,Tablet 2,CORP%05d\r\n", 1)
			c.conflicts += 2
			c.valid--
		case i%1000 == 900: // a period in the serial: valid, with a warning
			fmt.Fprintf(&b, "Contoso,Laptop 7,CORP.%05d\r\n", i)
			c.valid++
			c.periods++
		default:
			fmt.Fprintf(&b, "Contoso,Laptop 7,CORP%05d\r\n", i)
			c.valid++
		}
	}
	path := filepath.Join(dir, "corporate-ids.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, c
}

type corpSummary struct {
	MessageType string `json:"message_type"`
	Kind        string `json:"kind"`
	Rows        int    `json:"rows"`
	Valid       int    `json:"valid"`
	Invalid     int    `json:"invalid"`
	Duplicates  int    `json:"duplicates"`
	Conflicts   int    `json:"conflicts"`
	Devices     int    `json:"devices"`
}

// identityPosts counts the importDeviceIdentityList requests and the identifiers in them,
// and the searches.
func identityPosts(log []emulator.LogEntry) (imports, identifiers, searches int) {
	for _, e := range log {
		switch {
		case e.Method == "POST" && strings.HasSuffix(e.Path, "/importedDeviceIdentities/importDeviceIdentityList"):
			imports++
			identifiers += len(e.Serials)
		case e.Method == "POST" && strings.HasSuffix(e.Path, "/importedDeviceIdentities/searchExistingIdentities"):
			searches++
		}
	}
	return
}

// The "done when": a generated 12,000-row corporate identifier file goes
// through check (duplicates and bad rows found), import --dry-run (only reads),
// import (chunks within the limits) and a re-run that posts nothing.
func TestCorporateIdentifiers12000(t *testing.T) {
	e := startEmu(t, nil)
	file, want := writeCorpFleet(t, e.dir, 12000)
	e.srv.SeedIdentities("CONTOSO,laptop 7,CORP00002") // already there (compared case-insensitively)

	// check: recognised by content, every row in one state, exit 3.
	res := runCLI(t, "check", "--json", file)
	if res.code != exitRows {
		t.Fatalf("check exit %d\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "read as corporate device identifiers without header") || !strings.Contains(res.stderr, "portal takes at most 5000 rows") {
		t.Errorf("check notes:\n%s", res.stderr)
	}
	var sum corpSummary
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m corpSummary
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad line %q", line)
		}
		if m.Kind != "corporate_identifier" {
			t.Fatalf("line without kind: %s", line)
		}
		switch m.MessageType {
		case "row":
			rows++
		case "summary":
			sum = m
		}
	}
	if rows != 12000 || sum.Rows != 12000 || sum.Valid != want.valid || sum.Invalid != want.invalid || sum.Duplicates != want.duplicates || sum.Conflicts != want.conflicts {
		t.Fatalf("check: %d rows, summary %+v, want %+v", rows, sum, want)
	}
	text := runCLI(t, "check", file)
	for _, s := range []string{file + ":501: CORP00499: duplicate: the same identifier as " + file + ":500", file + ":701: -: row_columns: expected 3 fields, got 4",
		file + ":801: CORP00800: missing_model:", file + ":2: CORP00001: conflict:", file + ":901: CORP.00900: serial_period: warning:",
		"12000 rows in 1 file (corporate identifiers): 11962 valid, 24 invalid, 12 duplicates, 2 conflicts; 11962 corporate identifiers would be added"} {
		if !strings.Contains(text.stdout, s) {
			t.Errorf("check text lacks %q", s)
		}
	}

	// import --dry-run: searches only.
	res = runCLI(t, e.args("--corporate-identifiers", "--dry-run", "--json", file)...)
	if res.code != exitRows {
		t.Fatalf("dry run exit %d\n%s", res.code, res.stderr)
	}
	devs, s := parseJSONL(t, res.stdout)
	counts := map[string]int{}
	for _, d := range devs {
		counts[d.Result]++
	}
	if len(devs) != 12000 || counts["new"] != want.valid-1 || counts["already_registered"] != 1 || counts["invalid"] != want.invalid ||
		counts["duplicate"] != want.duplicates || counts["conflict"] != want.conflicts {
		t.Fatalf("dry run: %d lines %v", len(devs), counts)
	}
	imports, _, searches := identityPosts(e.srv.Requests())
	if imports != 0 || searches != 24 {
		t.Fatalf("dry run sent %d imports and %d searches, want 0 and 24", imports, searches)
	}
	for _, l := range e.srv.Requests() {
		if l.Write {
			t.Errorf("dry run wrote: %s %s", l.Method, l.Path)
		}
	}
	if s == nil {
		t.Fatal("no summary")
	}

	// import: chunks of at most 500 identifiers, each body far below 5 MB.
	res = runCLI(t, e.args("--corporate-identifiers", "--json", file)...)
	if res.code != exitRows { // invalid and conflicting rows remain
		t.Fatalf("import exit %d\n%s", res.code, res.stderr)
	}
	devs, _ = parseJSONL(t, res.stdout)
	counts = map[string]int{}
	for _, d := range devs {
		counts[d.Result]++
	}
	if len(devs) != 12000 || counts["registered"] != want.valid-1 || counts["already_registered"] != 1 {
		t.Fatalf("import: %d lines %v", len(devs), counts)
	}
	imports, ids, _ := identityPosts(e.srv.Requests())
	if imports != 24 || ids != want.valid-1 {
		t.Fatalf("%d import requests with %d identifiers, want 24 with %d", imports, ids, want.valid-1)
	}
	for _, l := range e.srv.Requests() {
		if strings.HasSuffix(l.Path, "/importDeviceIdentityList") && len(l.Serials) > 500 {
			t.Errorf("a chunk of %d identifiers", len(l.Serials))
		}
	}
	if n := len(e.srv.Identities()); n != want.valid {
		t.Errorf("%d identities in the tenant, want %d", n, want.valid)
	}
	t.Logf("12,000 rows: %d valid (%d with a period in the serial), %d invalid, %d duplicates, %d conflicts; %d registered in %d requests, 1 already there",
		want.valid, want.periods, want.invalid, want.duplicates, want.conflicts, want.valid-1, imports)

	// A re-run posts nothing.
	res = runCLI(t, e.args("--corporate-identifiers", "--json", file)...)
	devs, _ = parseJSONL(t, res.stdout)
	for _, d := range devs {
		if d.Result == "registered" {
			t.Fatalf("re-run registered %s again", d.Serial)
		}
	}
	if again, _, _ := identityPosts(e.srv.Requests()); again != imports {
		t.Errorf("re-run sent %d import requests", again-imports)
	}
}

// The flag and the file kind must agree; flags that only mean something for hashes are refused.
func TestCorporateIdentifiersFlagMismatch(t *testing.T) {
	e := startEmu(t, nil)
	corp, _ := writeCorpFleet(t, e.dir, 20)
	hashes := writeFleet(t, e.dir, "H", 2)
	res := runCLI(t, e.args("--json", corp)...)
	if res.code != exitFatal || !strings.Contains(res.stderr, "corporate device identifier list") || !strings.Contains(res.stderr, "--corporate-identifiers") {
		t.Errorf("corporate file without the flag: exit %d\n%s", res.code, res.stderr)
	}
	res = runCLI(t, e.args("--corporate-identifiers", hashes)...)
	if res.code != exitFatal || !strings.Contains(res.stderr, "hardware-hash export") || !strings.Contains(res.stderr, "without --corporate-identifiers") {
		t.Errorf("hash file with the flag: exit %d\n%s", res.code, res.stderr)
	}
	res = runCLI(t, e.args("--corporate-identifiers", "--group-tag", "Sales", corp)...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "--group-tag can't be combined with --corporate-identifiers") {
		t.Errorf("--group-tag: exit %d\n%s", res.code, res.stderr)
	}
	res = runCLI(t, e.args("--corporate-identifiers", "--chunk-size", "5001", corp)...)
	if res.code != exitUsage {
		t.Errorf("--chunk-size 5001: exit %d\n%s", res.code, res.stderr)
	}
	if imports, _, searches := identityPosts(e.srv.Requests()); imports+searches != 0 {
		t.Errorf("refused runs sent %d requests", imports+searches)
	}
}

// convert writes the portal's corporate identifier files: no header, at most 5,000 rows each.
func TestConvertCorporate(t *testing.T) {
	dir := t.TempDir()
	file, want := writeCorpFleet(t, dir, 12000)
	out := filepath.Join(dir, "portal.csv")
	res := runCLI(t, "convert", "-o", out, file)
	if res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	total := 0
	for i, n := range []int{5000, 5000, want.valid - 10000} {
		name := filepath.Join(dir, fmt.Sprintf("portal-%03d.csv", i+1))
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
		if len(lines) != n || len(b) > 5_000_000 {
			t.Errorf("%s: %d lines, %d bytes, want %d lines", name, len(lines), len(b), n)
		}
		if i == 0 && lines[0] != "Contoso,Laptop 7,CORP00000" {
			t.Errorf("first line %q (no header expected)", lines[0])
		}
		for _, l := range lines {
			if strings.Count(l, ",") != 2 {
				t.Errorf("%s: line %q", name, l)
			}
		}
		total += len(lines)
	}
	if total != want.valid {
		t.Errorf("%d identifiers written, want %d", total, want.valid)
	}
	if _, err := os.Stat(filepath.Join(dir, "portal-004.csv")); err == nil {
		t.Error("a fourth file")
	}
	// Hashes and corporate identifiers cannot be converted together.
	hashes := writeFleet(t, dir, "H", 2)
	if res := runCLI(t, "convert", "-o", filepath.Join(dir, "mixed.csv"), file, hashes); res.code != exitUsage {
		t.Errorf("mixed convert: exit %d\n%s", res.code, res.stderr)
	}
}

// The headerless file that used to be refused (Community script -identifier, the
// portal's corporate identifier file) is checked as corporate identifiers; decode, which
// reads hashes, still refuses it with a hint.
func TestCheckHeaderlessCorporate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ident.csv")
	os.WriteFile(p, []byte("LENOVO,20XW0026GE,PF3ABC12\r\nDell Inc,Latitude 5440,ABC1234\r\n"), 0o600)
	res := runCLI(t, "check", p)
	if res.code != exitOK || !strings.Contains(res.stdout, "2 rows in 1 file (corporate identifiers): 2 valid") ||
		!strings.Contains(res.stderr, "ident.csv:1: read as corporate device identifiers without header") {
		t.Errorf("check: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, "decode", p)
	if res.code != exitFatal || !strings.Contains(res.stderr, "corporate device identifier list") || !strings.Contains(res.stderr, "--corporate-identifiers") {
		t.Errorf("decode: exit %d\n%s", res.code, res.stderr)
	}
	// A hash file and a corporate file checked together: both summaries, the worst exit.
	h := writeFleet(t, dir, "H", 2)
	res = runCLI(t, "check", h, p)
	if res.code != exitOK || !strings.Contains(res.stdout, "2 rows in 1 file: 2 valid") || !strings.Contains(res.stdout, "(corporate identifiers): 2 valid") {
		t.Errorf("mixed check: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}
