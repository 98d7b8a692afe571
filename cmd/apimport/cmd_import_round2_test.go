package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

func TestImportReportIntoAMissingFolderFailsBeforeAnyRequest(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "RPT", 3)
	res := runCLI(t, e.args("--report", filepath.Join(e.dir, "no-such-folder", "r.csv"), file)...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "cannot be written") {
		t.Fatalf("exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests were sent before the bad --report was refused", n)
	}
}

func TestImportReportHasEveryJSONFieldInInputOrder(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{OtherTenantSerials: []string{"ORD00001"}}); err != nil {
		t.Fatal(err)
	}
	file := writeFleet(t, e.dir, "ORD", 4)
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "ORD00002,,%s\r\nBROKEN1,,notbase64!!\r\n", hwhash.Device{Serial: "ORD00002", Manufacturer: "Contoso", Model: "Laptop 7"}.EncodeBase64())
	f.Close()
	report := filepath.Join(e.dir, "report.csv")
	res := runCLI(t, e.args("--json", "--group-tag", "Sales", "--report", report, file)...)
	if res.code != exitRows {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	var jsonRows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["message_type"] == "device" {
			jsonRows = append(jsonRows, m)
		}
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	if strings.Join(header, ",") != strings.Join(deviceFields, ",") {
		t.Fatalf("report header %v", header)
	}
	if len(recs)-1 != len(jsonRows) {
		t.Fatalf("%d report rows, %d JSON device lines", len(recs)-1, len(jsonRows))
	}
	byLine := map[string]map[string]any{}
	for _, m := range jsonRows {
		byLine[fmt.Sprint(m["line"])] = m
	}
	prev := 0
	for _, row := range recs[1:] {
		line, _ := strconv.Atoi(row[1])
		if line <= prev {
			t.Errorf("report row for line %d after line %d: not in input order", line, prev)
		}
		prev = line
		m := byLine[row[1]]
		for i, name := range header {
			want := ""
			if v, ok := m[name]; ok {
				want = fmt.Sprint(v)
			}
			if name == "error_code" && want == "" {
				want = "0"
			}
			if got := strings.TrimPrefix(row[i], "'"); got != want {
				t.Errorf("line %s: %s = %q in the report, %q in JSON", row[1], name, row[i], want)
			}
		}
	}
	if !bytes.Contains(b, []byte(",Sales,")) || !bytes.Contains(b, []byte(",duplicate,")) {
		t.Errorf("report lacks the group tag or the duplicate row:\n%s", b)
	}
}

func TestImportTableAndProgress(t *testing.T) {
	e := startEmu(t, func(c *emulator.Config) { c.ProcessingDelay = emulator.Duration(300 * time.Millisecond) })
	for _, tty := range []bool{true, false} {
		t.Run(fmt.Sprint("terminal ", tty), func(t *testing.T) {
			file := writeFleet(t, e.dir, fmt.Sprint("TTY", tty), 3)
			var out, errb bytes.Buffer
			code := runEnv(t, func(env *cliEnv) {
				env.stdout, env.stderr = &out, &errb
				env.terminal = map[io.Writer]bool{&out: tty, &errb: tty}
				env.progressEvery = 20 * time.Millisecond
			}, e.args("--journal", filepath.Join(t.TempDir(), "j.jsonl"), file)...)
			if code != exitOK {
				t.Fatalf("exit %d:\n%s", code, errb.String())
			}
			lines := strings.Split(out.String(), "\n")
			if !strings.HasPrefix(lines[0], "ROW") {
				t.Errorf("no header line:\n%s", out.String())
			}
			if aligned := strings.Contains(lines[0], "  "); aligned != tty {
				t.Errorf("header %q: aligned %v on a terminal %v", lines[0], aligned, tty)
			}
			if !tty && !strings.Contains(lines[0], "\t") {
				t.Errorf("piped table is not tab-separated: %q", lines[0])
			}
			progress := strings.Count(errb.String(), "devices done")
			if progress == 0 {
				t.Errorf("no progress on stderr:\n%s", errb.String())
			}
			if redrawn := strings.Contains(errb.String(), "\r"); redrawn != tty {
				t.Errorf("progress redrawn in place %v on a terminal %v:\n%q", redrawn, tty, errb.String())
			}
		})
	}
}

