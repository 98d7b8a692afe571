package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	graphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/redact"
)

// sdkLibraryVersion is the msgraph-sdk-go version sent in the SdkVersion header.
const sdkLibraryVersion = "1.89.0"

// MaxBatch is the JSON batching limit of Graph.
const MaxBatch = 20

// ClientConfig configures NewClient. The zero value talks to global Graph with the
// default budget and retry policy.
type ClientConfig struct {
	Cloud    string // global (default), usgov, usgovdod, china
	GraphURL string // overrides the cloud's Graph root (emulator, proxy): scheme://host[:port]; https unless loopback
	Scope    string // overrides the cloud's scope (rarely needed)
	CAFile   string // extra trusted CA (PEM) for Graph, e.g. a TLS-inspecting proxy

	Limits Limits      // throttle budget; zero fields take DefaultLimits
	Retry  RetryPolicy // retry policy; zero fields take DefaultRetryPolicy

	// Logger receives one debug record per HTTP attempt (method, URL, status,
	// duration, request-id; Authorization redacted; bodies never). nil = silent.
	Logger *slog.Logger
	// UserAgent is added to the User-Agent header, e.g. "apimport/1.2.0".
	UserAgent string
	// DisableCompression turns off gzip of request bodies (on by default).
	DisableCompression bool
	// Transport is the innermost HTTP transport (tests: the emulator's); nil means
	// a transport honouring HTTPS_PROXY/NO_PROXY and CAFile.
	Transport http.RoundTripper
}

// Client implements Service with msgraph-sdk-go. It is safe for concurrent use;
// all its requests share one throttle budget and one retry policy.
//
// Middleware: the kiota defaults without RetryHandler (telemetry, redirect —
// configured to follow only redirects that stay on the host and keep https, see
// RedirectError — gzip compression, parameter decoding, user agent, header
// inspection), then one transport of ours that does all throttling and retrying:
//   - every attempt first takes budget from a sliding-window limiter (Limits;
//     a $batch of n items takes n);
//   - 429 is always resent (the service did not process it); its Retry-After,
//     or a full-jitter backoff when absent, pauses the whole budget, since Graph
//     throttles per app;
//   - 500/502/503/504 and connection errors are resent only for GET/DELETE (and
//     $batch of GETs); a POST that may have reached the service is never resent
//     and fails with an *AmbiguousError (a dial failure, which sent nothing, is
//     resent); until Graph has answered once, a failed connect is resent only
//     RetryPolicy.ConnectRetries times within NetworkDeadline, so an unreachable
//     Graph is reported in seconds; a TLS failure is never resent;
//   - at most RetryPolicy.MaxRetries resends; a Retry-After above
//     MaxRetryAfter is returned at once as an *APIError with RetryAfter set;
//     every wait ends when ctx does.
//
// Request bodies are gzip-compressed by the SDK (the service and the emulator
// accept gzip). Compression runs above the retry transport, which buffers the
// compressed bytes once and replays them unchanged, so retries stay replayable.
type Client struct {
	cred    azcore.TokenCredential
	ep      Endpoints
	adapter abs.RequestAdapter
	dm      *devicemanagement.DeviceManagementRequestBuilder
	lim     *limiter
	rt      *retryTransport
	clock   func() time.Time // nil: time.Now (tests replace it)
	policy  RetryPolicy
	stats   *counters
	log     *slog.Logger
}

var _ importer.Service = (*Client)(nil)

var registerOnce sync.Once

// registerSerializers does what the root msgraphsdk package would do (we don't
// import it: it doubles the build time, go-libraries.md §2).
func registerSerializers() {
	registerOnce.Do(func() {
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
		m := odataErrorMappings()
		_ = core.RegisterError(core.PageIteratorErrorRegistryKey, m)
		_ = core.RegisterError(core.BatchRequestErrorRegistryKey, m)
	})
}

func odataErrorMappings() abs.ErrorMappings {
	f := odataerrors.CreateODataErrorFromDiscriminatorValue
	return abs.ErrorMappings{"4XX": f, "5XX": f, "XXX": f}
}

