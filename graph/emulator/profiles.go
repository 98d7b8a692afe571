package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Deployment profiles, profile assignment status of registered devices, and the
// organization (see doc.go, "Deployment profiles and the organization").

// ProfileConfig is one windowsAutopilotDeploymentProfile served under
// /beta/deviceManagement/windowsAutopilotDeploymentProfiles.
type ProfileConfig struct {
	ID          string `json:"id"`           // default: a GUID derived from the display name
	DisplayName string `json:"display_name"` // required
	Description string `json:"description"`
	// Kind is "entra" (azureADWindowsAutopilotDeploymentProfile, the default) or
	// "hybrid" (activeDirectoryWindowsAutopilotDeploymentProfile).
	Kind                   string `json:"kind"`
	DeviceNameTemplate     string `json:"device_name_template"`
	Locale                 string `json:"locale"`      // default "os-default"
	DeviceType             string `json:"device_type"` // default "windowsPc"
	HardwareHashExtraction bool   `json:"hardware_hash_extraction"`
	PreprovisioningAllowed bool   `json:"preprovisioning_allowed"`
	// HybridSkipConnectivityCheck is hybridAzureADJoinSkipConnectivityCheck (hybrid only).
	HybridSkipConnectivityCheck bool `json:"hybrid_skip_connectivity_check"`

	// OOBE settings.
	UserType                     string `json:"user_type"`         // "standard" (default) or "administrator"
	DeviceUsageType              string `json:"device_usage_type"` // "singleUser" (default) or "shared" (self-deploying)
	PrivacySettingsHidden        bool   `json:"privacy_settings_hidden"`
	EULAHidden                   bool   `json:"eula_hidden"`
	KeyboardSelectionPageSkipped bool   `json:"keyboard_selection_page_skipped"`
	EscapeLinkHidden             bool   `json:"escape_link_hidden"`

	// PropertyNames says which names of the renamed properties are served: "both" (the
	// default: the new ones and the deprecated ones, as beta documents), "new" (the
	// deprecated ones null) or "old" (only the deprecated ones, as before May 2024).
	PropertyNames string `json:"property_names"`

	// Created orders profiles: a device targeted by several gets the oldest.
	// Default: the emulator's start, plus the profile's position in milliseconds.
	Created time.Time `json:"created"`

	Assignments []AssignmentConfig `json:"assignments"`
}

// AssignmentConfig targets a profile.
type AssignmentConfig struct {
	// Target is "allDevices", "group" or "exclusionGroup".
	Target  string `json:"target"`
	GroupID string `json:"group_id"` // group and exclusionGroup; default a GUID derived from group_tag
	// GroupTag makes the group a stand-in for a dynamic device group with the rule
	// (device.devicePhysicalIds -any _ -eq "[OrderID]:<tag>"): its members are the
	// registered devices whose groupTag equals it (case-insensitive). ASSUMED stand-in.
	GroupTag string `json:"group_tag"`
}

// OrganizationConfig is what GET /organization returns besides the tenant id.
type OrganizationConfig struct {
	DisplayName     string                 `json:"display_name"`
	VerifiedDomains []VerifiedDomainConfig `json:"verified_domains"`
}

// VerifiedDomainConfig is one verifiedDomain of the organization.
type VerifiedDomainConfig struct {
	Name      string `json:"name"`
	IsDefault bool   `json:"is_default"`
	IsInitial bool   `json:"is_initial"`
	Type      string `json:"type"` // default "Managed"
}

// DefaultProfileName is the name of the profile served when deployment_profiles is absent.
const DefaultProfileName = "Default profile"

// DefaultProfiles returns what deployment_profiles means when absent: one user-driven
// Microsoft Entra join profile named "Default profile", assigned to all devices.
func DefaultProfiles() []ProfileConfig {
	return []ProfileConfig{{
		DisplayName: DefaultProfileName, Description: "Served by the apimport emulator", Kind: "entra",
		UserType: "standard", DeviceUsageType: "singleUser", PrivacySettingsHidden: true, EULAHidden: true, EscapeLinkHidden: true,
		Assignments: []AssignmentConfig{{Target: "allDevices"}},
	}}
}

