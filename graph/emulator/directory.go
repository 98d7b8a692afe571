package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Entra ID devices, groups and their members, Intune managed devices, and the
// permissions they need (issue 10; shared/docs/lifecycle-api.md §4, §6, §7). doc.go
// marks each behaviour DOCUMENTED or ASSUMED.

// Application permissions of the directory and Intune-device endpoints (lifecycle-api.md §7).
const (
	RoleDeviceRead         = "Device.Read.All"
	RoleDeviceReadWrite    = "Device.ReadWrite.All"
	RoleGroupRead          = "Group.Read.All"
	RoleGroupReadWrite     = "Group.ReadWrite.All"
	RoleGroupMemberRead    = "GroupMember.Read.All"
	RoleGroupMemberWrite   = "GroupMember.ReadWrite.All"
	RoleDirectoryRead      = "Directory.Read.All"
	RoleDirectoryReadWrite = "Directory.ReadWrite.All"
	RoleManagedRead        = "DeviceManagementManagedDevices.Read.All"
	RoleManagedReadWrite   = "DeviceManagementManagedDevices.ReadWrite.All"
)

// DefaultGroupName is the group every emulator starts with (Config.DefaultGroups).
const DefaultGroupName = "Autopilot Devices"

// EntraDevice is a Microsoft Entra device object (v1.0 device).
type EntraDevice struct {
	ID              string   `json:"id"`       // object id (the member id in groups)
	DeviceID        string   `json:"deviceId"` // = windowsAutopilotDeviceIdentity.azureActiveDirectoryDeviceId
	DisplayName     string   `json:"displayName"`
	OperatingSystem string   `json:"operatingSystem"`
	PhysicalIDs     []string `json:"physicalIds"`
	AccountEnabled  bool     `json:"accountEnabled"`

	seq int64
}

// Group is a Microsoft Entra group with its members (object ids).
type Group struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	Description     string   `json:"description"`
	SecurityEnabled bool     `json:"securityEnabled"`
	MailEnabled     bool     `json:"mailEnabled"`
	GroupTypes      []string `json:"groupTypes"`
	Members         []string `json:"members"`

	seq int64
}

// ManagedDevice is an Intune managedDevice (the device enrolled in Intune).
type ManagedDevice struct {
	ID               string    `json:"id"`
	DeviceName       string    `json:"deviceName"`
	SerialNumber     string    `json:"serialNumber"`
	Manufacturer     string    `json:"manufacturer"`
	Model            string    `json:"model"`
	AzureADDeviceID  string    `json:"azureADDeviceId"`
	OperatingSystem  string    `json:"operatingSystem"`
	ManagementState  string    `json:"managementState"`
	EnrolledDateTime time.Time `json:"enrolledDateTime"`

	seq int64
}

// DirectoryState is the directory and Intune part of State (inlined in its JSON).
type DirectoryState struct {
	EntraDevices   []EntraDevice   `json:"entra_devices,omitempty"`
	Groups         []Group         `json:"groups,omitempty"`
	ManagedDevices []ManagedDevice `json:"managed_devices,omitempty"`
}

// dirStore holds Entra devices, groups and managed devices. All methods need Server.mu.
type dirStore struct {
	entra        []*EntraDevice
	entraByID    map[string]*EntraDevice
	entraByDevID map[string]*EntraDevice // deviceId, lower case
	groups       []*Group
	groupByID    map[string]*Group
	managed      []*ManagedDevice
	managedByID  map[string]*ManagedDevice
	enrolled     map[string]bool // normalized serials Intune has enrolled (enrolled_serials)
	seq          int64
	clock        func() time.Time // the Server's clock (enrolledDateTime)
}

func newDirStore() *dirStore {
	return &dirStore{entraByID: map[string]*EntraDevice{}, entraByDevID: map[string]*EntraDevice{},
		groupByID: map[string]*Group{}, managedByID: map[string]*ManagedDevice{}, enrolled: map[string]bool{}, clock: time.Now}
}

func (ds *dirStore) addEntra(e *EntraDevice) {
	ds.seq++
	e.seq = ds.seq
	ds.entra = append(ds.entra, e)
	ds.entraByID[e.ID] = e
	ds.entraByDevID[strings.ToLower(e.DeviceID)] = e
}