// NewClient returns a Graph client using cred. The base URL is cfg.GraphURL (or
// the cloud's) + "/v1.0"; tokens are attached only for that host (plus loopback
// names when it is loopback). The SDK's own RetryHandler is left out: the
// client's transport is the single retry and throttle layer. A bad GraphURL,
// Cloud or CAFile is an error matching importer.ErrConfig.
//
// Error contract: every error of the client's methods that is about the
// connection matches one importer class: a *importer.HostError of class
// ErrNetwork (refused, DNS, timeout, proxy, a refused redirect) or ErrTLS naming
// the Graph host; 401 ErrCredential, 403 ErrPermission, 404 ErrNotFound and 429
// after the retries ErrThrottled (the *importer.APIError); token failures keep
// the class the credential gave them (NewCredential). Other answers (400, 5xx
// after the retries) are an *importer.APIError of no class.
func NewClient(cred azcore.TokenCredential, cfg ClientConfig) (*Client, error) {
	if cred == nil {
		return nil, errors.New("graph client needs a credential")
	}
	ep, err := ResolveEndpoints(cfg.Cloud, cfg.GraphURL, "", cfg.Scope)
	if err != nil {
		return nil, err // matches importer.ErrConfig
	}
	registerSerializers()
	gu, _ := url.Parse(ep.GraphURL)
	hosts := []string{gu.Hostname()}
	if isLoopbackHost(gu.Hostname()) {
		hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	}
	base := cfg.Transport
	if base == nil {
		t, err := newBaseTransport(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		base = t
	}
	c := &Client{cred: cred, ep: ep, lim: newLimiter(cfg.Limits), policy: cfg.Retry.withDefaults(),
		stats: &counters{}, log: cfg.Logger}
	rt := &retryTransport{base: base, lim: c.lim, policy: c.policy, stats: c.stats, log: cfg.Logger,
		token: func(ctx context.Context) (string, error) {
			tk, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ep.Scope}, EnableCAE: true})
			return tk.Token, err
		}}
	c.rt = rt

	opts := core.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: sdkLibraryVersion}
	ua := khttp.NewUserAgentHandlerOptions()
	if cfg.UserAgent != "" {
		name, version, ok := strings.Cut(cfg.UserAgent, "/")
		if !ok || version == "" {
			version = "dev"
		}
		ua.ProductName, ua.ProductVersion = name, version
	}
	// The kiota defaults minus RetryHandler (ours is the only retry layer).
	mw := []khttp.Middleware{
		redirectGuard{},
		core.NewGraphTelemetryHandler(&opts),
		khttp.NewRedirectHandlerWithOptions(khttp.RedirectHandlerOptions{MaxRedirects: 5, ShouldRedirect: sameOriginRedirect}),
		khttp.NewCompressionHandlerWithOptions(*khttp.NewCompressionOptionsReference(!cfg.DisableCompression)),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandlerWithOptions(ua),
		khttp.NewHeadersInspectionHandler(),
	}
	hc := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(rt, mw...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// No overall Timeout: it would include Retry-After waits. Each attempt has its own.
	}
	auth, err := graphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{ep.Scope}, hosts)
	if err != nil {
		return nil, fmt.Errorf("graph auth provider: %w", err)
	}
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(ep.GraphURL + "/v1.0")
	c.adapter = adapter
	c.dm = devicemanagement.NewDeviceManagementRequestBuilderInternal(map[string]string{}, adapter)
	return c, nil
}

// Endpoints returns the resolved Graph URL and scope.
func (c *Client) Endpoints() Endpoints { return c.ep }

// Stats returns the counters so far.
func (c *Client) Stats() importer.Stats { return c.stats.snapshot() }

// Import submits items with the bulk import action. On a 5xx answer or a dropped
// connection it returns an error for which IsAmbiguous is true and does not
// resend: the caller must list import records before posting these serials again.
func (c *Client) Import(ctx context.Context, items []importer.ImportItem) ([]importer.ImportRecord, error) {
	if len(items) == 0 {
		return nil, nil
	}
	list := make([]models.ImportedWindowsAutopilotDeviceIdentityable, 0, len(items))
	for _, it := range items {
		if it.Serial == "" {
			return nil, errors.New("import: item without a serial number")
		}
		if len(it.Hardware) == 0 {
			return nil, fmt.Errorf("import: serial %q has no hardware hash", it.Serial)
		}
		if looksBase64Text(it.Hardware) {
			return nil, fmt.Errorf("import: the hardware hash of serial %q is base64 text; pass the decoded bytes (the serializer encodes them)", it.Serial)
		}
		m := models.NewImportedWindowsAutopilotDeviceIdentity()
		m.SetSerialNumber(ptr(it.Serial))
		m.SetHardwareIdentifier(it.Hardware)
		m.SetGroupTag(ptr(it.GroupTag))
		m.SetProductKey(ptr(it.ProductKey))
		m.SetAssignedUserPrincipalName(ptr(it.AssignedUser))
		list = append(list, m)
	}
	body := devicemanagement.NewImportedWindowsAutopilotDeviceIdentitiesImportPostRequestBody()
	body.SetImportedWindowsAutopilotDeviceIdentities(list)
	tr := &callTrace{}
	resp, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ImportEscaped().PostAsImportPostResponse(withCallOpts(ctx, callOpts{trace: tr}), body, nil)
	if err != nil {
		return nil, writeErr("import", err, tr)
	}
	var got []models.ImportedWindowsAutopilotDeviceIdentityable
	if resp != nil {
		got = resp.GetValue()
	}
	return matchImport(items, got)
}

