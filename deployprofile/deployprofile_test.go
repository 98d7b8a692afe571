package deployprofile

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestOOBEConfigMatrix runs every combination of the six OOBE settings (and the enum
// values' case) through OOBEConfig and compares with the converter's rule written out
// independently (lifecycle-api.md §3.2).
func TestOOBEConfigMatrix(t *testing.T) {
	bools := []bool{false, true}
	userTypes := []string{"administrator", "standard", "Standard", "", "unknownFutureValue"}
	usages := []string{"singleUser", "shared", "SHARED", "", "unknownFutureValue"}
	n := 0
	for _, privacy := range bools {
		for _, eula := range bools {
			for _, keyboard := range bools {
				for _, escape := range bools {
					for _, ut := range userTypes {
						for _, us := range usages {
							o := OOBESettings{PrivacySettingsHidden: privacy, EULAHidden: eula, KeyboardSelectionPageSkipped: keyboard,
								EscapeLinkHidden: escape, UserType: ut, DeviceUsageType: us}
							want := 264 // 8 SkipOemRegistration + 256 SkipWindowsUpgradeUX, always
							if strings.ToLower(ut) == "standard" {
								want |= 2
							}
							if privacy {
								want |= 4
							}
							if eula {
								want |= 16
							}
							if keyboard {
								want |= 1024
							}
							if strings.ToLower(us) == "shared" {
								want |= 32 | 64
							}
							// the escape link changes CloudAssignedForcedEnrollment, never the bitmask
							if got := OOBEConfig(o); got != want {
								t.Errorf("OOBEConfig(%+v) = %d, want %d", o, got, want)
							}
							n++
						}
					}
				}
			}
		}
	}
	if n != 400 {
		t.Fatalf("matrix has %d cases", n)
	}
	// the doc's worked example: user-driven, standard user, privacy + EULA hidden, keyboard skipped
	if got := OOBEConfig(OOBESettings{UserType: "standard", PrivacySettingsHidden: true, EULAHidden: true, KeyboardSelectionPageSkipped: true, DeviceUsageType: "singleUser"}); got != 1310 {
		t.Errorf("worked example = %d, want 1310", got)
	}
}

func userDriven() Profile {
	return Profile{ID: "7f9e6025-1e13-45f3-bf82-a3e8c5b59eac", ODataType: TypeEntraJoin, DisplayName: "Contoso UD",
		DeviceNameTemplate: "CON-%SERIAL%", Language: "en-US", DeviceType: "windowsPc",
		OOBE: OOBESettings{PrivacySettingsHidden: true, EULAHidden: true, UserType: "standard", DeviceUsageType: "singleUser",
			KeyboardSelectionPageSkipped: true, EscapeLinkHidden: true}}
}

func TestBuildUserDrivenMatchesTheConverter(t *testing.T) {
	f, err := Build(userDriven(), "1537de22-988c-4e93-b8a5-83890f34a69b", "contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	// §3.5: what the converter emits for this profile, in its insertion order
	want := "{\r\n" +
		`    "Comment_File": "Profile Contoso UD",` + "\r\n" +
		`    "Version": 2049,` + "\r\n" +
		`    "ZtdCorrelationId": "7f9e6025-1e13-45f3-bf82-a3e8c5b59eac",` + "\r\n" +
		`    "CloudAssignedDomainJoinMethod": 0,` + "\r\n" +
		`    "CloudAssignedDeviceName": "CON-%SERIAL%",` + "\r\n" +
		`    "CloudAssignedLanguage": "en-US",` + "\r\n" +
		`    "CloudAssignedOobeConfig": 1310,` + "\r\n" +
		`    "CloudAssignedForcedEnrollment": 1,` + "\r\n" +
		`    "CloudAssignedTenantId": "1537de22-988c-4e93-b8a5-83890f34a69b",` + "\r\n" +
		`    "CloudAssignedTenantDomain": "contoso.onmicrosoft.com",` + "\r\n" +
		`    "CloudAssignedAadServerData": "{\"ZeroTouchConfig\":{\"CloudAssignedTenantDomain\":\"contoso.onmicrosoft.com\",\"CloudAssignedTenantUpn\":\"\",\"ForcedEnrollment\":1}}",` + "\r\n" +
		`    "CloudAssignedAutopilotUpdateDisabled": 1,` + "\r\n" +
		`    "CloudAssignedAutopilotUpdateTimeout": 1800000` + "\r\n" +
		"}\r\n"
	if got := string(f.Encode()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestBuildOptionalKeys(t *testing.T) {
	p := userDriven()
	p.DeviceNameTemplate = ""
	p.OOBE.KeyboardSelectionPageSkipped = false // language only with the keyboard page skipped
	p.OOBE.EscapeLinkHidden = false
	f, err := Build(p, "t", "d.example")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(f.Encode(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"CloudAssignedDeviceName", "CloudAssignedLanguage", "HybridJoinSkipDCConnectivityCheck"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present", k)
		}
	}
	if m["CloudAssignedForcedEnrollment"] != 0.0 || m["CloudAssignedOobeConfig"] != 286.0 {
		t.Errorf("forced %v oobe %v", m["CloudAssignedForcedEnrollment"], m["CloudAssignedOobeConfig"])
	}
	p.OOBE.KeyboardSelectionPageSkipped = true
	p.Language = "" // skipped keyboard but no language: no key
	f, _ = Build(p, "t", "d.example")
	if f.Language != nil {
		t.Errorf("language %q without a profile language", *f.Language)
	}
}

func TestBuildHybrid(t *testing.T) {
	p := userDriven()
	p.ODataType = TypeHybridJoin
	p.HybridSkipConnectivityCheck = true
	f, err := Build(p, "t", "d.example")
	if err != nil {
		t.Fatal(err)
	}
	if f.DomainJoinMethod != 1 || f.HybridSkipDCConnectivity == nil || *f.HybridSkipDCConnectivity != 1 {
		t.Errorf("join %d skip %v", f.DomainJoinMethod, f.HybridSkipDCConnectivity)
	}
}

func TestCheckRefusesWhatTheFileCannotExpress(t *testing.T) {
	selfDeploying := userDriven()
	selfDeploying.OOBE.DeviceUsageType = "shared"
	preprov := userDriven()
	preprov.PreprovisioningAllowed = true
	other := userDriven()
	other.ODataType = "#microsoft.graph.windowsAutopilotDeploymentProfile"
	hybrid := userDriven()
	hybrid.ODataType = TypeHybridJoin
	tests := []struct {
		name string
		p    Profile
		want string // "" = supported
	}{
		{"user-driven entra join", userDriven(), ""},
		{"user-driven hybrid join", hybrid, ""},
		{"self-deploying", selfDeploying, "self-deploying"},
		{"pre-provisioning", preprov, "pre-provisioning"},
		{"unknown type", other, "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.p)
			_, berr := Build(tt.p, "t", "d.example")
			if tt.want == "" {
				if err != nil || berr != nil {
					t.Fatalf("Check %v, Build %v", err, berr)
				}
				return
			}
			var ue *UnsupportedError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) || !strings.Contains(ue.Reason, tt.want) {
				t.Fatalf("Check = %v, want an UnsupportedError about %q", err, tt.want)
			}
			if !errors.Is(berr, ErrUnsupported) {
				t.Fatalf("Build = %v", berr)
			}
		})
	}
}

func TestAadServerDataDecodes(t *testing.T) {
	f, err := Build(userDriven(), "t", "contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	var outer struct {
		CloudAssignedAadServerData string
	}
	if err := json.Unmarshal(f.Encode(), &outer); err != nil {
		t.Fatal(err)
	}
	var inner AadServerData
	dec := json.NewDecoder(strings.NewReader(outer.CloudAssignedAadServerData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inner); err != nil {
		t.Fatal(err)
	}
	if inner.ZeroTouchConfig != (ZeroTouchConfig{CloudAssignedTenantDomain: "contoso.example", CloudAssignedTenantUpn: "", ForcedEnrollment: 1}) {
		t.Errorf("inner %+v", inner)
	}
	if strings.ContainsAny(outer.CloudAssignedAadServerData, " \n") {
		t.Errorf("not compressed: %q", outer.CloudAssignedAadServerData)
	}
}

func TestEncodeIsASCIIWithoutBOM(t *testing.T) {
	p := userDriven()
	p.DisplayName = "Zürich Gerät ✓ 𝄞 <&>"
	b, err := Build(p, "t", "d.example")
	if err != nil {
		t.Fatal(err)
	}
	out := b.Encode()
	if bytes.HasPrefix(out, []byte{0xEF, 0xBB, 0xBF}) || bytes.HasPrefix(out, []byte{0xFF, 0xFE}) || bytes.HasPrefix(out, []byte{0xFE, 0xFF}) {
		t.Fatal("byte order mark")
	}
	for i, c := range out {
		if c >= 0x80 || c == 0 {
			t.Fatalf("byte %d is %#x", i, c)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m["Comment_File"] != "Profile Zürich Gerät ✓ 𝄞 <&>" {
		t.Errorf("Comment_File %q", m["Comment_File"])
	}
	if !bytes.Contains(out, []byte(`\u00fc`)) || !bytes.Contains(out, []byte(`\ud834\udd1e`)) || !bytes.Contains(out, []byte(`<&>`)) {
		t.Errorf("escapes: %s", out)
	}
}

func TestTenantDomain(t *testing.T) {
	o := Organization{ID: "t", VerifiedDomains: []VerifiedDomain{
		{Name: "contoso.onmicrosoft.com", IsInitial: true},
		{Name: "contoso.com", IsDefault: true},
		{Name: "fabrikam.com"},
	}}
	for choice, want := range map[string]string{"": "contoso.com", "default": "contoso.com", "initial": "contoso.onmicrosoft.com", "FABRIKAM.com": "fabrikam.com"} {
		if got, err := o.TenantDomain(choice); err != nil || got != want {
			t.Errorf("TenantDomain(%q) = %q, %v; want %q", choice, got, err, want)
		}
	}
	if _, err := o.TenantDomain("example.org"); err == nil || !strings.Contains(err.Error(), "contoso.com") {
		t.Errorf("unknown domain: %v", err)
	}
	if _, err := (Organization{}).TenantDomain(""); err == nil {
		t.Error("no default domain accepted")
	}
}
