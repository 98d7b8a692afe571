//go:build unix

package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

func TestImportJournalLocked(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "LCK", 1)
	lock, err := os.OpenFile(e.journal+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Skip("flock unavailable:", err)
	}
	fmt.Fprintf(lock, "%d\n", os.Getpid())
	res := runCLI(t, e.args(file)...)
	if res.code != exitFatal || !strings.Contains(res.stderr, "locked by another run") || !strings.Contains(res.stderr, fmt.Sprint(os.Getpid())) {
		t.Errorf("exit %d:\n%s", res.code, res.stderr)
	}
}

// TestImportCrashResume kills the import with SIGKILL at several moments (a submission
// announced, chunks posted, results final, clean-up under way), starts it again each time,
// and checks that the last run reports exactly what an uninterrupted run reports, that no
// serial was ever posted twice, and that no import record is left behind.
func TestImportCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const n = 2000
	mod := func(cfg *emulator.Config) {
		cfg.ProcessingDelay = emulator.Duration(400 * time.Millisecond)
	}
	seed := emulator.State{OtherTenantSerials: []string{"CR00007", "CR01500"},
		Registered: []emulator.Device{{SerialNumber: "CR00042", Manufacturer: "Contoso"}}}
	common := []string{"--json", "--chunk-size", "100", "--concurrency", "2"}

	// The reference: one uninterrupted run.
	ref := startEmu(t, mod)
	if err := ref.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	refFile := writeFleet(t, ref.dir, "CR", n)
	res := runCLI(t, ref.args(append(common, refFile)...)...)
	if res.code != exitRows {
		t.Fatalf("reference run exit %d:\n%s", res.code, res.stderr)
	}
	refDevs, _ := parseJSONL(t, res.stdout)
	want := reportMap(refDevs)
	if len(want) != n {
		t.Fatalf("reference run reported %d rows", len(want))
	}

	e := startEmu(t, mod)
	if err := e.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	file := writeFleet(t, e.dir, "CR", n)
	args := e.args(append(common, file)...)
	killPoints := []struct {
		name  string
		entry string // journal entry type to wait for
		count int    // how many new ones
	}{
		{"intent announced", `"t":"intent"`, 1},
		{"chunks posted", `"t":"posted"`, 6},
		{"results final", `"t":"final"`, 300},
		{"clean-up under way", `"t":"deleted"`, 200},
		{"more clean-up", `"t":"deleted"`, 700},
	}
	for _, kp := range killPoints {
		killed := runAndKill(t, args, e.journal, kp.entry, kp.count)
		t.Logf("killed at %q: %v", kp.name, killed)
	}
	res = runChild(t, args)
	if res.code != exitRows {
		t.Fatalf("final run exit %d:\n%s", res.code, res.stderr)
	}
	devs, _ := parseJSONL(t, res.stdout)
	got := reportMap(devs)
	if len(got) != n || len(devs) != n {
		t.Fatalf("final run reported %d rows (%d lines), want %d", len(got), len(devs), n)
	}
	var diffs []string
	for k, w := range want {
		if got[k] != w {
			diffs = append(diffs, fmt.Sprintf("%s: %s, uninterrupted %s", k, got[k], w))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%d rows differ from the uninterrupted run, e.g. %v", len(diffs), diffs[:min(5, len(diffs))])
	}
	for s, c := range effectivePosts(e.srv.Requests()) {
		if c > 1 {
			t.Errorf("%s posted %d times", s, c)
		}
	}
	if left := len(e.srv.Imported()); left != 0 {
		t.Errorf("%d import records left", left)
	}
	if got := len(e.srv.Registered()); got != n-2 {
		t.Errorf("%d devices registered, want %d", got, n-2)
	}
	// Compacted to its tenant line: nothing open is left.
	if b, err := os.ReadFile(e.journal); err != nil || bytes.Count(bytes.TrimSpace(b), []byte("\n")) != 0 || !bytes.Contains(b, []byte(`"t":"tenant"`)) {
		t.Errorf("journal not compacted to its tenant line after the last run: %q, %v", b, err)
	}
}

func reportMap(devs []jsonLine) map[string]string {
	m := map[string]string{}
	for _, d := range devs {
		m[fmt.Sprintf("%s:%d", d.Serial, d.Line)] = fmt.Sprintf("%s/%d", d.Result, d.ErrorCode)
	}
	return m
}

func childCmd(args []string) *exec.Cmd {
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "APIMPORT_TEST_ARGS="+string(a))
	return cmd
}