func (ds *dirStore) addGroup(g *Group) {
	ds.seq++
	g.seq = ds.seq
	ds.groups = append(ds.groups, g)
	ds.groupByID[g.ID] = g
}

func (ds *dirStore) addManaged(m *ManagedDevice) {
	ds.seq++
	m.seq = ds.seq
	ds.managed = append(ds.managed, m)
	ds.managedByID[m.ID] = m
}

// linkDevice gives a newly registered Autopilot device its Entra device object
// (registration creates it, lifecycle-api.md §6) and, when its serial is enrolled,
// its Intune managed device.
func (st *store) linkDevice(d *Device) {
	ds := st.dir
	if d.AzureActiveDirectoryDeviceID == "" {
		d.AzureActiveDirectoryDeviceID = newGUID()
	}
	if ds.entraByDevID[strings.ToLower(d.AzureActiveDirectoryDeviceID)] == nil {
		ds.addEntra(&EntraDevice{ID: newGUID(), DeviceID: d.AzureActiveDirectoryDeviceID, DisplayName: d.SerialNumber,
			OperatingSystem: "Windows", PhysicalIDs: []string{"[ZTDID]:" + d.ID}, AccountEnabled: true})
	}
	if ds.enrolled[normSerial(d.SerialNumber)] {
		st.enroll(d)
	}
}

// enroll makes d an Intune managed device (if it is not one yet).
func (st *store) enroll(d *Device) {
	ds := st.dir
	if d.ManagedDeviceID != "" && ds.managedByID[d.ManagedDeviceID] != nil {
		return
	}
	m := &ManagedDevice{ID: newGUID(), DeviceName: firstNonEmpty(d.DisplayName, "DESKTOP-"+strings.ToUpper(newGUID()[:7])),
		SerialNumber: d.SerialNumber, Manufacturer: d.Manufacturer, Model: d.Model, AzureADDeviceID: d.AzureActiveDirectoryDeviceID,
		OperatingSystem: "Windows", ManagementState: "managed", EnrolledDateTime: ds.clock().UTC()}
	ds.addManaged(m)
	d.ManagedDeviceID = m.ID
	d.EnrollmentState = "enrolled"
}

// loadDirectory adds the directory part of a State.
func (st *store) loadDirectory(s DirectoryState) error {
	ds := st.dir
	for i := range s.EntraDevices {
		e := s.EntraDevices[i]
		if e.ID == "" {
			e.ID = newGUID()
		}
		if e.DeviceID == "" {
			e.DeviceID = newGUID()
		}
		if ds.entraByID[e.ID] != nil || ds.entraByDevID[strings.ToLower(e.DeviceID)] != nil {
			return fmt.Errorf("entra_devices[%d]: duplicate id or deviceId", i)
		}
		ds.addEntra(&e)
	}
	for i := range s.Groups {
		g := s.Groups[i]
		if g.ID == "" {
			g.ID = newGUID()
		}
		if ds.groupByID[g.ID] != nil {
			return fmt.Errorf("groups[%d]: duplicate id %q", i, g.ID)
		}
		g.Members = slices.Clone(g.Members)
		ds.addGroup(&g)
	}
	for i := range s.ManagedDevices {
		m := s.ManagedDevices[i]
		if m.ID == "" {
			m.ID = newGUID()
		}
		if ds.managedByID[m.ID] != nil {
			return fmt.Errorf("managed_devices[%d]: duplicate id %q", i, m.ID)
		}
		ds.addManaged(&m)
	}
	return nil
}

func (ds *dirStore) snapshot() DirectoryState {
	var out DirectoryState
	for _, e := range ds.entra {
		c := *e
		c.PhysicalIDs = slices.Clone(e.PhysicalIDs)
		out.EntraDevices = append(out.EntraDevices, c)
	}
	for _, g := range ds.groups {
		c := *g
		c.Members = slices.Clone(g.Members)
		out.Groups = append(out.Groups, c)
	}
	for _, m := range ds.managed {
		out.ManagedDevices = append(out.ManagedDevices, *m)
	}
	return out
}

