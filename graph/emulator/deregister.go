package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Deregistering Autopilot devices (lifecycle-api.md §4): the single DELETE with the
// observed codes, and the bulk deleteDevices action whose existence is unconfirmed.

// deleteRegistered serves DELETE …/windowsAutopilotDeviceIdentities/{id}: 200 by
// default (observed; the docs say 204, delete_device_status chooses), and for an
// unknown id 400 "Cannot find device with ztd Id … and accountId … to delete" (§4.1).
func (s *Server) deleteRegistered(r *http.Request, id string) *resp {
	s.mu.Lock()
	d, ok := s.st.regByID[id]
	if ok {
		s.st.deleteDevice(id)
		s.dirty = true
	}
	s.mu.Unlock()
	if !ok {
		return graphError(r, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Cannot find device with ztd Id %s and accountId %s to delete", id, s.TenantID), true)
	}
	var rs *resp
	if s.cfg.DeleteDeviceStatus == http.StatusNoContent {
		rs = noContent(r)
	} else {
		h, _, _ := newHeader(r)
		rs = &resp{status: http.StatusOK, header: h}
	}
	rs.serials = []string{d.SerialNumber}
	return rs
}

// deleteDevicesAction serves POST …/windowsAutopilotDeviceIdentities/deleteDevices
// {"serialNumbers":[…]} → 200 {"value":[deletedWindowsAutopilotDeviceState…]} (§4.2,
// shape DOCUMENTED, existence UNCONFIRMED: delete_devices_action=false answers the
// unknown-segment 400 instead).
func (s *Server) deleteDevicesAction(r *http.Request, version string, seg string, body []byte) *resp {
	if s.cfg.DeleteDevicesAction != nil && !*s.cfg.DeleteDevicesAction {
		return segmentError(r, seg)
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil || in == nil {
		return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid request body for the action 'deleteDevices'.", false)
	}
	var serials []string
	for k, v := range in {
		if strings.Contains(k, "@") {
			continue
		}
		if k != "serialNumbers" {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'deleteDevices'.", k), false)
		}
		if err := json.Unmarshal(v, &serials); err != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "The parameter 'serialNumbers' must be a collection of 'Edm.String'.", false)
		}
	}
	type state struct {
		ODataType            string `json:"@odata.type"`
		SerialNumber         string `json:"serialNumber"`
		DeviceRegistrationID string `json:"deviceRegistrationId"`
		DeletionState        string `json:"deletionState"`
		ErrorMessage         string `json:"errorMessage"`
	}
	const typ = "microsoft.graph.deletedWindowsAutopilotDeviceState"
	s.mu.Lock()
	vals := make([]state, 0, len(serials))
	var touched []string
	for _, sn := range serials {
		devs := append([]*Device(nil), s.st.regBySerial[normSerial(sn)]...)
		if len(devs) == 0 {
			vals = append(vals, state{typ, sn, "", "failed", fmt.Sprintf("Cannot find device with serial number %s", sn)})
			continue
		}
		for _, d := range devs {
			s.st.deleteDevice(d.ID)
			vals = append(vals, state{typ, sn, d.ID, "accepted", ""})
		}
		touched = append(touched, sn)
		s.dirty = true
	}
	s.mu.Unlock()
	return s.actionResult(r, version, typ, vals, touched)
}
