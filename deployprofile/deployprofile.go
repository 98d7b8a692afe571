// Package deployprofile holds Windows Autopilot deployment profiles as plain Go
// values and builds AutopilotConfigurationFile.json from one, the file that
// "Windows Autopilot for existing devices" puts into a reimaged Windows so that OOBE
// follows the profile without a registered hardware hash.
//
// The file is built exactly as Microsoft's converter ConvertTo-AutopilotConfigurationJSON
// (WindowsAutoPilotIntune 5.1) builds it: the same keys, types and values
// (shared/docs/lifecycle-api.md §3.1–3.2), read from the profile's new property names
// with a fallback to the deprecated ones (§1.3). It is encoded as the task sequence
// needs it: ASCII only, no byte order mark (§3.4).
//
// The package has no dependency on the Graph SDK: package graph fills these types,
// and the tests of the conversion compile in a second.
package deployprofile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// FileName is the only name Windows looks for (lifecycle-api.md §3.4).
const FileName = "AutopilotConfigurationFile.json"

// The @odata.type of the two concrete profile types (lifecycle-api.md §1.1).
const (
	TypeEntraJoin  = "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
	TypeHybridJoin = "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"
)

// Profile is a beta windowsAutopilotDeploymentProfile. Fields with a new and a
// deprecated property name hold the new name's value, or the old one's when the
// new one is absent or null.
type Profile struct {
	ID                     string
	ODataType              string // TypeEntraJoin, TypeHybridJoin or another (unsupported) type
	DisplayName            string
	Description            string
	DeviceNameTemplate     string
	Language               string // locale (new) / language (old); "os-default" or e.g. "en-US"
	DeviceType             string // windowsPc, holoLens, surfaceHub2, surfaceHub2S, virtualMachine
	HardwareHashExtraction bool   // hardwareHashExtractionEnabled / extractHardwareHash
	PreprovisioningAllowed bool   // preprovisioningAllowed / enableWhiteGlove
	// HybridSkipConnectivityCheck is hybridAzureADJoinSkipConnectivityCheck (hybrid profiles only).
	HybridSkipConnectivityCheck bool
	ManagementServiceAppID      string
	OOBE                        OOBESettings
	CreatedDateTime             time.Time
	LastModifiedDateTime        time.Time
}

// OOBESettings is outOfBoxExperienceSetting (new names) / outOfBoxExperienceSettings
// (old names: hidePrivacySettings, hideEULA, skipKeyboardSelectionPage, hideEscapeLink).
type OOBESettings struct {
	PrivacySettingsHidden        bool
	EULAHidden                   bool
	UserType                     string // administrator | standard
	DeviceUsageType              string // singleUser | shared
	KeyboardSelectionPageSkipped bool
	EscapeLinkHidden             bool
}

// HybridJoin reports whether the profile joins Microsoft Entra hybrid (on-premises AD).
func (p Profile) HybridJoin() bool { return p.ODataType == TypeHybridJoin }

// SelfDeploying reports whether the profile is self-deploying (deviceUsageType shared,
// lifecycle-api.md §1.1).
func (p Profile) SelfDeploying() bool { return strings.EqualFold(p.OOBE.DeviceUsageType, "shared") }

// JoinName is "entra-join", "hybrid-join" or the @odata.type of another kind.
func (p Profile) JoinName() string {
	switch p.ODataType {
	case TypeEntraJoin:
		return "entra-join"
	case TypeHybridJoin:
		return "hybrid-join"
	}
	return strings.TrimPrefix(p.ODataType, "#microsoft.graph.")
}

// ModeName is "self-deploying" or "user-driven".
func (p Profile) ModeName() string {
	if p.SelfDeploying() {
		return "self-deploying"
	}
	return "user-driven"
}

// Assignment is one windowsAutopilotDeploymentProfileAssignment.
type Assignment struct {
	ID string
	// TargetType is the target's @odata.type without "#microsoft.graph.":
	// groupAssignmentTarget, exclusionGroupAssignmentTarget, allDevicesAssignmentTarget, …
	TargetType string
	GroupID    string // for group targets
	Source     string // direct | policySets
}

// Describe is a short text for a table: "all devices", "group <id>", "exclude group <id>".
func (a Assignment) Describe() string {
	switch a.TargetType {
	case "allDevicesAssignmentTarget":
		return "all devices"
	case "groupAssignmentTarget":
		return "group " + a.GroupID
	case "exclusionGroupAssignmentTarget":
		return "exclude group " + a.GroupID
	case "allLicensedUsersAssignmentTarget":
		return "all users"
	}
	if a.GroupID != "" {
		return a.TargetType + " " + a.GroupID
	}
	return a.TargetType
}

// Organization is the tenant as /organization describes it.
type Organization struct {
	ID              string
	DisplayName     string
	VerifiedDomains []VerifiedDomain
}

// VerifiedDomain is one of the organization's verifiedDomains.
type VerifiedDomain struct {
	Name      string
	IsDefault bool
	IsInitial bool
	Type      string
}

