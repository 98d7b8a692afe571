package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestImportWaitProfile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profiles []emulator.ProfileConfig // nil: the default profile for all devices
		code     int
	}{{"assigned", nil, exitOK}, {"no profile targets the devices", []emulator.ProfileConfig{}, exitRows}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEmu(t, func(c *emulator.Config) {
				c.ProfileDelay = emulator.Duration(400 * time.Millisecond)
				c.DeploymentProfiles = tc.profiles
			})
			file := writeFleet(t, e.dir, "WP", 4)
			res := runCLI(t, e.args("--json", "--wait-profile", "3s", file)...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", res.code, tc.code, res.stderr)
			}
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				if m["message_type"] == "device" {
					lines = append(lines, m)
				}
			}
			if len(lines) != 4 {
				t.Fatalf("%d device lines", len(lines))
			}
			for _, m := range lines {
				status, _ := m["profile_status"].(string)
				if tc.code == exitOK && (!strings.HasPrefix(status, "assigned") || m["profile_name"] != "Default profile" || m["result"] != "registered") {
					t.Errorf("%v", m)
				}
				if tc.code == exitRows && (strings.HasPrefix(status, "assigned") || !strings.Contains(fmt.Sprint(m["hint"]), "profile")) {
					t.Errorf("%v", m)
				}
			}
		})
	}
}

func TestRemoveAgainstTheEmulator(t *testing.T) {
	e := startEmu(t, nil)
	if err := e.srv.Seed(emulator.State{Registered: []emulator.Device{
		{SerialNumber: "RM-0001", Manufacturer: "Contoso"}, {SerialNumber: "RM-0002", Manufacturer: "Contoso"},
	}}); err != nil {
		t.Fatal(err)
	}
	e.srv.Enroll("RM-0002")
	registered := func(sn string) bool {
		for _, d := range e.srv.Registered() {
			if d.SerialNumber == sn {
				return true
			}
		}
		return false
	}
	before := len(e.srv.Requests())
	dry := runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--dry-run", "--serial", "RM-0001", "--serial", "RM-0002")...)...)
	if dry.code != exitRows || !strings.Contains(dry.stdout, "remove") || !strings.Contains(dry.stdout, "refused") {
		t.Fatalf("dry run exit %d:\n%s\n%s", dry.code, dry.stdout, dry.stderr)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Method != "GET" && !strings.Contains(r.Path, "token") {
			t.Errorf("the dry run sent %s %s", r.Method, r.Path)
		}
	}
	res := runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--yes", "--serial", "RM-0001", "--serial", "RM-0002")...)...)
	if res.code != exitRows || registered("RM-0001") || !registered("RM-0002") {
		t.Fatalf("remove exit %d (RM-0001 %v, RM-0002 %v):\n%s\n%s", res.code, registered("RM-0001"), registered("RM-0002"), res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "refused") || !strings.Contains(res.stdout, "--delete-managed") {
		t.Errorf("the enrolled device is not explained:\n%s", res.stdout)
	}
	res = runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--yes", "--delete-managed", "--serial", "RM-0002")...)...)
	if res.code != exitOK || registered("RM-0002") || len(e.srv.ManagedDevices()) != 0 {
		t.Fatalf("remove --delete-managed exit %d:\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// Removing again: not registered, nothing to do.
	res = runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--yes", "--serial", "RM-0001")...)...)
	if res.code != exitOK || !strings.Contains(res.stdout, "not_registered") {
		t.Errorf("second remove exit %d:\n%s", res.code, res.stdout)
	}
}

func TestImportAddToGroup(t *testing.T) {
	e := startEmu(t, nil)
	file := writeFleet(t, e.dir, "GRP", 3)
	members := func() int {
		for _, g := range e.srv.Groups() {
			if g.DisplayName == "Autopilot Devices" {
				return len(g.Members)
			}
		}
		t.Fatal("no group 'Autopilot Devices'")
		return 0
	}
	res := runCLI(t, e.args("--json", "--add-to-group", "Autopilot Devices", file)...)
	if res.code != exitOK || strings.Count(res.stdout, `"group":"added"`) != 3 || members() != 3 {
		t.Fatalf("exit %d, %d members:\n%s\n%s", res.code, members(), res.stdout, res.stderr)
	}
	res = runCLI(t, e.args("--json", "--add-to-group", "Autopilot Devices", file)...)
	if res.code != exitOK || strings.Count(res.stdout, `"group":"member"`) != 3 || members() != 3 {
		t.Fatalf("re-run exit %d, %d members:\n%s\n%s", res.code, members(), res.stdout, res.stderr)
	}
	res = runCLI(t, e.args("--add-to-group", "No Such Group", file)...)
	if res.code != exitUsage {
		t.Errorf("unknown group: exit %d\n%s", res.code, res.stderr)
	}
}

func TestRemoveBulk(t *testing.T) {
	for _, offered := range []bool{true, false} {
		e := startEmu(t, func(c *emulator.Config) { c.DeleteDevicesAction = &offered })
		if err := e.srv.Seed(emulator.State{Registered: []emulator.Device{
			{SerialNumber: "BK-0001", Manufacturer: "Contoso"}, {SerialNumber: "BK-0002", Manufacturer: "Contoso"},
		}}); err != nil {
			t.Fatal(err)
		}
		res := runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--yes", "--bulk", "--json", "--serial", "BK-0001", "--serial", "BK-0002")...)...)
		if res.code != exitOK || strings.Count(res.stdout, `"result":"removed"`) != 2 || len(e.srv.Registered()) != 0 {
			t.Fatalf("offered %v: exit %d:\n%s\n%s", offered, res.code, res.stdout, res.stderr)
		}
		bulk := 0
		for _, r := range e.srv.Requests() {
			if strings.HasSuffix(r.Path, "/deleteDevices") {
				bulk++
			}
		}
		if bulk != 1 || !offered != strings.Contains(res.stderr, "one by one") {
			t.Errorf("offered %v: %d deleteDevices requests; stderr:\n%s", offered, bulk, res.stderr)
		}
	}
}

func TestDevicesAndRemoveHTML(t *testing.T) {
	e := startEmu(t, func(c *emulator.Config) { c.DeploymentProfiles = []emulator.ProfileConfig{} })
	if err := e.srv.Seed(emulator.State{Registered: []emulator.Device{
		{SerialNumber: "HT-0001", Manufacturer: "Contoso"}, {SerialNumber: "HT-0002", Manufacturer: "Contoso"},
	}}); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(e.dir, "devices.html")
	if res := runCLI(t, append([]string{"devices"}, e.authArgs("--html", list)...)...); res.code != exitOK {
		t.Fatalf("devices exit %d:\n%s", res.code, res.stderr)
	}
	page, _ := readHTML(t, list)
	if page.Total != 2 || len(page.RowStatus) != 2 || page.Counts["notAssigned"] != 2 {
		t.Errorf("devices page: total %d, rows %v, counts %v", page.Total, page.RowStatus, page.Counts)
	}
	rm := filepath.Join(e.dir, "remove.html")
	res := runCLI(t, append([]string{"remove"}, e.authArgs("--journal", e.journal, "--dry-run", "--json", "--html", rm, "--serial", "HT-0001", "--serial", "NOPE")...)...)
	if res.code != exitOK {
		t.Fatalf("remove --dry-run exit %d:\n%s", res.code, res.stderr)
	}
	page, _ = readHTML(t, rm)
	if page.Counts["remove"] != 1 || page.Counts["not_registered"] != 1 || !strings.Contains(page.Title, "remove --dry-run") {
		t.Errorf("remove page: title %q, counts %v", page.Title, page.Counts)
	}
}