// ensureGroups creates the named groups that do not exist yet (default_groups).
func (ds *dirStore) ensureGroups(names []string) bool {
	added := false
	for _, n := range names {
		if !slices.ContainsFunc(ds.groups, func(g *Group) bool { return strings.EqualFold(g.DisplayName, n) }) {
			ds.addGroup(&Group{ID: newGUID(), DisplayName: n, SecurityEnabled: true, GroupTypes: []string{}})
			added = true
		}
	}
	return added
}

// Enroll marks serials as enrolled in Intune: registered devices with one of these
// serials (now or later) get a managedDevice, managedDeviceId and enrollmentState
// "enrolled" (Config.EnrolledSerials does the same at start).
func (s *Server) Enroll(serials ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	for _, sn := range serials {
		k := normSerial(sn)
		s.st.dir.enrolled[k] = true
		for _, d := range s.st.regBySerial[k] {
			s.st.enroll(d)
		}
	}
	s.dirty = true
}

// EntraDevices returns the Entra device objects.
func (s *Server) EntraDevices() []EntraDevice {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.st.dir.snapshot().EntraDevices
}

// Groups returns the groups with their members (Entra device object ids).
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.st.dir.snapshot().Groups
}

// ManagedDevices returns the Intune managed devices.
func (s *Server) ManagedDevices() []ManagedDevice {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.st.dir.snapshot().ManagedDevices
}

// ---- permissions ----

// requiredRoles returns the roles a request needs: every inner list needs one of
// its roles. dir reports an Entra (directory) endpoint, whose 403 is
// Authorization_RequestDenied rather than Intune's nested error.
func requiredRoles(rest string, write bool) (need [][]string, dir bool) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	first := strings.ToLower(segs[0])
	if i := strings.Index(first, "("); i > 0 {
		first = first[:i]
	}
	switch first {
	case "organization":
		// Organization.Read.All (or a broader directory role) reads it; nothing writes
		// it here (DOCUMENTED permission, lifecycle-api.md §7).
		if write {
			return [][]string{{"(no write permission applies)"}}, true
		}
		return [][]string{organizationRoles}, true
	case "devices":
		if write {
			return [][]string{{RoleDeviceReadWrite, RoleDirectoryReadWrite}}, true
		}
		return [][]string{{RoleDeviceRead, RoleDeviceReadWrite, RoleDirectoryRead, RoleDirectoryReadWrite}}, true
	case "groups":
		if write {
			// adding or removing a device member: GroupMember.ReadWrite.All and, for an
			// application, Device.ReadWrite.All (lifecycle-api.md §6/§7)
			return [][]string{{RoleGroupMemberWrite, RoleGroupReadWrite, RoleDirectoryReadWrite}, {RoleDeviceReadWrite, RoleDirectoryReadWrite}}, true
		}
		return [][]string{{RoleGroupMemberRead, RoleGroupRead, RoleGroupMemberWrite, RoleGroupReadWrite, RoleDirectoryRead, RoleDirectoryReadWrite}}, true
	case "devicemanagement":
		if len(segs) > 1 && strings.HasPrefix(strings.ToLower(segs[1]), "manageddevices") {
			if write {
				return [][]string{{RoleManagedReadWrite}}, false
			}
			return [][]string{{RoleManagedRead, RoleManagedReadWrite}}, false
		}
	}
	if write {
		return [][]string{{RoleReadWrite}}, false
	}
	return [][]string{{RoleRead, RoleReadWrite}}, false
}