// Domain choices for TenantDomain.
const (
	DomainDefault = "default" // the verified domain with isDefault (the converter's choice, §3.3)
	DomainInitial = "initial" // the *.onmicrosoft.com domain with isInitial
)

// TenantDomain returns the domain for CloudAssignedTenantDomain: the default verified
// domain (DomainDefault or ""), the initial one (DomainInitial), or the verified domain
// named choice (case-insensitive).
func (o Organization) TenantDomain(choice string) (string, error) {
	switch strings.ToLower(choice) {
	case "", DomainDefault:
		for _, d := range o.VerifiedDomains {
			if d.IsDefault {
				return d.Name, nil
			}
		}
		return "", errors.New("the organization has no verified domain marked isDefault")
	case DomainInitial:
		for _, d := range o.VerifiedDomains {
			if d.IsInitial {
				return d.Name, nil
			}
		}
		return "", errors.New("the organization has no verified domain marked isInitial")
	}
	names := make([]string, 0, len(o.VerifiedDomains))
	for _, d := range o.VerifiedDomains {
		if strings.EqualFold(d.Name, choice) {
			return d.Name, nil
		}
		names = append(names, d.Name)
	}
	return "", fmt.Errorf("%q is not a verified domain of the tenant (verified: %s)", choice, strings.Join(names, ", "))
}

// UnsupportedError says why a profile cannot be written as AutopilotConfigurationFile.json.
type UnsupportedError struct {
	ProfileID   string
	ProfileName string
	Code        string // self_deploying, preprovisioning, profile_type
	Reason      string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("profile %q (%s) cannot be used for existing devices: %s", e.ProfileName, e.ProfileID, e.Reason)
}

// ErrUnsupported matches every *UnsupportedError.
var ErrUnsupported = errors.New("profile not supported by AutopilotConfigurationFile.json")

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Check returns nil when the file can express p, else an *UnsupportedError. Microsoft:
// the JSON file supports only user-driven Microsoft Entra join and user-driven
// Microsoft Entra hybrid join; self-deploying mode and pre-provisioning need TPM
// attestation and are not supported (lifecycle-api.md §3.4, "Scope").
func Check(p Profile) error {
	bad := func(code, reason string) error {
		return &UnsupportedError{ProfileID: p.ID, ProfileName: p.DisplayName, Code: code, Reason: reason}
	}
	switch p.ODataType {
	case TypeEntraJoin, TypeHybridJoin:
	default:
		return bad("profile_type", fmt.Sprintf("its type %q is neither a Microsoft Entra join nor a hybrid join profile", p.ODataType))
	}
	if p.SelfDeploying() {
		return bad("self_deploying", "it is a self-deploying profile (deviceUsageType shared); self-deploying mode needs TPM attestation, which the offline file cannot provide; only user-driven Microsoft Entra join and user-driven hybrid join profiles are supported")
	}
	if p.PreprovisioningAllowed {
		return bad("preprovisioning", "it allows pre-provisioning (preprovisioningAllowed); pre-provisioning needs TPM attestation, which the offline file cannot provide; use a user-driven profile without pre-provisioning")
	}
	return nil
}

// OOBE bits of CloudAssignedOobeConfig (lifecycle-api.md §3.2).
const (
	OobeUserNotLocalAdmin   = 2    // userType standard
	OobeSkipExpress         = 4    // privacy settings hidden
	OobeSkipOEMRegistration = 8    // always
	OobeSkipEULA            = 16   // EULA hidden
	OobeTPMAttestation      = 32   // self-deploying
	OobeEntraDeviceAuth     = 64   // self-deploying
	OobeSkipUpgradeUX       = 256  // always
	OobeSkipKeyboard        = 1024 // keyboard selection page skipped
)

// OOBEConfig computes CloudAssignedOobeConfig as the converter does: 8 + 256 always;
// +2 when userType is standard; +4 privacy settings hidden; +16 EULA hidden; +1024
// keyboard page skipped; +32+64 when deviceUsageType is shared. Enum values compare
// case-insensitively, as PowerShell's -eq does.
func OOBEConfig(o OOBESettings) int {
	v := OobeSkipOEMRegistration + OobeSkipUpgradeUX
	if strings.EqualFold(o.UserType, "standard") {
		v += OobeUserNotLocalAdmin
	}
	if o.PrivacySettingsHidden {
		v += OobeSkipExpress
	}
	if o.EULAHidden {
		v += OobeSkipEULA
	}
	if o.KeyboardSelectionPageSkipped {
		v += OobeSkipKeyboard
	}
	if strings.EqualFold(o.DeviceUsageType, "shared") {
		v += OobeTPMAttestation + OobeEntraDeviceAuth
	}
	return v
}