// DefaultOrganization is the organization served when organization is absent.
func DefaultOrganization() OrganizationConfig {
	return OrganizationConfig{DisplayName: "apimport emulator", VerifiedDomains: []VerifiedDomainConfig{
		{Name: "apimportemulator.onmicrosoft.com", IsDefault: true, IsInitial: true, Type: "Managed"}}}
}

// profile is a configured profile with its derived values.
type profile struct {
	ProfileConfig
	odataType   string
	assignments []assignment
}

type assignment struct {
	AssignmentConfig
	id         string
	targetType string // groupAssignmentTarget, exclusionGroupAssignmentTarget, allDevicesAssignmentTarget
}

// stableGUID derives a GUID-shaped id from a name, so that configured profiles and
// groups keep their ids across restarts.
func stableGUID(kind, name string) string {
	var h [16]byte
	x := uint64(14695981039346656037)
	for i := 0; i < 16; i++ {
		for _, c := range []byte(kind + "\x00" + name + "\x00" + strconv.Itoa(i)) {
			x ^= uint64(c)
			x *= 1099511628211
		}
		h[i] = byte(x >> 32)
	}
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// setupProfiles validates and fills the configured profiles (Start calls it).
func setupProfiles(cfgs []ProfileConfig, start time.Time) ([]*profile, error) {
	out := make([]*profile, 0, len(cfgs))
	ids := map[string]bool{}
	for i, c := range cfgs {
		if c.DisplayName == "" {
			return nil, fmt.Errorf("deployment_profiles[%d]: display_name is required", i)
		}
		p := &profile{ProfileConfig: c}
		switch strings.ToLower(c.Kind) {
		case "", "entra":
			p.odataType = "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
		case "hybrid":
			p.odataType = "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"
		default:
			return nil, fmt.Errorf("deployment_profiles[%d].kind %q: use \"entra\" or \"hybrid\"", i, c.Kind)
		}
		switch p.PropertyNames {
		case "":
			p.PropertyNames = "both"
		case "both", "new", "old":
		default:
			return nil, fmt.Errorf("deployment_profiles[%d].property_names %q: use \"both\", \"new\" or \"old\"", i, c.PropertyNames)
		}
		if p.ID == "" {
			p.ID = stableGUID("profile", c.DisplayName)
		}
		if ids[strings.ToLower(p.ID)] {
			return nil, fmt.Errorf("deployment_profiles[%d]: duplicate id %s", i, p.ID)
		}
		ids[strings.ToLower(p.ID)] = true
		if p.Locale == "" {
			p.Locale = "os-default"
		}
		if p.DeviceType == "" {
			p.DeviceType = "windowsPc"
		}
		if p.UserType == "" {
			p.UserType = "standard"
		}
		if p.DeviceUsageType == "" {
			p.DeviceUsageType = "singleUser"
		}
		if p.Created.IsZero() {
			p.Created = start.Add(time.Duration(i) * time.Millisecond)
		}
		for j, a := range c.Assignments {
			as := assignment{AssignmentConfig: a}
			switch strings.ToLower(a.Target) {
			case "alldevices":
				as.targetType = "allDevicesAssignmentTarget"
				as.GroupID = ""
				as.id = p.ID + "_adadadad-808e-44e2-905a-0b7873a8a531_0"
			case "group", "exclusiongroup":
				as.targetType = "groupAssignmentTarget"
				if strings.EqualFold(a.Target, "exclusionGroup") {
					as.targetType = "exclusionGroupAssignmentTarget"
				}
				if as.GroupID == "" {
					if a.GroupTag == "" {
						return nil, fmt.Errorf("deployment_profiles[%d].assignments[%d]: a group target needs group_id or group_tag", i, j)
					}
					as.GroupID = stableGUID("group", strings.ToLower(a.GroupTag))
				}
				as.id = p.ID + "_" + as.GroupID + "_0"
			default:
				return nil, fmt.Errorf("deployment_profiles[%d].assignments[%d].target %q: use \"allDevices\", \"group\" or \"exclusionGroup\"", i, j, a.Target)
			}
			p.assignments = append(p.assignments, as)
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// inGroupLocked reports whether device d is a member of the assignment's group. The
// only membership the emulator knows is the group_tag rule; Entra groups, when the
// emulator has them, plug in here.
func (s *Server) inGroupLocked(a assignment, d *Device) bool {
	return a.GroupTag != "" && strings.EqualFold(strings.TrimSpace(d.GroupTag), strings.TrimSpace(a.GroupTag))
}

// targetsLocked reports whether p targets d: an allDevices or group assignment
// includes it and no exclusionGroup assignment excludes it.
func (s *Server) targetsLocked(p *profile, d *Device) bool {
	in := false
	for _, a := range p.assignments {
		switch a.targetType {
		case "exclusionGroupAssignmentTarget":
			if s.inGroupLocked(a, d) {
				return false
			}
		case "allDevicesAssignmentTarget":
			in = true
		case "groupAssignmentTarget":
			in = in || s.inGroupLocked(a, d)
		}
	}
	return in
}

// Profile assignment status values (windowsAutopilotProfileAssignmentStatus; the
// misspelling is the service's).
const (
	ProfileNotAssigned = "notAssigned"
	ProfilePending     = "pending"
	ProfileAssigned    = "assignedUnkownSyncState"
)

// profileState is a device's profile assignment at a moment.
type profileState struct {
	status     string
	intended   *profile  // the profile targeting the device (oldest created wins)
	assigned   *profile  // set once assigned
	assignedAt time.Time // zero until assigned
}

// profileStateLocked computes d's assignment at now: notAssigned while no profile
// targets it; once targeted (since it was registered, or since the emulator started
// for seeded devices), notAssigned for the first half of profile_delay (the service
// has not noticed yet), pending ("Assigning") for the second half, then
// assignedUnkownSyncState with deploymentProfileAssignedDateTime = targeted + profile_delay.
func (s *Server) profileStateLocked(d *Device, now time.Time) profileState {
	var p *profile
	for _, c := range s.profiles { // oldest first
		if s.targetsLocked(c, d) {
			p = c
			break
		}
	}
	if p == nil {
		return profileState{status: ProfileNotAssigned}
	}
	since := d.RegisteredAt
	if since.IsZero() || since.Before(s.startedAt) {
		since = s.startedAt // the configured assignments exist since the start
	}
	delay := s.cfg.ProfileDelay.D()
	switch {
	case now.Before(since.Add(delay / 2)):
		return profileState{status: ProfileNotAssigned, intended: p}
	case now.Before(since.Add(delay)):
		return profileState{status: ProfilePending, intended: p}
	}
	return profileState{status: ProfileAssigned, intended: p, assigned: p, assignedAt: since.Add(delay)}
}

// ---- wire forms ----

// oobeNew is outOfBoxExperienceSetting; oobeOld, the same fields under their old
// names, is outOfBoxExperienceSettings (a conversion of oobeNew).
type oobeNew struct {
	PrivacySettingsHidden        bool   `json:"privacySettingsHidden"`
	EulaHidden                   bool   `json:"eulaHidden"`
	UserType                     string `json:"userType"`
	DeviceUsageType              string `json:"deviceUsageType"`
	KeyboardSelectionPageSkipped bool   `json:"keyboardSelectionPageSkipped"`
	EscapeLinkHidden             bool   `json:"escapeLinkHidden"`
}

type oobeOld struct {
	PrivacySettingsHidden        bool   `json:"hidePrivacySettings"`
	EulaHidden                   bool   `json:"hideEULA"`
	UserType                     string `json:"userType"`
	DeviceUsageType              string `json:"deviceUsageType"`
	KeyboardSelectionPageSkipped bool   `json:"skipKeyboardSelectionPage"`
	EscapeLinkHidden             bool   `json:"hideEscapeLink"`
}

// profileJSON is the beta wire form of a profile (a map: the served names depend on
// property_names, and a list holds at most a few hundred).
func profileJSON(p *profile) map[string]any {
	m := map[string]any{
		"@odata.type":                    p.odataType,
		"id":                             p.ID,
		"displayName":                    p.DisplayName,
		"description":                    p.Description,
		"createdDateTime":                p.Created.UTC().Format(time.RFC3339Nano),
		"lastModifiedDateTime":           p.Created.UTC().Format(time.RFC3339Nano),
		"deviceNameTemplate":             p.DeviceNameTemplate,
		"deviceType":                     p.DeviceType,
		"roleScopeTagIds":                []string{"0"},
		"managementServiceAppId":         nil,
		"enrollmentStatusScreenSettings": nil,
	}
	if p.odataType == "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile" {
		m["hybridAzureADJoinSkipConnectivityCheck"] = p.HybridSkipConnectivityCheck
	}
	oobe := oobeNew{PrivacySettingsHidden: p.PrivacySettingsHidden, EulaHidden: p.EULAHidden,
		UserType: p.UserType, DeviceUsageType: p.DeviceUsageType, KeyboardSelectionPageSkipped: p.KeyboardSelectionPageSkipped,
		EscapeLinkHidden: p.EscapeLinkHidden}
	if p.PropertyNames != "old" {
		m["locale"] = p.Locale
		m["hardwareHashExtractionEnabled"] = p.HardwareHashExtraction
		m["preprovisioningAllowed"] = p.PreprovisioningAllowed
		m["outOfBoxExperienceSetting"] = oobe
	}
	if p.PropertyNames == "new" {
		m["language"], m["extractHardwareHash"], m["enableWhiteGlove"], m["outOfBoxExperienceSettings"] = nil, nil, nil, nil
	} else {
		m["language"] = p.Locale
		m["extractHardwareHash"] = p.HardwareHashExtraction
		m["enableWhiteGlove"] = p.PreprovisioningAllowed
		m["outOfBoxExperienceSettings"] = oobeOld(oobe)
	}
	return m
}

func assignmentJSON(a assignment) map[string]any {
	target := map[string]any{"@odata.type": "#microsoft.graph." + a.targetType,
		"deviceAndAppManagementAssignmentFilterId": nil, "deviceAndAppManagementAssignmentFilterType": "none"}
	if a.GroupID != "" {
		target["groupId"] = a.GroupID
	}
	return map[string]any{"id": a.id, "source": "direct", "sourceId": nil, "target": target}
}

// ---- routes ----

// routeProfiles serves beta windowsAutopilotDeploymentProfiles: list (paged), {id},
// {id}/assignments and {id}/assignments/{assignmentId}. Writes are not emulated (405).
func (s *Server) routeProfiles(r *http.Request, version string, sub []string) *resp {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	find := func(id string) *profile {
		for _, p := range s.profiles {
			if strings.EqualFold(p.ID, id) {
				return p
			}
		}
		return nil
	}
	switch {
	case len(sub) == 0:
		q := r.URL.Query()
		if getQ(q, "$filter") != "" {
			return graphError(r, http.StatusBadRequest, "BadRequest", "The emulator does not filter deployment profiles.", false)
		}
		top := s.cfg.PageSize
		if t := getQ(q, "$top"); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 {
				return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for $top query option found.", t), false)
			}
			if n > 0 && n < top {
				top = n
			}
		}
		start := int64(0)
		if t := getQ(q, "$skiptoken"); t != "" {
			var ok bool
			if start, ok = decodeSkip(t); !ok || start < 0 {
				return graphError(r, http.StatusBadRequest, "BadRequest", "The $skiptoken is not valid.", true)
			}
		}
		vals := []map[string]any{}
		end := min(int(start)+top, len(s.profiles))
		for i := int(start); i < end; i++ {
			vals = append(vals, profileJSON(s.profiles[i]))
		}
		out := map[string]any{"@odata.context": s.contextURL(r, version, "deviceManagement/windowsAutopilotDeploymentProfiles"), "value": vals}
		if end < len(s.profiles) {
			out["@odata.nextLink"] = s.nextLink(r, version, int64(end))
		}
		return okJSON(r, http.StatusOK, out)
	case len(sub) >= 1:
		id := keySegment(sub[0])
		p := find(id)
		if p == nil {
			return notFound(r, "windowsAutopilotDeploymentProfile", id)
		}
		if len(sub) == 1 {
			m := profileJSON(p)
			m["@odata.context"] = s.contextURL(r, version, "deviceManagement/windowsAutopilotDeploymentProfiles/$entity")
			return okJSON(r, http.StatusOK, m)
		}
		if !strings.EqualFold(sub[1], "assignments") {
			return segmentError(r, sub[1])
		}
		if len(sub) == 2 {
			vals := []map[string]any{}
			for _, a := range p.assignments {
				vals = append(vals, assignmentJSON(a))
			}
			return okJSON(r, http.StatusOK, map[string]any{
				"@odata.context": s.contextURL(r, version, "deviceManagement/windowsAutopilotDeploymentProfiles('"+p.ID+"')/assignments"),
				"value":          vals})
		}
		if len(sub) == 3 {
			aid := keySegment(sub[2])
			for _, a := range p.assignments {
				if strings.EqualFold(a.id, aid) {
					m := assignmentJSON(a)
					m["@odata.context"] = s.contextURL(r, version, "deviceManagement/windowsAutopilotDeploymentProfiles('"+p.ID+"')/assignments/$entity")
					return okJSON(r, http.StatusOK, m)
				}
			}
			return notFound(r, "windowsAutopilotDeploymentProfileAssignment", aid)
		}
	}
	return segmentError(r, sub[len(sub)-1])
}

// routeOrganization serves GET /organization and /organization/{id} (v1.0 and beta).
func (s *Server) routeOrganization(r *http.Request, version string, sub []string) *resp {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	org := s.cfg.Organization
	domains := make([]map[string]any, 0, len(org.VerifiedDomains))
	for _, d := range org.VerifiedDomains {
		domains = append(domains, map[string]any{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d.IsDefault,
			"isInitial": d.IsInitial, "name": d.Name, "type": firstNonEmpty(d.Type, "Managed")})
	}
	entity := map[string]any{"id": s.TenantID, "displayName": org.DisplayName, "verifiedDomains": domains,
		"tenantType": "AAD", "countryLetterCode": "US", "preferredLanguage": "en"}
	switch {
	case len(sub) == 0:
		return okJSON(r, http.StatusOK, map[string]any{"@odata.context": s.contextURL(r, version, "organization"), "value": []any{entity}})
	case len(sub) == 1:
		if id := keySegment(sub[0]); !strings.EqualFold(id, s.TenantID) {
			return graphError(r, http.StatusNotFound, "Request_ResourceNotFound",
				fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id), false)
		}
		entity["@odata.context"] = s.contextURL(r, version, "organization/$entity")
		return okJSON(r, http.StatusOK, entity)
	}
	return segmentError(r, sub[len(sub)-1])
}

// organizationRoles are the application permissions that allow reading /organization.
var organizationRoles = []string{RoleOrganizationRead, "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// ---- beta fields of windowsAutopilotDeviceIdentity ----

// betaDeviceOut adds the beta-only profile fields (lifecycle-api.md §2.1).
type betaDeviceOut struct {
	deviceOut
	DeploymentProfileAssignmentStatus         string         `json:"deploymentProfileAssignmentStatus"`
	DeploymentProfileAssignmentDetailedStatus string         `json:"deploymentProfileAssignmentDetailedStatus"`
	DeploymentProfileAssignedDateTime         string         `json:"deploymentProfileAssignedDateTime"`
	DeploymentProfile                         map[string]any `json:"deploymentProfile,omitempty"`
	IntendedDeploymentProfile                 map[string]any `json:"intendedDeploymentProfile,omitempty"`
	// expanded reports which navigations were asked for: an expanded navigation
	// with no profile is written as null, not omitted.
	expandProfile, expandIntended bool
}

// deviceViewer returns how to write registered devices for this request: the v1.0
// properties, plus on beta the profile assignment fields and, with
// $expand=deploymentProfile / intendedDeploymentProfile, the profiles. A $expand the
// entity does not have (on v1.0: any, lifecycle-api.md §2.2) is a 400.
// The returned function must be called with s.mu held; now is the request's time.
func (s *Server) deviceViewer(r *http.Request, version string, now time.Time) (func(d *Device) any, *resp) {
	var expandProfile, expandIntended bool
	if e := getQ(r.URL.Query(), "$expand"); e != "" {
		for _, part := range strings.Split(e, ",") {
			name := strings.TrimSpace(part)
			switch {
			case version == "beta" && strings.EqualFold(name, "deploymentProfile"):
				expandProfile = true
			case version == "beta" && strings.EqualFold(name, "intendedDeploymentProfile"):
				expandIntended = true
			default:
				return nil, graphError(r, http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type 'microsoft.graph.windowsAutopilotDeviceIdentity'.", name), false)
			}
		}
	}
	if version != "beta" {
		return func(d *Device) any { return deviceJSON(d) }, nil
	}
	return func(d *Device) any {
		st := s.profileStateLocked(d, now)
		out := betaDeviceOut{deviceOut: deviceJSON(d), DeploymentProfileAssignmentStatus: st.status,
			DeploymentProfileAssignmentDetailedStatus: "none",
			DeploymentProfileAssignedDateTime:         st.assignedAt.UTC().Format("2006-01-02T15:04:05Z"),
			expandProfile:                             expandProfile, expandIntended: expandIntended}
		if expandProfile && st.assigned != nil {
			out.DeploymentProfile = profileJSON(st.assigned)
		}
		if expandIntended && st.intended != nil {
			out.IntendedDeploymentProfile = profileJSON(st.intended)
		}
		return out
	}, nil
}

// MarshalJSON writes an expanded navigation without a profile as null.
func (b betaDeviceOut) MarshalJSON() ([]byte, error) {
	type plain betaDeviceOut
	buf, err := json.Marshal(plain(b))
	if err != nil || (!b.expandProfile || b.DeploymentProfile != nil) && (!b.expandIntended || b.IntendedDeploymentProfile != nil) {
		return buf, err
	}
	buf = buf[:len(buf)-1] // drop the closing brace
	if b.expandProfile && b.DeploymentProfile == nil {
		buf = append(buf, `,"deploymentProfile":null`...)
	}
	if b.expandIntended && b.IntendedDeploymentProfile == nil {
		buf = append(buf, `,"intendedDeploymentProfile":null`...)
	}
	return append(buf, '}'), nil
}

// ProfileStatus returns the deploymentProfileAssignmentStatus of the registered device
// id now and the name of its assigned profile ("" until assigned); ok is false for an
// unknown device.
func (s *Server) ProfileStatus(id string) (status, profileName string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	d, ok := s.st.regByID[id]
	if !ok {
		return "", "", false
	}
	st := s.profileStateLocked(d, s.clock())
	if st.assigned != nil {
		profileName = st.assigned.DisplayName
	}
	return st.status, profileName, true
}

// withContext writes the entity v (a JSON object) with @odata.context first.
func withContext(context string, v any) json.RawMessage {
	b, _ := json.Marshal(v)
	c, _ := json.Marshal(context)
	out := append([]byte(`{"@odata.context":`), c...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...)
}
