package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/apimport/apimport/importer"
)

// DeleteDevice deregisters a windowsAutopilotDeviceIdentity. The service documents 204
// and answers 200 (both success); an unknown id is answered 400 "Cannot find device with
// ztd Id … to delete" instead of 404 (lifecycle-api §4.1), which is ErrNotFound here.
func (c *Client) DeleteDevice(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete autopilot device: empty id")
	}
	tr := &callTrace{}
	err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId(id).Delete(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), nil)
	if err == nil {
		return nil
	}
	err = writeErr("delete autopilot device "+id, err, tr)
	var ae *importer.APIError
	// The service's own wording is the only signal it gives for "already gone" (a 400,
	// not a 404); it is matched here, where the answer is parsed, and nowhere else.
	if errors.As(err, &ae) && ae.StatusCode == 400 && strings.Contains(strings.ToLower(ae.Message), "cannot find device") {
		return fmt.Errorf("delete autopilot device %s: %w", id, errors.Join(importer.ErrNotFound, ae))
	}
	return err
}

// UnassignUser calls unassignUserFromDevice.
func (c *Client) UnassignUser(ctx context.Context, id string) error {
	tr := &callTrace{}
	err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId(id).UnassignUserFromDevice().Post(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), nil)
	if err != nil {
		return writeErr("unassign the user of autopilot device "+id, err, tr)
	}
	return nil
}

// FindManagedDevices returns the Intune managed devices whose serial equals serial.
func (c *Client) FindManagedDevices(ctx context.Context, serial string) ([]importer.ManagedDevice, error) {
	filter := "serialNumber eq '" + strings.ReplaceAll(serial, "'", "''") + "'"
	page, err := c.dm.ManagedDevices().Get(ctx, &devicemanagement.ManagedDevicesRequestBuilderGetRequestConfiguration{
		QueryParameters: &devicemanagement.ManagedDevicesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		return nil, fmt.Errorf("find Intune managed devices: %w", convertError(err))
	}
	var out []importer.ManagedDevice
	for _, m := range page.GetValue() {
		if m == nil || !strings.EqualFold(strings.TrimSpace(deref(m.GetSerialNumber())), strings.TrimSpace(serial)) {
			continue
		}
		out = append(out, importer.ManagedDevice{ID: deref(m.GetId()), Serial: deref(m.GetSerialNumber()), DeviceName: deref(m.GetDeviceName())})
	}
	return out, nil
}

// DeleteManagedDevice deletes an Intune managed device.
func (c *Client) DeleteManagedDevice(ctx context.Context, id string) error {
	tr := &callTrace{}
	err := c.dm.ManagedDevices().ByManagedDeviceId(id).Delete(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), nil)
	if err != nil {
		return writeErr("delete Intune managed device "+id, err, tr)
	}
	return nil
}

// betaDevice is a beta windowsAutopilotDeviceIdentity with the profile fields.
type betaDevice struct {
	ID                                string     `json:"id"`
	SerialNumber                      string     `json:"serialNumber"`
	Manufacturer                      string     `json:"manufacturer"`
	Model                             string     `json:"model"`
	GroupTag                          string     `json:"groupTag"`
	UserPrincipalName                 string     `json:"userPrincipalName"`
	DisplayName                       string     `json:"displayName"`
	EnrollmentState                   string     `json:"enrollmentState"`
	AzureAdDeviceID                   string     `json:"azureAdDeviceId"`
	AzureActiveDirectoryDeviceID      string     `json:"azureActiveDirectoryDeviceId"`
	ManagedDeviceID                   string     `json:"managedDeviceId"`
	LastContactedDateTime             *time.Time `json:"lastContactedDateTime"`
	DeploymentProfileAssignmentStatus string     `json:"deploymentProfileAssignmentStatus"`
	DeploymentProfileAssignedDateTime *time.Time `json:"deploymentProfileAssignedDateTime"`
	DeploymentProfile                 *struct {
		DisplayName string `json:"displayName"`
	} `json:"deploymentProfile"`
}

func (b betaDevice) device() importer.AutopilotDevice {
	d := importer.AutopilotDevice{ID: b.ID, Serial: b.SerialNumber, Manufacturer: b.Manufacturer, Model: b.Model,
		GroupTag: b.GroupTag, UserPrincipalName: b.UserPrincipalName, DisplayName: b.DisplayName,
		EnrollmentState: b.EnrollmentState, EntraDeviceID: b.AzureAdDeviceID, ManagedDeviceID: b.ManagedDeviceID,
		ProfileStatus: b.DeploymentProfileAssignmentStatus}
	if d.EntraDeviceID == "" {
		d.EntraDeviceID = b.AzureActiveDirectoryDeviceID
	}
	if b.LastContactedDateTime != nil {
		d.LastContact = *b.LastContactedDateTime
	}
	if b.DeploymentProfileAssignedDateTime != nil && b.DeploymentProfileAssignedDateTime.Year() > 1 {
		d.ProfileAssigned = *b.DeploymentProfileAssignedDateTime
	}
	if b.DeploymentProfile != nil {
		d.ProfileName = b.DeploymentProfile.DisplayName
	}
	return d
}

