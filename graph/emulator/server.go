package emulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Server is a running emulator. The exported fields are what a client needs; they are
// set by Start and must not be changed.
type Server struct {
	GraphURL       string // https://127.0.0.1:PORT (clients append /v1.0 or /beta)
	AuthorityURL   string // https://127.0.0.1:PORT/ (token endpoint: AuthorityURL + TenantID + "/oauth2/v2.0/token")
	TenantID       string
	ClientID       string
	ClientSecret   string
	CAFile         string // PEM of the CA that signed the TLS certificate
	ClientCertFile string // PEM certificate + private key registered for ClientID (for ClientCertificateCredential)

	cfg     Config
	keys    *keys
	apps    map[string]app
	ln      net.Listener
	hs      *http.Server
	tmpDir  string
	serveWG sync.WaitGroup

	mu            sync.Mutex // guards everything below
	st            *store
	rng           *rand.Rand // per-request faults
	storageRng    *rand.Rand // 640 verdicts
	faults        Faults
	syncThrottled int // sync calls still to be answered with a throttling 429
	buckets       map[string]*bucket
	clock         func() time.Time
	dirty         bool
	profiles      []*profile // deployment profiles, oldest created first (profiles.go)
	startedAt     time.Time  // when the configured profile assignments were made

	logMu   sync.Mutex
	log     []LogEntry
	logFile *os.File
	logEnc  *json.Encoder

	ids identityStore // corporate identifiers (identities.go)

	stop      chan struct{}
	saverDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// LogEntry is one line of the JSON Lines request log (one per HTTP request, and one per
// $batch item with Batch set).
type LogEntry struct {
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`  // including the /v1.0 or /beta prefix
	Query     string    `json:"query"` // raw query string
	Status    int       `json:"status"`
	Serials   []string  `json:"serials,omitempty"` // serial numbers the request touched (never hashes)
	Throttled bool      `json:"throttled"`         // answered 429 by the throttle
	Write     bool      `json:"write"`             // POST/PATCH/PUT/DELETE
	Batch     bool      `json:"batch"`             // an item inside a $batch request
	AppID     string    `json:"app_id,omitempty"`  // appid of the token
	RequestID string    `json:"request_id"`
	Fault     string    `json:"fault,omitempty"` // injected fault: 5xx, 503, drop, slow
	// ContentEncoding is the request's Content-Encoding ("gzip" from the Go SDK).
	ContentEncoding string  `json:"content_encoding,omitempty"`
	DurationMS      float64 `json:"duration_ms"`
}

// Start starts an emulator on cfg.Addr (zero-valued keys take DefaultConfig values).
func Start(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("emulator config: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, st: newStore(), buckets: map[string]*bucket{}, clock: time.Now,
		faults: cfg.Faults, syncThrottled: cfg.SyncThrottled, rng: rand.New(rand.NewSource(cfg.RandomSeed)),
		storageRng: rand.New(rand.NewSource(cfg.RandomSeed + 1)),
		stop:       make(chan struct{}), saverDone: make(chan struct{})}
	s.startedAt = s.clock()
	profiles, err := setupProfiles(cfg.DeploymentProfiles, s.startedAt)
	if err != nil {
		return nil, fmt.Errorf("emulator config: %w", err)
	}
	s.profiles = profiles
	s.st.dir.clock = func() time.Time { return s.clock() } // called with s.mu held
	for _, sn := range cfg.EnrolledSerials {
		s.st.dir.enrolled[normSerial(sn)] = true
	}
	var id identity
	dir := cfg.Dir
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("emulator dir: %w", err)
		}
		id, err = loadIdentity(dir)
	} else {
		if dir, err = os.MkdirTemp("", "apimport-emulator-*"); err != nil {
			return nil, fmt.Errorf("emulator temp dir: %w", err)
		}
		s.tmpDir = dir
		id, err = processIdentity()
	}
	if err != nil {
		s.cleanupTmp()
		return nil, err
	}
	if s.keys, err = id.parse(); err != nil {
		s.cleanupTmp()
		return nil, err
	}
	s.TenantID, s.ClientID, s.ClientSecret = firstNonEmpty(cfg.TenantID, id.TenantID), firstNonEmpty(cfg.ClientID, id.ClientID), firstNonEmpty(cfg.ClientSecret, id.ClientSecret)
	s.apps = map[string]app{s.ClientID: {clientID: s.ClientID, secret: s.ClientSecret, certs: []*x509.Certificate{s.keys.clientCert}, roles: cfg.Roles}}
	for i, c := range cfg.Clients {
		if c.ClientID == "" {
			s.cleanupTmp()
			return nil, fmt.Errorf("emulator config: clients[%d]: client_id is required", i)
		}
		a := app{clientID: c.ClientID, secret: c.ClientSecret, roles: c.Roles}
		if a.roles == nil {
			a.roles = cfg.Roles
		}
		if c.Certificate != "" {
			if a.certs, err = parseCertsPEM(c.Certificate); err != nil {
				s.cleanupTmp()
				return nil, fmt.Errorf("emulator config: clients[%d].certificate: %w", i, err)
			}
		}
		s.apps[c.ClientID] = a
	}
	s.CAFile = filepath.Join(dir, "ca.pem")
	s.ClientCertFile = filepath.Join(dir, "client.pem")
	if err := writeFileAtomic(s.CAFile, s.keys.caPEM, 0o644); err != nil {
		s.cleanupTmp()
		return nil, fmt.Errorf("writing CA file: %w", err)
	}
	if err := writeFileAtomic(s.ClientCertFile, s.keys.clientPEM, 0o600); err != nil {
		s.cleanupTmp()
		return nil, fmt.Errorf("writing client certificate: %w", err)
	}

	// state: state_file wins over seed
	now := s.now()
	loaded := false
	if cfg.StateFile != "" {
		if _, err := os.Stat(cfg.StateFile); err == nil {
			st, err := ReadState(cfg.StateFile)
			if err == nil {
				err = s.st.load(st, cfg.ProcessingDelay.D(), now, newGUID)
			}
			if err != nil {
				s.cleanupTmp()
				return nil, err
			}
			loaded = true
		}
	}
	if !loaded && cfg.StateFile != "" {
		s.dirty = true // write the state file even if nothing happens
	}
	if !loaded && cfg.Seed != nil {
		if err := s.st.load(*cfg.Seed, cfg.ProcessingDelay.D(), now, newGUID); err != nil {
			s.cleanupTmp()
			return nil, fmt.Errorf("emulator seed: %w", err)
		}
		s.dirty = true
	}
	if s.st.dir.ensureGroups(cfg.DefaultGroups) {
		s.dirty = true
	}
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			s.cleanupTmp()
			return nil, fmt.Errorf("opening request log: %w", err)
		}
		s.logFile = f
		s.logEnc = json.NewEncoder(f)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.closeLog()
		s.cleanupTmp()
		return nil, fmt.Errorf("emulator listen: %w", err)
	}
	s.ln = ln
	port := ln.Addr().(*net.TCPAddr).Port
	host := "127.0.0.1"
	if a := ln.Addr().(*net.TCPAddr).IP; a.IsLoopback() && a.To4() == nil {
		host = "[::1]"
	}
	s.GraphURL = fmt.Sprintf("https://%s:%d", host, port)
	s.AuthorityURL = s.GraphURL + "/"
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only: faults hijack connections
		ErrorLog:          log.New(io.Discard, "", 0),                               // TLS handshake noise from untrusting clients
	}
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{s.keys.tlsCert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		_ = s.hs.Serve(tl)
	}()
	go s.saver()
	return s, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) cleanupTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

func (s *Server) closeLog() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.logFile != nil {
		s.logFile.Close()
		s.logFile = nil
		s.logEnc = nil
	}
}

// Close stops the server, saves the state file and closes the log. The CA file is
// removed unless Config.Dir was set.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.hs.Shutdown(ctx); err != nil {
			s.hs.Close()
		}
		s.serveWG.Wait()
		close(s.stop)
		<-s.saverDone
		s.closeErr = s.saveState()
		s.closeLog()
		s.cleanupTmp()
	})
	return s.closeErr
}

// CertPool returns a pool holding the emulator's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.keys.caCert)
	return p
}

// HTTPClient returns a client that trusts the emulator's CA.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: false},
	}
}

// SetClock replaces the emulator's clock (tests: jump past sync_cooldown or processing_delay).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

func (s *Server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock()
}

// SetSyncThrottled makes the next n sync calls answer a throttling 429 (see
// Config.SyncThrottled), whatever the cooldown says.
func (s *Server) SetSyncThrottled(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncThrottled = n
}

// SetFaults changes the fault rates at run time.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.SlowDelay == 0 {
		f.SlowDelay = DefaultConfig().Faults.SlowDelay
	}
	if f.RetryAfterSeconds == 0 {
		f.RetryAfterSeconds = 1
	}
	s.faults = f
}

// Requests returns a copy of the in-memory request log (at most about log_memory
// entries, the most recent).
func (s *Server) Requests() []LogEntry {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := len(s.log)
	if n > s.cfg.LogMemory {
		n = s.cfg.LogMemory
	}
	return append([]LogEntry(nil), s.log[len(s.log)-n:]...)
}

// Registered returns the registered windowsAutopilotDeviceIdentities (pending imports due
// by now are processed first).
func (s *Server) Registered() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	out := make([]Device, 0, len(s.st.registered))
	for _, d := range s.st.registered {
		out = append(out, *d)
	}
	return out
}

// Imported returns the importedWindowsAutopilotDeviceIdentities (processed up to now).
func (s *Server) Imported() []ImportedIdentity {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	out := make([]ImportedIdentity, 0, len(s.st.imported))
	for _, r := range s.st.imported {
		out = append(out, *r)
	}
	return out
}

// Snapshot returns the whole state in the seed/state_file format.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.st.snapshot()
}

// Seed adds st to the current state (devices, import records, other-tenant serials;
// settings replace the current ones).
func (s *Server) Seed(st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.load(st, s.cfg.ProcessingDelay.D(), s.clock(), newGUID); err != nil {
		return fmt.Errorf("emulator seed: %w", err)
	}
	s.dirty = true
	return nil
}

// advanceLocked decides every import record due by now, in ProcessAt order.
func (s *Server) advanceLocked() {
	now := s.clock()
	st := s.st
	n := 0
	for n < len(st.pending) && !st.pending[n].ProcessAt.After(now) {
		r := st.pending[n]
		n++
		if st.importedByID[r.ID] != r || final(r.State.DeviceImportStatus) {
			continue // deleted meanwhile
		}
		fault := s.faults.StorageError > 0 && s.storageRng.Float64() < s.faults.StorageError
		st.verdict(r, fault, newGUID)
		s.dirty = true
	}
	if n > 0 {
		st.pending = append(st.pending[:0:0], st.pending[n:]...)
	}
	// finish a running sync
	set := &st.settings
	if set.SyncStatus == "inProgress" && !now.Before(set.LastManualSyncTriggerDateTime.Add(s.cfg.SyncDuration.D())) {
		set.SyncStatus = "completed"
		set.LastSyncDateTime = set.LastManualSyncTriggerDateTime.Add(s.cfg.SyncDuration.D())
		s.dirty = true
	}
}

func (s *Server) saver() {
	defer close(s.saverDone)
	if s.cfg.StateFile == "" {
		return
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.saveState()
		}
	}
}

func (s *Server) saveState() error {
	if s.cfg.StateFile == "" {
		return nil
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	snap := s.st.snapshot()
	s.dirty = false
	s.mu.Unlock()
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.cfg.StateFile, b, 0o600); err != nil {
		return fmt.Errorf("saving emulator state: %w", err)
	}
	return nil
}

func (s *Server) record(e LogEntry) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = append(s.log, e)
	// trim in chunks so that a full log does not cost a copy per request
	if over := len(s.log) - s.cfg.LogMemory; over > s.cfg.LogMemory/4 {
		s.log = append(s.log[:0:0], s.log[over:]...)
	}
	if s.logEnc != nil {
		_ = s.logEnc.Encode(e)
	}
}

// readBody reads a request body, gunzipping Content-Encoding: gzip.
func readBody(r *http.Request, limit int) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var rd io.Reader = r.Body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("invalid gzip body: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, errUnsupportedEncoding
	}
	b, err := io.ReadAll(io.LimitReader(rd, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

var (
	errUnsupportedEncoding = errors.New("unsupported Content-Encoding")
	errTooLarge            = errors.New("request body too large")
)

// ServeHTTP routes token, discovery and Graph requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v1.0" || p == "/beta" || strings.HasPrefix(p, "/v1.0/") || strings.HasPrefix(p, "/beta/"):
		s.serveGraphHTTP(w, r)
		return
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration" {
		s.handleOpenID(w, r, segs[0])
		s.record(LogEntry{Time: s.now(), Method: r.Method, Path: p, Status: http.StatusOK})
		return
	}
	if len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" {
		rec := &statusRecorder{ResponseWriter: w}
		s.handleToken(rec, r, segs[0])
		s.record(LogEntry{Time: s.now(), Method: r.Method, Path: p, Status: rec.status})
		return
	}
	if len(segs) == 1 && segs[0] != "" && (strings.HasPrefix(segs[0], "v") || segs[0] == "$batch") {
		rs := graphError(r, http.StatusBadRequest, "BadRequest", "Invalid version.", false)
		writeResp(w, rs)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "NotFound", "message": "no such endpoint on the Graph emulator: " + p}})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// resp is a Graph response before it is written (to the wire or into a $batch).
type resp struct {
	status    int
	header    http.Header
	body      []byte
	serials   []string
	throttled bool
	fault     string
	appID     string
}

func writeResp(w http.ResponseWriter, rs *resp) {
	for k, v := range rs.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rs.status)
	if len(rs.body) > 0 {
		_, _ = w.Write(rs.body)
	}
}

// drop hijacks and closes the connection without a response.
func drop(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	if tc, ok := c.(*tls.Conn); ok {
		if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // reset, like a dropped connection
		}
	}
	c.Close()
	return true
}

// serveGraphHTTP handles one HTTP request to /v1.0 or /beta.
func (s *Server) serveGraphHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	entry := LogEntry{Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Write: isWrite(r.Method) && !readOnlyAction(r.URL.Path),
		ContentEncoding: r.Header.Get("Content-Encoding")}
	// faults come first: they model the network and the front door
	s.mu.Lock()
	f := s.faults
	x := s.rng.Float64()
	pick := s.rng.Intn(3)
	s.mu.Unlock()
	dropAfter := false
	switch {
	case x < f.DropConnection:
		if f.DropAfterProcessing {
			dropAfter = true
			break
		}
		entry.Fault, entry.Status = "drop", 0
		s.finishLog(entry, start)
		if !drop(w) {
			w.WriteHeader(http.StatusBadGateway)
		}
		return
	case x < f.DropConnection+f.Error5xx:
		status := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout}[pick]
		rs := faultResp(r, status)
		entry.Fault, entry.Status, entry.RequestID = "5xx", status, rs.header.Get("request-id")
		s.finishLog(entry, start)
		writeResp(w, rs)
		return
	case x < f.DropConnection+f.Error5xx+f.Error503:
		rs := graphError(r, http.StatusServiceUnavailable, "ServiceUnavailable", "Service Unavailable", false)
		rs.header.Set("Retry-After", fmt.Sprint(f.RetryAfterSeconds))
		entry.Fault, entry.Status, entry.RequestID = "503", rs.status, rs.header.Get("request-id")
		s.finishLog(entry, start)
		writeResp(w, rs)
		return
	case x < f.DropConnection+f.Error5xx+f.Error503+f.SlowResponse:
		entry.Fault = "slow"
		select {
		case <-time.After(f.SlowDelay.D()):
		case <-r.Context().Done():
			return
		}
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	var rs *resp
	switch {
	case errors.Is(err, errUnsupportedEncoding):
		rs = graphError(r, http.StatusUnsupportedMediaType, "BadRequest", "Unsupported Content-Encoding '"+r.Header.Get("Content-Encoding")+"'.", false)
	case errors.Is(err, errTooLarge):
		rs = graphError(r, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.", false)
	case err != nil:
		rs = graphError(r, http.StatusBadRequest, "BadRequest", "Unable to read the request body: "+err.Error(), false)
	default:
		version, rest := splitVersion(r.URL.Path)
		if version != "" && strings.EqualFold(strings.Trim(rest, "/"), "$batch") {
			rs = s.handleBatch(r, version, body)
		} else {
			rs = s.serveGraph(r, version, rest, body, false)
		}
	}
	entry.Status, entry.Serials, entry.Throttled, entry.AppID = rs.status, rs.serials, rs.throttled, rs.appID
	entry.RequestID = rs.header.Get("request-id")
	if dropAfter {
		entry.Fault = "drop"
		s.finishLog(entry, start)
		if !drop(w) {
			w.WriteHeader(http.StatusBadGateway)
		}
		return
	}
	s.finishLog(entry, start)
	writeResp(w, rs)
}

func (s *Server) finishLog(e LogEntry, start time.Time) {
	e.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if e.RequestID == "" {
		e.RequestID = newGUID()
	}
	s.record(e)
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func splitVersion(p string) (version, rest string) {
	for _, v := range []string{"v1.0", "beta"} {
		if p == "/"+v {
			return v, "/"
		}
		if strings.HasPrefix(p, "/"+v+"/") {
			return v, p[len(v)+1:]
		}
	}
	return "", p
}

func faultResp(r *http.Request, status int) *resp {
	switch status {
	case http.StatusBadGateway:
		return graphError(r, status, "BadGateway", "Bad Gateway", false)
	case http.StatusGatewayTimeout:
		return graphError(r, status, "GatewayTimeout", "Gateway Timeout", false)
	}
	return graphError(r, status, "InternalServerError", "An internal server error has occurred.", true)
}

var _ = bytes.NewReader
