package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

type listOf[T any] struct {
	Value []T `json:"value"`
}

type entraOut struct {
	ID       string `json:"id"`
	DeviceID string `json:"deviceId"`
	Name     string `json:"displayName"`
}

func getJSON[T any](t *testing.T, srv *emulator.Server, path string, want int) T {
	t.Helper()
	res, b := rawd(t, srv, http.MethodGet, path, nil, false)
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, res.StatusCode, want, b)
	}
	var v T
	if want < 300 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return v
}

func filterQ(expr string) string { return "?$filter=" + url.QueryEscape(expr) }

// TestRegistrationCreatesEntraDevice: a device registered by an import gets an
// Entra device whose deviceId is its azureActiveDirectoryDeviceId.
func TestRegistrationCreatesEntraDevice(t *testing.T) {
	srv := startEmu(t, nil)
	hash := base64.StdEncoding.EncodeToString(machine("SN-ENTRA", "Contoso", 1))
	if res, b := rawd(t, srv, http.MethodPost, importedPath, map[string]any{"serialNumber": "SN-ENTRA", "hardwareIdentifier": hash}, false); res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	time.Sleep(50 * time.Millisecond) // processing_delay is 20ms in tests
	devs := getJSON[listOf[struct {
		ID    string `json:"id"`
		AADID string `json:"azureActiveDirectoryDeviceId"`
	}]](t, srv, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", 200)
	if len(devs.Value) != 1 || devs.Value[0].AADID == "" {
		t.Fatalf("registered: %+v", devs)
	}
	aad := devs.Value[0].AADID
	got := getJSON[listOf[entraOut]](t, srv, "/v1.0/devices"+filterQ("deviceId eq '"+aad+"'"), 200)
	if len(got.Value) != 1 || got.Value[0].DeviceID != aad || got.Value[0].Name != "SN-ENTRA" || got.Value[0].ID == aad {
		t.Fatalf("devices filter: %+v", got)
	}
	if one := getJSON[entraOut](t, srv, "/v1.0/devices(deviceId='"+aad+"')", 200); one.ID != got.Value[0].ID {
		t.Errorf("alternate key: %+v", one)
	}
	if one := getJSON[entraOut](t, srv, "/beta/devices/"+got.Value[0].ID, 200); one.DeviceID != aad {
		t.Errorf("by object id: %+v", one)
	}
	if none := getJSON[listOf[entraOut]](t, srv, "/v1.0/devices"+filterQ("deviceId eq '00000000-0000-0000-0000-000000000000'"), 200); len(none.Value) != 0 {
		t.Errorf("unknown deviceId: %+v", none)
	}
	res, b := rawd(t, srv, http.MethodGet, "/v1.0/devices"+filterQ("startswith(displayName,'SN')"), nil, false)
	if res.StatusCode != 400 || parseErr(t, b).Error.Code != "Request_BadRequest" {
		t.Errorf("unsupported filter: %d %s", res.StatusCode, b)
	}
	getJSON[any](t, srv, "/v1.0/devices/nope", 404)
}

func TestGroupsAndMembers(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "ap1", SerialNumber: "S1", AzureActiveDirectoryDeviceID: "aad-1"}}}
	})
	groups := getJSON[listOf[struct{ ID, DisplayName string }]](t, srv, "/v1.0/groups"+filterQ("displayName eq 'Autopilot Devices'"), 200)
	if len(groups.Value) != 1 {
		t.Fatalf("default group: %+v", groups)
	}
	gid := groups.Value[0].ID
	if g := getJSON[struct{ ID, DisplayName string }](t, srv, "/v1.0/groups/"+gid, 200); g.DisplayName != "Autopilot Devices" {
		t.Errorf("group: %+v", g)
	}
	if none := getJSON[listOf[any]](t, srv, "/v1.0/groups"+filterQ("displayName eq 'Nobody'"), 200); len(none.Value) != 0 {
		t.Errorf("unknown name: %+v", none)
	}
	dev := getJSON[listOf[entraOut]](t, srv, "/v1.0/devices"+filterQ("deviceId eq 'aad-1'"), 200).Value[0]
	ref := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + dev.ID}
	members := "/v1.0/groups/" + gid + "/members"
	if res, b := rawd(t, srv, http.MethodPost, members+"/$ref", ref, false); res.StatusCode != 204 {
		t.Fatalf("add: %d %s", res.StatusCode, b)
	}
	res, b := rawd(t, srv, http.MethodPost, members+"/$ref", ref, false)
	if e := parseErr(t, b); res.StatusCode != 400 || e.Error.Code != "Request_BadRequest" ||
		e.Error.Message != "One or more added object references already exist for the following modified properties: 'members'." {
		t.Errorf("add again: %d %+v", res.StatusCode, e.Error)
	}
	if m := getJSON[listOf[entraOut]](t, srv, members, 200); len(m.Value) != 1 || m.Value[0].ID != dev.ID {
		t.Errorf("members: %+v", m)
	}
	res, b = rawd(t, srv, http.MethodPost, members+"/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/missing"}, false)
	if res.StatusCode != 404 || parseErr(t, b).Error.Code != "Request_ResourceNotFound" {
		t.Errorf("unknown object: %d %s", res.StatusCode, b)
	}
	if res, b := rawd(t, srv, http.MethodPost, "/v1.0/groups/nope/members/$ref", ref, false); res.StatusCode != 404 {
		t.Errorf("unknown group: %d %s", res.StatusCode, b)
	}
	if res, b := rawd(t, srv, http.MethodPost, members+"/$ref", map[string]any{"id": dev.ID}, false); res.StatusCode != 400 {
		t.Errorf("no @odata.id: %d %s", res.StatusCode, b)
	}
	if res, b := rawd(t, srv, http.MethodDelete, members+"/"+dev.ID+"/$ref", nil, false); res.StatusCode != 204 {
		t.Errorf("remove: %d %s", res.StatusCode, b)
	}
	if m := getJSON[listOf[entraOut]](t, srv, members, 200); len(m.Value) != 0 {
		t.Errorf("members after removal: %+v", m)
	}
	// state round trip keeps groups and members
	rawd(t, srv, http.MethodPost, members+"/$ref", ref, false)
	snap := srv.Snapshot()
	srv2 := startEmu(t, func(c *emulator.Config) { c.Seed = &snap })
	gs := srv2.Groups()
	if len(gs) != 1 || gs[0].ID != gid || len(gs[0].Members) != 1 || gs[0].Members[0] != dev.ID || len(srv2.EntraDevices()) != 1 {
		t.Errorf("after a round trip: groups %+v, %d entra devices", gs, len(srv2.EntraDevices()))
	}
	// default_groups: [] starts without groups
	empty := startEmu(t, func(c *emulator.Config) { c.DefaultGroups = []string{} })
	if len(empty.Groups()) != 0 {
		t.Errorf("default_groups [] has %+v", empty.Groups())
	}
}