// ListDevicesDetailed pages through the registered Autopilot devices with the beta
// profile fields (assignment status, assigned profile's name through
// $expand=deploymentProfile), matching filter (an OData $filter, "" for all); fn
// returns false to stop. Beta calls go through the same request adapter, throttle
// budget and retry layer as every other call.
func (c *Client) ListDevicesDetailed(ctx context.Context, filter string, fn func(importer.AutopilotDevice) bool) error {
	q := url.Values{"$expand": {"deploymentProfile"}}
	if filter != "" {
		q.Set("$filter", filter)
	}
	first := c.ep.GraphURL + "/beta/deviceManagement/windowsAutopilotDeviceIdentities?" + q.Encode()
	return eachPaged(ctx, c, "list autopilot devices", first, func(d betaDevice) bool { return fn(d.device()) })
}

// errStopPaging ends getPaged early when the caller's function returns false.
var errStopPaging = errors.New("stop paging")

// eachPaged follows @odata.nextLink from first (getPaged), decodes every item into a T
// and calls fn with it; fn returns false to stop, which is not an error.
func eachPaged[T any](ctx context.Context, c *Client, op, first string, fn func(T) bool) error {
	err := c.getPaged(ctx, op, first, func(raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if !fn(v) {
			return errStopPaging
		}
		return nil
	})
	if errors.Is(err, errStopPaging) {
		return nil
	}
	return err
}

// deviceFields copies the v1.0 fields beyond the basic ones.
func deviceFields(d *importer.AutopilotDevice, m models.WindowsAutopilotDeviceIdentityable) {
	if s := m.GetEnrollmentState(); s != nil {
		d.EnrollmentState = s.String()
	}
	d.EntraDeviceID = deref(m.GetAzureActiveDirectoryDeviceId())
	d.ManagedDeviceID = deref(m.GetManagedDeviceId())
	if t := m.GetLastContactedDateTime(); t != nil {
		d.LastContact = *t
	}
}

// DeviceProfiles reads the profile fields of registered devices by id. For few devices
// it GETs each (beta, $expand=deploymentProfile); for many it lists the tenant once.
// A single GET has been reported to show "unknown" while the list shows the status
// and deploymentProfileAssignedDateTime is set (lifecycle-api §2.2): such a device
// counts as assigned (assignedUnkownSyncState).
func (c *Client) DeviceProfiles(ctx context.Context, ids []string) (map[string]importer.AutopilotDevice, error) {
	out := make(map[string]importer.AutopilotDevice, len(ids))
	if len(ids) > 50 {
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		err := c.ListDevicesDetailed(ctx, "", func(d importer.AutopilotDevice) bool {
			if want[d.ID] {
				out[d.ID] = profileFixup(d)
			}
			return true
		})
		return out, err
	}
	for _, id := range ids {
		ri, err := c.betaRequest(abs.GET, "/deviceManagement/windowsAutopilotDeviceIdentities/"+url.PathEscape(id)+"?%24expand=deploymentProfile")
		if err != nil {
			return nil, err
		}
		v, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", odataErrorMappings())
		if err != nil {
			err = convertError(err)
			if errors.Is(err, importer.ErrNotFound) {
				continue
			}
			return out, fmt.Errorf("get autopilot device %s: %w", id, err)
		}
		b, _ := v.([]byte)
		var d betaDevice
		if err := json.Unmarshal(b, &d); err != nil {
			return out, fmt.Errorf("get autopilot device %s: %w", id, err)
		}
		out[id] = profileFixup(d.device())
	}
	return out, nil
}

func profileFixup(d importer.AutopilotDevice) importer.AutopilotDevice {
	if (d.ProfileStatus == "" || d.ProfileStatus == "unknown") && !d.ProfileAssigned.IsZero() {
		d.ProfileStatus = "assignedUnkownSyncState"
	}
	return d
}

// Group is an Entra group.
type Group struct {
	ID          string
	DisplayName string
	Dynamic     bool // membershipRule set: members cannot be added by hand
}

// ErrGroupNotFound and ErrGroupAmbiguous are ResolveGroup's answers for a name that
// names no group or several.
var (
	ErrGroupNotFound  error = &classError{msg: "no such group", class: importer.ErrConfig}
	ErrGroupAmbiguous error = &classError{msg: "several groups have this name: give the group's object id", class: importer.ErrConfig}
)

func (c *Client) v1Request(method abs.HttpMethod, pathAndQuery string) (*abs.RequestInformation, error) {
	return c.newRequest(method, "/v1.0"+pathAndQuery)
}

func (c *Client) getJSON(ctx context.Context, ri *abs.RequestInformation, out any) error {
	v, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", odataErrorMappings())
	if err != nil {
		return convertError(err)
	}
	b, _ := v.([]byte)
	return json.Unmarshal(b, out)
}

