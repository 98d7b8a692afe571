package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apimport/apimport/graph/emulator"
)

const (
	pjTenant = "1537de22-988c-4e93-b8a5-83890f34a69b"
	pjUD     = "7f9e6025-1e13-45f3-bf82-a3e8c5b59eac"
	pjHybrid = "2a1c7a7e-5b0e-4c55-9a77-4f6f1f3c8d21"
	pjSelf   = "5d0f6b8e-0f7a-4f0e-8f3e-2b8c9d0e1f22"
	pjPre    = "9b3e2c1d-4a5f-4e6d-8c7b-1a2b3c4d5e6f"
	pjOld    = "c0ffee00-1111-4222-8333-444455556666"
)

// profileEmu starts an emulator serving one profile of each kind, and an organization
// whose default domain is not the initial one.
func profileEmu(t *testing.T, mod func(*emulator.Config)) *emuEnv {
	t.Helper()
	return startEmu(t, func(c *emulator.Config) {
		c.TenantID = pjTenant
		c.Organization = &emulator.OrganizationConfig{DisplayName: "Contoso", VerifiedDomains: []emulator.VerifiedDomainConfig{
			{Name: "contoso.onmicrosoft.com", IsInitial: true},
			{Name: "contoso.com", IsDefault: true},
		}}
		c.DeploymentProfiles = []emulator.ProfileConfig{
			{ID: pjUD, DisplayName: "Contoso UD", Kind: "entra", DeviceNameTemplate: "CON-%SERIAL%", Locale: "en-US",
				UserType: "standard", PrivacySettingsHidden: true, EULAHidden: true, KeyboardSelectionPageSkipped: true, EscapeLinkHidden: true,
				Assignments: []emulator.AssignmentConfig{{Target: "allDevices"}}},
			{ID: pjHybrid, DisplayName: "Contoso Hybrid", Kind: "hybrid", UserType: "administrator", EULAHidden: true,
				HybridSkipConnectivityCheck: true, Assignments: []emulator.AssignmentConfig{{Target: "group", GroupID: "11111111-2222-4333-8444-555555555555"}}},
			{ID: pjSelf, DisplayName: "Kiosk", DeviceUsageType: "shared", DeviceNameTemplate: "KIOSK-%RAND:4%"},
			{ID: pjPre, DisplayName: "Pre-provisioned", PreprovisioningAllowed: true, EscapeLinkHidden: true},
			{ID: pjOld, DisplayName: "Legacy names", PropertyNames: "old", DeviceNameTemplate: "CON-%SERIAL%", Locale: "en-US",
				UserType: "standard", PrivacySettingsHidden: true, EULAHidden: true, KeyboardSelectionPageSkipped: true, EscapeLinkHidden: true},
		}
		if mod != nil {
			mod(c)
		}
	})
}

func (e *emuEnv) profileArgs(extra ...string) []string {
	a := []string{"profile-json", "--auth", "client-secret", "--tenant-id", e.srv.TenantID, "--client-id", e.srv.ClientID,
		"--client-secret-file", e.secret, "--authority-url", e.srv.AuthorityURL, "--graph-url", e.srv.GraphURL, "--ca-file", e.srv.CAFile}
	return append(a, extra...)
}

// checkConfigFile asserts the properties every written file must have: ASCII, no BOM,
// it parses, every key has the converter's type, the nested JSON decodes and agrees.
func checkConfigFile(t *testing.T, b []byte) map[string]any {
	t.Helper()
	for _, bom := range [][]byte{{0xEF, 0xBB, 0xBF}, {0xFF, 0xFE}, {0xFE, 0xFF}} {
		if bytes.HasPrefix(b, bom) {
			t.Fatalf("byte order mark % x", bom)
		}
	}
	for i, c := range b {
		if c == 0 || c >= 0x80 {
			t.Fatalf("byte %d = %#x is not ASCII", i, c)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, b)
	}
	numbers := []string{"Version", "CloudAssignedDomainJoinMethod", "CloudAssignedOobeConfig", "CloudAssignedForcedEnrollment",
		"CloudAssignedAutopilotUpdateDisabled", "CloudAssignedAutopilotUpdateTimeout"}
	strs := []string{"Comment_File", "ZtdCorrelationId", "CloudAssignedTenantId", "CloudAssignedTenantDomain", "CloudAssignedAadServerData"}
	for _, k := range numbers {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, m[k])
		}
	}
	for _, k := range strs {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%s = %#v, want a string", k, m[k])
		}
	}
	for _, k := range []string{"CloudAssignedDeviceName", "CloudAssignedLanguage"} {
		if v, ok := m[k]; ok {
			if _, ok := v.(string); !ok {
				t.Errorf("%s = %#v, want a string", k, v)
			}
		}
	}
	if v, ok := m["HybridJoinSkipDCConnectivityCheck"]; ok && v != 1.0 {
		t.Errorf("HybridJoinSkipDCConnectivityCheck = %v", v)
	}
	var inner struct {
		ZeroTouchConfig *struct {
			CloudAssignedTenantDomain *string
			CloudAssignedTenantUpn    *string
			ForcedEnrollment          *float64
		}
	}
	s, _ := m["CloudAssignedAadServerData"].(string)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inner); err != nil || inner.ZeroTouchConfig == nil {
		t.Fatalf("CloudAssignedAadServerData %q: %v", s, err)
	}
	z := inner.ZeroTouchConfig
	if z.CloudAssignedTenantDomain == nil || *z.CloudAssignedTenantDomain != m["CloudAssignedTenantDomain"] ||
		z.CloudAssignedTenantUpn == nil || *z.CloudAssignedTenantUpn != "" ||
		z.ForcedEnrollment == nil || *z.ForcedEnrollment != m["CloudAssignedForcedEnrollment"] {
		t.Errorf("nested ZeroTouchConfig %+v disagrees with %v", z, m)
	}
	return m
}