// matchImport returns one record per item in item order. The service answers in
// request order; if it does not, records are matched by serial. A missing record
// makes the outcome ambiguous for the caller.
func matchImport(items []importer.ImportItem, got []models.ImportedWindowsAutopilotDeviceIdentityable) ([]importer.ImportRecord, error) {
	recs := make([]importer.ImportRecord, len(got))
	for i, g := range got {
		recs[i] = toImportRecord(g)
	}
	inOrder := len(recs) == len(items)
	for i := 0; inOrder && i < len(items); i++ {
		inOrder = strings.EqualFold(recs[i].Serial, items[i].Serial)
	}
	if inOrder {
		return recs, nil
	}
	bySerial := make(map[string][]importer.ImportRecord)
	for _, r := range recs {
		k := strings.ToUpper(r.Serial)
		bySerial[k] = append(bySerial[k], r)
	}
	out := make([]importer.ImportRecord, len(items))
	var missing []string
	for i, it := range items {
		k := strings.ToUpper(it.Serial)
		if rs := bySerial[k]; len(rs) > 0 {
			out[i] = rs[0]
			bySerial[k] = rs[1:]
		} else {
			missing = append(missing, it.Serial)
		}
	}
	if len(missing) > 0 {
		return out, &AmbiguousError{Op: "import", Err: fmt.Errorf("the response has no record for %d serials (%s)",
			len(missing), strings.Join(firstN(missing, 5), ", "))}
	}
	return out, nil
}

// GetImported reads one import record; a missing record is ErrNotFound.
func (c *Client) GetImported(ctx context.Context, id string) (importer.ImportRecord, error) {
	if id == "" {
		return importer.ImportRecord{}, errors.New("get import record: empty id")
	}
	m, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(id).Get(ctx, nil)
	if err != nil {
		return importer.ImportRecord{}, fmt.Errorf("get import record %s: %w", id, convertError(err))
	}
	if m == nil {
		return importer.ImportRecord{}, fmt.Errorf("get import record %s: empty response", id)
	}
	return toImportRecord(m), nil
}

// GetImportedMany reads import records with JSON batching (≤20 a batch). Missing
// ids are absent from the map. Items throttled inside a batch (429) or failing
// with 5xx are resent in a later batch after their Retry-After, under the same
// budget and retry limit as single requests.
func (c *Client) GetImportedMany(ctx context.Context, ids []string) (map[string]importer.ImportRecord, error) {
	out := make(map[string]importer.ImportRecord, len(ids))
	seen := make(map[string]bool, len(ids))
	var todo []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			todo = append(todo, id)
		}
	}
	for len(todo) > 0 {
		n := min(MaxBatch, len(todo))
		if err := c.getBatch(ctx, todo[:n], out); err != nil {
			return out, err
		}
		todo = todo[n:]
	}
	return out, nil
}