// ResolveGroup finds a group by object id (a GUID) or by exact display name.
func (c *Client) ResolveGroup(ctx context.Context, ref string) (Group, error) {
	type groupJSON struct {
		ID              string   `json:"id"`
		DisplayName     string   `json:"displayName"`
		MembershipRule  string   `json:"membershipRule"`
		GroupTypes      []string `json:"groupTypes"`
		SecurityEnabled bool     `json:"securityEnabled"`
	}
	toGroup := func(g groupJSON) Group {
		return Group{ID: g.ID, DisplayName: g.DisplayName, Dynamic: g.MembershipRule != ""}
	}
	if isGUID(ref) {
		ri, err := c.v1Request(abs.GET, "/groups/"+url.PathEscape(ref))
		if err != nil {
			return Group{}, err
		}
		var g groupJSON
		if err := c.getJSON(ctx, ri, &g); err != nil {
			if errors.Is(err, importer.ErrNotFound) {
				return Group{}, fmt.Errorf("group %s: %w", ref, ErrGroupNotFound)
			}
			return Group{}, fmt.Errorf("group %s: %w", ref, err)
		}
		return toGroup(g), nil
	}
	q := url.Values{"$filter": {"displayName eq '" + strings.ReplaceAll(ref, "'", "''") + "'"}}
	ri, err := c.v1Request(abs.GET, "/groups?"+q.Encode())
	if err != nil {
		return Group{}, err
	}
	var page struct {
		Value []groupJSON `json:"value"`
	}
	if err := c.getJSON(ctx, ri, &page); err != nil {
		return Group{}, fmt.Errorf("group %q: %w", ref, err)
	}
	switch len(page.Value) {
	case 0:
		return Group{}, fmt.Errorf("group %q: %w", ref, ErrGroupNotFound)
	case 1:
		return toGroup(page.Value[0]), nil
	}
	return Group{}, fmt.Errorf("group %q: %w", ref, ErrGroupAmbiguous)
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f', r >= 'A' && r <= 'F':
		default:
			return false
		}
	}
	return true
}

// EntraDeviceObject returns the object id of the Entra device whose deviceId is
// deviceID (GET /devices(deviceId='…'), Device.Read.All); ErrNotFound while the
// registration has not created it yet.
func (c *Client) EntraDeviceObject(ctx context.Context, deviceID string) (string, error) {
	ri, err := c.v1Request(abs.GET, "/devices(deviceId='"+url.PathEscape(strings.ReplaceAll(deviceID, "'", "''"))+"')")
	if err != nil {
		return "", err
	}
	var d struct {
		ID string `json:"id"`
	}
	if err := c.getJSON(ctx, ri, &d); err != nil {
		return "", fmt.Errorf("Entra device %s: %w", deviceID, err)
	}
	if d.ID == "" {
		return "", fmt.Errorf("Entra device %s: %w", deviceID, importer.ErrNotFound)
	}
	return d.ID, nil
}

// AddGroupMember adds a directory object to a group (POST /groups/{id}/members/$ref,
// 204). The service answers 400 when the object is already a member (lifecycle-api §6):
// that is success here (false: nothing added), recognised by the service's wording
// where the answer is parsed.
func (c *Client) AddGroupMember(ctx context.Context, groupID, objectID string) (bool, error) {
	ri, err := c.v1Request(abs.POST, "/groups/"+url.PathEscape(groupID)+"/members/$ref")
	if err != nil {
		return false, err
	}
	body, _ := json.Marshal(map[string]string{"@odata.id": c.ep.GraphURL + "/v1.0/directoryObjects/" + objectID})
	ri.SetStreamContentAndContentType(body, "application/json")
	tr := &callTrace{}
	err = c.adapter.SendNoContent(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), ri, odataErrorMappings())
	if err == nil {
		return true, nil
	}
	err = writeErr("add "+objectID+" to group "+groupID, err, tr)
	var ae *importer.APIError
	if errors.As(err, &ae) && ae.StatusCode == 400 && strings.Contains(strings.ToLower(ae.Message), "already exist") {
		return false, nil
	}
	return false, err
}

// DeleteDevicesBulk calls POST …/windowsAutopilotDeviceIdentities/deleteDevices with
// serial numbers (lifecycle-api §4.2: documented, but absent from the metadata; its
// live existence is UNCONFIRMED) and returns the deletionState per serial.
func (c *Client) DeleteDevicesBulk(ctx context.Context, serials []string) (map[string]string, error) {
	ri, err := c.v1Request(abs.POST, "/deviceManagement/windowsAutopilotDeviceIdentities/deleteDevices")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string][]string{"serialNumbers": serials})
	ri.SetStreamContentAndContentType(body, "application/json")
	tr := &callTrace{}
	v, err := c.adapter.SendPrimitive(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), ri, "[]byte", odataErrorMappings())
	if err != nil {
		return nil, writeErr("deleteDevices", err, tr)
	}
	b, _ := v.([]byte)
	var page struct {
		Value []struct {
			SerialNumber  string `json:"serialNumber"`
			DeletionState string `json:"deletionState"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("deleteDevices: %w", err)
	}
	out := make(map[string]string, len(page.Value))
	for _, v := range page.Value {
		out[v.SerialNumber] = v.DeletionState
	}
	return out, nil
}
