package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/internal/htmlreport/htmltest"
	"github.com/apimport/apimport/internal/redact"
)

// readHTML parses a written report and fails on any reference outside the page, any
// accessibility or CSP problem htmltest finds, and any hash of the inputs in the page.
func readHTML(t *testing.T, path string, inputs ...string) (*htmltest.Page, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v, want 0600", st.Mode().Perm())
	}
	page, err := htmltest.Parse(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.External) > 0 {
		t.Errorf("the page refers to resources outside it: %v", page.External)
	}
	if m := externalAttr.FindString(string(b)); m != "" {
		t.Errorf("the page links outside: %s", m)
	}
	if len(page.Problems) > 0 {
		t.Errorf("problems: %v", page.Problems)
	}
	assertNoHash(t, result{stdout: string(b)})
	for _, in := range inputs {
		for _, h := range hashesOf(t, in) {
			if strings.Contains(string(b), h) || strings.Contains(string(b), h[:redact.Run]) {
				t.Fatalf("the page holds a hash of %s (or its first %d characters)", in, redact.Run)
			}
		}
	}
	return page, string(b)
}

// externalAttr finds an attribute or CSS value that points at a URL outside the page
// (the command line may name --graph-url as text, never as a link).
var externalAttr = regexp.MustCompile(`(?i)(src|href|action|srcset|poster)\s*=\s*["']?\s*(https?:|//)|url\(\s*["']?\s*(https?:|//)`)

// hashesOf returns every long base64 value of a CSV file (the hashes).
func hashesOf(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == '"' || r == '\n' || r == '\r' || r == ';' || r == '\t' }) {
		if len(f) >= 200 && !strings.ContainsAny(f, " \x00") {
			out = append(out, f)
		}
	}
	return out
}

type checkJSON struct {
	MessageType string `json:"message_type"`
	Status      string `json:"status"`
	Rows        int    `json:"rows"`
	Valid       int    `json:"valid"`
	Invalid     int    `json:"invalid"`
	Duplicates  int    `json:"duplicates"`
	Conflicts   int    `json:"conflicts"`
	FileErrors  int    `json:"file_errors"`
}

func TestCheckHTMLCountsEqualJSON(t *testing.T) {
	for _, name := range []string{"mistakes.csv", "configmgr-report.csv", "merged.csv", "canonical-utf16.csv", "grouptag.csv"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "check.html")
			res := runCLI(t, "check", "--json", "--html", out, sample(name))
			if res.code != exitOK && res.code != exitRows {
				t.Fatalf("exit %d:\n%s", res.code, res.stderr)
			}
			var statuses []string
			var sum checkJSON
			for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				var m checkJSON
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				switch m.MessageType {
				case "row":
					statuses = append(statuses, m.Status)
				case "summary":
					sum = m
				}
			}
			page, _ := readHTML(t, out, sample(name))
			want := map[string]int{"valid": sum.Valid, "invalid": sum.Invalid, "duplicate": sum.Duplicates, "conflict": sum.Conflicts}
			for k, v := range want {
				if page.Counts[k] != v {
					t.Errorf("summary %s: page %d, JSON %d", k, page.Counts[k], v)
				}
			}
			if page.Total != sum.Rows || len(page.RowStatus) != sum.Rows {
				t.Errorf("rows: page total %d, table %d, JSON %d", page.Total, len(page.RowStatus), sum.Rows)
			}
			if strings.Join(page.RowStatus, ",") != strings.Join(statuses, ",") {
				t.Errorf("row statuses differ from the JSON rows:\n%v\n%v", page.RowStatus, statuses)
			}
			// The header names the file with its size and SHA-256.
			b, _ := os.ReadFile(sample(name))
			h := sha256.Sum256(b)
			if len(page.Files) != 1 || page.Files[0][2] != hex.EncodeToString(h[:]) || !strings.Contains(page.Files[0][0], name) {
				t.Errorf("files %v", page.Files)
			}
			if !strings.Contains(page.CommandLine, "apimport check") || !strings.Contains(page.CommandLine, "--html") || !strings.Contains(page.CommandLine, name) {
				t.Errorf("command line %q", page.CommandLine)
			}
			if page.Version == "" {
				t.Error("no version")
			}
		})
	}
}