// getBatch fetches ids (≤20) into out, retrying throttled items.
func (c *Client) getBatch(ctx context.Context, ids []string, out map[string]importer.ImportRecord) error {
	for attempt := 0; ; attempt++ {
		batch := core.NewBatchRequest(c.adapter)
		stepID := make(map[string]string, len(ids))
		for _, id := range ids {
			ri, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(id).ToGetRequestInformation(ctx, nil)
			if err != nil {
				return fmt.Errorf("batch get: %w", err)
			}
			item, err := batch.AddBatchRequestStep(*ri)
			if err != nil {
				return fmt.Errorf("batch get: %w", err)
			}
			stepID[*item.GetId()] = id
		}
		ri := abs.NewRequestInformation()
		ri.Method = abs.POST
		ri.UrlTemplate = "{+baseurl}/$batch"
		if err := ri.SetContentFromParsable(ctx, c.adapter, "application/json", batch); err != nil {
			return fmt.Errorf("batch get: %w", err)
		}
		bctx := withCallOpts(ctx, callOpts{weight: len(ids), writes: 0, batch: true, idempotent: true})
		res, err := c.adapter.Send(bctx, ri, core.CreateBatchResponseDiscriminator, odataErrorMappings())
		if err != nil {
			return fmt.Errorf("batch get of %d import records: %w", len(ids), convertError(err))
		}
		br, _ := res.(core.BatchResponse)
		if br == nil {
			return errors.New("batch get: empty response")
		}
		var again []string
		var wait time.Duration
		throttled := false
		answered := make(map[string]bool, len(ids))
		for _, item := range br.GetResponses() {
			if item == nil || item.GetId() == nil {
				continue
			}
			id, ok := stepID[*item.GetId()]
			if !ok {
				continue
			}
			answered[id] = true
			status := 0
			if item.GetStatus() != nil {
				status = int(*item.GetStatus())
			}
			switch {
			case status >= 200 && status < 300:
				rec, err := parseBatchBody(item)
				if err != nil {
					return fmt.Errorf("batch get %s: %w", id, err)
				}
				out[id] = rec
			case status == http.StatusNotFound:
				// absent from the map
			case status == http.StatusTooManyRequests || status == 500 || status == 502 || status == 503 || status == 504:
				if status == http.StatusTooManyRequests {
					c.stats.throttled.Add(1)
					throttled = true
				}
				h := http.Header{}
				for k, v := range item.GetHeaders() {
					h.Set(k, v)
				}
				d, ok := retryAfter(h)
				if !ok {
					d = c.policy.backoff(attempt)
				}
				if ok && d > c.policy.MaxRetryAfter || attempt >= c.policy.MaxRetries {
					return fmt.Errorf("batch get %s: %w", id, batchItemError(item, status))
				}
				wait = max(wait, d)
				again = append(again, id)
			default:
				return fmt.Errorf("batch get %s: %w", id, batchItemError(item, status))
			}
		}
		for _, id := range ids {
			if !answered[id] {
				again = append(again, id) // not answered at all: ask again
			}
		}
		if len(again) == 0 {
			return nil
		}
		if attempt >= c.policy.MaxRetries {
			return fmt.Errorf("batch get: %d items still unanswered after %d retries", len(again), attempt)
		}
		c.stats.retries.Add(int64(len(again)))
		if throttled {
			c.lim.pause(wait) // throttled items mean the app is throttled: everyone waits
		} else if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
		if c.log != nil {
			c.log.Debug("graph batch items retried", slog.Int("items", len(again)), slog.Duration("wait", wait))
		}
		ids = again
	}
}

// parseBatchBody reads a batch answer's record like a listed one (importedOut): the
// body is already decoded JSON.
func parseBatchBody(item core.BatchItem) (importer.ImportRecord, error) {
	b, err := json.Marshal(item.GetBody())
	if err != nil {
		return importer.ImportRecord{}, err
	}
	if len(b) == 0 || b[0] != '{' {
		return importer.ImportRecord{}, errors.New("unexpected body")
	}
	var v importedOut
	if err := json.Unmarshal(b, &v); err != nil {
		return importer.ImportRecord{}, err
	}
	return v.record(), nil
}

// batchItemError builds an APIError from a failed batch item.
func batchItemError(item core.BatchItem, status int) error {
	ae := &importer.APIError{StatusCode: status}
	for k, v := range item.GetHeaders() {
		switch strings.ToLower(k) {
		case "request-id":
			ae.RequestID = v
		case "client-request-id":
			ae.ClientRequestID = v
		case "retry-after":
			ae.RetryAfter, _ = retryAfter(http.Header{"Retry-After": {v}})
		}
	}
	if b, err := json.Marshal(item.GetBody()); err == nil {
		fillFromErrorBody(ae, b)
	}
	if status == http.StatusNotFound {
		return errors.Join(ae, importer.ErrNotFound)
	}
	return ae
}

// ListImported pages through every import record; fn returns false to stop. The pages
// go through the request adapter like every call (auth, budget, retries) but are
// decoded with encoding/json into the fields the engine reads: a large import lists
// 100,000 records, and kiota's parse tree and backing stores hold about 20 MB per page
// of 1,000.
func (c *Client) ListImported(ctx context.Context, fn func(importer.ImportRecord) bool) error {
	return eachPaged(ctx, c, "list import records", c.ep.GraphURL+"/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities",
		func(v importedOut) bool { return fn(v.record()) })
}