// ConfigFile is AutopilotConfigurationFile.json. Optional keys are pointers (nil =
// omitted, as the converter omits them). The field order is the converter's order of
// insertion.
type ConfigFile struct {
	CommentFile                 string  `json:"Comment_File"`
	Version                     int     `json:"Version"`
	ZtdCorrelationID            string  `json:"ZtdCorrelationId"`
	DomainJoinMethod            int     `json:"CloudAssignedDomainJoinMethod"`
	DeviceName                  *string `json:"CloudAssignedDeviceName,omitempty"`
	Language                    *string `json:"CloudAssignedLanguage,omitempty"`
	OobeConfig                  int     `json:"CloudAssignedOobeConfig"`
	ForcedEnrollment            int     `json:"CloudAssignedForcedEnrollment"`
	TenantID                    string  `json:"CloudAssignedTenantId"`
	TenantDomain                string  `json:"CloudAssignedTenantDomain"`
	AadServerData               string  `json:"CloudAssignedAadServerData"`
	HybridSkipDCConnectivity    *int    `json:"HybridJoinSkipDCConnectivityCheck,omitempty"`
	AutopilotUpdateDisabled     int     `json:"CloudAssignedAutopilotUpdateDisabled"`
	AutopilotUpdateTimeoutMilli int     `json:"CloudAssignedAutopilotUpdateTimeout"`
}

// AadServerData is the document inside CloudAssignedAadServerData (a JSON string).
type AadServerData struct {
	ZeroTouchConfig ZeroTouchConfig `json:"ZeroTouchConfig"`
}

// ZeroTouchConfig is the inner object of AadServerData, keys in the converter's order.
type ZeroTouchConfig struct {
	CloudAssignedTenantDomain string `json:"CloudAssignedTenantDomain"`
	CloudAssignedTenantUpn    string `json:"CloudAssignedTenantUpn"`
	ForcedEnrollment          int    `json:"ForcedEnrollment"`
}

// Fixed values of the converter (lifecycle-api.md §3.1).
const (
	FormatVersion          = 2049    // Version
	AutopilotUpdateTimeout = 1800000 // CloudAssignedAutopilotUpdateTimeout, ms (30 min), hard-coded by the converter
)

// Build returns the configuration file for p in the tenant tenantID whose domain is
// domain (see Organization.TenantDomain). It refuses what Check refuses, and a
// missing tenant id, domain or profile id.
func Build(p Profile, tenantID, domain string) (ConfigFile, error) {
	if err := Check(p); err != nil {
		return ConfigFile{}, err
	}
	switch {
	case p.ID == "":
		return ConfigFile{}, errors.New("the profile has no id (ZtdCorrelationId)")
	case tenantID == "":
		return ConfigFile{}, errors.New("no tenant id (CloudAssignedTenantId)")
	case domain == "":
		return ConfigFile{}, errors.New("no tenant domain (CloudAssignedTenantDomain)")
	}
	forced := 0
	if p.OOBE.EscapeLinkHidden {
		forced = 1
	}
	inner, err := json.Marshal(AadServerData{ZeroTouchConfig{CloudAssignedTenantDomain: domain, CloudAssignedTenantUpn: "", ForcedEnrollment: forced}})
	if err != nil {
		return ConfigFile{}, err
	}
	f := ConfigFile{
		CommentFile:                 "Profile " + p.DisplayName,
		Version:                     FormatVersion,
		ZtdCorrelationID:            p.ID,
		OobeConfig:                  OOBEConfig(p.OOBE),
		ForcedEnrollment:            forced,
		TenantID:                    tenantID,
		TenantDomain:                domain,
		AadServerData:               string(inner),
		AutopilotUpdateDisabled:     1,
		AutopilotUpdateTimeoutMilli: AutopilotUpdateTimeout,
	}
	if p.HybridJoin() {
		f.DomainJoinMethod = 1
	}
	if p.DeviceNameTemplate != "" {
		f.DeviceName = &p.DeviceNameTemplate
	}
	if p.OOBE.KeyboardSelectionPageSkipped && p.Language != "" {
		f.Language = &p.Language
	}
	if p.HybridSkipConnectivityCheck {
		one := 1
		f.HybridSkipDCConnectivity = &one
	}
	return f, nil
}

// Encode returns the file's bytes: JSON indented by four spaces, CRLF line ends (as
// Set-Content writes on Windows), a final CRLF, ASCII only — every non-ASCII character
// escaped as \uXXXX — and no byte order mark (lifecycle-api.md §3.4).
func (f ConfigFile) Encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(f); err != nil {
		panic(err) // only strings and ints: cannot fail
	}
	out := ASCIIEscape(bytes.TrimRight(buf.Bytes(), "\n"))
	out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	return append(out, '\r', '\n')
}

// ASCIIEscape rewrites every non-ASCII character of a JSON text as \uXXXX (a UTF-16
// surrogate pair above U+FFFF). Outside strings JSON has only ASCII, so the result
// means the same. Invalid UTF-8 becomes \ufffd.
func ASCIIEscape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		out = fmt.Appendf(out, `\u%04x`, r)
	}
	return out
}