func runChild(t *testing.T, args []string) result {
	t.Helper()
	cmd := childCmd(args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// runAndKill starts the program and SIGKILLs it once the journal holds count more
// entries of the given type than at the start. It reports whether it had to kill.
func runAndKill(t *testing.T, args []string, journal, entry string, count int) bool {
	t.Helper()
	base := countEntries(journal, entry)
	cmd := childCmd(args)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case <-done:
			return false // finished before the kill point
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("run did not reach %d %s entries:\n%s", count, entry, errb.String())
		case <-time.After(2 * time.Millisecond):
		}
		if countEntries(journal, entry)-base >= count {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return true
		}
	}
}

func countEntries(path, entry string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(entry))
}

// TestImportInterrupted sends SIGINT in the middle of an import: the run stops
// submitting, lists the records left for the next run, exits 130; the next run finishes
// without posting any serial twice.
func TestImportInterrupted(t *testing.T) {
	e := startEmu(t, func(cfg *emulator.Config) { cfg.ProcessingDelay = emulator.Duration(2 * time.Second) })
	file := writeFleet(t, e.dir, "INT", 300)
	report := filepath.Join(e.dir, "report.csv")
	args := e.args("--chunk-size", "20", "--concurrency", "1", "--json", "--report", report, file)
	cmd := childCmd(args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for countEntries(e.journal, `"t":"posted"`) < 3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no chunk posted:\n%s", errb.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitInterrupted || !strings.Contains(errb.String(), "left for the next run") {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	if posted := countEntries(e.journal, `"t":"posted"`); posted >= 15 {
		t.Errorf("kept submitting after SIGINT: %d chunks posted", posted)
	}
	checkInterruptedOutput(t, out.String(), errb.String(), report, 300)
	// A dry run now shows the submitted devices as pending, as this tool's own.
	plan := runCLI(t, e.args("--dry-run", "--json", file)...)
	devs, _ := parseJSONL(t, plan.stdout)
	pending := 0
	for _, d := range devs {
		if d.Result == "pending" {
			pending++
			if d.Hint != "" {
				t.Errorf("own pending import shown as foreign: %+v", d)
			}
		}
	}
	if pending == 0 {
		t.Errorf("dry run after the interruption shows nothing pending:\n%s", plan.stdout)
	}
	res := runChild(t, args)
	if res.code != exitOK {
		t.Fatalf("second run exit %d:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "resuming") {
		t.Errorf("second run did not resume from the journal:\n%s", res.stderr)
	}
	for s, c := range effectivePosts(e.srv.Requests()) {
		if c > 1 {
			t.Errorf("%s posted %d times", s, c)
		}
	}
	if got := len(e.srv.Registered()); got != 300 {
		t.Errorf("%d registered", got)
	}
}

// checkInterruptedOutput checks the output of an interrupted --json --report run: every
// input row has exactly one device line and one report row, the rows without a final
// state are interrupted with the resume hint, their import ids are among the records
// listed as left for the next run, and the summary counts match the lines.
func checkInterruptedOutput(t *testing.T, stdout, stderr, report string, rows int) {
	t.Helper()
	devs, _ := parseJSONL(t, stdout)
	if len(devs) != rows {
		t.Errorf("%d device lines for %d rows", len(devs), rows)
	}
	counts := map[string]int{}
	seen := map[int]bool{}
	for _, d := range devs {
		if seen[d.Line] {
			t.Errorf("line %d reported twice", d.Line)
		}
		seen[d.Line] = true
		counts[d.Result]++
		if d.Result != "interrupted" {
			continue
		}
		if !strings.Contains(d.Hint, "resumes from the journal") {
			t.Errorf("interrupted row without the resume hint: %+v", d)
		}
		if d.ImportID != "" && !strings.Contains(stderr, "apimport:   "+d.ImportID+"\n") {
			t.Errorf("%s: import id %s not listed as left for the next run", d.Serial, d.ImportID)
		}
	}
	if counts["interrupted"] == 0 {
		t.Errorf("no interrupted row: %v", counts)
	}
	var sum struct {
		Results map[string]int `json:"results"`
	}
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, `"message_type":"summary"`) {
			if err := json.Unmarshal([]byte(l), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !maps.Equal(sum.Results, counts) {
		t.Errorf("summary results %v, device lines %v", sum.Results, counts)
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatalf("no report after the interruption: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	inCSV := map[string]int{}
	for _, r := range recs[1:] {
		inCSV[r[3]]++
	}
	if len(recs) != rows+1 || !maps.Equal(inCSV, counts) {
		t.Errorf("report has %d rows %v, want %d rows %v", len(recs)-1, inCSV, rows, counts)
	}
}
