package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apimport/apimport/graph/emulator"
)

// authArgs are the connection flags for the emulator without a command.
func (e *emuEnv) authArgs(extra ...string) []string {
	a := []string{"--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL,
		"--ca-file", e.srv.CAFile}
	return append(a, extra...)
}

func TestDevicesCSVRoundTripThroughUpdate(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{Registered: []emulator.Device{
		{SerialNumber: "RT-0001", Manufacturer: "Contoso", GroupTag: "Old"},
		{SerialNumber: "RT-0002", Manufacturer: "Contoso", GroupTag: "Old"},
		{SerialNumber: "RT-0003", Manufacturer: "Contoso", GroupTag: "Keep"},
	}}); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(e.dir, "devices.csv")
	res := runCLI(t, append([]string{"devices"}, e.authArgs("--csv", csvPath)...)...)
	if res.code != exitOK || !strings.Contains(res.stdout, "3 devices") {
		t.Fatalf("devices exit %d:\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "Serial Number" {
		t.Fatalf("devices CSV %v: %q", err, b)
	}
	// Edit two tags in the "spreadsheet".
	for _, r := range recs[1:] {
		switch r[0] {
		case "RT-0001":
			r[3] = "Sales"
		case "RT-0002":
			r[3] = "Kiosk"
		}
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	_ = w.WriteAll(recs)
	if err := os.WriteFile(csvPath, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Requests())
	dry := runCLI(t, append([]string{"update"}, e.authArgs("--journal", e.journal, "--dry-run", "--json", csvPath)...)...)
	if dry.code != exitOK {
		t.Fatalf("update --dry-run exit %d:\n%s", dry.code, dry.stderr)
	}
	devs, _ := parseJSONL(t, dry.stdout)
	got := map[string]string{}
	for _, d := range devs {
		got[d.Serial] = d.Result
	}
	if got["RT-0001"] != "update" || got["RT-0002"] != "update" || got["RT-0003"] != "unchanged" || len(got) != 3 {
		t.Errorf("dry run planned %v", got)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Method != "GET" && !strings.Contains(r.Path, "token") {
			t.Errorf("the dry run sent %s %s", r.Method, r.Path)
		}
	}
	upd := runCLI(t, append([]string{"update"}, e.authArgs("--journal", e.journal, "--json", csvPath)...)...)
	if upd.code != exitOK {
		t.Fatalf("update exit %d:\n%s", upd.code, upd.stderr)
	}
	tags := map[string]string{}
	for _, d := range e.srv.Registered() {
		tags[d.SerialNumber] = d.GroupTag
	}
	if tags["RT-0001"] != "Sales" || tags["RT-0002"] != "Kiosk" || tags["RT-0003"] != "Keep" {
		t.Errorf("tags after update: %v", tags)
	}
	list := runCLI(t, append([]string{"devices"}, e.authArgs("--group-tag", "Sales", "--json")...)...)
	if list.code != exitOK || !strings.Contains(list.stdout, `"serial":"RT-0001"`) || strings.Contains(list.stdout, `"serial":"RT-0002"`) {
		t.Errorf("devices --group-tag Sales:\n%s\n%s", list.stdout, list.stderr)
	}
}

func TestRemoveNeedsYesOffATerminal(t *testing.T) {
	e := startEmu(t, nil)
	res := runCLI(t, append([]string{"remove"}, e.authArgs("--serial", "X-1")...)...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "--yes") {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent before the refusal", n)
	}
}
