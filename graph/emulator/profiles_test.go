package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

const profilesPath = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles"

func TestDefaultProfileAndOrganization(t *testing.T) {
	srv := startEmu(t, nil)
	res, b := raw(t, srv, "GET", profilesPath, nil, false)
	if res.StatusCode != 200 {
		t.Fatalf("list: %d %s", res.StatusCode, b)
	}
	var list struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Value) != 1 {
		t.Fatalf("list %s: %v", b, err)
	}
	p := list.Value[0]
	if p["displayName"] != emulator.DefaultProfileName || p["@odata.type"] != "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile" {
		t.Errorf("profile %v", p)
	}
	// beta serves both the new and the deprecated names
	newO, _ := p["outOfBoxExperienceSetting"].(map[string]any)
	oldO, _ := p["outOfBoxExperienceSettings"].(map[string]any)
	if newO["userType"] != "standard" || newO["eulaHidden"] != true || oldO["hideEULA"] != true || p["locale"] != "os-default" || p["language"] != "os-default" {
		t.Errorf("OOBE settings %v / %v, locale %v language %v", newO, oldO, p["locale"], p["language"])
	}
	id := p["id"].(string)
	res, b = raw(t, srv, "GET", profilesPath+"/"+id+"/assignments", nil, false)
	if res.StatusCode != 200 || !strings.Contains(string(b), `"#microsoft.graph.allDevicesAssignmentTarget"`) {
		t.Errorf("assignments: %d %s", res.StatusCode, b)
	}
	if res, b := raw(t, srv, "GET", profilesPath+"/00000000-0000-4000-8000-000000000000", nil, false); res.StatusCode != 404 {
		t.Errorf("unknown profile: %d %s", res.StatusCode, b)
	}
	// the collection exists only in beta (lifecycle-api.md §1.1)
	if res, b := raw(t, srv, "GET", "/v1.0/deviceManagement/windowsAutopilotDeploymentProfiles", nil, false); res.StatusCode != 400 || !strings.Contains(string(b), "Resource not found for the segment") {
		t.Errorf("v1.0 profiles: %d %s", res.StatusCode, b)
	}
	if res, _ := raw(t, srv, "POST", profilesPath, map[string]any{"displayName": "x"}, false); res.StatusCode != 405 {
		t.Errorf("create profile: %d (writes are not emulated)", res.StatusCode)
	}

	// /organization: the tenant id and its verified domains
	tok := srv.IssueToken([]string{emulator.RoleOrganizationRead}, time.Hour)
	res, b = rawTok(t, srv, tok, "GET", "/v1.0/organization", nil, false)
	var org struct {
		Value []struct {
			ID              string `json:"id"`
			VerifiedDomains []struct {
				Name      string `json:"name"`
				IsDefault bool   `json:"isDefault"`
				IsInitial bool   `json:"isInitial"`
			} `json:"verifiedDomains"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &org); err != nil || res.StatusCode != 200 || len(org.Value) != 1 || org.Value[0].ID != srv.TenantID ||
		len(org.Value[0].VerifiedDomains) != 1 || !org.Value[0].VerifiedDomains[0].IsDefault {
		t.Fatalf("organization: %d %s %v", res.StatusCode, b, err)
	}
	// without an organization permission: the directory's 403; a profile read needs the Intune role
	tok = srv.IssueToken([]string{emulator.RoleRead}, time.Hour)
	if res, b := rawTok(t, srv, tok, "GET", "/v1.0/organization", nil, false); res.StatusCode != 403 || !strings.Contains(string(b), "Authorization_RequestDenied") {
		t.Errorf("organization with RoleRead only: %d %s", res.StatusCode, b)
	}
	if res, b := rawTok(t, srv, tok, "GET", profilesPath, nil, false); res.StatusCode != 200 {
		t.Errorf("profiles with RoleRead: %d %s", res.StatusCode, b)
	}
	tok = srv.IssueToken([]string{emulator.RoleOrganizationRead}, time.Hour)
	if res, _ := rawTok(t, srv, tok, "GET", profilesPath, nil, false); res.StatusCode != 403 {
		t.Errorf("profiles with Organization.Read.All only: %d", res.StatusCode)
	}
}

type betaDevice struct {
	ID                                string          `json:"id"`
	SerialNumber                      string          `json:"serialNumber"`
	DeploymentProfileAssignmentStatus *string         `json:"deploymentProfileAssignmentStatus"`
	DeploymentProfileAssignedDateTime string          `json:"deploymentProfileAssignedDateTime"`
	DeploymentProfile                 json.RawMessage `json:"deploymentProfile"`
	IntendedDeploymentProfile         json.RawMessage `json:"intendedDeploymentProfile"`
}

func getDevice(t *testing.T, srv *emulator.Server, version, id, query string) betaDevice {
	t.Helper()
	res, b := raw(t, srv, "GET", "/"+version+"/deviceManagement/windowsAutopilotDeviceIdentities/"+id+query, nil, false)
	if res.StatusCode != 200 {
		t.Fatalf("get device: %d %s", res.StatusCode, b)
	}
	var d betaDevice
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func profileName(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var p struct {
		DisplayName string `json:"displayName"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p.DisplayName
}

func TestProfileAssignmentTimeline(t *testing.T) {
	t0 := time.Now().Add(time.Minute) // registered after the emulator's start
	srv := startEmu(t, func(c *emulator.Config) {
		c.ProfileDelay = emulator.Duration(10 * time.Minute)
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "d1", SerialNumber: "SN1", RegisteredAt: t0}}}
	})
	steps := []struct {
		at       time.Duration
		status   string
		assigned string // deploymentProfileAssignedDateTime
		expanded string // $expand=deploymentProfile
	}{
		{time.Minute, "notAssigned", "0001-01-01T00:00:00Z", ""},
		{6 * time.Minute, "pending", "0001-01-01T00:00:00Z", ""},
		{11 * time.Minute, "assignedUnkownSyncState", t0.Add(10 * time.Minute).UTC().Format("2006-01-02T15:04:05Z"), emulator.DefaultProfileName},
	}
	for _, st := range steps {
		srv.SetClock(func() time.Time { return t0.Add(st.at) })
		d := getDevice(t, srv, "beta", "d1", "?$expand=deploymentProfile,intendedDeploymentProfile")
		if d.DeploymentProfileAssignmentStatus == nil || *d.DeploymentProfileAssignmentStatus != st.status || d.DeploymentProfileAssignedDateTime != st.assigned {
			t.Errorf("at +%s: status %v assigned %q; want %s %s", st.at, d.DeploymentProfileAssignmentStatus, d.DeploymentProfileAssignedDateTime, st.status, st.assigned)
		}
		if got := profileName(t, d.DeploymentProfile); got != st.expanded {
			t.Errorf("at +%s: deploymentProfile %q, want %q", st.at, got, st.expanded)
		}
		if st.expanded == "" && string(d.DeploymentProfile) != "null" {
			t.Errorf("at +%s: an expanded navigation without a profile must be null, got %s", st.at, d.DeploymentProfile)
		}
		if got := profileName(t, d.IntendedDeploymentProfile); got != emulator.DefaultProfileName {
			t.Errorf("at +%s: intendedDeploymentProfile %q", st.at, got)
		}
		// the list agrees
		res, b := raw(t, srv, "GET", "/beta/deviceManagement/windowsAutopilotDeviceIdentities?$expand=deploymentProfile", nil, false)
		if res.StatusCode != 200 || !strings.Contains(string(b), `"deploymentProfileAssignmentStatus":"`+st.status+`"`) {
			t.Errorf("at +%s: list %d %s", st.at, res.StatusCode, b)
		}
	}
	// v1.0 has neither the fields nor the navigation (lifecycle-api.md §2.1–2.2)
	d := getDevice(t, srv, "v1.0", "d1", "")
	if d.DeploymentProfileAssignmentStatus != nil {
		t.Errorf("v1.0 device has deploymentProfileAssignmentStatus")
	}
	res, b := raw(t, srv, "GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/d1?$expand=deploymentProfile", nil, false)
	if res.StatusCode != 400 || !strings.Contains(string(b), "Could not find a property named 'deploymentProfile'") {
		t.Errorf("v1.0 $expand: %d %s", res.StatusCode, b)
	}
	if status, name, ok := srv.ProfileStatus("d1"); !ok || status != "assignedUnkownSyncState" || name != emulator.DefaultProfileName {
		t.Errorf("ProfileStatus = %q %q %v", status, name, ok)
	}
}

