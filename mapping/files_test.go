package mapping

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeFile writes a CSV into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const header = "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag\r\n"

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	m1, m2, m3 := machine("CZC1000001", 1), machine("CZC1000002", 2), machine("CZC1000003", 3)
	a := writeFile(t, dir, "a.csv", header+
		"CZC1000001,,"+b64(m1)+",Sales\r\n"+
		"CZC1000002,,"+b64(m2)+",Sales\r\n"+
		"CZC1000009,,,Sales\r\n")
	list := writeFile(t, dir, "list.csv", `"displayName","serialNumber","manufacturer","model","groupTag","Id"`+"\r\n"+
		`"PC1","CZC1000001","Contoso","Book","","0f0e"`+"\r\n")
	b := writeFile(t, dir, "b.csv", header+
		"CZC1000003,,"+b64(m3)+",Lab\r\n"+
		",,"+b64(recaptured(m1))+",Lab\r\n")
	missing := filepath.Join(dir, "missing.csv")

	for _, workers := range []int{0, 1, 3} {
		rep, err := CheckFiles(context.Background(), []string{a, list, b, missing}, Options{}, workers)
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			file   string
			line   int
			status Status
		}
		wants := []want{{a, 2, StatusValid}, {a, 3, StatusValid}, {a, 4, StatusInvalid}, {b, 2, StatusValid}, {b, 3, StatusDuplicate}}
		if len(rep.Results) != len(wants) {
			t.Fatalf("workers %d: %d results, want %d", workers, len(rep.Results), len(wants))
		}
		for i, w := range wants {
			r := rep.Results[i]
			if r.File != w.file || r.Line != w.line || r.Status != w.status {
				t.Errorf("workers %d row %d: %s:%d %s, want %s:%d %s", workers, i, r.File, r.Line, r.Status, w.file, w.line, w.status)
			}
		}
		if got := rep.Results[4].DuplicateOf; got != a+":2" {
			t.Errorf("duplicate of %q", got)
		}
		wantSum := Summary{Files: 4, Rows: 5, Valid: 3, Invalid: 1, Duplicates: 1, Devices: 3}
		if rep.Summary != wantSum {
			t.Errorf("summary %+v, want %+v", rep.Summary, wantSum)
		}
		if len(rep.FileErrors) != 2 || rep.FileErrors[0].File != list || rep.FileErrors[1].File != missing {
			t.Fatalf("file errors: %v", rep.FileErrors)
		}
		for _, fe := range rep.FileErrors {
			if fe.Code == "" || fe.Message == "" {
				t.Errorf("file error without code or message: %+v", fe)
			}
		}
		if _, ok := rep.Formats[a]; !ok {
			t.Errorf("no format for %s: %v", a, rep.Formats)
		}
	}
}

func TestCheckFilesBadOption(t *testing.T) {
	_, err := CheckFiles(context.Background(), nil, Options{AssignedUser: "not a upn"}, 0)
	var oe *OptionError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want *OptionError", err)
	}
}

func TestCheckFilesCancelled(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString(header)
	m := machine("CZC1000001", 1)
	for range 500 {
		sb.WriteString("CZC1000001,," + b64(m) + ",\r\n")
	}
	p := writeFile(t, dir, "a.csv", sb.String())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := CheckFiles(ctx, []string{p, p}, Options{}, 2)
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("got %v, %v; want nil, context.Canceled", rep, err)
	}
}

