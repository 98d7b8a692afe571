package graph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apimport/apimport/deployprofile"
	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/importer"
)

func TestDecodeProfileNewNamesFirstOldAsFallback(t *testing.T) {
	tests := []struct {
		name string
		json string
		want deployprofile.Profile
	}{
		{"old names only (before May 2024)", `{"@odata.type":"#microsoft.graph.azureADWindowsAutopilotDeploymentProfile","id":"p1","language":"de-DE",
			"extractHardwareHash":true,"enableWhiteGlove":true,
			"outOfBoxExperienceSettings":{"hidePrivacySettings":true,"hideEULA":true,"userType":"standard","deviceUsageType":"shared","skipKeyboardSelectionPage":true,"hideEscapeLink":true}}`,
			deployprofile.Profile{ID: "p1", ODataType: deployprofile.TypeEntraJoin, Language: "de-DE", HardwareHashExtraction: true, PreprovisioningAllowed: true,
				OOBE: deployprofile.OOBESettings{PrivacySettingsHidden: true, EULAHidden: true, UserType: "standard", DeviceUsageType: "shared", KeyboardSelectionPageSkipped: true, EscapeLinkHidden: true}}},
		{"new names, old ones null", `{"@odata.type":"#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile","id":"p2","locale":"fr-FR","language":null,
			"hardwareHashExtractionEnabled":false,"extractHardwareHash":null,"preprovisioningAllowed":false,"enableWhiteGlove":null,"hybridAzureADJoinSkipConnectivityCheck":true,
			"outOfBoxExperienceSetting":{"privacySettingsHidden":false,"eulaHidden":true,"userType":"administrator","deviceUsageType":"singleUser","keyboardSelectionPageSkipped":false,"escapeLinkHidden":true},
			"outOfBoxExperienceSettings":null}`,
			deployprofile.Profile{ID: "p2", ODataType: deployprofile.TypeHybridJoin, Language: "fr-FR", HybridSkipConnectivityCheck: true,
				OOBE: deployprofile.OOBESettings{EULAHidden: true, UserType: "administrator", DeviceUsageType: "singleUser", EscapeLinkHidden: true}}},
		{"both, disagreeing: the new names win", `{"@odata.type":"#microsoft.graph.azureADWindowsAutopilotDeploymentProfile","id":"p3","locale":"en-GB","language":"en-US",
			"preprovisioningAllowed":false,"enableWhiteGlove":true,
			"outOfBoxExperienceSetting":{"privacySettingsHidden":false,"eulaHidden":false,"userType":"standard","deviceUsageType":"singleUser","keyboardSelectionPageSkipped":true,"escapeLinkHidden":false},
			"outOfBoxExperienceSettings":{"hidePrivacySettings":true,"hideEULA":true,"userType":"administrator","deviceUsageType":"shared","skipKeyboardSelectionPage":false,"hideEscapeLink":true}}`,
			deployprofile.Profile{ID: "p3", ODataType: deployprofile.TypeEntraJoin, Language: "en-GB",
				OOBE: deployprofile.OOBESettings{UserType: "standard", DeviceUsageType: "singleUser", KeyboardSelectionPageSkipped: true}}},
		{"new object missing a field: that field from the old one", `{"@odata.type":"#microsoft.graph.azureADWindowsAutopilotDeploymentProfile","id":"p4",
			"outOfBoxExperienceSetting":{"eulaHidden":true},
			"outOfBoxExperienceSettings":{"hideEscapeLink":true,"userType":"standard"}}`,
			deployprofile.Profile{ID: "p4", ODataType: deployprofile.TypeEntraJoin,
				OOBE: deployprofile.OOBESettings{EULAHidden: true, EscapeLinkHidden: true, UserType: "standard"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeProfile([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := decodeProfile([]byte(`{"displayName":"no id"}`)); err == nil {
		t.Error("a profile without an id was accepted")
	}
}

func TestProfilesAgainstTheEmulator(t *testing.T) {
	srv := startEmulator(t, func(c *emulator.Config) {
		c.PageSize = 2
		c.DeploymentProfiles = []emulator.ProfileConfig{
			{DisplayName: "A", Assignments: []emulator.AssignmentConfig{{Target: "allDevices"}, {Target: "exclusionGroup", GroupID: "g-x"}}},
			{DisplayName: "B", Kind: "hybrid", HybridSkipConnectivityCheck: true, Assignments: []emulator.AssignmentConfig{{Target: "group", GroupID: "g-1"}}},
			{DisplayName: "C", DeviceUsageType: "shared", PropertyNames: "old"},
			{DisplayName: "D", PropertyNames: "new", PreprovisioningAllowed: true},
			{DisplayName: "E"},
		}
		c.Organization = &emulator.OrganizationConfig{VerifiedDomains: []emulator.VerifiedDomainConfig{{Name: "x.onmicrosoft.com", IsInitial: true}, {Name: "x.example", IsDefault: true}}}
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ctx := context.Background()
	ps, err := c.ListDeploymentProfiles(ctx) // three pages of two
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.DisplayName)
	}
	if strings.Join(names, "") != "ABCDE" {
		t.Fatalf("profiles %v", names)
	}
	if countReq(srv.Requests(), "GET", "/windowsAutopilotDeploymentProfiles") != 3 {
		t.Errorf("expected 3 pages")
	}
	if !ps[1].HybridJoin() || !ps[1].HybridSkipConnectivityCheck || !ps[2].SelfDeploying() || !ps[3].PreprovisioningAllowed || ps[0].OOBE.UserType != "standard" {
		t.Errorf("profiles %+v", ps)
	}
	p, err := c.GetDeploymentProfile(ctx, ps[1].ID)
	if err != nil || p != ps[1] {
		t.Errorf("get: %+v %v", p, err)
	}
	if _, err := c.GetDeploymentProfile(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, importer.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	as, err := c.ListProfileAssignments(ctx, ps[0].ID)
	if err != nil || len(as) != 2 || as[0].TargetType != "allDevicesAssignmentTarget" || as[1].TargetType != "exclusionGroupAssignmentTarget" || as[1].GroupID != "g-x" {
		t.Errorf("assignments %+v %v", as, err)
	}
	org, err := c.GetOrganization(ctx)
	if err != nil || org.ID != srv.TenantID {
		t.Fatalf("organization %+v %v", org, err)
	}
	if d, _ := org.TenantDomain(""); d != "x.example" {
		t.Errorf("default domain %q", d)
	}

	// error contract: 403 → ErrPermission (and the pre-flight check names the permission)
	srv2 := startEmulator(t, func(c *emulator.Config) { c.Roles = []string{emulator.RoleRead} })
	c2 := emuClient(t, srv2, secretCred(t, srv2), nil)
	if _, err := c2.GetOrganization(ctx); !errors.Is(err, importer.ErrPermission) {
		t.Errorf("organization without permission: %v", err)
	}
	info, err := c2.PreflightFor(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckProfileReadPermissions(info); !errors.Is(err, ErrMissingPermission) || !errors.Is(err, importer.ErrPermission) ||
		!strings.Contains(err.Error(), "missing Graph permission Organization.Read.All") {
		t.Errorf("CheckProfileReadPermissions: %v", err)
	}
}

func TestCheckProfileReadPermissions(t *testing.T) {
	tests := []struct {
		name   string
		info   TokenInfo
		wantOK bool
		want   string
	}{
		{"app least privilege", TokenInfo{Roles: []string{ReadPermission, OrganizationReadPermission}}, true, ""},
		{"app broader", TokenInfo{Roles: []string{RequiredPermission, "Directory.Read.All"}}, true, ""},
		{"app without organization", TokenInfo{Roles: []string{RequiredPermission}}, false, "missing Graph permission Organization.Read.All"},
		{"app without either", TokenInfo{Roles: []string{"User.Read.All"}}, false, "DeviceManagementServiceConfig.Read.All and Organization.Read.All"},
		{"delegated", TokenInfo{Scopes: []string{ReadPermission, "User.Read"}}, true, ""},
		{"delegated without User.Read", TokenInfo{Scopes: []string{ReadPermission}}, false, "missing Graph permission User.Read"},
	}
	for _, tt := range tests {
		err := CheckProfileReadPermissions(tt.info)
		if tt.wantOK != (err == nil) || err != nil && (!strings.Contains(err.Error(), tt.want) || !errors.Is(err, importer.ErrPermission)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