func TestProfileTargeting(t *testing.T) {
	start := time.Now()
	srv := startEmu(t, func(c *emulator.Config) {
		c.ProfileDelay = emulator.Duration(time.Second)
		c.DeploymentProfiles = []emulator.ProfileConfig{
			{DisplayName: "Sales", Created: start.Add(-2 * time.Hour), Assignments: []emulator.AssignmentConfig{{Target: "group", GroupTag: "SALES"}}},
			{DisplayName: "Everyone", Created: start.Add(-time.Hour), Kind: "hybrid",
				Assignments: []emulator.AssignmentConfig{{Target: "allDevices"}, {Target: "exclusionGroup", GroupTag: "KIOSK"}}},
			{DisplayName: "Nobody", Created: start.Add(-3 * time.Hour)},
		}
		c.Seed = &emulator.State{Registered: []emulator.Device{
			{ID: "sales", SerialNumber: "S1", GroupTag: "sales"},
			{ID: "plain", SerialNumber: "S2"},
			{ID: "kiosk", SerialNumber: "S3", GroupTag: "KIOSK"},
		}}
	})
	srv.SetClock(func() time.Time { return start.Add(time.Hour) })
	for id, want := range map[string]string{"sales": "Sales", "plain": "Everyone", "kiosk": ""} {
		status, name, _ := srv.ProfileStatus(id)
		if name != want || (want == "") != (status == "notAssigned") {
			t.Errorf("%s: %s %q, want profile %q", id, status, name, want)
		}
	}
}

