package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Corporate device identifiers: beta /deviceManagement/importedDeviceIdentities
// (lifecycle-api.md §5; see doc.go "Corporate identifiers" for what is DOCUMENTED and
// what is ASSUMED). The identities are kept in memory only (not in State or state_file).

// DeviceIdentity is an importedDeviceIdentity as the emulator keeps it.
type DeviceIdentity struct {
	ID              string    `json:"id"`
	Identifier      string    `json:"importedDeviceIdentifier"`
	Type            string    `json:"importedDeviceIdentityType"`
	Description     string    `json:"description"`
	EnrollmentState string    `json:"enrollmentState"`
	Platform        string    `json:"platform"`
	Created         time.Time `json:"createdDateTime"`
	Modified        time.Time `json:"lastModifiedDateTime"`
	LastContacted   time.Time `json:"lastContactedDateTime"`
}

// identityStore holds the identities; its zero value is ready to use.
type identityStore struct {
	mu     sync.Mutex
	byKey  map[string]*DeviceIdentity // identityKey -> identity
	byID   map[string]*DeviceIdentity
	order  []*DeviceIdentity // creation order (deleted ones removed)
	refuse map[string]bool   // identityKey -> answer status false (SetIdentityRefusals)
}

// identityKey compares identifiers: parts trimmed, case-insensitive (ASSUMED).
func identityKey(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.ToUpper(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// validIdentifier: manufacturerModelSerial needs three non-empty comma-separated parts
// (ASSUMED rule behind the service's "Invalid Device Identifier parameter" 400).
func validIdentifier(typ, id string) bool {
	if !strings.EqualFold(typ, "manufacturerModelSerial") {
		return false
	}
	parts := strings.Split(id, ",")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return false
		}
	}
	return true
}

func identitySerial(id string) string {
	if i := strings.LastIndexByte(id, ','); i >= 0 {
		return id[i+1:]
	}
	return id
}

// Identities returns a copy of the corporate identifiers, in creation order.
func (s *Server) Identities() []DeviceIdentity {
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	out := make([]DeviceIdentity, len(s.ids.order))
	for i, d := range s.ids.order {
		out[i] = *d
	}
	return out
}

// SetIdentityRefusals makes importDeviceIdentityList answer status false for these
// identifiers (ASSUMED: the service's reasons for false are not documented).
func (s *Server) SetIdentityRefusals(identifiers ...string) {
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	s.ids.refuse = map[string]bool{}
	for _, id := range identifiers {
		s.ids.refuse[identityKey(id)] = true
	}
}

// readOnlyAction reports whether a POST to path only reads (searchExistingIdentities):
// it needs DeviceManagementServiceConfig.Read.All (lifecycle-api.md §7) and is
// throttled and logged as a read.
func readOnlyAction(path string) bool {
	p := strings.ToLower(strings.TrimRight(path, "/"))
	return strings.HasSuffix(p, "/importeddeviceidentities/searchexistingidentities") ||
		strings.HasSuffix(p, "/importeddeviceidentities/microsoft.graph.searchexistingidentities")
}

type identityBody struct {
	Identities []struct {
		Type        string `json:"importedDeviceIdentityType"`
		Identifier  string `json:"importedDeviceIdentifier"`
		Description string `json:"description"`
	} `json:"importedDeviceIdentities"`
	Overwrite *bool `json:"overwriteImportedDeviceIdentities"`
}

func identityJSON(d *DeviceIdentity, status *bool) map[string]any {
	m := map[string]any{
		"@odata.type": "#microsoft.graph.importedDeviceIdentity", "id": d.ID, "importedDeviceIdentifier": d.Identifier,
		"importedDeviceIdentityType": d.Type, "description": d.Description, "enrollmentState": d.EnrollmentState,
		"platform": d.Platform, "createdDateTime": d.Created, "lastModifiedDateTime": d.Modified,
		"lastContactedDateTime": d.LastContacted,
	}
	if status != nil {
		m["@odata.type"] = "#microsoft.graph.importedDeviceIdentityResult"
		m["status"] = *status
	}
	return m
}

// routeIdentities serves /beta/deviceManagement/importedDeviceIdentities.
func (s *Server) routeIdentities(r *http.Request, version string, sub []string, body []byte) *resp {
	if version != "beta" {
		return segmentError(r, "importedDeviceIdentities")
	}
	switch {
	case len(sub) == 0:
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		return s.listIdentities(r, version)
	case len(sub) == 1 && (isAction(sub[0], "importDeviceIdentityList") || isAction(sub[0], "searchExistingIdentities")):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		var b identityBody
		if err := json.Unmarshal(body, &b); err != nil || b.Identities == nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "The request body must hold importedDeviceIdentities.", false)
		}
		if isAction(sub[0], "searchExistingIdentities") {
			return s.searchIdentities(r, version, b)
		}
		return s.importIdentities(r, version, b)
	case len(sub) == 1:
		id := keySegment(sub[0])
		s.ids.mu.Lock()
		d, ok := s.ids.byID[id]
		var out map[string]any
		if ok {
			out = identityJSON(d, nil)
			if r.Method == http.MethodDelete {
				s.ids.deleteLocked(d)
			}
		}
		s.ids.mu.Unlock()
		if r.Method != http.MethodGet && r.Method != http.MethodDelete {
			return methodNotAllowed(r)
		}
		if !ok {
			return notFound(r, "importedDeviceIdentity", id)
		}
		if r.Method == http.MethodDelete {
			rs := noContent(r)
			rs.serials = []string{identitySerial(d.Identifier)}
			return rs
		}
		out["@odata.context"] = s.contextURL(r, version, "deviceManagement/importedDeviceIdentities/$entity")
		rs := okJSON(r, http.StatusOK, out)
		rs.serials = []string{identitySerial(d.Identifier)}
		return rs
	}
	return segmentError(r, sub[len(sub)-1])
}