func TestDirectoryPermissions(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "ap1", SerialNumber: "S1", AzureActiveDirectoryDeviceID: "aad-1"}}}
	})
	gid := srv.Groups()[0].ID
	dev := srv.EntraDevices()[0].ID
	ref := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + dev}
	tests := []struct {
		name   string
		roles  []string
		method string
		path   string
		body   any
		want   int
	}{
		{"devices: Intune role only", []string{emulator.RoleReadWrite}, "GET", "/v1.0/devices", nil, 403},
		{"devices: Device.Read.All", []string{emulator.RoleDeviceRead}, "GET", "/v1.0/devices", nil, 200},
		{"groups: Intune role only", []string{emulator.RoleReadWrite}, "GET", "/v1.0/groups", nil, 403},
		{"groups: GroupMember.Read.All", []string{emulator.RoleGroupMemberRead}, "GET", "/v1.0/groups", nil, 200},
		{"groups: Group.Read.All", []string{emulator.RoleGroupRead}, "GET", "/v1.0/groups/" + gid + "/members", nil, 200},
		{"add member: GroupMember.ReadWrite.All without Device.ReadWrite.All", []string{emulator.RoleGroupMemberWrite, emulator.RoleDeviceRead}, "POST", "/v1.0/groups/" + gid + "/members/$ref", ref, 403},
		{"add member: Group.Read.All + Device.ReadWrite.All", []string{emulator.RoleGroupRead, emulator.RoleDeviceReadWrite}, "POST", "/v1.0/groups/" + gid + "/members/$ref", ref, 403},
		{"add member: GroupMember.ReadWrite.All + Device.ReadWrite.All", []string{emulator.RoleGroupMemberWrite, emulator.RoleDeviceReadWrite}, "POST", "/v1.0/groups/" + gid + "/members/$ref", ref, 204},
		{"managed devices: Intune config role only", []string{emulator.RoleReadWrite}, "GET", "/v1.0/deviceManagement/managedDevices", nil, 403},
		{"managed devices: ManagedDevices.Read.All", []string{emulator.RoleManagedRead}, "GET", "/v1.0/deviceManagement/managedDevices", nil, 200},
		{"autopilot: ManagedDevices role only", []string{emulator.RoleManagedReadWrite}, "GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, b := rawTok(t, srv, srv.IssueToken(tt.roles, time.Hour), tt.method, tt.path, tt.body, false)
			if res.StatusCode != tt.want {
				t.Fatalf("%d, want %d: %s", res.StatusCode, tt.want, b)
			}
			if tt.want == 403 {
				e := parseErr(t, b)
				dir := strings.HasPrefix(tt.path, "/v1.0/devices") || strings.HasPrefix(tt.path, "/v1.0/groups")
				if dir && (e.Error.Code != "Authorization_RequestDenied" || e.Error.Message != "Insufficient privileges to complete the operation.") {
					t.Errorf("directory 403: %+v", e.Error)
				}
				if !dir && (e.Error.Code != "Forbidden" || !strings.Contains(e.Error.Message, "Application is not authorized")) {
					t.Errorf("Intune 403: %+v", e.Error)
				}
			}
		})
	}
}