func TestCheckHTMLFindingsByCode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "check.html")
	if res := runCLI(t, "check", "--html", out, sample("mistakes.csv")); res.code != exitRows {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	page, raw := readHTML(t, out, sample("mistakes.csv"))
	for key, n := range map[string]int{"error:conflict": 2, "warning:duplicate": 2, "error:missing_hash": 1, "error:hash_checksum": 1,
		"error:serial_mismatch": 1, "error:placeholder_serial": 1, "error:bad_group_tag": 1, "error:bad_user": 1, "warning:product_id_ignored": 1} {
		if page.Findings[key] != n {
			t.Errorf("finding %s: %d, want %d (all: %v)", key, page.Findings[key], n, page.Findings)
		}
	}
	if locs := page.FindingLocs["error:conflict"]; len(locs) != 2 || !strings.HasSuffix(locs[0], "mistakes.csv:5") || !strings.HasSuffix(locs[1], "mistakes.csv:6") {
		t.Errorf("conflict locations %v", locs)
	}
	if !strings.Contains(raw, "capture it again") {
		t.Error("no hint")
	}
	// The text output is unchanged by --html.
	plain := runCLI(t, "check", sample("mistakes.csv"))
	with := runCLI(t, "check", "--html", filepath.Join(t.TempDir(), "x.html"), sample("mistakes.csv"))
	if plain.stdout != with.stdout || plain.code != with.code {
		t.Error("--html changed check's text output")
	}
}

func TestCheckHTMLRedactsAHashInASerial(t *testing.T) {
	// An unclosed quote puts whole rows, hashes included, into one serial.
	dir := t.TempDir()
	hash := hwhash.Device{Serial: "QQ1", Manufacturer: "Contoso", Model: "M"}.EncodeBase64()
	in := filepath.Join(dir, "broken.csv")
	os.WriteFile(in, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\n\"QQ1,,"+hash+"\r\nQQ2,,"+hash+"\r\n"), 0o600)
	out := filepath.Join(dir, "r.html")
	res := runCLI(t, "check", "--html", out, in)
	if res.code == exitUsage {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	readHTML(t, out, in)
}

func TestHTMLPathCheckedBeforeAnything(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-folder", "r.html")
	if res := runCLI(t, "check", "--html", missing, sample("mistakes.csv")); res.code != exitUsage || !strings.Contains(res.stderr, "--html") {
		t.Errorf("check: exit %d\n%s", res.code, res.stderr)
	}
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "HPV", 2)
	res := runCLI(t, e.args("--html", missing, file)...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "cannot be written") {
		t.Fatalf("import: exit %d\n%s", res.code, res.stderr)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent before the bad --html was refused", n)
	}
	res = runCLI(t, "cleanup", "--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL,
		"--ca-file", e.srv.CAFile, "--journal", e.journal, "--html", e.dir)
	if res.code != exitUsage || !strings.Contains(res.stderr, "is a folder") {
		t.Fatalf("cleanup: exit %d\n%s", res.code, res.stderr)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent before the bad --html was refused", n)
	}
}

type importJSON struct {
	MessageType string         `json:"message_type"`
	Serial      string         `json:"serial"`
	Result      string         `json:"result"`
	ErrorCode   int            `json:"error_code"`
	Rows        int            `json:"rows"`
	Results     map[string]int `json:"results"`
	Tenant      string         `json:"tenant"`
}

func parseImportJSON(t *testing.T, s string) (devices []importJSON, sum importJSON) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m importJSON
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.MessageType == "device" {
			devices = append(devices, m)
		} else {
			sum = m
		}
	}
	return devices, sum
}