// importedOut is an importedWindowsAutopilotDeviceIdentity as JSON (a listing's item, a
// batch answer's body).
type importedOut struct {
	ID                        string `json:"id"`
	SerialNumber              string `json:"serialNumber"`
	GroupTag                  string `json:"groupTag"`
	AssignedUserPrincipalName string `json:"assignedUserPrincipalName"`
	ImportID                  string `json:"importId"`
	State                     *struct {
		DeviceImportStatus   string `json:"deviceImportStatus"`
		DeviceRegistrationID string `json:"deviceRegistrationId"`
		DeviceErrorCode      int    `json:"deviceErrorCode"`
		DeviceErrorName      string `json:"deviceErrorName"`
	} `json:"state"`
}

// record is toImportRecord for a listed record or a batch answer: a status that is not
// one of the documented values reads as unknown (not final).
func (v importedOut) record() importer.ImportRecord {
	r := importer.ImportRecord{ID: v.ID, Serial: v.SerialNumber, GroupTag: v.GroupTag, AssignedUser: v.AssignedUserPrincipalName,
		ImportID: v.ImportID, Status: importer.ImportUnknown}
	if st := v.State; st != nil {
		switch st.DeviceImportStatus {
		case importer.ImportPending, importer.ImportPartial, importer.ImportComplete, importer.ImportError:
			r.Status = st.DeviceImportStatus
		}
		r.ErrorCode, r.ErrorName, r.RegistrationID = st.DeviceErrorCode, st.DeviceErrorName, st.DeviceRegistrationID
	}
	return r
}

// DeleteImported deletes one import record; a missing record is not an error.
func (c *Client) DeleteImported(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete import record: empty id")
	}
	err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(id).Delete(ctx, nil)
	if err != nil {
		err = convertError(err)
		if errors.Is(err, importer.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete import record %s: %w", id, err)
	}
	return nil
}

// ListDevices pages through every registered Autopilot device; fn returns false to stop.
func (c *Client) ListDevices(ctx context.Context, fn func(importer.AutopilotDevice) bool) error {
	return c.listDevices(ctx, "", fn)
}

func (c *Client) listDevices(ctx context.Context, filter string, fn func(importer.AutopilotDevice) bool) error {
	var cfg *devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration
	if filter != "" {
		cfg = &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration{
			QueryParameters: &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetQueryParameters{Filter: &filter},
		}
	}
	page, err := c.dm.WindowsAutopilotDeviceIdentities().Get(ctx, cfg)
	if err != nil {
		return fmt.Errorf("list autopilot devices: %w", convertError(err))
	}
	it, err := core.NewPageIterator[models.WindowsAutopilotDeviceIdentityable](page, c.adapter,
		models.CreateWindowsAutopilotDeviceIdentityCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return fmt.Errorf("list autopilot devices: %w", err)
	}
	if err := it.Iterate(ctx, func(m models.WindowsAutopilotDeviceIdentityable) bool {
		if m == nil {
			return true
		}
		return fn(toDevice(m))
	}); err != nil {
		return fmt.Errorf("list autopilot devices: %w", convertError(err))
	}
	return nil
}

// FindDevices returns the registered devices whose serial equals serial
// (case-insensitive, surrounding spaces ignored). The service rejects
// "serialNumber eq" and some contains() values, so the query is
// contains(serialNumber,'<token>') with single quotes doubled, where token is:
//   - the serial itself when it has no space and no hyphen;
//   - otherwise its longest space- and hyphen-free piece (contains() returned
//     400 for serials with hyphens, msgraph-sdk-powershell#2464; the community
//     module filters on a space-free token for serials with spaces).
//
// When no usable token remains, or the filtered query answers 400, it lists
// every device and matches locally. The exact comparison is always client-side.
func (c *Client) FindDevices(ctx context.Context, serial string) ([]importer.AutopilotDevice, error) {
	want := strings.TrimSpace(serial)
	if want == "" {
		return nil, errors.New("find devices: empty serial")
	}
	var found []importer.AutopilotDevice
	collect := func(d importer.AutopilotDevice) bool {
		if strings.EqualFold(strings.TrimSpace(d.Serial), want) {
			found = append(found, d)
		}
		return true
	}
	if tok := filterToken(want); tok != "" {
		err := c.listDevices(ctx, "contains(serialNumber,'"+strings.ReplaceAll(tok, "'", "''")+"')", collect)
		var ae *importer.APIError
		if err == nil || !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
			if err != nil {
				return nil, fmt.Errorf("find devices with serial %q: %w", want, err)
			}
			return found, nil
		}
		found = nil // 400 on the filter: fall back to listing
	}
	if err := c.listDevices(ctx, "", collect); err != nil {
		return nil, fmt.Errorf("find devices with serial %q: %w", want, err)
	}
	return found, nil
}