func TestNoProfilesMeansNotAssigned(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.DeploymentProfiles = []emulator.ProfileConfig{}
		c.ProfileDelay = emulator.Duration(time.Millisecond)
	})
	hash := base64.StdEncoding.EncodeToString(hwhash.Device{Serial: "NP1", Manufacturer: "HP", Model: "M"}.Encode())
	res, b := raw(t, srv, "POST", "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/import",
		map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{map[string]any{"serialNumber": "NP1", "hardwareIdentifier": hash}}}, false)
	if res.StatusCode != 200 {
		t.Fatalf("import: %d %s", res.StatusCode, b)
	}
	srv.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	regs := srv.Registered()
	if len(regs) != 1 || regs[0].RegisteredAt.IsZero() {
		t.Fatalf("registered %+v", regs)
	}
	if status, name, _ := srv.ProfileStatus(regs[0].ID); status != "notAssigned" || name != "" {
		t.Errorf("status %s %q", status, name)
	}
	res, b = raw(t, srv, "GET", profilesPath, nil, false)
	if res.StatusCode != 200 || !strings.Contains(string(b), `"value":[]`) {
		t.Errorf("list: %d %s", res.StatusCode, b)
	}
}

func TestImportedDeviceGetsTheProfileAfterTheDelay(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) { c.ProfileDelay = emulator.Duration(time.Hour) })
	hash := base64.StdEncoding.EncodeToString(hwhash.Device{Serial: "IMP1", Manufacturer: "HP", Model: "M"}.Encode())
	raw(t, srv, "POST", "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/import",
		map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{map[string]any{"serialNumber": "IMP1", "hardwareIdentifier": hash}}}, false)
	now := time.Now()
	srv.SetClock(func() time.Time { return now.Add(time.Minute) })
	regs := srv.Registered()
	if len(regs) != 1 {
		t.Fatalf("registered %+v", regs)
	}
	for _, st := range []struct {
		at   time.Duration
		want string
	}{{time.Minute, "notAssigned"}, {45 * time.Minute, "pending"}, {61 * time.Minute, "assignedUnkownSyncState"}} {
		srv.SetClock(func() time.Time { return regs[0].RegisteredAt.Add(st.at) })
		if status, _, _ := srv.ProfileStatus(regs[0].ID); status != st.want {
			t.Errorf("+%s: %s, want %s", st.at, status, st.want)
		}
	}
}

func TestProfilePropertyNamesAndPaging(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.PageSize = 2
		c.DeploymentProfiles = []emulator.ProfileConfig{
			{DisplayName: "old", PropertyNames: "old", KeyboardSelectionPageSkipped: true},
			{DisplayName: "new", PropertyNames: "new", EscapeLinkHidden: true},
			{DisplayName: "p3"}, {DisplayName: "p4"}, {DisplayName: "p5"},
		}
	})
	var names []string
	next := srv.GraphURL + profilesPath
	var byName = map[string]map[string]any{}
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		res, b := raw(t, srv, "GET", strings.TrimPrefix(next, srv.GraphURL), nil, false)
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &page) != nil || len(page.Value) > 2 {
			t.Fatalf("page: %d %s", res.StatusCode, b)
		}
		for _, p := range page.Value {
			names = append(names, p["displayName"].(string))
			byName[p["displayName"].(string)] = p
		}
		next = page.NextLink
	}
	if strings.Join(names, ",") != "old,new,p3,p4,p5" {
		t.Errorf("names %v", names)
	}
	if _, ok := byName["old"]["outOfBoxExperienceSetting"]; ok {
		t.Error(`property_names "old" serves outOfBoxExperienceSetting`)
	}
	if o := byName["old"]["outOfBoxExperienceSettings"].(map[string]any); o["skipKeyboardSelectionPage"] != true {
		t.Errorf("old names %v", o)
	}
	if byName["new"]["outOfBoxExperienceSettings"] != nil || byName["new"]["language"] != nil {
		t.Errorf(`property_names "new" serves the deprecated names: %v`, byName["new"])
	}
	if o := byName["new"]["outOfBoxExperienceSetting"].(map[string]any); o["escapeLinkHidden"] != true {
		t.Errorf("new names %v", o)
	}
}

func TestProfileConfigErrors(t *testing.T) {
	for name, p := range map[string]emulator.ProfileConfig{
		"no name":        {},
		"bad kind":       {DisplayName: "x", Kind: "selfdeploying"},
		"bad target":     {DisplayName: "x", Assignments: []emulator.AssignmentConfig{{Target: "users"}}},
		"group no id":    {DisplayName: "x", Assignments: []emulator.AssignmentConfig{{Target: "group"}}},
		"property names": {DisplayName: "x", PropertyNames: "neither"},
	} {
		cfg := testConfig()
		cfg.DeploymentProfiles = []emulator.ProfileConfig{p}
		if srv, err := emulator.Start(cfg); err == nil {
			srv.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}