// assertImportPage checks that the page's counts equal the JSON summary, row for row.
func assertImportPage(t *testing.T, page *htmltest.Page, devices []importJSON, sum importJSON) {
	t.Helper()
	if page.Total != sum.Rows || len(page.RowStatus) != sum.Rows {
		t.Errorf("rows: page %d, table %d, JSON %d", page.Total, len(page.RowStatus), sum.Rows)
	}
	for k, v := range sum.Results {
		if page.Counts[k] != v {
			t.Errorf("summary %s: page %d, JSON %d", k, page.Counts[k], v)
		}
	}
	for k, v := range page.Counts {
		if v != sum.Results[k] {
			t.Errorf("summary %s: page %d, JSON %d", k, v, sum.Results[k])
		}
	}
	got := page.StatusCounts()
	for k, v := range sum.Results {
		if got[k] != v {
			t.Errorf("table rows %s: %d, JSON %d", k, got[k], v)
		}
	}
	if len(devices) != len(page.RowStatus) {
		t.Errorf("%d JSON device lines, %d table rows", len(devices), len(page.RowStatus))
	}
	if sum.Tenant != page.Tenant {
		t.Errorf("tenant: page %q, JSON %q", page.Tenant, sum.Tenant)
	}
}

func TestImportDryRunOfflineHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan.html")
	res := runCLI(t, "import", "--dry-run", "--offline", "--json", "--html", out, sample("mistakes.csv"))
	if res.code != exitRows {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	devices, sum := parseImportJSON(t, res.stdout)
	page, raw := readHTML(t, out, sample("mistakes.csv"))
	assertImportPage(t, page, devices, sum)
	if page.Plan["new"] != sum.Results["new"] || page.Plan["conflict"] != sum.Results["conflict"] ||
		page.Plan["other"] != sum.Results["invalid"]+sum.Results["duplicate"] {
		t.Errorf("plan %v, JSON %v", page.Plan, sum.Results)
	}
	if !strings.Contains(raw, "dry run: nothing was written") {
		t.Error("the page does not say it is a dry run")
	}
}

func TestImportDryRunEmulatorHTML(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{Registered: []emulator.Device{
		{SerialNumber: "PLN00001", Manufacturer: "Contoso", GroupTag: "Sales"},
		{SerialNumber: "PLN00002", Manufacturer: "Contoso", GroupTag: "Old"}}}); err != nil {
		t.Fatal(err)
	}
	file := writeFleet(t, e.dir, "PLN", 5)
	out := filepath.Join(e.dir, "plan.html")
	res := runCLI(t, e.args("--dry-run", "--json", "--group-tag", "Sales", "--update-existing", "--html", out, file)...)
	if res.code != exitOK {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	devices, sum := parseImportJSON(t, res.stdout)
	page, _ := readHTML(t, out, file)
	assertImportPage(t, page, devices, sum)
	want := map[string]int{"new": 3, "update": 1, "already_registered": 1, "pending": 0, "conflict": 0, "other_tenant": 0, "other": 0}
	for k, v := range want {
		if page.Plan[k] != v || (k != "other_tenant" && k != "other" && k != "conflict" && sum.Results[k] != v) {
			t.Errorf("plan %s: page %d, JSON %d, want %d", k, page.Plan[k], sum.Results[k], v)
		}
	}
	if page.Tenant != e.srv.TenantID {
		t.Errorf("tenant %q", page.Tenant)
	}
	if strings.Contains(page.CommandLine, e.srv.ClientSecret) || strings.Contains(page.Text, e.srv.ClientSecret) {
		t.Error("the client secret is on the page")
	}
	if effectivePosts(e.srv.Requests()) != nil && len(effectivePosts(e.srv.Requests())) > 0 {
		t.Error("a dry run posted")
	}
}

