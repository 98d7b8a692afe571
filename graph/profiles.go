package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/apimport/apimport/deployprofile"
)

// Deployment profiles exist only in beta (lifecycle-api.md §1.1); like the sync, they
// are read with raw requests through the same request adapter, so they share the
// client's throttle budget, retry policy, token and error contract. The v1.0 SDK
// has no builder for them and msgraph-beta-sdk-go is not used (it doubles the build).

const profilesPath = "/deviceManagement/windowsAutopilotDeploymentProfiles"

// maxPages bounds a paged listing against a service whose @odata.nextLink never ends
// (a link seen twice stops it at once). It is not a size limit: the import records
// and devices of a large tenant are listed through it, at a page size the service
// chooses (100 a page would be 1,000 pages for 100,000 records), so it allows 10
// million records at 100 a page.
const maxPages = 100_000

// OrganizationReadPermission is the application permission GetOrganization needs
// (delegated: User.Read; lifecycle-api.md §7).
const OrganizationReadPermission = "Organization.Read.All"

// organizationReaders are the permissions that allow GET /organization: the least
// privileged (Organization.Read.All for applications, User.Read for users) and the
// broader ones that include it.
var organizationReaders = []string{OrganizationReadPermission, "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// CheckProfileReadPermissions checks, from the token Preflight read, that it may read
// deployment profiles (DeviceManagementServiceConfig.Read.All or .ReadWrite.All) and
// the organization (applications: Organization.Read.All or a broader
// Organization/Directory permission; users: User.Read or one of those). The error
// matches ErrMissingPermission (and importer.ErrPermission) and names the least
// privileged permissions to grant.
func CheckProfileReadPermissions(info TokenInfo) error {
	has := func(list []string, ps ...string) bool {
		for _, p := range ps {
			if slices.Contains(list, p) {
				return true
			}
		}
		return false
	}
	delegated := len(info.Roles) == 0 && len(info.Scopes) > 0
	kind, have := "roles", info.Roles
	how, orgPerm := "grant the application permission", OrganizationReadPermission
	if delegated {
		kind, have = "scopes", info.Scopes
		how, orgPerm = "add the delegated permission", "User.Read"
	}
	var missing []string
	if !has(have, ReadPermission, RequiredPermission) {
		missing = append(missing, ReadPermission)
	}
	orgOK := has(have, organizationReaders...)
	if delegated {
		orgOK = orgOK || has(have, "User.Read", "User.Read.All", "User.ReadWrite", "User.ReadWrite.All", "Directory.AccessAsUser.All")
	}
	if !orgOK {
		missing = append(missing, orgPerm)
	}
	if len(missing) == 0 {
		return nil
	}
	if len(missing) > 1 {
		how += "s"
	}
	return &missingReadError{fmt.Sprintf("missing Graph permission %s: the token has %s [%s]; reading deployment profiles needs %s and the tenant's domains need %s (or broader); %s %s and admin consent",
		strings.Join(missing, " and "), kind, strings.Join(have, " "), ReadPermission, orgPerm, how, strings.Join(missing, " and "))}
}

// getRaw sends a GET to an absolute Graph URL and returns the body. The URL must be
// on the client's Graph host (a nextLink elsewhere is refused: tokens go only there).
func (c *Client) getRaw(ctx context.Context, op, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: bad URL: %w", op, err)
	}
	base, _ := url.Parse(c.ep.GraphURL)
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return nil, fmt.Errorf("%s: the service sent a link to %s://%s, not to %s; refused", op, u.Scheme, u.Host, c.ep.GraphURL)
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.GET
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	v, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", odataErrorMappings())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, convertError(err))
	}
	b, _ := v.([]byte)
	return b, nil
}

// getPaged follows @odata.nextLink from first and calls fn with each page's items.
func (c *Client) getPaged(ctx context.Context, op, first string, fn func(json.RawMessage) error) error {
	seen := map[string]bool{}
	next := first
	for page := 0; next != ""; page++ {
		if page >= maxPages || seen[next] {
			return fmt.Errorf("%s: the service's @odata.nextLink does not end (page %d)", op, page+1)
		}
		seen[next] = true
		b, err := c.getRaw(ctx, op, next)
		if err != nil {
			return err
		}
		var body struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return fmt.Errorf("%s: unreadable answer: %w", op, err)
		}
		for _, v := range body.Value {
			if err := fn(v); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		next = body.NextLink
	}
	return nil
}