// permitted checks c's roles for the request; nil when allowed, else the 403.
func permitted(r *http.Request, c *claims, rest string, write bool) *resp {
	need, dir := requiredRoles(rest, write)
	var missing []string
	for _, any := range need {
		if !slices.ContainsFunc(any, func(role string) bool { return slices.Contains(c.Roles, role) }) {
			missing = append(missing, strings.Join(any, ", "))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if dir {
		return graphError(r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", false)
	}
	return graphError(r, http.StatusForbidden, "Forbidden",
		"Application is not authorized to perform this operation. Application must have one of the following scopes: "+strings.Join(missing, "; "), true)
}

// ---- routing ----

// routeDirectory serves /devices, /groups and /deviceManagement/managedDevices; ok
// is false for any other path.
func (s *Server) routeDirectory(r *http.Request, version string, segs []string, body []byte) (*resp, bool) {
	name, key := splitKey(segs[0])
	switch {
	case strings.EqualFold(name, "devices"):
		return s.routeEntraDevices(r, version, key, segs[1:]), true
	case strings.EqualFold(name, "groups"):
		return s.routeGroups(r, version, key, segs[1:], body), true
	case strings.EqualFold(name, "deviceManagement") && len(segs) > 1:
		mname, mkey := splitKey(segs[1])
		if strings.EqualFold(mname, "managedDevices") {
			return s.routeManaged(r, version, mkey, segs[2:]), true
		}
	}
	return nil, false
}

// splitKey splits "devices(deviceId='x')" or "groups('id')" into name and key part.
func splitKey(seg string) (name, key string) {
	if i := strings.Index(seg, "("); i > 0 && strings.HasSuffix(seg, ")") {
		return seg[:i], seg[i:]
	}
	return seg, ""
}

func dirNotFound(r *http.Request, id string) *resp {
	return graphError(r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id), false)
}

func dirBadRequest(r *http.Request, msg string) *resp {
	return graphError(r, http.StatusBadRequest, "Request_BadRequest", msg, false)
}

// eqFilter parses "<prop> eq '<value>'" for one allowed property.
func eqFilter(r *http.Request, prop string) (value string, set bool, bad *resp) {
	f := getQ(r.URL.Query(), "$filter")
	if f == "" {
		return "", false, nil
	}
	lhs, rhs, ok := strings.Cut(strings.TrimSpace(f), " eq ")
	if ok && strings.EqualFold(strings.TrimSpace(lhs), prop) {
		if v, ok := parseODataString(strings.TrimSpace(rhs)); ok {
			return v, true, nil
		}
	}
	return "", false, dirBadRequest(r, "Invalid filter clause: "+truncate(f)+" (the emulator supports "+prop+" eq '…')")
}

// listPage answers a list request: one page of items (see pageOf) as JSON with the
// collection's context (contextPath) and the next link.
func listPage[T any](s *Server, r *http.Request, version string, items []T, seq func(T) int64, toJSON func(T) map[string]any, contextPath string) *resp {
	page, next, bad := pageOf(s, r, version, items, seq)
	if bad != nil {
		return bad
	}
	vals := make([]map[string]any, 0, len(page))
	for _, it := range page {
		vals = append(vals, toJSON(it))
	}
	return okJSON(r, http.StatusOK, listBody(s.contextURL(r, version, contextPath), vals, next))
}

// pageOf pages a seq-ordered list like the Intune collections do ($top, $skiptoken).
func pageOf[T any](s *Server, r *http.Request, version string, items []T, seq func(T) int64) (page []T, next string, bad *resp) {
	q := r.URL.Query()
	lq := listQuery{top: s.cfg.PageSize}
	if t := getQ(q, "$top"); t != "" {
		var n int
		if _, err := fmt.Sscan(t, &n); err != nil || n < 0 {
			return nil, "", dirBadRequest(r, fmt.Sprintf("Invalid value '%s' for $top query option.", t))
		}
		if n > 0 && n < lq.top {
			lq.top = n
		}
	}
	if t := getQ(q, "$skiptoken"); t != "" {
		n, ok := decodeSkip(t)
		if !ok {
			return nil, "", dirBadRequest(r, "The $skiptoken is not valid.")
		}
		lq.after = n
	}
	i := sort.Search(len(items), func(i int) bool { return seq(items[i]) > lq.after })
	end := min(len(items), i+lq.top)
	page = items[i:end]
	if end < len(items) {
		next = s.nextLink(r, version, seq(items[end-1]))
	}
	return page, next, nil
}

func listBody(ctx string, vals any, next string) map[string]any {
	out := map[string]any{"@odata.context": ctx, "value": vals}
	if next != "" {
		out["@odata.nextLink"] = next
	}
	return out
}

// ---- /devices ----

func entraJSON(e *EntraDevice) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.device", "id": e.ID, "deviceId": e.DeviceID, "displayName": e.DisplayName,
		"operatingSystem": e.OperatingSystem, "physicalIds": e.PhysicalIDs, "accountEnabled": e.AccountEnabled}
}

