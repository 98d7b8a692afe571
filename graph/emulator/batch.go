package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// MaxBatchRequests is the JSON batching limit (graph-api.md §3).
const MaxBatchRequests = 20

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// handleBatch serves POST /{version}/$batch. The outer request is authenticated but not
// counted by the throttle; each item is authenticated, throttled and logged on its own.
func (s *Server) handleBatch(r *http.Request, version string, body []byte) *resp {
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	if _, err := s.verifyBearer(r); err != nil {
		rs := graphError(r, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error(), false)
		return rs
	}
	var req struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.", false)
	}
	if len(req.Requests) == 0 {
		return graphError(r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format: no requests.", false)
	}
	if len(req.Requests) > MaxBatchRequests {
		return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Number of batch requests exceeds the maximum allowed of %d.", MaxBatchRequests), false)
	}
	// Request ids are not case-sensitive and must be unique, else the whole batch
	// is a 400 (json-batching.md, DOCUMENTED): ids are compared folded.
	ids := map[string]int{}
	for i, it := range req.Requests {
		if it.ID == "" || it.Method == "" || it.URL == "" {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request %d: id, method and url are required.", i), false)
		}
		if _, dup := ids[foldID(it.ID)]; dup {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request id '%s' is not unique.", it.ID), false)
		}
		for _, d := range it.DependsOn {
			if _, ok := ids[foldID(d)]; !ok {
				return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request '%s' depends on '%s', which is not an earlier request in the batch.", it.ID, d), false)
			}
		}
		ids[foldID(it.ID)] = i
		if len(it.Body) > 0 && string(it.Body) != "null" && headerGet(it.Headers, "Content-Type") == "" {
			return graphError(r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request '%s': Content-Type header is required when a body is present.", it.ID), false)
		}
	}
	statuses := map[string]int{}
	var out []map[string]any
	var serials []string
	for _, it := range req.Requests {
		rs := s.batchOne(r, version, it, statuses)
		statuses[foldID(it.ID)] = rs.status
		serials = append(serials, rs.serials...)
		hdr := batchHeaders(rs.header)
		item := map[string]any{"id": it.ID, "status": rs.status, "headers": hdr}
		if len(rs.body) > 0 {
			item["body"] = json.RawMessage(rs.body)
		}
		out = append(out, item)
	}
	rs := okJSON(r, http.StatusOK, map[string]any{"responses": out})
	rs.serials = serials
	return rs
}

func foldID(id string) string { return strings.ToLower(id) }

// graphHeaderNames spells header names as Graph writes them in $batch responses
// (json-batching.md: "Cache-Control", "OData-Version", "Content-Type",
// "x-ms-resource-unit"), not in Go's canonical form ("Odata-Version", "Request-Id").
var graphHeaderNames = map[string]string{
	"cache-control":     "Cache-Control",
	"content-type":      "Content-Type",
	"odata-version":     "OData-Version",
	"retry-after":       "Retry-After",
	"location":          "Location",
	"www-authenticate":  "WWW-Authenticate",
	"request-id":        "request-id",
	"client-request-id": "client-request-id",
}

// batchHeaders converts a response's headers into a $batch item's headers: Graph's
// spelling, and only headers that belong to one response (no transport headers).
func batchHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		low := strings.ToLower(k)
		switch low {
		case "strict-transport-security", "x-ms-ags-diagnostic":
			continue // set once on the outer response
		}
		name, ok := graphHeaderNames[low]
		if !ok {
			name = low
		}
		out[name] = v[0]
	}
	return out
}

func headerGet(h map[string]string, k string) string {
	for hk, v := range h {
		if strings.EqualFold(hk, k) {
			return v
		}
	}
	return ""
}

func (s *Server) batchOne(outer *http.Request, version string, it batchItem, statuses map[string]int) *resp {
	entry := LogEntry{Time: s.now(), Method: strings.ToUpper(it.Method), Batch: true, Write: isWrite(strings.ToUpper(it.Method))}
	u := it.URL
	inner, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(it.Method), "https://"+outer.Host+"/"+version+"/"+strings.TrimPrefix(u, "/"), nil)
	var rs *resp
	switch {
	case strings.Contains(u, "://"):
		rs = graphError(outer, http.StatusBadRequest, "BadRequest", "Batch request URLs must be relative.", false)
	case err != nil:
		rs = graphError(outer, http.StatusBadRequest, "BadRequest", "Invalid batch request URL.", false)
	}
	if rs == nil {
		inner.Host = outer.Host
		for k, v := range it.Headers {
			inner.Header.Set(k, v)
		}
		inner.Header.Set("Authorization", outer.Header.Get("Authorization"))
		if inner.Header.Get("client-request-id") == "" {
			inner.Header.Set("client-request-id", outer.Header.Get("client-request-id"))
		}
		entry.Path, entry.Query = inner.URL.Path, inner.URL.RawQuery
		for _, d := range it.DependsOn {
			if st := statuses[foldID(d)]; st < 200 || st > 299 {
				rs = graphError(inner, http.StatusFailedDependency, "FailedDependency", "The request did not execute because of a failed dependency.", false)
				break
			}
		}
	}
	if rs == nil && s.cfg.Faults.FaultBatchItems {
		s.mu.Lock()
		f := s.faults
		x := s.rng.Float64()
		pick := s.rng.Intn(3)
		s.mu.Unlock()
		switch {
		case x < f.Error5xx:
			rs = faultResp(inner, []int{500, 502, 504}[pick])
			entry.Fault = "5xx"
		case x < f.Error5xx+f.Error503:
			rs = graphError(inner, http.StatusServiceUnavailable, "ServiceUnavailable", "Service Unavailable", false)
			rs.header.Set("Retry-After", fmt.Sprint(f.RetryAfterSeconds))
			entry.Fault = "503"
		}
	}
	if rs == nil {
		var body []byte
		if len(it.Body) > 0 && string(it.Body) != "null" {
			body = bytes.TrimSpace(it.Body)
			// a non-JSON content type carries the body as a base64 JSON string
			if len(body) > 0 && body[0] == '"' && !strings.Contains(strings.ToLower(headerGet(it.Headers, "Content-Type")), "json") {
				var str string
				if json.Unmarshal(body, &str) == nil {
					if b, err := decodeBinary(str); err == nil {
						body = b
					}
				}
			}
		}
		_, rest := splitVersion(inner.URL.Path)
		rs = s.serveGraph(inner, version, rest, body, true)
	}
	entry.Status, entry.Serials, entry.Throttled, entry.AppID = rs.status, rs.serials, rs.throttled, rs.appID
	entry.RequestID = rs.header.Get("request-id")
	s.record(entry)
	return rs
}
