package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const odataJSON = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

func newHeader(r *http.Request) (http.Header, string, string) {
	h := http.Header{}
	reqID := newGUID()
	cid := r.Header.Get("client-request-id")
	if cid == "" {
		cid = reqID
	}
	h.Set("request-id", reqID)
	h.Set("client-request-id", cid)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"apimport-emulator"}}`)
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-cache")
	return h, reqID, cid
}

// graphError builds an error in Graph's shape. intune nests an Intune (DeviceEnrollmentFE)
// JSON document as a string in error.message (graph-api.md §1.6).
func graphError(r *http.Request, status int, code, msg string, intune bool) *resp {
	h, reqID, cid := newHeader(r)
	now := time.Now().UTC().Format("2006-01-02T15:04:05")
	message := msg
	if intune {
		m, _ := json.Marshal(fmt.Sprintf("%s - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: %s - Url: https://fef.emulator.manage.microsoft.com/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService%s?api-version=2024-03-01", msg, cid, intunePath(r.URL.Path)))
		message = "{\r\n  \"_version\": 3,\r\n  \"Message\": " + string(m) + ",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{}\"\r\n}"
	}
	inner := map[string]any{"date": now, "request-id": reqID, "client-request-id": cid}
	if status == http.StatusTooManyRequests {
		inner["code"] = "429"
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": message, "innerError": inner}})
	h.Set("Content-Type", "application/json")
	return &resp{status: status, header: h, body: b}
}

func intunePath(p string) string {
	_, rest := splitVersion(p)
	return rest
}

func okJSON(r *http.Request, status int, v any) *resp {
	h, _, _ := newHeader(r)
	h.Set("Content-Type", odataJSON)
	h.Set("OData-Version", "4.0")
	b, _ := json.Marshal(v)
	return &resp{status: status, header: h, body: b}
}

// actionResult answers an action with 200 {"@odata.context": Collection(typ), "value":
// vals}, logged with serials.
func (s *Server) actionResult(r *http.Request, version, typ string, vals any, serials []string) *resp {
	rs := okJSON(r, http.StatusOK, map[string]any{
		"@odata.context": s.contextURL(r, version, "Collection("+typ+")"),
		"value":          vals,
	})
	rs.serials = serials
	return rs
}

func noContent(r *http.Request) *resp {
	h, _, _ := newHeader(r)
	return &resp{status: http.StatusNoContent, header: h}
}

// serveGraph authenticates, throttles and dispatches one Graph request (rest is the path
// after /v1.0 or /beta).
func (s *Server) serveGraph(r *http.Request, version, rest string, body []byte, inBatch bool) *resp {
	c, err := s.verifyBearer(r)
	if err != nil {
		rs := graphError(r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error(), false)
		rs.header.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		return rs
	}
	write := isWrite(r.Method) && !readOnlyAction(rest)
	s.mu.Lock()
	ok, retry := s.admitLocked(s.TenantID+"/"+c.AppID, write)
	s.mu.Unlock()
	if !ok {
		rs := graphError(r, http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.", false)
		if !s.cfg.OmitRetryAfter {
			rs.header.Set("Retry-After", strconv.Itoa(s.retryAfterSeconds(retry)))
		}
		rs.throttled, rs.appID = true, c.AppID
		return rs
	}
	if rs := permitted(r, c, rest, write); rs != nil {
		rs.appID = c.AppID
		return rs
	}
	rs := s.route(r, version, rest, body)
	rs.appID = c.AppID
	return rs
}

func segmentError(r *http.Request, seg string) *resp {
	return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg), false)
}

func methodNotAllowed(r *http.Request) *resp {
	return graphError(r, http.StatusMethodNotAllowed, "BadRequest", "No HTTP resource was found that matches the request URI and method "+r.Method+".", true)
}

func notFound(r *http.Request, kind, id string) *resp {
	return graphError(r, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("%s with id %s was not found", kind, id), true)
}

// route dispatches a Graph path. Segment names are case-insensitive, as in Graph.
func (s *Server) route(r *http.Request, version, rest string, body []byte) *resp {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if version == "" {
		return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid version.", false)
	}
	if len(segs) == 0 || segs[0] == "" {
		return segmentError(r, "")
	}
	if strings.EqualFold(segs[0], "organization") {
		return s.routeOrganization(r, version, segs[1:])
	}
	if rs, ok := s.routeDirectory(r, version, segs, body); ok { // directory.go: devices, groups, managedDevices
		return rs
	}
	if !strings.EqualFold(segs[0], "deviceManagement") {
		return segmentError(r, segs[0])
	}
	if len(segs) == 1 {
		return methodNotAllowed(r)
	}
	s.mu.Lock()
	s.advanceLocked()
	s.mu.Unlock()
	name := segs[1]
	sub := segs[2:]
	// OData key syntax: collection('id')
	if i := strings.Index(name, "("); i > 0 && strings.HasSuffix(name, ")") {
		sub = append([]string{name[i:]}, sub...)
		name = name[:i]
	}
	coll := strings.ToLower(name)
	switch coll {
	case "importedwindowsautopilotdeviceidentities":
		return s.routeImported(r, version, sub, body)
	case "windowsautopilotdeviceidentities":
		return s.routeRegistered(r, version, sub, body)
	case "importeddeviceidentities":
		return s.routeIdentities(r, version, sub, body)
	case "windowsautopilotsettings":
		if version != "beta" {
			return segmentError(r, segs[1])
		}
		return s.routeSettings(r, version, sub)
	case "windowsautopilotdeploymentprofiles":
		if version != "beta" {
			return segmentError(r, segs[1])
		}
		return s.routeProfiles(r, version, sub)
	}
	return segmentError(r, segs[1])
}

func isAction(seg, name string) bool {
	return strings.EqualFold(seg, name) || strings.EqualFold(seg, "microsoft.graph."+name)
}

// keySegment accepts "id" and "('id')" forms.
func keySegment(seg string) string {
	seg, _ = url.PathUnescape(seg)
	if strings.HasPrefix(seg, "('") && strings.HasSuffix(seg, "')") {
		return seg[2 : len(seg)-2]
	}
	return seg
}

func (s *Server) contextURL(r *http.Request, version, frag string) string {
	return "https://" + r.Host + "/" + version + "/$metadata#" + frag
}

// ---- importedWindowsAutopilotDeviceIdentities ----

func (s *Server) routeImported(r *http.Request, version string, sub []string, body []byte) *resp {
	switch {
	case len(sub) == 0:
		switch r.Method {
		case http.MethodGet:
			return s.listImported(r, version)
		case http.MethodPost:
			return s.createImported(r, version, body)
		}
		return methodNotAllowed(r)
	case len(sub) == 1 && isAction(sub[0], "import"):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.importAction(r, version, body)
	case len(sub) == 1:
		id := keySegment(sub[0])
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			rec, ok := s.st.importedByID[id]
			ok = ok && s.visibleLocked(rec)
			var out importedOut
			if ok {
				out = importedJSON(rec)
			}
			s.mu.Unlock()
			if !ok {
				return notFound(r, "importedWindowsAutopilotDeviceIdentity", id)
			}
			rs := okJSON(r, http.StatusOK, importedEntity{s.contextURL(r, version, "deviceManagement/importedWindowsAutopilotDeviceIdentities/$entity"), out})
			rs.serials = []string{rec.SerialNumber}
			return rs
		case http.MethodDelete:
			s.mu.Lock()
			rec, ok := s.st.importedByID[id]
			if ok {
				s.st.deleteImported(id)
				s.dirty = true
			}
			s.mu.Unlock()
			if !ok {
				return notFound(r, "importedWindowsAutopilotDeviceIdentity", id)
			}
			rs := noContent(r)
			rs.serials = []string{rec.SerialNumber}
			return rs
		}
		return methodNotAllowed(r)
	}
	return segmentError(r, sub[len(sub)-1])
}

type stateOut struct {
	ODataType            string `json:"@odata.type"`
	DeviceImportStatus   string `json:"deviceImportStatus"`
	DeviceRegistrationID string `json:"deviceRegistrationId"`
	DeviceErrorCode      int    `json:"deviceErrorCode"`
	DeviceErrorName      string `json:"deviceErrorName"`
}

// importedOut is the wire form of an importedWindowsAutopilotDeviceIdentity.
type importedOut struct {
	ODataType                 string   `json:"@odata.type"`
	ID                        string   `json:"id"`
	GroupTag                  string   `json:"groupTag"`
	SerialNumber              string   `json:"serialNumber"`
	ProductKey                string   `json:"productKey"`
	ImportID                  string   `json:"importId"`
	HardwareIdentifier        []byte   `json:"hardwareIdentifier"` // always null: never echoed
	AssignedUserPrincipalName string   `json:"assignedUserPrincipalName"`
	State                     stateOut `json:"state"`
}

func importedJSON(rec *ImportedIdentity) importedOut {
	return importedOut{
		ODataType:    "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
		ID:           rec.ID,
		GroupTag:     rec.GroupTag,
		SerialNumber: rec.SerialNumber,
		ProductKey:   rec.ProductKey,
		ImportID:     rec.ImportID,
		// HardwareIdentifier stays nil (JSON null): the service does not return the hash.
		AssignedUserPrincipalName: rec.AssignedUserPrincipalName,
		State: stateOut{
			ODataType:            "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
			DeviceImportStatus:   rec.State.DeviceImportStatus,
			DeviceRegistrationID: rec.State.DeviceRegistrationID,
			DeviceErrorCode:      rec.State.DeviceErrorCode,
			DeviceErrorName:      rec.State.DeviceErrorName,
		},
	}
}

var importedProps = map[string]bool{"id": true, "groupTag": true, "serialNumber": true, "productKey": true, "importId": true,
	"hardwareIdentifier": true, "assignedUserPrincipalName": true, "state": true}

// bodyError is a 400 raised while reading a request body.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

// parseImported reads one importedWindowsAutopilotDeviceIdentity from a JSON object.
func (s *Server) parseImported(raw json.RawMessage) (*ImportedIdentity, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, &bodyError{"Invalid request body: an object of type 'microsoft.graph.importedWindowsAutopilotDeviceIdentity' was expected."}
	}
	rec := &ImportedIdentity{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if strings.Contains(k, "@") {
			continue // instance annotations such as @odata.type
		}
		if !importedProps[k] {
			if *s.cfg.RejectUnknown {
				return nil, &bodyError{fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.importedWindowsAutopilotDeviceIdentity'. Make sure to only use property names that are defined by the type or mark the type as open type.", k)}
			}
			continue
		}
		if k == "state" {
			var st map[string]any
			if string(v) != "null" && json.Unmarshal(v, &st) != nil {
				return nil, &bodyError{"Cannot convert the value to the expected type 'microsoft.graph.importedWindowsAutopilotDeviceIdentityState'."}
			}
			continue // the service sets the state
		}
		var str *string
		if err := json.Unmarshal(v, &str); err != nil {
			typ := "Edm.String"
			if k == "hardwareIdentifier" {
				typ = "Edm.Binary"
			}
			return nil, &bodyError{fmt.Sprintf("Cannot convert a primitive value to the expected type '%s'. See the inner exception for more details.", typ)}
		}
		if str == nil {
			continue
		}
		switch k {
		case "groupTag":
			rec.GroupTag = *str
		case "serialNumber":
			rec.SerialNumber = *str
		case "productKey":
			rec.ProductKey = *str
		case "importId":
			rec.ImportID = *str
		case "assignedUserPrincipalName":
			rec.AssignedUserPrincipalName = *str
		case "hardwareIdentifier":
			b, err := decodeBinary(*str)
			if err != nil {
				return nil, &bodyError{fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Binary'.", truncate(*str))}
			}
			rec.HardwareIdentifier = b
		}
	}
	return rec, nil
}

// decodeBinary decodes an Edm.Binary JSON value like .NET's Convert.FromBase64String:
// standard alphabet, padding required, white space ignored.
func decodeBinary(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.Strict().DecodeString(s)
}

// truncate shortens a literal for error messages (a hash must never be echoed in full).
func truncate(s string) string {
	const n = 16
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// visibleLocked reports whether a new import record is visible yet to GET, list and
// $batch GET (visibility_delay, ASSUMED mode; DELETE always finds it).
func (s *Server) visibleLocked(rec *ImportedIdentity) bool {
	d := s.cfg.VisibilityDelay.D()
	return d <= 0 || !s.clock().Before(rec.CreatedAt.Add(d))
}

func (s *Server) newRecord(rec *ImportedIdentity, now time.Time) {
	rec.ID = newGUID()
	rec.CreatedAt = now
	rec.ProcessAt = now.Add(s.cfg.ProcessingDelay.D())
	rec.State = ImportState{DeviceImportStatus: s.cfg.InitialStatus}
}

func (s *Server) createImported(r *http.Request, version string, body []byte) *resp {
	rec, err := s.parseImported(body)
	if err != nil {
		return graphError(r, http.StatusBadRequest, "BadRequest", err.Error(), false)
	}
	s.mu.Lock()
	s.newRecord(rec, s.clock())
	s.st.addImported(rec)
	s.dirty = true
	out := importedJSON(rec)
	s.mu.Unlock()
	rs := okJSON(r, http.StatusCreated, importedEntity{s.contextURL(r, version, "deviceManagement/importedWindowsAutopilotDeviceIdentities/$entity"), out})
	rs.header.Set("Location", "https://"+r.Host+"/"+version+"/deviceManagement/importedWindowsAutopilotDeviceIdentities('"+rec.ID+"')")
	rs.serials = []string{rec.SerialNumber}
	return rs
}

func (s *Server) importAction(r *http.Request, version string, body []byte) *resp {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid request body for the action 'import'.", false)
	}
	for k := range m {
		if k != "importedWindowsAutopilotDeviceIdentities" && !strings.Contains(k, "@") {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'import'.", k), false)
		}
	}
	var items []json.RawMessage
	if raw, ok := m["importedWindowsAutopilotDeviceIdentities"]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "The parameter 'importedWindowsAutopilotDeviceIdentities' must be a collection of 'microsoft.graph.importedWindowsAutopilotDeviceIdentity'.", false)
		}
	}
	if s.cfg.MaxImportItems > 0 && len(items) > s.cfg.MaxImportItems {
		return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The import contains %d devices; at most %d are allowed in one request.", len(items), s.cfg.MaxImportItems), true)
	}
	recs := make([]*ImportedIdentity, 0, len(items))
	for _, it := range items {
		rec, err := s.parseImported(it)
		if err != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", err.Error(), false)
		}
		recs = append(recs, rec)
	}
	s.mu.Lock()
	now := s.clock()
	seen := map[string]bool{}
	vals := make([]importedOut, 0, len(recs))
	serials := make([]string, 0, len(recs))
	for _, rec := range recs {
		s.newRecord(rec, now)
		if len(rec.HardwareIdentifier) > 0 {
			k := string(rec.HardwareIdentifier)
			if seen[k] {
				rec.PresetErrorCode = ErrCodeDuplicated
			}
			seen[k] = true
		}
		s.st.addImported(rec)
		vals = append(vals, importedJSON(rec))
		serials = append(serials, rec.SerialNumber)
	}
	s.dirty = true
	s.mu.Unlock()
	return s.actionResult(r, version, "microsoft.graph.importedWindowsAutopilotDeviceIdentity", vals, serials)
}

// ---- listing ----

type listQuery struct {
	contains string // "" = no filter
	after    int64  // seq of the last item of the previous page
	top      int
}

func encodeSkip(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("emu:" + strconv.FormatInt(seq, 10)))
}

func decodeSkip(tok string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !bytes.HasPrefix(b, []byte("emu:")) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[4:]), 10, 64)
	return n, err == nil
}

// parseList reads $filter, $top and $skiptoken. It returns an error response for a filter
// the service rejects.
func (s *Server) parseList(r *http.Request, q url.Values) (listQuery, *resp) {
	lq := listQuery{top: s.cfg.PageSize}
	for k := range q {
		switch strings.ToLower(k) {
		case "$filter", "$top", "$skiptoken", "$select", "$expand", "$count", "$orderby", "$search", "$skip":
		default:
			if strings.HasPrefix(k, "$") {
				return lq, graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Query option '%s' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.", k), false)
			}
		}
	}
	if f := getQ(q, "$filter"); f != "" {
		v, rs := s.parseFilter(r, f)
		if rs != nil {
			return lq, rs
		}
		lq.contains = v
	}
	if t := getQ(q, "$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return lq, graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", t), false)
		}
		if n > 0 && n < lq.top {
			lq.top = n
		}
	}
	if t := getQ(q, "$skiptoken"); t != "" {
		seq, ok := decodeSkip(t)
		if !ok {
			return lq, graphError(r, http.StatusBadRequest, "BadRequest", "The $skiptoken is not valid.", true)
		}
		lq.after = seq
	}
	return lq, nil
}

func getQ(q url.Values, key string) string {
	for k, v := range q {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// parseFilter accepts contains(serialNumber,'X') only; serialNumber eq 'X' is a 400, as on
// the real service (graph-api.md §1.3).
func (s *Server) parseFilter(r *http.Request, f string) (string, *resp) {
	t := strings.TrimSpace(f)
	low := strings.ToLower(t)
	if strings.HasPrefix(low, "contains(") && strings.HasSuffix(t, ")") {
		inner := strings.TrimSpace(t[len("contains(") : len(t)-1])
		prop, lit, ok := strings.Cut(inner, ",")
		if ok && strings.EqualFold(strings.TrimSpace(prop), "serialNumber") {
			v, ok := parseODataString(strings.TrimSpace(lit))
			if ok {
				if s.cfg.RejectHyphenContains && strings.Contains(v, "-") {
					return "", graphError(r, http.StatusBadRequest, "BadRequest", "An error has occurred while processing the filter.", true)
				}
				return v, nil
			}
		}
		return "", graphError(r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+truncate(t), false)
	}
	if strings.Contains(low, " eq ") {
		return "", graphError(r, http.StatusBadRequest, "BadRequest", "An error has occurred while processing the filter. The operator 'eq' is not supported; use contains().", true)
	}
	return "", graphError(r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+truncate(t), false)
}

func parseODataString(s string) (string, bool) {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", false
	}
	body := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\'' {
			if i+1 < len(body) && body[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return "", false
		}
		b.WriteByte(body[i])
	}
	return b.String(), true
}

func (s *Server) nextLink(r *http.Request, version string, seq int64) string {
	q := r.URL.Query()
	for k := range q {
		if strings.EqualFold(k, "$skiptoken") {
			delete(q, k)
		}
	}
	q.Set("$skiptoken", encodeSkip(seq))
	return "https://" + r.Host + "/" + version + "/" + strings.TrimPrefix(intunePath(r.URL.Path), "/") + "?" + q.Encode()
}

func (s *Server) listImported(r *http.Request, version string) *resp {
	lq, bad := s.parseList(r, r.URL.Query())
	if bad != nil {
		return bad
	}
	needle := strings.ToLower(lq.contains)
	s.mu.Lock()
	list := s.st.imported
	hidden := s.cfg.VisibilityDelay > 0
	i := sort.Search(len(list), func(i int) bool { return list[i].seq > lq.after })
	vals := make([]importedOut, 0, min(lq.top, len(list)-i))
	var last int64
	more := false
	for ; i < len(list); i++ {
		rec := list[i]
		if needle != "" && !strings.Contains(strings.ToLower(rec.SerialNumber), needle) {
			continue
		}
		if hidden && !s.visibleLocked(rec) {
			continue
		}
		if len(vals) == lq.top {
			more = true
			break
		}
		vals = append(vals, importedJSON(rec))
		last = rec.seq
	}
	s.mu.Unlock()
	out := map[string]any{
		"@odata.context": s.contextURL(r, version, "deviceManagement/importedWindowsAutopilotDeviceIdentities"),
		"value":          vals,
	}
	if more {
		out["@odata.nextLink"] = s.nextLink(r, version, last)
	}
	return okJSON(r, http.StatusOK, out)
}

// ---- windowsAutopilotDeviceIdentities ----

// deviceOut is the wire form of a windowsAutopilotDeviceIdentity (a struct, not a map:
// listing 50,000 devices must stay fast).
type deviceOut struct {
	ODataType                    string `json:"@odata.type"`
	ID                           string `json:"id"`
	DisplayName                  string `json:"displayName"`
	GroupTag                     string `json:"groupTag"`
	PurchaseOrderIdentifier      string `json:"purchaseOrderIdentifier"`
	SerialNumber                 string `json:"serialNumber"`
	ProductKey                   string `json:"productKey"`
	Manufacturer                 string `json:"manufacturer"`
	Model                        string `json:"model"`
	EnrollmentState              string `json:"enrollmentState"`
	LastContactedDateTime        string `json:"lastContactedDateTime"`
	AddressableUserName          string `json:"addressableUserName"`
	UserPrincipalName            string `json:"userPrincipalName"`
	ResourceName                 string `json:"resourceName"`
	SkuNumber                    string `json:"skuNumber"`
	SystemFamily                 string `json:"systemFamily"`
	AzureActiveDirectoryDeviceID string `json:"azureActiveDirectoryDeviceId"`
	ManagedDeviceID              string `json:"managedDeviceId"`
}

func deviceJSON(d *Device) deviceOut {
	return deviceOut{
		ODataType:                    "#microsoft.graph.windowsAutopilotDeviceIdentity",
		ID:                           d.ID,
		DisplayName:                  d.DisplayName,
		GroupTag:                     d.GroupTag,
		PurchaseOrderIdentifier:      d.PurchaseOrderIdentifier,
		SerialNumber:                 d.SerialNumber,
		ProductKey:                   d.ProductKey,
		Manufacturer:                 d.Manufacturer,
		Model:                        d.Model,
		EnrollmentState:              firstNonEmpty(d.EnrollmentState, "notContacted"),
		LastContactedDateTime:        d.LastContactedDateTime.UTC().Format("2006-01-02T15:04:05Z"),
		AddressableUserName:          d.AddressableUserName,
		UserPrincipalName:            d.UserPrincipalName,
		ResourceName:                 d.ResourceName,
		SkuNumber:                    d.SkuNumber,
		SystemFamily:                 d.SystemFamily,
		AzureActiveDirectoryDeviceID: d.AzureActiveDirectoryDeviceID,
		ManagedDeviceID:              d.ManagedDeviceID,
	}
}

// importedEntity adds @odata.context to a single entity (devices: withContext).
type importedEntity struct {
	Context string `json:"@odata.context"`
	importedOut
}

func (s *Server) routeRegistered(r *http.Request, version string, sub []string, body []byte) *resp {
	switch {
	case len(sub) == 0:
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		return s.listRegistered(r, version)
	case len(sub) == 1 && isAction(sub[0], "deleteDevices"):
		return s.deleteDevicesAction(r, version, sub[0], body) // deregister.go
	case len(sub) == 1:
		id := keySegment(sub[0])
		switch r.Method {
		case http.MethodGet:
			view, bad := s.deviceViewer(r, version, s.now())
			if bad != nil {
				return bad
			}
			s.mu.Lock()
			d, ok := s.st.regByID[id]
			var out any
			if ok {
				out = view(d)
			}
			s.mu.Unlock()
			if !ok {
				return notFound(r, "windowsAutopilotDeviceIdentity", id)
			}
			rs := okJSON(r, http.StatusOK, withContext(s.contextURL(r, version, "deviceManagement/windowsAutopilotDeviceIdentities/$entity"), out))
			rs.serials = []string{d.SerialNumber}
			return rs
		case http.MethodDelete:
			return s.deleteRegistered(r, id) // deregister.go
		}
		return methodNotAllowed(r)
	case len(sub) == 2 && isAction(sub[1], "updateDeviceProperties"):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.updateDevice(r, keySegment(sub[0]), body, "updateDeviceProperties", []string{"userPrincipalName", "addressableUserName", "groupTag", "displayName"})
	case len(sub) == 2 && isAction(sub[1], "assignUserToDevice"):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.updateDevice(r, keySegment(sub[0]), body, "assignUserToDevice", []string{"userPrincipalName", "addressableUserName"})
	case len(sub) == 2 && isAction(sub[1], "unassignUserFromDevice"):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		return s.updateDevice(r, keySegment(sub[0]), []byte(`{"userPrincipalName":"","addressableUserName":""}`), "unassignUserFromDevice", []string{"userPrincipalName", "addressableUserName"})
	}
	return segmentError(r, sub[len(sub)-1])
}

// updateDevice serves the device actions that set string properties (allowed lists the
// action's parameters).
func (s *Server) updateDevice(r *http.Request, id string, body []byte, action string, allowed []string) *resp {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid request body for the action '"+action+"'.", false)
		}
	}
	vals := map[string]*string{}
	for k, v := range m {
		if strings.Contains(k, "@") {
			continue
		}
		if !slices.Contains(allowed, k) {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", k, action), false)
		}
		var sv *string
		if err := json.Unmarshal(v, &sv); err != nil {
			return graphError(r, http.StatusBadRequest, "BadRequest", "Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.", false)
		}
		vals[k] = sv
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.st.regByID[id]
	if !ok {
		return notFound(r, "windowsAutopilotDeviceIdentity", id)
	}
	set := func(dst *string, k string) {
		if v, ok := vals[k]; ok && v != nil {
			*dst = *v
		}
	}
	set(&d.UserPrincipalName, "userPrincipalName")
	set(&d.AddressableUserName, "addressableUserName")
	set(&d.GroupTag, "groupTag")
	set(&d.DisplayName, "displayName")
	s.dirty = true
	rs := noContent(r)
	rs.serials = []string{d.SerialNumber}
	return rs
}

func (s *Server) listRegistered(r *http.Request, version string) *resp {
	q := r.URL.Query()
	if getQ(q, "$select") != "" && s.cfg.SelectStatus > 0 {
		return graphError(r, s.cfg.SelectStatus, "InternalServerError", "An internal server error has occurred.", true)
	}
	lq, bad := s.parseList(r, q)
	if bad != nil {
		return bad
	}
	view, bad := s.deviceViewer(r, version, s.now())
	if bad != nil {
		return bad
	}
	needle := strings.ToLower(lq.contains)
	s.mu.Lock()
	list := s.st.registered
	i := sort.Search(len(list), func(i int) bool { return list[i].seq > lq.after })
	vals := make([]any, 0, min(lq.top, len(list)-i))
	var last int64
	more := false
	for ; i < len(list); i++ {
		d := list[i]
		if needle != "" && !strings.Contains(strings.ToLower(d.SerialNumber), needle) {
			continue
		}
		if len(vals) == lq.top {
			more = true
			break
		}
		vals = append(vals, view(d))
		last = d.seq
	}
	s.mu.Unlock()
	out := map[string]any{
		"@odata.context": s.contextURL(r, version, "deviceManagement/windowsAutopilotDeviceIdentities"),
		"value":          vals,
	}
	if more {
		out["@odata.nextLink"] = s.nextLink(r, version, last)
	}
	return okJSON(r, http.StatusOK, out)
}

// ---- beta windowsAutopilotSettings ----

func (s *Server) routeSettings(r *http.Request, version string, sub []string) *resp {
	switch {
	case len(sub) == 0:
		if r.Method != http.MethodGet {
			return methodNotAllowed(r)
		}
		s.mu.Lock()
		set := s.st.settings
		s.mu.Unlock()
		return okJSON(r, http.StatusOK, map[string]any{
			"@odata.context":                s.contextURL(r, version, "deviceManagement/windowsAutopilotSettings/$entity"),
			"@odata.type":                   "#microsoft.graph.windowsAutopilotSettings",
			"id":                            "00000000-0000-0000-0000-000000000000",
			"lastSyncDateTime":              set.LastSyncDateTime.UTC().Format(time.RFC3339Nano),
			"lastManualSyncTriggerDateTime": set.LastManualSyncTriggerDateTime.UTC().Format(time.RFC3339Nano),
			"syncStatus":                    set.SyncStatus,
		})
	case len(sub) == 1 && isAction(sub[0], "sync"):
		if r.Method != http.MethodPost {
			return methodNotAllowed(r)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.clock()
		set := &s.st.settings
		if s.syncThrottled > 0 {
			// Throttled like any request (ASSUMED: the sync action shares the app's
			// throttling), told apart from the 10-minute rule by its shape: the
			// gateway's plain message, and lastManualSyncTriggerDateTime unchanged.
			s.syncThrottled--
			rs := graphError(r, http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.", false)
			if !s.cfg.OmitRetryAfter {
				rs.header.Set("Retry-After", strconv.Itoa(s.retryAfterSeconds(time.Second)))
			}
			rs.throttled = true
			return rs
		}
		if set.SyncStatus == "inProgress" {
			return graphError(r, http.StatusConflict, "Conflict", "A sync is already in progress.", true)
		}
		if !set.LastManualSyncTriggerDateTime.IsZero() {
			if wait := set.LastManualSyncTriggerDateTime.Add(s.cfg.SyncCooldown.D()).Sub(now); wait > 0 {
				// The nested Intune document says "RetryAfter": null and no header is
				// documented (peers.md, WindowsAutopilotInfo#29): no Retry-After unless
				// sync_cooldown_retry_after; omit_retry_after is for throttling only.
				rs := graphError(r, http.StatusTooManyRequests, "TooManyRequests", "The sync action was called within 10 minutes of the previous sync. Try again later.", true)
				if s.cfg.SyncCooldownRetryAfter {
					rs.header.Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
				}
				return rs
			}
		}
		set.LastManualSyncTriggerDateTime = now
		set.SyncStatus = "inProgress"
		s.dirty = true
		return noContent(r)
	}
	return segmentError(r, sub[len(sub)-1])
}