func (s *Server) routeEntraDevices(r *http.Request, version, key string, sub []string) *resp {
	if len(sub) > 1 || (len(sub) == 1 && key != "") {
		return segmentError(r, sub[len(sub)-1])
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	ds := s.st.dir
	var e *EntraDevice
	switch {
	case key != "": // devices(deviceId='…') alternate key, or devices('id')
		inner := strings.TrimSuffix(strings.TrimPrefix(key, "("), ")")
		if prop, lit, ok := strings.Cut(inner, "="); ok && strings.EqualFold(strings.TrimSpace(prop), "deviceId") {
			v, ok := parseODataString(strings.TrimSpace(lit))
			if !ok {
				return dirBadRequest(r, "Invalid alternate key.")
			}
			if e = ds.entraByDevID[strings.ToLower(v)]; e == nil {
				return dirNotFound(r, v)
			}
		} else {
			id := keySegment(key)
			if e = ds.entraByID[id]; e == nil {
				return dirNotFound(r, id)
			}
		}
	case len(sub) == 1:
		id := keySegment(sub[0])
		if e = ds.entraByID[id]; e == nil {
			return dirNotFound(r, id)
		}
	}
	if e != nil {
		out := entraJSON(e)
		out["@odata.context"] = s.contextURL(r, version, "devices/$entity")
		return okJSON(r, http.StatusOK, out)
	}
	v, set, bad := eqFilter(r, "deviceId")
	if bad != nil {
		return bad
	}
	list := ds.entra
	if set {
		list = nil
		if e := ds.entraByDevID[strings.ToLower(v)]; e != nil {
			list = []*EntraDevice{e}
		}
	}
	return listPage(s, r, version, list, func(e *EntraDevice) int64 { return e.seq }, entraJSON, "devices")
}

// ---- /groups ----

func groupJSON(g *Group) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.group", "id": g.ID, "displayName": g.DisplayName, "description": g.Description,
		"securityEnabled": g.SecurityEnabled, "mailEnabled": g.MailEnabled, "groupTypes": g.GroupTypes}
}