func TestManagedDevices(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.EnrolledSerials = []string{"s-enrolled"}
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "ap1", SerialNumber: "S-ENROLLED", AzureActiveDirectoryDeviceID: "aad-1"}, {ID: "ap2", SerialNumber: "S-FREE"}}}
	})
	type md struct {
		ID, SerialNumber, AzureADDeviceID string
	}
	got := getJSON[listOf[md]](t, srv, "/v1.0/deviceManagement/managedDevices"+filterQ("serialNumber eq 'S-ENROLLED'"), 200)
	if len(got.Value) != 1 || got.Value[0].AzureADDeviceID != "aad-1" {
		t.Fatalf("managed: %+v", got)
	}
	if none := getJSON[listOf[md]](t, srv, "/v1.0/deviceManagement/managedDevices"+filterQ("serialNumber eq 'S-FREE'"), 200); len(none.Value) != 0 {
		t.Errorf("not enrolled: %+v", none)
	}
	ap := getJSON[struct{ ManagedDeviceID, EnrollmentState string }](t, srv, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/ap1", 200)
	if ap.ManagedDeviceID != got.Value[0].ID || ap.EnrollmentState != "enrolled" {
		t.Errorf("autopilot device: %+v", ap)
	}
	// enrolling later, by Server.Enroll
	srv.Enroll("S-FREE")
	if n := len(srv.ManagedDevices()); n != 2 {
		t.Errorf("%d managed devices after Enroll, want 2", n)
	}
	// deleting from Intune clears the link
	if res, b := rawd(t, srv, http.MethodDelete, "/v1.0/deviceManagement/managedDevices/"+got.Value[0].ID, nil, false); res.StatusCode != 204 {
		t.Fatalf("delete managed: %d %s", res.StatusCode, b)
	}
	ap = getJSON[struct{ ManagedDeviceID, EnrollmentState string }](t, srv, "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/ap1", 200)
	if ap.ManagedDeviceID != "" || ap.EnrollmentState == "enrolled" {
		t.Errorf("after the Intune delete: %+v", ap)
	}
	getJSON[any](t, srv, "/v1.0/deviceManagement/managedDevices/"+got.Value[0].ID, 404)
}