// TestRealSamples runs the public real-world exports. Four hash files are valid. The two
// with an empty serial column are QEMU VMs whose hash serial is "SMBIOS_STRING_INDEX_0"
// (no SMBIOS serial string): a placeholder, so they are missing_serial + placeholder_serial
// rather than filled from the hash (filled, they would be two machines on one serial).
// The device-list export is a file error.
func TestRealSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "samples-public")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("samples missing: %v", err)
		}
		t.Skipf("samples missing: %v", err)
	}
	hashFiles, _ := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	list := filepath.Join(dir, "ennnbeee-autopilotgrouptagger-ff11568-AutopilotDevices.csv")
	if len(hashFiles) != 6 {
		t.Fatalf("%d hash files, want 6", len(hashFiles))
	}
	emptySerial := map[string]bool{
		"pmedley26-powershell-a5f2af5-AutopilotHWID.csv": true,
		"pmedley26-powershell-8ec586a-AutopilotHWID.csv": true,
	}
	rep, err := CheckFiles(context.Background(), append(hashFiles, list), Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FileErrors) != 1 || rep.FileErrors[0].File != list {
		t.Fatalf("file errors %v, want only the device-list export", rep.FileErrors)
	}
	if want := (Summary{Files: 7, Rows: 6, Valid: 4, Invalid: 2, Devices: 4}); rep.Summary != want {
		t.Errorf("summary %+v, want %+v", rep.Summary, want)
	}
	for _, r := range rep.Results {
		name := filepath.Base(r.File)
		if r.Manufacturer == "" || r.Model == "" {
			t.Errorf("%s: manufacturer %q model %q", name, r.Manufacturer, r.Model)
		}
		if emptySerial[name] {
			if r.Status != StatusInvalid || !slices.Equal(r.Codes, []string{CodeMissingSerial, CodePlaceholderSerial}) {
				t.Errorf("%s: %s %v, want invalid [missing_serial placeholder_serial]", name, r.Status, r.Codes)
			}
			continue
		}
		if r.Status != StatusValid || r.Serial == "" || len(r.Findings) != 0 || r.Device == nil || len(r.Device.Fingerprint) != 12 {
			t.Errorf("%s: %s serial %q findings %+v", name, r.Status, r.Serial, r.Findings)
		}
	}
}

// TestRealSamplesOneByOne checks each hash file alone, as a user would after a single
// capture: the four with a serial are valid without findings.
func TestRealSamplesOneByOne(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "samples-public")
	hashFiles, _ := filepath.Glob(filepath.Join(dir, "*HWID*.csv"))
	if len(hashFiles) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("samples missing")
		}
		t.Skip("samples missing")
	}
	for _, f := range hashFiles {
		rep, err := CheckFiles(context.Background(), []string{f}, Options{KeepHardware: true}, 1)
		if err != nil || len(rep.FileErrors) != 0 || len(rep.Results) != 1 {
			t.Fatalf("%s: %v %v %d results", f, err, rep.FileErrors, len(rep.Results))
		}
		r := rep.Results[0]
		if r.Status == StatusValid && (len(r.Device.Hardware) != 3000 || len(r.Device.HashBase64()) != 4000) {
			t.Errorf("%s: kept %d bytes, %d base64 chars", filepath.Base(f), len(r.Device.Hardware), len(r.Device.HashBase64()))
		}
	}
}

// TestCheckFilesCancelMidway cancels while the pipeline runs: CheckFiles must return
// (finished, or context.Canceled) without hanging or leaking a half-built report.
func TestCheckFilesCancelMidway(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString(header)
	for i := range 3000 {
		m := machine("CZC"+strconv.Itoa(2000000+i), i)
		sb.WriteString(m.Serial + ",," + b64(m) + ",\r\n")
	}
	p := writeFile(t, dir, "a.csv", sb.String())
	for _, delay := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(delay, cancel)
		rep, err := CheckFiles(ctx, []string{p, p, p}, Options{}, 2)
		switch {
		case err == nil:
			if rep.Summary.Rows != 9000 {
				t.Errorf("delay %v: finished with %d rows", delay, rep.Summary.Rows)
			}
		case errors.Is(err, context.Canceled):
			if rep != nil {
				t.Errorf("delay %v: report returned with the error", delay)
			}
		default:
			t.Errorf("delay %v: %v", delay, err)
		}
		cancel()
	}
}

func TestCheckFilesStdin(t *testing.T) {
	m := machine("CZC1000001", 1)
	p := writeFile(t, t.TempDir(), "in.csv", header+"CZC1000001,,"+b64(m)+",Sales\r\n")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	rep, err := CheckFiles(context.Background(), []string{"-"}, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].File != "-" || rep.Results[0].Status != StatusValid {
		t.Fatalf("results %+v, file errors %v", rep.Results, rep.FileErrors)
	}
}

func TestCheckFilesOptionsStdin(t *testing.T) {
	m := machine("CZC1000002", 2)
	in := strings.NewReader(header + "CZC1000002,," + b64(m) + ",Sales\r\n")
	rep, err := CheckFiles(context.Background(), []string{"-"}, Options{Stdin: in}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].File != "-" || rep.Results[0].Serial != "CZC1000002" || rep.Results[0].Status != StatusValid {
		t.Fatalf("results %+v, file errors %v", rep.Results, rep.FileErrors)
	}
	if in.Len() != 0 {
		t.Errorf("%d bytes of Options.Stdin left unread", in.Len())
	}
}
