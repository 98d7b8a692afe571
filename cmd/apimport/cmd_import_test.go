package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

// TestMain lets the crash test re-execute this test binary as the apimport program:
// with APIMPORT_TEST_ARGS set (a JSON array), the process is `apimport <args>`.
func TestMain(m *testing.M) {
	if a := os.Getenv("APIMPORT_TEST_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad APIMPORT_TEST_ARGS:", err)
			os.Exit(2)
		}
		os.Exit(run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// writeFleet writes a Get-WindowsAutopilotInfo style CSV of n devices with real hashes.
func writeFleet(t *testing.T, dir, prefix string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("Device Serial Number,Windows Product ID,Hardware Hash\r\n")
	for i := 0; i < n; i++ {
		serial := fmt.Sprintf("%s%05d", prefix, i)
		b.WriteString(serial + ",," + hwhash.Device{Serial: serial, Manufacturer: "Contoso", Model: "Laptop 7"}.EncodeBase64() + "\r\n")
	}
	path := filepath.Join(dir, prefix+".csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type emuEnv struct {
	srv     *emulator.Server
	dir     string
	journal string
	secret  string
}

func startEmu(t *testing.T, mod func(*emulator.Config)) *emuEnv {
	t.Helper()
	cfg := emulator.Config{ProcessingDelay: emulator.Duration(50 * time.Millisecond), WriteLimit: 100000, RequestLimit: 100000}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte(srv.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &emuEnv{srv: srv, dir: dir, journal: filepath.Join(dir, "journal.jsonl"), secret: secret}
}

// args are the flags that point the import command at the emulator.
func (e *emuEnv) args(extra ...string) []string {
	a := []string{"import", "--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL,
		"--ca-file", e.srv.CAFile, "--journal", e.journal, "--poll-min", "20ms",
		"--write-limit", "100000", "--request-limit", "100000"}
	return append(a, extra...)
}

type jsonLine struct {
	MessageType string `json:"message_type"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Serial      string `json:"serial"`
	Result      string `json:"result"`
	ErrorCode   int    `json:"error_code"`
	Hint        string `json:"hint"`
	ImportID    string `json:"import_id"`
	Requests    int    `json:"requests"`
}

func parseJSONL(t *testing.T, s string) (devices []jsonLine, summary *jsonLine) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var d jsonLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		switch d.MessageType {
		case "device":
			devices = append(devices, d)
		case "summary":
			dd := d
			summary = &dd
		default:
			t.Fatalf("unexpected message %q", sc.Text())
		}
	}
	return devices, summary
}

func effectivePosts(log []emulator.LogEntry) map[string]int {
	m := map[string]int{}
	for _, e := range log {
		if e.Method == "POST" && strings.HasSuffix(strings.ToLower(e.Path), "/import") && e.Status == 200 {
			for _, s := range e.Serials {
				m[strings.ToUpper(s)]++
			}
		}
	}
	return m
}

func TestImportEndToEnd(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{OtherTenantSerials: []string{"E2E00001"},
		Registered: []emulator.Device{{SerialNumber: "E2E00002", Manufacturer: "Contoso", GroupTag: ""}}}); err != nil {
		t.Fatal(err)
	}
	file := writeFleet(t, e.dir, "E2E", 5)
	// a duplicate row and an invalid row
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "E2E00003,,%s\r\nBROKEN1,,notbase64!!\r\n", hwhash.Device{Serial: "E2E00003", Manufacturer: "Contoso", Model: "Laptop 7"}.EncodeBase64())
	f.Close()
	report := filepath.Join(e.dir, "report.csv")
	res := runCLI(t, e.args("--json", "--report", report, file)...)
	assertNoHash(t, res)
	if res.code != exitRows {
		t.Errorf("exit %d, want %d (a rejected and an invalid row); stderr:\n%s", res.code, exitRows, res.stderr)
	}
	if !strings.Contains(res.stderr, "importing into tenant "+e.srv.TenantID) {
		t.Errorf("stderr lacks the tenant line:\n%s", res.stderr)
	}
	devs, sum := parseJSONL(t, res.stdout)
	if sum == nil || sum.Requests == 0 {
		t.Fatalf("no summary with requests: %s", res.stdout)
	}
	got := map[string]string{}
	for _, d := range devs {
		got[fmt.Sprintf("%s:%d", d.Serial, d.Line)] = d.Result
	}
	want := map[string]string{"E2E00000:2": "registered", "E2E00001:3": "rejected", "E2E00002:4": "already_registered",
		"E2E00003:5": "registered", "E2E00004:6": "registered", "E2E00003:7": "duplicate", "BROKEN1:8": "invalid"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if len(devs) != len(want) {
		t.Errorf("%d device lines for %d rows", len(devs), len(want))
	}
	// offline findings first
	if devs[0].Result != "duplicate" && devs[0].Result != "invalid" {
		t.Errorf("first line %+v: offline findings must come first", devs[0])
	}
	st, err := os.Stat(report)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(report); strings.Count(string(b), "\n") != len(want)+1 {
		t.Errorf("report has %d lines:\n%s", strings.Count(string(b), "\n"), b)
	}
	// A second run is idempotent: everything already registered, nothing posted again.
	before := effectivePosts(e.srv.Requests())
	res = runCLI(t, e.args("--json", file)...)
	if res.code != exitRows { // the invalid and the rejected row remain
		t.Errorf("second run exit %d:\n%s", res.code, res.stderr)
	}
	devs, _ = parseJSONL(t, res.stdout)
	for _, d := range devs {
		if d.Result == "registered" {
			t.Errorf("second run registered %s again", d.Serial)
		}
	}
	after := effectivePosts(e.srv.Requests())
	for s, n := range after {
		if s != "E2E00001" && n != before[s] {
			t.Errorf("%s posted again on the second run", s)
		}
	}
}

func TestImportDryRunSendsNoWrite(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "DRY", 3)
	res := runCLI(t, e.args("--dry-run", "--json", file)...)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	devs, _ := parseJSONL(t, res.stdout)
	for _, d := range devs {
		if d.Result != "new" {
			t.Errorf("%+v", d)
		}
	}
	for _, l := range e.srv.Requests() {
		if l.Method != "GET" && !strings.Contains(l.Path, "/oauth2/") {
			t.Errorf("dry run sent %s %s", l.Method, l.Path)
		}
	}
	if _, err := os.Stat(e.journal); err == nil {
		t.Error("a dry run created the journal")
	}
}

func TestImportPreflightAndGuardrails(t *testing.T) {
	// The default client has Read.All only; another has no Device Management role.
	const noRoleID, noRoleSecret = "5e1f0c6a-2b7d-4c1e-9a3f-000000000042", "no-role-secret-value"
	e := startEmu(t, func(cfg *emulator.Config) {
		cfg.Roles = []string{emulator.RoleRead}
		cfg.Clients = []emulator.ClientConfig{{ClientID: noRoleID, ClientSecret: noRoleSecret, Roles: []string{"User.Read.All"}}}
	})
	file := writeFleet(t, e.dir, "PF", 2)
	noRoleFile := filepath.Join(e.dir, "no-role-secret.txt")
	if err := os.WriteFile(noRoleFile, []byte(noRoleSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	noRole := func(extra ...string) []string {
		a := e.args(extra...)
		for i := range a {
			switch {
			case a[i] == e.srv.ClientID:
				a[i] = noRoleID
			case a[i] == e.secret:
				a[i] = noRoleFile
			}
		}
		return a
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"missing permission", e.args(file), exitAuth, "grant the application permission DeviceManagementServiceConfig.ReadWrite.All and admin consent"},
		{"dry run with Read.All", e.args("--dry-run", file), exitOK, "dry run: read-only requests"},
		{"dry run without Read.All", noRole("--dry-run", file), exitAuth,
			"grant the application permission DeviceManagementServiceConfig.Read.All and admin consent (a dry run only reads)"},
		{"wrong tenant", e.args("--expect-tenant", "00000000-0000-0000-0000-000000000000", file), exitAuth, "not the expected"},
		{"auth required", []string{"import", file}, exitUsage, "--auth is required"},
		{"offline needs dry run", []string{"import", "--offline", file}, exitUsage, "--offline works only with --dry-run"},
		{"chunk size", []string{"import", "--dry-run", "--offline", "--chunk-size", "501", file}, exitUsage, "--chunk-size"},
		{"max devices", []string{"import", "--dry-run", "--offline", "--max-devices", "1", file}, exitUsage, "exceed --max-devices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", res.code, res.stderr, tt.code, tt.stderr)
			}
			if tt.code == exitOK && strings.Count(res.stdout, "\tnew\t") != 2 {
				t.Errorf("plan:\n%s", res.stdout)
			}
			if strings.Contains(res.stderr+res.stdout, e.srv.ClientSecret) || strings.Contains(res.stderr+res.stdout, noRoleSecret) {
				t.Error("the client secret was printed")
			}
		})
	}
	for _, l := range e.srv.Requests() {
		if l.Method != "GET" && !strings.Contains(l.Path, "/oauth2/") {
			t.Errorf("sent %s %s although the pre-flight failed", l.Method, l.Path)
		}
	}
}

func TestJSONFatalErrorEndsWithExitErrorLine(t *testing.T) {
	dir := t.TempDir()
	good := writeFleet(t, dir, "JE", 1)
	tests := []struct {
		name string
		args []string
		code int
		json bool // the last stderr line is an exit_error object
	}{
		{"missing file", []string{"import", "--json", "--dry-run", "--offline", filepath.Join(dir, "nope.csv")}, exitFatal, true},
		{"bad flag value", []string{"import", "--json", "--dry-run", "--offline", "--chunk-size", "0", good}, exitUsage, true},
		{"no auth", []string{"import", "--json", good}, exitUsage, true},
		{"without --json", []string{"import", "--dry-run", "--offline", filepath.Join(dir, "nope.csv")}, exitFatal, false},
		{"success", []string{"import", "--json", "--dry-run", "--offline", good}, exitOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			var m struct {
				MessageType string `json:"message_type"`
				Code        int    `json:"code"`
				Message     string `json:"message"`
			}
			err := json.Unmarshal([]byte(last), &m)
			if !tt.json {
				if err == nil && m.MessageType == "exit_error" {
					t.Errorf("unexpected exit_error line: %s", last)
				}
				return
			}
			if err != nil || m.MessageType != "exit_error" || m.Code != tt.code || m.Message == "" {
				t.Errorf("last stderr line %q; want an exit_error with code %d", last, tt.code)
			}
		})
	}
}

func TestImportKeepsOnlyHashBytes(t *testing.T) {
	dir := t.TempDir()
	file := writeFleet(t, dir, "MEM", 3)
	var env cliEnv
	env.ctx = context.Background()
	env.stderr = &strings.Builder{}
	opts := (&importOptions{}).options()
	opts.KeepHardware = true
	rep, _, err := checkInputs(&env, []string{file}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The engine sends the decoded bytes; nothing else of the hash is kept.
	for _, r := range rep.Results {
		if r.Device == nil || len(r.Device.Hardware) != 3000 {
			t.Fatalf("%s:%d: device %+v", r.File, r.Line, r.Device != nil)
		}
	}
}

func TestImportOutputsNeverHoldAHash(t *testing.T) {
	// A hash pasted into the serial column (or rows joined by an unclosed quote) makes
	// an invalid row whose serial is a whole hash: the JSON lines, the table and the
	// CSV report must shorten it as check does.
	dir := t.TempDir()
	h := hwhash.Device{Serial: "LEAK1", Manufacturer: "Contoso", Model: "Laptop 7"}.EncodeBase64()
	file := filepath.Join(dir, "leak.csv")
	content := "Device Serial Number,Windows Product ID,Hardware Hash\r\n" + h + ",," + h + "\r\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{true, false} {
		t.Run(fmt.Sprint("json ", asJSON), func(t *testing.T) {
			report := filepath.Join(dir, fmt.Sprint("report-", asJSON, ".csv"))
			args := []string{"import", "--dry-run", "--offline", "--report", report, file}
			if asJSON {
				args = append(args, "--json")
			}
			res := runCLI(t, args...)
			if res.code != exitRows {
				t.Fatalf("exit %d:\n%s", res.code, res.stderr)
			}
			if strings.Contains(res.stdout, h[:200]) || strings.Contains(res.stderr, h[:200]) {
				t.Errorf("the hash reached the output:\n%.600s", res.stdout)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), h[:200]) {
				t.Errorf("the hash reached the report:\n%.600s", b)
			}
		})
	}
}

func TestImportJSONDeviceFieldsAlwaysPresent(t *testing.T) {
	dir := t.TempDir()
	file := writeFleet(t, dir, "FLD", 1)
	res := runCLI(t, "import", "--dry-run", "--offline", "--json", file)
	if res.code != exitOK {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	line, _, _ := strings.Cut(res.stdout, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"message_type", "file", "line", "serial", "result", "error_code", "error_name", "hint", "import_id"} {
		if _, ok := m[k]; !ok {
			t.Errorf("device line lacks %q: %s", k, line)
		}
	}
}

func TestImportDebugLogRedactsAuthorization(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "DBG", 2)
	t.Setenv("APIMPORT_DEBUG", "api")
	res := runCLI(t, e.args("--dry-run", file)...)
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "windowsAutopilotDeviceIdentities") {
		t.Errorf("APIMPORT_DEBUG=api logged no request:\n%s", res.stderr)
	}
	secret, _ := os.ReadFile(e.secret)
	for _, leak := range []string{"Bearer ey", strings.TrimSpace(string(secret))} {
		if strings.Contains(res.stderr, leak) || strings.Contains(res.stdout, leak) {
			t.Errorf("debug output holds %q", leak)
		}
	}
}