func TestImportConnectionFailuresExitCodes(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "NET", 1)
	bad := filepath.Join(e.dir, "bad-secret.txt")
	if err := os.WriteFile(bad, []byte("not-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noPEM := filepath.Join(e.dir, "ca.txt")
	if err := os.WriteFile(noPEM, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		flag   string
		value  string
		code   int
		stderr string
	}{
		// nothing listens on the discard port
		{"authority unreachable", "--authority-url", "https://127.0.0.1:9/", exitFatal, "127.0.0.1:9 could not be reached"},
		{"graph unreachable", "--graph-url", "https://127.0.0.1:9/", exitFatal, "127.0.0.1:9 could not be reached"},
		{"authority TLS without --ca-file", "--ca-file", "", exitFatal, "--ca-file"},
		{"CA file without a certificate", "--ca-file", noPEM, exitUsage, "--ca-file"},
		{"plain http to a remote host", "--graph-url", "http://graph.example.invalid/", exitUsage, ""},
		{"secret rejected", "--client-secret-file", bad, exitAuth, "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := e.args("--dry-run", file)
			for i, a := range args {
				if a == tt.flag {
					args[i+1] = tt.value
				}
			}
			if tt.value == "" { // drop the flag
				for i, a := range args {
					if a == tt.flag {
						args = append(args[:i:i], args[i+2:]...)
						break
					}
				}
			}
			start := time.Now()
			res := runCLI(t, args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("exit %d, want %d with %q; stderr:\n%s", res.code, tt.code, tt.stderr, res.stderr)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("reported after %v", d)
			}
		})
	}
}

func TestCleanupCommand(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "CLN", 12)
	// A tiny write budget: the run ends when the devices are final and leaves
	// most of its import records to the journal.
	res := runCLI(t, e.args("--json", "--write-limit", "3", "--throttle-window", "2s", file)...)
	if res.code != exitOK {
		t.Fatalf("import exit %d:\n%s", res.code, res.stderr)
	}
	_, sum := parseJSONL(t, res.stdout)
	left := len(e.srv.Imported())
	if left == 0 {
		t.Skipf("the run deleted every record (summary %+v): nothing to clean up", sum)
	}
	if !strings.Contains(res.stderr, "apimport cleanup --journal") && !strings.Contains(res.stdout, "records_left") {
		t.Errorf("no word on the records left:\n%s", res.stderr)
	}
	base := []string{"--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL,
		"--ca-file", e.srv.CAFile, "--journal", e.journal}
	dry := runCLI(t, append(append([]string{"cleanup"}, base...), "--dry-run", "--json")...)
	if dry.code != exitOK || strings.Count(dry.stdout, `"result":"would_delete"`) != left || len(e.srv.Imported()) != left {
		t.Fatalf("dry run exit %d (%d records in the tenant):\n%s\n%s", dry.code, len(e.srv.Imported()), dry.stdout, dry.stderr)
	}
	real := runCLI(t, append([]string{"cleanup"}, base...)...)
	if real.code != exitOK || len(e.srv.Imported()) != 0 {
		t.Fatalf("cleanup exit %d, %d records left:\n%s\n%s", real.code, len(e.srv.Imported()), real.stdout, real.stderr)
	}
	// A re-run posts nothing.
	before := effectivePosts(e.srv.Requests())
	if res := runCLI(t, e.args(file)...); res.code != exitOK {
		t.Fatalf("re-run exit %d:\n%s", res.code, res.stderr)
	}
	if after := effectivePosts(e.srv.Requests()); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the re-run posted: %v -> %v", before, after)
	}
}

// runEnv runs the program with an environment the test adjusts.
func runEnv(t *testing.T, mod func(*cliEnv), args ...string) int {
	t.Helper()
	return runWith(context.Background(), args, mod)
}

func TestReportReplacedWhenTheRunStopsBeforeSending(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "STALE", 2)
	report := filepath.Join(e.dir, "last-run.csv")
	if err := os.WriteFile(report, []byte("yesterday's report\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(e.dir, "bad-secret.txt")
	if err := os.WriteFile(bad, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := e.args("--report", report, file)
	for i, a := range args {
		if a == "--client-secret-file" {
			args[i+1] = bad
		}
	}
	res := runCLI(t, args...)
	if res.code != exitAuth {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "yesterday") || strings.Count(string(b), ",interrupted,") != 2 {
		t.Errorf("report after a stop before sending:\n%s", b)
	}
}