// addLocked stores the new identity d (its ID set) under its id and identifier.
func (st *identityStore) addLocked(d *DeviceIdentity) {
	if st.byKey == nil {
		st.byKey, st.byID = map[string]*DeviceIdentity{}, map[string]*DeviceIdentity{}
	}
	st.byKey[identityKey(d.Identifier)], st.byID[d.ID] = d, d
	st.order = append(st.order, d)
}

func (st *identityStore) deleteLocked(d *DeviceIdentity) {
	delete(st.byID, d.ID)
	delete(st.byKey, identityKey(d.Identifier))
	for i, x := range st.order {
		if x == d {
			st.order = append(st.order[:i], st.order[i+1:]...)
			break
		}
	}
}

// importIdentities: any malformed identifier fails the whole call with 400 "Invalid
// Device Identifier parameter found for N import records!" and stores nothing
// (ASSUMED). Otherwise one result per identity, in request order: status true when
// stored; false when it exists and overwrite is off, when the same identifier came
// earlier in the request, or when refused by SetIdentityRefusals (ASSUMED).
func (s *Server) importIdentities(r *http.Request, version string, b identityBody) *resp {
	bad := 0
	serials := make([]string, 0, len(b.Identities))
	for _, in := range b.Identities {
		if !validIdentifier(in.Type, in.Identifier) {
			bad++
		}
		serials = append(serials, identitySerial(in.Identifier))
	}
	if bad > 0 {
		rs := graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid Device Identifier parameter found for %d import records!", bad), true)
		rs.serials = serials
		return rs
	}
	overwrite := b.Overwrite != nil && *b.Overwrite
	now := s.now().UTC()
	s.ids.mu.Lock()
	seen := map[string]bool{}
	vals := make([]map[string]any, 0, len(b.Identities))
	for _, in := range b.Identities {
		k := identityKey(in.Identifier)
		old := s.ids.byKey[k]
		status := !s.ids.refuse[k] && !seen[k] && (old == nil || overwrite)
		seen[k] = true
		d := &DeviceIdentity{Identifier: in.Identifier, Type: "manufacturerModelSerial", Description: in.Description,
			EnrollmentState: "notContacted", Platform: "windows", Created: now, Modified: now}
		switch {
		case status && old != nil:
			old.Identifier, old.Description, old.Modified = in.Identifier, in.Description, now
			d = old
		case status:
			d.ID = newGUID()
			s.ids.addLocked(d)
		case old != nil:
			d = old
		}
		vals = append(vals, identityJSON(d, &status))
	}
	s.ids.mu.Unlock()
	return s.actionResult(r, version, "microsoft.graph.importedDeviceIdentityResult", vals, serials)
}

// searchIdentities answers the identities present among the request's (matched by
// identityKey, ASSUMED); malformed identifiers match nothing (ASSUMED).
func (s *Server) searchIdentities(r *http.Request, version string, b identityBody) *resp {
	vals := []map[string]any{}
	serials := make([]string, 0, len(b.Identities))
	s.ids.mu.Lock()
	for _, in := range b.Identities {
		serials = append(serials, identitySerial(in.Identifier))
		if d, ok := s.ids.byKey[identityKey(in.Identifier)]; ok {
			vals = append(vals, identityJSON(d, nil))
		}
	}
	s.ids.mu.Unlock()
	return s.actionResult(r, version, "microsoft.graph.importedDeviceIdentity", vals, serials)
}

// listIdentities pages through the identities in creation order ($skiptoken is an
// offset, ASSUMED like every paging detail here).
func (s *Server) listIdentities(r *http.Request, version string) *resp {
	q := r.URL.Query()
	start := 0
	if tok := getQ(q, "$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.", false)
		}
		start = n
	}
	size := s.cfg.PageSize
	s.ids.mu.Lock()
	list := append([]*DeviceIdentity(nil), s.ids.order...)
	s.ids.mu.Unlock()
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	vals := []map[string]any{}
	for i := start; i < len(list) && len(vals) < size; i++ {
		vals = append(vals, identityJSON(list[i], nil))
	}
	out := map[string]any{"@odata.context": s.contextURL(r, version, "deviceManagement/importedDeviceIdentities"), "value": vals}
	if start+len(vals) < len(list) {
		out["@odata.nextLink"] = "https://" + r.Host + "/" + version + "/deviceManagement/importedDeviceIdentities?$skiptoken=" + strconv.Itoa(start+len(vals))
	}
	return okJSON(r, http.StatusOK, out)
}

// SeedIdentities adds manufacturerModelSerial identities as if imported earlier.
func (s *Server) SeedIdentities(identifiers ...string) {
	now := s.now().UTC()
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	for _, id := range identifiers {
		s.ids.addLocked(&DeviceIdentity{ID: newGUID(), Identifier: id, Type: "manufacturerModelSerial", EnrollmentState: "notContacted",
			Platform: "windows", Created: now, Modified: now})
	}
}
