package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/apimport/apimport/importer"
)

// Corporate device identifiers (Windows Autopilot device preparation) live only in the
// beta importedDeviceIdentities collection (absent from v1.0 and its SDK;
// lifecycle-api.md §5). The calls below are raw beta requests through the same request
// adapter, throttle budget and retry layer as every other call.
//
// Permissions (lifecycle-api.md §7): searchExistingIdentities and the list need
// DeviceManagementServiceConfig.Read.All; importDeviceIdentityList and DELETE need
// DeviceManagementServiceConfig.ReadWrite.All.

// identityTypeMMS is the importedDeviceIdentityType of manufacturer, model and serial.
const identityTypeMMS = "manufacturerModelSerial"

type identityIn struct {
	Type       string `json:"importedDeviceIdentityType"`
	Identifier string `json:"importedDeviceIdentifier"`
}

type identityOut struct {
	ID              string `json:"id"`
	Identifier      string `json:"importedDeviceIdentifier"`
	Type            string `json:"importedDeviceIdentityType"`
	Description     string `json:"description"`
	EnrollmentState string `json:"enrollmentState"`
	Status          *bool  `json:"status"`
}

func (o identityOut) identity() importer.DeviceIdentity {
	return importer.DeviceIdentity{ID: o.ID, Identifier: o.Identifier, Type: o.Type, Description: o.Description,
		EnrollmentState: o.EnrollmentState, Status: o.Status != nil && *o.Status}
}

func identitiesBody(identifiers []string, overwrite *bool) ([]byte, error) {
	list := make([]identityIn, len(identifiers))
	for i, id := range identifiers {
		if strings.Count(id, ",") != 2 {
			return nil, fmt.Errorf("corporate identifier %q is not manufacturer,model,serial", id)
		}
		list[i] = identityIn{Type: identityTypeMMS, Identifier: id}
	}
	body := map[string]any{"importedDeviceIdentities": list}
	if overwrite != nil {
		body["overwriteImportedDeviceIdentities"] = *overwrite
	}
	return json.Marshal(body)
}

// postIdentities sends a beta POST to importedDeviceIdentities/<action> and decodes the
// value[] of the answer.
func (c *Client) postIdentities(ctx context.Context, action string, body []byte, o callOpts) ([]importer.DeviceIdentity, error) {
	ri, err := c.betaRequest(abs.POST, "/deviceManagement/importedDeviceIdentities/"+action)
	if err != nil {
		return nil, err
	}
	ri.SetStreamContentAndContentType(body, "application/json")
	v, err := c.adapter.SendPrimitive(withCallOpts(ctx, o), ri, "[]byte", odataErrorMappings())
	if err != nil {
		return nil, err
	}
	b, _ := v.([]byte)
	var page struct {
		Value []identityOut `json:"value"`
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("%s: unreadable answer: %w", action, err)
		}
	}
	out := make([]importer.DeviceIdentity, len(page.Value))
	for i, v := range page.Value {
		out[i] = v.identity()
	}
	return out, nil
}

// SearchExistingIdentities calls POST beta …/importedDeviceIdentities/searchExistingIdentities
// with manufacturerModelSerial identities and returns those the tenant has (an empty
// list when none). It only reads: it is sent as a read (not counted as a write, resent
// on a 5xx like a GET) and needs DeviceManagementServiceConfig.Read.All.
func (c *Client) SearchExistingIdentities(ctx context.Context, identifiers []string) ([]importer.DeviceIdentity, error) {
	if len(identifiers) == 0 {
		return nil, nil
	}
	body, err := identitiesBody(identifiers, nil)
	if err != nil {
		return nil, err
	}
	out, err := c.postIdentities(ctx, "searchExistingIdentities", body, callOpts{batch: true, weight: 1, writes: 0, idempotent: true})
	if err != nil {
		return nil, fmt.Errorf("search existing corporate identifiers: %w", convertError(err))
	}
	return out, nil
}

// ImportDeviceIdentityList calls POST beta …/importedDeviceIdentities/importDeviceIdentityList
// (overwriteImportedDeviceIdentities as given) and returns the service's
// importedDeviceIdentityResult per identifier (Status true: accepted). A 5xx answer or
// a dropped connection is not resent and gives an error for which IsAmbiguous is true:
// search before posting again.
func (c *Client) ImportDeviceIdentityList(ctx context.Context, identifiers []string, overwrite bool) ([]importer.DeviceIdentity, error) {
	if len(identifiers) == 0 {
		return nil, nil
	}
	body, err := identitiesBody(identifiers, &overwrite)
	if err != nil {
		return nil, err
	}
	tr := &callTrace{}
	out, err := c.postIdentities(ctx, "importDeviceIdentityList", body, callOpts{trace: tr})
	if err != nil {
		return nil, writeErr("import corporate identifiers", err, tr)
	}
	return out, nil
}

// ListImportedDeviceIdentities pages through the tenant's imported device identities
// (beta GET …/importedDeviceIdentities); fn returns false to stop.
func (c *Client) ListImportedDeviceIdentities(ctx context.Context, fn func(importer.DeviceIdentity) bool) error {
	return eachPaged(ctx, c, "list corporate identifiers", c.ep.GraphURL+"/beta/deviceManagement/importedDeviceIdentities",
		func(v identityOut) bool { return fn(v.identity()) })
}

// DeleteImportedDeviceIdentity deletes one imported device identity (204); a missing
// one is not an error.
func (c *Client) DeleteImportedDeviceIdentity(ctx context.Context, id string) error {
	ri, err := c.betaRequest(abs.DELETE, "/deviceManagement/importedDeviceIdentities/"+url.PathEscape(id))
	if err != nil {
		return err
	}
	if err := c.adapter.SendNoContent(ctx, ri, odataErrorMappings()); err != nil {
		err = convertError(err)
		if errors.Is(err, importer.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete corporate identifier %s: %w", id, err)
	}
	return nil
}