func (s *Server) routeGroups(r *http.Request, version, key string, sub []string, body []byte) *resp {
	if key != "" {
		sub = append([]string{key}, sub...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	ds := s.st.dir
	if len(sub) == 0 {
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		v, set, bad := eqFilter(r, "displayName")
		if bad != nil {
			return bad
		}
		list := ds.groups
		if set {
			list = nil
			for _, g := range ds.groups {
				if strings.EqualFold(g.DisplayName, v) {
					list = append(list, g)
				}
			}
		}
		return listPage(s, r, version, list, func(g *Group) int64 { return g.seq }, groupJSON, "groups")
	}
	gid := keySegment(sub[0])
	g := ds.groupByID[gid]
	if g == nil {
		return dirNotFound(r, gid)
	}
	switch {
	case len(sub) == 1:
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		out := groupJSON(g)
		out["@odata.context"] = s.contextURL(r, version, "groups/$entity")
		return okJSON(r, http.StatusOK, out)
	case len(sub) == 2 && strings.EqualFold(sub[1], "members"):
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		var members []*EntraDevice
		for _, id := range g.Members {
			if e := ds.entraByID[id]; e != nil {
				members = append(members, e)
			}
		}
		sort.Slice(members, func(i, j int) bool { return members[i].seq < members[j].seq })
		return listPage(s, r, version, members, func(e *EntraDevice) int64 { return e.seq }, entraJSON, "directoryObjects")
	case len(sub) == 3 && strings.EqualFold(sub[1], "members") && sub[2] == "$ref":
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.addMemberLocked(r, g, body)
	case len(sub) == 4 && strings.EqualFold(sub[1], "members") && sub[3] == "$ref":
		if r.Method != http.MethodDelete {
			return methodNotAllowed(r)
		}
		id := keySegment(sub[2])
		i := slices.Index(g.Members, id)
		if i < 0 {
			return dirNotFound(r, id)
		}
		g.Members = slices.Delete(g.Members, i, i+1)
		s.dirty = true
		return noContent(r)
	}
	return segmentError(r, sub[len(sub)-1])
}

// addMemberLocked serves POST /groups/{id}/members/$ref.
func (s *Server) addMemberLocked(r *http.Request, g *Group, body []byte) *resp {
	var ref map[string]json.RawMessage
	if err := json.Unmarshal(body, &ref); err != nil || ref == nil {
		return dirBadRequest(r, "Invalid request body: a reference object {\"@odata.id\": \"…/directoryObjects/{id}\"} was expected.")
	}
	var u string
	if raw, ok := ref["@odata.id"]; !ok || json.Unmarshal(raw, &u) != nil || u == "" {
		return dirBadRequest(r, "The request body must contain '@odata.id'.")
	}
	// https://graph.microsoft.com/v1.0/directoryObjects/{id}, also /devices/{id} and
	// the emulator's own host; the id is the last segment.
	p := u
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.Index(p, "/"); j >= 0 {
			p = p[j:]
		}
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) < 2 {
		return dirBadRequest(r, fmt.Sprintf("Invalid object identifier '%s'.", truncate(u)))
	}
	coll := strings.ToLower(segs[len(segs)-2])
	if coll != "directoryobjects" && coll != "devices" {
		return dirBadRequest(r, fmt.Sprintf("Invalid object identifier '%s'.", truncate(u)))
	}
	id := keySegment(segs[len(segs)-1])
	if s.st.dir.entraByID[id] == nil {
		return dirNotFound(r, id)
	}
	if slices.Contains(g.Members, id) {
		return dirBadRequest(r, "One or more added object references already exist for the following modified properties: 'members'.")
	}
	g.Members = append(g.Members, id)
	s.dirty = true
	return noContent(r)
}

// ---- /deviceManagement/managedDevices ----

func managedJSON(m *ManagedDevice) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.managedDevice", "id": m.ID, "deviceName": m.DeviceName,
		"serialNumber": m.SerialNumber, "manufacturer": m.Manufacturer, "model": m.Model, "azureADDeviceId": m.AzureADDeviceID,
		"operatingSystem": m.OperatingSystem, "managementState": m.ManagementState,
		"enrolledDateTime": m.EnrolledDateTime.UTC().Format("2006-01-02T15:04:05Z")}
}

func (s *Server) routeManaged(r *http.Request, version, key string, sub []string) *resp {
	if key != "" {
		sub = append([]string{key}, sub...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	ds := s.st.dir
	switch len(sub) {
	case 0:
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		v, set, bad := eqFilter(r, "serialNumber")
		if bad != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+truncate(getQ(r.URL.Query(), "$filter")), true)
		}
		list := ds.managed
		if set {
			list = nil
			for _, m := range ds.managed {
				if strings.EqualFold(strings.TrimSpace(m.SerialNumber), strings.TrimSpace(v)) {
					list = append(list, m)
				}
			}
		}
		return listPage(s, r, version, list, func(m *ManagedDevice) int64 { return m.seq }, managedJSON, "deviceManagement/managedDevices")
	case 1:
		id := keySegment(sub[0])
		m := ds.managedByID[id]
		if m == nil {
			return notFound(r, "managedDevice", id)
		}
		switch r.Method {
		case http.MethodGet:
			out := managedJSON(m)
			out["@odata.context"] = s.contextURL(r, version, "deviceManagement/managedDevices/$entity")
			rs := okJSON(r, http.StatusOK, out)
			rs.serials = []string{m.SerialNumber}
			return rs
		case http.MethodDelete:
			delete(ds.managedByID, id)
			ds.managed = slices.DeleteFunc(ds.managed, func(x *ManagedDevice) bool { return x == m })
			for _, d := range s.st.regBySerial[normSerial(m.SerialNumber)] {
				if d.ManagedDeviceID == id {
					d.ManagedDeviceID = ""
					d.EnrollmentState = "notContacted"
				}
			}
			s.dirty = true
			rs := noContent(r)
			rs.serials = []string{m.SerialNumber}
			return rs
		}
		return methodNotAllowed(r)
	}
	return segmentError(r, sub[len(sub)-1])
}