// ListDeploymentProfiles returns every Windows Autopilot deployment profile of the
// tenant (beta, paged), of both kinds (Entra join and hybrid join), in the service's
// order. Properties are read by their new names, falling back to the deprecated ones
// (lifecycle-api.md §1.3). Errors follow the client's error contract.
func (c *Client) ListDeploymentProfiles(ctx context.Context) ([]deployprofile.Profile, error) {
	var out []deployprofile.Profile
	err := c.getPaged(ctx, "list deployment profiles", c.ep.GraphURL+"/beta"+profilesPath, func(raw json.RawMessage) error {
		p, err := decodeProfile(raw)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// GetDeploymentProfile reads one profile by id; an unknown id matches importer.ErrNotFound.
func (c *Client) GetDeploymentProfile(ctx context.Context, id string) (deployprofile.Profile, error) {
	if id == "" {
		return deployprofile.Profile{}, errors.New("get deployment profile: empty id")
	}
	b, err := c.getRaw(ctx, "get deployment profile "+id, c.ep.GraphURL+"/beta"+profilesPath+"/"+url.PathEscape(id))
	if err != nil {
		return deployprofile.Profile{}, err
	}
	p, err := decodeProfile(b)
	if err != nil {
		return deployprofile.Profile{}, fmt.Errorf("get deployment profile %s: %w", id, err)
	}
	return p, nil
}

// ListProfileAssignments returns the profile's assignments (group, exclusion group and
// all-devices targets), following paging. An unknown profile matches importer.ErrNotFound.
func (c *Client) ListProfileAssignments(ctx context.Context, id string) ([]deployprofile.Assignment, error) {
	if id == "" {
		return nil, errors.New("list profile assignments: empty id")
	}
	var out []deployprofile.Assignment
	err := c.getPaged(ctx, "list assignments of profile "+id, c.ep.GraphURL+"/beta"+profilesPath+"/"+url.PathEscape(id)+"/assignments", func(raw json.RawMessage) error {
		var w struct {
			ID     string `json:"id"`
			Source string `json:"source"`
			Target *struct {
				ODataType string `json:"@odata.type"`
				GroupID   string `json:"groupId"`
			} `json:"target"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return fmt.Errorf("unreadable assignment: %w", err)
		}
		a := deployprofile.Assignment{ID: w.ID, Source: w.Source}
		if w.Target != nil {
			a.TargetType = strings.TrimPrefix(w.Target.ODataType, "#microsoft.graph.")
			a.GroupID = w.Target.GroupID
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// GetOrganization reads v1.0 /organization: the tenant id and its verified domains
// (lifecycle-api.md §3.3). Needs Organization.Read.All (application) or User.Read
// (delegated).
func (c *Client) GetOrganization(ctx context.Context) (deployprofile.Organization, error) {
	b, err := c.getRaw(ctx, "get organization", c.ep.GraphURL+"/v1.0/organization")
	if err != nil {
		return deployprofile.Organization{}, err
	}
	var body struct {
		Value []struct {
			ID              string `json:"id"`
			DisplayName     string `json:"displayName"`
			VerifiedDomains []struct {
				Name      string `json:"name"`
				IsDefault bool   `json:"isDefault"`
				IsInitial bool   `json:"isInitial"`
				Type      string `json:"type"`
			} `json:"verifiedDomains"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return deployprofile.Organization{}, fmt.Errorf("get organization: unreadable answer: %w", err)
	}
	if len(body.Value) == 0 || body.Value[0].ID == "" {
		return deployprofile.Organization{}, errors.New("get organization: the answer has no organization")
	}
	o := body.Value[0]
	org := deployprofile.Organization{ID: o.ID, DisplayName: o.DisplayName}
	for _, d := range o.VerifiedDomains {
		org.VerifiedDomains = append(org.VerifiedDomains, deployprofile.VerifiedDomain{Name: d.Name, IsDefault: d.IsDefault, IsInitial: d.IsInitial, Type: d.Type})
	}
	return org, nil
}

// wireOOBE holds both shapes of the OOBE settings; a nil field was absent or null.
type wireOOBE struct {
	// new names (outOfBoxExperienceSetting)
	PrivacySettingsHidden        *bool `json:"privacySettingsHidden"`
	EulaHidden                   *bool `json:"eulaHidden"`
	KeyboardSelectionPageSkipped *bool `json:"keyboardSelectionPageSkipped"`
	EscapeLinkHidden             *bool `json:"escapeLinkHidden"`
	// old names (outOfBoxExperienceSettings)
	HidePrivacySettings       *bool `json:"hidePrivacySettings"`
	HideEULA                  *bool `json:"hideEULA"`
	SkipKeyboardSelectionPage *bool `json:"skipKeyboardSelectionPage"`
	HideEscapeLink            *bool `json:"hideEscapeLink"`
	// both
	UserType        *string `json:"userType"`
	DeviceUsageType *string `json:"deviceUsageType"`
}

type wireProfile struct {
	ODataType              string    `json:"@odata.type"`
	ID                     string    `json:"id"`
	DisplayName            string    `json:"displayName"`
	Description            string    `json:"description"`
	DeviceNameTemplate     string    `json:"deviceNameTemplate"`
	DeviceType             string    `json:"deviceType"`
	ManagementServiceAppID string    `json:"managementServiceAppId"`
	Locale                 *string   `json:"locale"`
	Language               *string   `json:"language"`
	HashExtractionEnabled  *bool     `json:"hardwareHashExtractionEnabled"`
	ExtractHardwareHash    *bool     `json:"extractHardwareHash"`
	PreprovisioningAllowed *bool     `json:"preprovisioningAllowed"`
	EnableWhiteGlove       *bool     `json:"enableWhiteGlove"`
	HybridSkipCheck        *bool     `json:"hybridAzureADJoinSkipConnectivityCheck"`
	OOBENew                *wireOOBE `json:"outOfBoxExperienceSetting"`
	OOBEOld                *wireOOBE `json:"outOfBoxExperienceSettings"`
	Created                time.Time `json:"createdDateTime"`
	Modified               time.Time `json:"lastModifiedDateTime"`
}

// decodeProfile reads one profile, new property names first, each field falling back
// to its deprecated name when the new one is absent or null.
func decodeProfile(raw []byte) (deployprofile.Profile, error) {
	var w wireProfile
	if err := json.Unmarshal(raw, &w); err != nil {
		return deployprofile.Profile{}, fmt.Errorf("unreadable deployment profile: %w", err)
	}
	if w.ID == "" {
		return deployprofile.Profile{}, errors.New("a deployment profile without an id")
	}
	p := deployprofile.Profile{
		ID: w.ID, ODataType: w.ODataType, DisplayName: w.DisplayName, Description: w.Description,
		DeviceNameTemplate: w.DeviceNameTemplate, DeviceType: w.DeviceType, ManagementServiceAppID: w.ManagementServiceAppID,
		Language:                    firstStr(w.Locale, w.Language),
		HardwareHashExtraction:      firstBool(w.HashExtractionEnabled, w.ExtractHardwareHash),
		PreprovisioningAllowed:      firstBool(w.PreprovisioningAllowed, w.EnableWhiteGlove),
		HybridSkipConnectivityCheck: firstBool(w.HybridSkipCheck),
		CreatedDateTime:             w.Created, LastModifiedDateTime: w.Modified,
	}
	n, o := w.OOBENew, w.OOBEOld
	if n == nil {
		n = &wireOOBE{}
	}
	if o == nil {
		o = &wireOOBE{}
	}
	p.OOBE = deployprofile.OOBESettings{
		PrivacySettingsHidden:        firstBool(n.PrivacySettingsHidden, o.HidePrivacySettings),
		EULAHidden:                   firstBool(n.EulaHidden, o.HideEULA),
		KeyboardSelectionPageSkipped: firstBool(n.KeyboardSelectionPageSkipped, o.SkipKeyboardSelectionPage),
		EscapeLinkHidden:             firstBool(n.EscapeLinkHidden, o.HideEscapeLink),
		UserType:                     firstStr(n.UserType, o.UserType),
		DeviceUsageType:              firstStr(n.DeviceUsageType, o.DeviceUsageType),
	}
	return p, nil
}

func firstBool(ps ...*bool) bool {
	for _, p := range ps {
		if p != nil {
			return *p
		}
	}
	return false
}

func firstStr(ps ...*string) string {
	for _, p := range ps {
		if p != nil && *p != "" {
			return *p
		}
	}
	return ""
}