func TestImportHTMLAgainstEmulator(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{OtherTenantSerials: []string{"HTM00001"},
		Registered: []emulator.Device{{SerialNumber: "HTM00002", Manufacturer: "Contoso"}}}); err != nil {
		t.Fatal(err)
	}
	file := writeFleet(t, e.dir, "HTM", 5)
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("HTM00003,," + hwhash.Device{Serial: "HTM00003", Manufacturer: "Contoso", Model: "Laptop 7"}.EncodeBase64() + "\r\nBROKEN1,,notbase64!!\r\n")
	f.Close()
	out := filepath.Join(e.dir, "import.html")
	report := filepath.Join(e.dir, "import.csv")
	res := runCLI(t, e.args("--json", "--report", report, "--html", out, file)...)
	if res.code != exitRows {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	devices, sum := parseImportJSON(t, res.stdout)
	page, raw := readHTML(t, out, file)
	assertImportPage(t, page, devices, sum)
	if sum.Results["registered"] != 3 || sum.Results["rejected"] != 1 || sum.Results["already_registered"] != 1 {
		t.Fatalf("unexpected run: %v", sum.Results)
	}
	if page.Findings["error:808 ZtdDeviceAssignedToOtherTenant"] != 1 || !strings.Contains(raw, "the previous owner or the OEM") {
		t.Errorf("findings %v", page.Findings)
	}
	if page.Findings["warning:duplicate"] != 1 || page.Findings["error:hash_not_base64"] != 1 {
		t.Errorf("findings %v", page.Findings)
	}
	if page.Plan != nil {
		t.Error("a real run shows a plan")
	}
	if !strings.Contains(page.Text, "journal.jsonl") {
		t.Error("no journal in the header")
	}
}

func TestCleanupHTML(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "CLH", 12)
	if res := runCLI(t, e.args("--json", "--write-limit", "3", "--throttle-window", "2s", file)...); res.code != exitOK {
		t.Fatalf("import exit %d:\n%s", res.code, res.stderr)
	}
	left := len(e.srv.Imported())
	if left == 0 {
		t.Skip("the run deleted every record: nothing to clean up")
	}
	out := filepath.Join(e.dir, "cleanup.html")
	res := runCLI(t, "cleanup", "--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL,
		"--ca-file", e.srv.CAFile, "--journal", e.journal, "--dry-run", "--json", "--html", out)
	if res.code != exitOK {
		t.Fatalf("cleanup exit %d:\n%s", res.code, res.stderr)
	}
	var sum struct {
		Results map[string]int `json:"results"`
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	page, _ := readHTML(t, out, file)
	if page.Counts["would_delete"] != left || sum.Results["would_delete"] != left || page.StatusCounts()["would_delete"] != left {
		t.Errorf("page %v, JSON %v, %d records in the tenant", page.Counts, sum.Results, left)
	}
	if page.Tenant != e.srv.TenantID {
		t.Errorf("tenant %q", page.Tenant)
	}
}

func TestCommandLineMasksSecretFlags(t *testing.T) {
	cmd := &cobra.Command{Use: "x", Run: func(*cobra.Command, []string) {}}
	root := &cobra.Command{Use: "apimport"}
	root.AddCommand(cmd)
	var a, b, c string
	var d bool
	cmd.Flags().StringVar(&a, "client-secret", "", "")
	cmd.Flags().StringVar(&b, "client-secret-file", "", "")
	cmd.Flags().StringVar(&c, "group-tag", "", "")
	cmd.Flags().BoolVar(&d, "dry-run", false, "")
	root.SetArgs([]string{"x", "--client-secret", "hunter2", "--client-secret-file", "/etc/s", "--group-tag", "Sales Team", "--dry-run", "my file.csv"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	got := commandLine(cmd)
	want := "apimport x --client-secret REDACTED --client-secret-file /etc/s --dry-run --group-tag 'Sales Team' 'my file.csv'"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestEveryCheckCodeHasAHint: the HTML report's findings say what to do for every code in
// the README's code table.
func TestEveryCheckCodeHasAHint(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "| code | meaning |\n| --- | --- |\n| `missing_serial`")
	if start < 0 {
		t.Fatal("README: code table not found")
	}
	table := text[start : start+strings.Index(text[start:], "\n\n")]
	n := 0
	for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(table, -1) {
		if m[1] == "check" || m[1] == "convert" || m[1] == "import" || m[1] == "decode" { // command names in the text
			continue
		}
		n++
		if checkHints[m[1]] == "" {
			t.Errorf("no hint for %q", m[1])
		}
	}
	if n < 20 {
		t.Errorf("only %d codes found in the table", n)
	}
}