func TestProfileJSONGoldenPerKind(t *testing.T) {
	e := profileEmu(t, nil)
	tests := []struct {
		name, profile string
		oobe          float64 // CloudAssignedOobeConfig by the converter's rule (lifecycle-api.md §3.2)
		join          float64
	}{
		// 8+256 always; +2 standard; +4 privacy; +16 EULA; +1024 keyboard
		{"user-driven-entra", "Contoso UD", 8 + 256 + 2 + 4 + 16 + 1024, 0},
		{"user-driven-hybrid", pjHybrid, 8 + 256 + 16, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, e.profileArgs("--profile", tt.profile)...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			golden(t, "profile-json-"+tt.name+".json", res.stdout)
			m := checkConfigFile(t, []byte(res.stdout))
			if m["CloudAssignedOobeConfig"] != tt.oobe || m["CloudAssignedDomainJoinMethod"] != tt.join ||
				m["CloudAssignedTenantId"] != pjTenant || m["CloudAssignedTenantDomain"] != "contoso.com" {
				t.Errorf("got %v", m)
			}
			// --json prints the same document
			if j := runCLI(t, e.profileArgs("--profile", tt.profile, "--json")...); j.code != 0 || j.stdout != res.stdout || j.stderr != "" {
				t.Errorf("--json: exit %d, same %v, stderr %q", j.code, j.stdout == res.stdout, j.stderr)
			}
		})
	}
	refused := []struct{ name, profile, want string }{
		{"self-deploying", "Kiosk", "self-deploying"},
		{"pre-provisioning", pjPre, "pre-provisioning"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, e.profileArgs("--profile", tt.profile)...)
			if res.code != exitRows || res.stdout != "" || !strings.Contains(res.stderr, tt.want) || !strings.Contains(res.stderr, "TPM attestation") ||
				!strings.Contains(res.stderr, "apimport: hint:") {
				t.Errorf("exit %d stdout %q stderr %s", res.code, res.stdout, res.stderr)
			}
			golden(t, "profile-json-"+tt.name+".stderr.txt", res.stderr)
		})
	}
}

func TestProfileJSONReadsDeprecatedNames(t *testing.T) {
	e := profileEmu(t, nil)
	newer := runCLI(t, e.profileArgs("--profile", pjUD)...)
	older := runCLI(t, e.profileArgs("--profile", "legacy NAMES")...) // display names match case-insensitively
	if newer.code != 0 || older.code != 0 {
		t.Fatalf("exit %d / %d: %s %s", newer.code, older.code, newer.stderr, older.stderr)
	}
	want := strings.NewReplacer(pjUD, pjOld, "Profile Contoso UD", "Profile Legacy names").Replace(newer.stdout)
	if older.stdout != want {
		t.Errorf("a profile served with only the deprecated names gives\n%s\nwant\n%s", older.stdout, want)
	}
}