func TestDeregister(t *testing.T) {
	seed := func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "ap1", SerialNumber: "S1"}, {ID: "ap2", SerialNumber: "S2"}, {ID: "ap3", SerialNumber: "S3"}}}
	}
	const base = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
	t.Run("single delete: 200, then 400 Cannot find device", func(t *testing.T) {
		srv := startEmu(t, seed)
		if res, b := rawd(t, srv, http.MethodDelete, base+"/ap1", nil, false); res.StatusCode != 200 || len(b) != 0 {
			t.Fatalf("delete: %d %q", res.StatusCode, b)
		}
		res, b := rawd(t, srv, http.MethodDelete, base+"/ap1", nil, false)
		e := parseErr(t, b)
		if res.StatusCode != 400 || !strings.Contains(e.Error.Message, "Cannot find device with ztd Id ap1 and accountId "+srv.TenantID+" to delete") {
			t.Fatalf("delete again: %d %s", res.StatusCode, e.Error.Message)
		}
		if len(srv.Registered()) != 2 {
			t.Errorf("registered: %+v", srv.Registered())
		}
	})
	t.Run("delete_device_status 204", func(t *testing.T) {
		srv := startEmu(t, func(c *emulator.Config) { seed(c); c.DeleteDeviceStatus = 204 })
		if res, _ := rawd(t, srv, http.MethodDelete, base+"/ap1", nil, false); res.StatusCode != 204 {
			t.Fatalf("delete: %d", res.StatusCode)
		}
	})
	t.Run("deleteDevices", func(t *testing.T) {
		srv := startEmu(t, seed)
		res, b := rawd(t, srv, http.MethodPost, base+"/deleteDevices", map[string]any{"serialNumbers": []string{"S2", "s3", "NOPE"}}, false)
		if res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		var out listOf[struct {
			Type, SerialNumber, DeviceRegistrationID, DeletionState, ErrorMessage string
		}]
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Value) != 3 || out.Value[0].DeviceRegistrationID != "ap2" || out.Value[0].DeletionState != "accepted" ||
			out.Value[1].DeviceRegistrationID != "ap3" || out.Value[2].DeletionState != "failed" || out.Value[2].ErrorMessage == "" {
			t.Fatalf("%+v", out)
		}
		if !strings.Contains(string(b), `"@odata.type":"microsoft.graph.deletedWindowsAutopilotDeviceState"`) {
			t.Errorf("no @odata.type: %s", b)
		}
		if r := srv.Registered(); len(r) != 1 || r[0].ID != "ap1" {
			t.Errorf("left: %+v", r)
		}
		// Read.All is not enough (the docs' Read scopes are taken as a doc error)
		if res, _ := rawTok(t, srv, srv.IssueToken([]string{emulator.RoleRead}, time.Hour), http.MethodPost, base+"/deleteDevices", map[string]any{"serialNumbers": []string{"S1"}}, false); res.StatusCode != 403 {
			t.Errorf("read role: %d", res.StatusCode)
		}
	})
	t.Run("delete_devices_action false", func(t *testing.T) {
		srv := startEmu(t, func(c *emulator.Config) { seed(c); f := false; c.DeleteDevicesAction = &f })
		res, b := rawd(t, srv, http.MethodPost, base+"/deleteDevices", map[string]any{"serialNumbers": []string{"S2"}}, false)
		if res.StatusCode != 400 || !strings.Contains(parseErr(t, b).Error.Message, "segment 'deleteDevices'") {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	})
	t.Run("config keys", func(t *testing.T) {
		cfg, err := emulator.LoadConfig(writeTemp(t, `{"delete_device_status": 204, "delete_devices_action": false, "enrolled_serials": ["A"], "default_groups": ["G1", "G2"]}`))
		if err != nil || cfg.DeleteDeviceStatus != 204 || *cfg.DeleteDevicesAction || len(cfg.EnrolledSerials) != 1 || len(cfg.DefaultGroups) != 2 {
			t.Fatalf("%+v %v", cfg, err)
		}
		if _, err := emulator.LoadConfig(writeTemp(t, `{"delete_device_status": 202}`)); err == nil {
			t.Error("delete_device_status 202 accepted")
		}
	})
}

// rawd is raw with the default client's roles (Intune, managed devices, devices, group members).
func rawd(t testing.TB, srv *emulator.Server, method, path string, body any, gz bool) (*http.Response, []byte) {
	t.Helper()
	return rawTok(t, srv, srv.IssueToken(emulator.DefaultConfig().Roles, time.Hour), method, path, body, gz)
}