// filterToken picks the substring used in contains(); "" means list everything.
func filterToken(serial string) string {
	if !strings.ContainsAny(serial, " -\t") {
		return serial
	}
	best := ""
	for _, f := range strings.FieldsFunc(serial, func(r rune) bool { return r == ' ' || r == '-' || r == '\t' }) {
		if len(f) > len(best) {
			best = f
		}
	}
	if len(best) < 3 { // too short to narrow anything down
		return ""
	}
	return best
}

// UpdateDevice calls updateDeviceProperties; nil fields are not sent. A 5xx or a
// dropped connection is returned as ambiguous (see IsAmbiguous).
func (c *Client) UpdateDevice(ctx context.Context, id string, u importer.DeviceUpdate) error {
	if id == "" {
		return errors.New("update device: empty id")
	}
	body := devicemanagement.NewWindowsAutopilotDeviceIdentitiesItemUpdateDevicePropertiesPostRequestBody()
	if u.GroupTag != nil {
		body.SetGroupTag(u.GroupTag)
	}
	if u.UserPrincipalName != nil {
		body.SetUserPrincipalName(u.UserPrincipalName)
	}
	if u.DisplayName != nil {
		body.SetDisplayName(u.DisplayName)
	}
	tr := &callTrace{}
	// Setting the same properties again is harmless, so a 5xx or a dropped connection is
	// retried like a GET instead of ending as "outcome unknown" (the rehearsal saw one
	// injected 500 turn an update into a failed row).
	err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId(id).UpdateDeviceProperties().Post(withCallOpts(ctx, callOpts{trace: tr, idempotent: true}), body, nil)
	if err != nil {
		return writeErr("update device "+id, err, tr)
	}
	return nil
}

// betaRequest builds a raw request to the beta endpoint (the v1.0 SDK has no
// windowsAutopilotSettings).
func (c *Client) betaRequest(method abs.HttpMethod, path string) (*abs.RequestInformation, error) {
	return c.newRequest(method, "/beta"+path)
}

// newRequest is a raw request to the Graph root plus versionPath ("/v1.0/…" or
// "/beta/…", with its query): it goes through the same request adapter, throttle
// budget and retry layer as the SDK's own requests.
func (c *Client) newRequest(method abs.HttpMethod, versionPath string) (*abs.RequestInformation, error) {
	u, err := url.Parse(c.ep.GraphURL + versionPath)
	if err != nil {
		return nil, err
	}
	ri := abs.NewRequestInformation()
	ri.Method = method
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	return ri, nil
}

// GetSyncInfo reads beta windowsAutopilotSettings.
func (c *Client) GetSyncInfo(ctx context.Context) (importer.SyncInfo, error) {
	ri, err := c.betaRequest(abs.GET, "/deviceManagement/windowsAutopilotSettings")
	if err != nil {
		return importer.SyncInfo{}, err
	}
	v, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", odataErrorMappings())
	if err != nil {
		return importer.SyncInfo{}, fmt.Errorf("get autopilot sync info: %w", convertError(err))
	}
	b, _ := v.([]byte)
	var s struct {
		LastSyncDateTime              *time.Time `json:"lastSyncDateTime"`
		LastManualSyncTriggerDateTime *time.Time `json:"lastManualSyncTriggerDateTime"`
		SyncStatus                    string     `json:"syncStatus"`
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &s); err != nil {
			return importer.SyncInfo{}, fmt.Errorf("get autopilot sync info: %w", err)
		}
	}
	info := importer.SyncInfo{Status: s.SyncStatus}
	if s.LastSyncDateTime != nil {
		info.LastSync = *s.LastSyncDateTime
	}
	if s.LastManualSyncTriggerDateTime != nil {
		info.LastManualSync = *s.LastManualSyncTriggerDateTime
	}
	return info, nil
}

// syncCooldown is the service's rule: a sync within 10 minutes of the previous
// manual trigger answers 429 (graph-api.md §1.4).
const syncCooldown = 10 * time.Minute