func TestProfileJSONOutputDir(t *testing.T) {
	e := profileEmu(t, nil)
	dir := t.TempDir()
	res := runCLI(t, e.profileArgs("--profile", pjUD, "-o", dir, "--domain", "initial")...)
	path := filepath.Join(dir, "AutopilotConfigurationFile.json")
	if res.code != 0 || strings.TrimSpace(res.stdout) != path {
		t.Fatalf("exit %d stdout %q stderr %s", res.code, res.stdout, res.stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := checkConfigFile(t, b)
	if m["CloudAssignedTenantDomain"] != "contoso.onmicrosoft.com" || !bytes.HasSuffix(b, []byte("}\r\n")) {
		t.Errorf("domain %v, end %q", m["CloudAssignedTenantDomain"], b[len(b)-3:])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries", len(entries))
	}
	// --json: one line that names the file
	res = runCLI(t, e.profileArgs("--profile", pjUD, "-o", dir, "--json")...)
	var line jsonProfileFile
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &line) != nil || line.MessageType != "file" || line.Path != path ||
		line.TenantDomain != "contoso.com" || line.ProfileID != pjUD {
		t.Errorf("exit %d stdout %q", res.code, res.stdout)
	}
	// usage errors; those of the flags alone come before any request
	for _, tt := range []struct {
		args    []string
		offline bool
	}{
		{[]string{"--profile", pjUD, "-o", filepath.Join(dir, "missing")}, true},
		{[]string{"--profile", pjUD, "-o", path}, true}, // a file, not a folder
		{[]string{"--list", "--profile", pjUD}, true},
		{[]string{"--list", "-o", dir}, true},
		{[]string{}, true},
		{[]string{"--profile", pjUD, "--dry-run"}, true}, // meaningless here: no such flag
		{[]string{"--profile", pjUD, "--domain", "fabrikam.com"}, false},
		{[]string{"--profile", "No such profile"}, false},
	} {
		before := len(e.srv.Requests())
		res := runCLI(t, e.profileArgs(tt.args...)...)
		if res.code != exitUsage || res.stdout != "" {
			t.Errorf("%v: exit %d stdout %q stderr %s", tt.args, res.code, res.stdout, res.stderr)
		}
		if n := len(e.srv.Requests()) - before; tt.offline && n != 0 {
			t.Errorf("%v: %d requests before the usage error", tt.args, n)
		}
	}
}

func TestProfileJSONAmbiguousName(t *testing.T) {
	e := profileEmu(t, func(c *emulator.Config) {
		c.DeploymentProfiles = append(c.DeploymentProfiles, emulator.ProfileConfig{DisplayName: "Contoso UD", ID: "00000000-0000-4000-8000-000000000001"})
	})
	res := runCLI(t, e.profileArgs("--profile", "Contoso UD")...)
	if res.code != exitUsage || !strings.Contains(res.stderr, pjUD) || !strings.Contains(res.stderr, "00000000-0000-4000-8000-000000000001") {
		t.Errorf("exit %d stderr %s", res.code, res.stderr)
	}
}

func TestProfileJSONList(t *testing.T) {
	e := profileEmu(t, nil)
	res := runCLI(t, e.profileArgs("--list")...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	golden(t, "profile-json-list.txt", res.stdout)
	res = runCLI(t, e.profileArgs("--list", "--json")...)
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got []jsonProfile
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var p jsonProfile
		if err := json.Unmarshal([]byte(l), &p); err != nil || p.MessageType != "profile" {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, p)
	}
	if len(got) != 5 {
		t.Fatalf("%d profiles", len(got))
	}
	byID := map[string]jsonProfile{}
	for _, p := range got {
		byID[p.ID] = p
	}
	if p := byID[pjUD]; !p.Supported || p.Join != "entra-join" || p.OOBEConfig != 1310 || len(p.Assignments) != 1 || p.Assignments[0].Target != "allDevicesAssignmentTarget" {
		t.Errorf("UD %+v", p)
	}
	if p := byID[pjHybrid]; !p.Supported || p.Join != "hybrid-join" || len(p.Assignments) != 1 || p.Assignments[0].GroupID != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("hybrid %+v", p)
	}
	if p := byID[pjSelf]; p.Supported || p.Unsupported != "self_deploying" || p.Mode != "self-deploying" || p.OOBEConfig != 8+256+2+32+64 {
		t.Errorf("self-deploying %+v", p)
	}
	if p := byID[pjPre]; p.Supported || p.Unsupported != "preprovisioning" || !p.PreprovisioningAllowed {
		t.Errorf("pre-provisioning %+v", p)
	}
}

func TestProfileJSONPermissions(t *testing.T) {
	const readOnly, noOrg, noIntune = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002", "aaaaaaaa-0000-4000-8000-000000000003"
	e := profileEmu(t, func(c *emulator.Config) {
		c.Clients = []emulator.ClientConfig{
			{ClientID: readOnly, ClientSecret: "s1", Roles: []string{emulator.RoleRead, emulator.RoleOrganizationRead}},
			{ClientID: noOrg, ClientSecret: "s2", Roles: []string{emulator.RoleRead}},
			{ClientID: noIntune, ClientSecret: "s3", Roles: []string{emulator.RoleOrganizationRead}},
		}
	})
	run := func(client, secret string) result {
		f := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(f, []byte(secret), 0o600)
		args := e.profileArgs("--profile", pjUD)
		for i := range args {
			if args[i] == e.srv.ClientID {
				args[i] = client
			}
			if args[i] == e.secret {
				args[i] = f
			}
		}
		return runCLI(t, args...)
	}
	// least privilege: the read permissions suffice
	if res := run(readOnly, "s1"); res.code != 0 {
		t.Errorf("read-only app: exit %d %s", res.code, res.stderr)
	}
	res := run(noOrg, "s2")
	if res.code != exitAuth || !strings.Contains(res.stderr, "missing Graph permission Organization.Read.All") || strings.Contains(res.stderr, "dry run") {
		t.Errorf("no Organization.Read.All: exit %d %s", res.code, res.stderr)
	}
	res = run(noIntune, "s3")
	if res.code != exitAuth || !strings.Contains(res.stderr, "missing Graph permission DeviceManagementServiceConfig.Read.All") || strings.Contains(res.stderr, "dry run") {
		t.Errorf("no Intune permission: exit %d %s", res.code, res.stderr)
	}
}