// Sync calls beta windowsAutopilotSettings/sync: nil on 204, ErrSyncInProgress on
// 409 (wrapping the *importer.APIError). A 429 is not always the 10-minute rule
// (issue 8 item 9): Sync reads lastManualSyncTriggerDateTime, and when the last
// manual trigger is less than 10 minutes old the answer is ErrSyncTooSoon (no
// retry; it does not also match ErrThrottled). Otherwise the 429 is throttling:
// the sync is sent again after its Retry-After (or the backoff), at most
// RetryPolicy.MaxRetries times, never waiting past ctx's deadline or
// MaxRetryAfter; throttled to the end, the error matches importer.ErrThrottled.
// The sync's own attempts bypass the transport's retries and do not pause the
// shared budget.
func (c *Client) Sync(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := c.syncOnce(ctx)
		if err == nil {
			return nil
		}
		var ae *importer.APIError
		if !errors.As(err, &ae) {
			return fmt.Errorf("autopilot sync: %w", err)
		}
		switch ae.StatusCode {
		case http.StatusConflict:
			return fmt.Errorf("autopilot sync: %w: %w", importer.ErrSyncInProgress, err)
		case http.StatusTooManyRequests:
		default:
			return fmt.Errorf("autopilot sync: %w", err)
		}
		info, ierr := c.GetSyncInfo(ctx)
		if ierr != nil {
			return fmt.Errorf("autopilot sync: %w (and reading the sync settings to tell the 10-minute rule from throttling: %v)", err, ierr)
		}
		if since := c.now().Sub(info.LastManualSync); !info.LastManualSync.IsZero() && since < syncCooldown {
			// Not %w: this 429 is the rule, not throttling.
			return fmt.Errorf("autopilot sync: %w: the last manual sync was %s ago (%v)", importer.ErrSyncTooSoon, max(since, 0).Round(time.Second), ae)
		}
		wait := ae.RetryAfter
		if wait <= 0 {
			wait = c.policy.backoff(attempt)
		}
		if attempt >= c.policy.MaxRetries || wait > c.policy.MaxRetryAfter {
			return fmt.Errorf("autopilot sync: throttled after %d attempts: %w", attempt+1, err)
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return fmt.Errorf("autopilot sync: throttled, and the Retry-After of %s ends after the run's deadline: %w", wait, err)
		}
		c.stats.retries.Add(1)
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// syncOnce sends one sync request, never retried by the transport.
func (c *Client) syncOnce(ctx context.Context) error {
	ri, err := c.betaRequest(abs.POST, "/deviceManagement/windowsAutopilotSettings/sync")
	if err != nil {
		return err
	}
	return convertError(c.adapter.SendNoContent(withCallOpts(ctx, callOpts{noRetry: true}), ri, odataErrorMappings()))
}

func (c *Client) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

// writeErr converts the error of a non-idempotent write. When a request left
// this machine and the last attempt got a 5xx, no answer (dropped connection,
// timeout, cancellation in flight) or an unreadable 2xx, the write may have taken
// effect: the result is an *AmbiguousError (the transport never resends those).
func writeErr(op string, err error, tr *callTrace) error {
	if IsAmbiguous(err) {
		return err
	}
	err = convertError(err)
	if tr.ambiguous() {
		return &AmbiguousError{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// convertError turns SDK errors into *APIError (wrapping importer.ErrNotFound for 404).
// It never calls ODataError.Error, which panics on bodies without a message.
func convertError(err error) error {
	if err == nil {
		return nil
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe != nil {
		ae := &importer.APIError{StatusCode: oe.ResponseStatusCode}
		headersInto(ae, oe.ResponseHeaders)
		if me := oe.GetErrorEscaped(); me != nil {
			if p := me.GetCode(); p != nil {
				ae.Code = *p
			}
			if p := me.GetMessage(); p != nil {
				ae.Message = unnestMessage(*p)
			}
			if ie := me.GetInnerError(); ie != nil {
				if p := ie.GetRequestId(); p != nil && *p != "" {
					ae.RequestID = *p
				}
				if p := ie.GetClientRequestId(); p != nil && *p != "" {
					ae.ClientRequestID = *p
				}
			}
		}
		return wrapStatus(ae)
	}
	var ke *abs.ApiError
	if errors.As(err, &ke) && ke != nil && ke.ResponseStatusCode != 0 {
		// ke.Message is kiota boilerplate ("the server returned an unexpected status
		// code…"), not the service's words: leave Message empty.
		ae := &importer.APIError{StatusCode: ke.ResponseStatusCode}
		headersInto(ae, ke.ResponseHeaders)
		return wrapStatus(ae)
	}
	return err
}

func wrapStatus(ae *importer.APIError) error {
	if ae.StatusCode == http.StatusNotFound {
		return &notFoundError{ae}
	}
	return ae
}

// notFoundError is an *APIError that also matches importer.ErrNotFound.
type notFoundError struct{ *importer.APIError }

// Unwrap exposes both the *APIError and importer.ErrNotFound.
func (e *notFoundError) Unwrap() []error { return []error{e.APIError, importer.ErrNotFound} }

func headersInto(ae *importer.APIError, h *abs.ResponseHeaders) {
	if h == nil {
		return
	}
	first := func(k string) string {
		if v := h.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if ae.RequestID == "" {
		ae.RequestID = first("request-id")
	}
	if ae.ClientRequestID == "" {
		ae.ClientRequestID = first("client-request-id")
	}
	if v := first("retry-after"); v != "" {
		ae.RetryAfter, _ = retryAfter(http.Header{"Retry-After": {v}})
	}
}

// fillFromErrorBody parses a raw Graph error body {"error":{...}} into ae.
func fillFromErrorBody(ae *importer.APIError, b []byte) {
	var body struct {
		Error *struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil || body.Error == nil {
		return
	}
	ae.Code = body.Error.Code
	ae.Message = unnestMessage(body.Error.Message)
	if ie := body.Error.InnerError; ie != nil {
		if ie.RequestID != "" {
			ae.RequestID = ie.RequestID
		}
		if ie.ClientRequestID != "" {
			ae.ClientRequestID = ie.ClientRequestID
		}
	}
}

// unnestMessage returns the "Message" of the JSON document Intune puts inside
// error.message (graph-api.md §1.6), or msg unchanged, with long base64 runs elided
// (see elideBlobs).
func unnestMessage(msg string) string {
	t := strings.TrimSpace(msg)
	if !strings.HasPrefix(t, "{") {
		return elideBlobs(msg)
	}
	var inner map[string]any
	if json.Unmarshal([]byte(t), &inner) != nil {
		return elideBlobs(msg)
	}
	for _, k := range []string{"Message", "message"} {
		if s, ok := inner[k].(string); ok && s != "" {
			return elideBlobs(s)
		}
	}
	return elideBlobs(msg)
}

// elideBlobs shortens base64 runs in a service error message (a 400 can quote the hash
// it refused) with the one redaction helper.
func elideBlobs(s string) string { return redact.Hashes(s) }

func toImportRecord(m models.ImportedWindowsAutopilotDeviceIdentityable) importer.ImportRecord {
	r := importer.ImportRecord{
		ID:           deref(m.GetId()),
		Serial:       deref(m.GetSerialNumber()),
		GroupTag:     deref(m.GetGroupTag()),
		AssignedUser: deref(m.GetAssignedUserPrincipalName()),
		ImportID:     deref(m.GetImportId()),
		Status:       importer.ImportUnknown,
	}
	if st := m.GetState(); st != nil {
		if s := st.GetDeviceImportStatus(); s != nil {
			r.Status = s.String()
		}
		if p := st.GetDeviceErrorCode(); p != nil {
			r.ErrorCode = int(*p)
		}
		r.ErrorName = deref(st.GetDeviceErrorName())
		r.RegistrationID = deref(st.GetDeviceRegistrationId())
	}
	return r
}

func toDevice(m models.WindowsAutopilotDeviceIdentityable) importer.AutopilotDevice {
	d := importer.AutopilotDevice{
		ID:                deref(m.GetId()),
		Serial:            deref(m.GetSerialNumber()),
		GroupTag:          deref(m.GetGroupTag()),
		UserPrincipalName: deref(m.GetUserPrincipalName()),
		DisplayName:       deref(m.GetDisplayName()),
		Manufacturer:      deref(m.GetManufacturer()),
		Model:             deref(m.GetModel()),
	}
	deviceFields(&d, m)
	return d
}

// looksBase64Text reports whether b is base64 text rather than decoded hash bytes
// (a real hash starts with a binary header, so a false positive needs 64 bytes
// that are all in the base64 alphabet).
func looksBase64Text(b []byte) bool {
	if len(b) < 64 || len(b)%4 != 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], "…")
}
