package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/importer/importertest"
)

// startEmulator starts an in-process emulator with small delays.
func startEmulator(t *testing.T, mod func(*emulator.Config)) *emulator.Server {
	t.Helper()
	cfg := emulator.Config{ProcessingDelay: emulator.Duration(50 * time.Millisecond)}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// secretCred builds the real azidentity ClientSecretCredential against the
// emulator's token endpoint, over HTTPS trusting its CA file.
func secretCred(t *testing.T, srv *emulator.Server) azcore.TokenCredential {
	t.Helper()
	env := map[string]string{EnvClientSecret: srv.ClientSecret}
	cred, err := NewCredential(AuthConfig{Mode: AuthClientSecret, AuthorityURL: srv.AuthorityURL,
		TenantID: srv.TenantID, ClientID: srv.ClientID, CAFile: srv.CAFile, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func emuClient(t *testing.T, srv *emulator.Server, cred azcore.TokenCredential, mod func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{GraphURL: srv.GraphURL, CAFile: srv.CAFile, Retry: fastRetry}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cred, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testHash(serial, maker string) []byte {
	return hwhash.Device{Serial: serial, Manufacturer: maker, Model: "Model 1"}.Encode()
}

func countReq(log []emulator.LogEntry, method, pathSuffix string) int {
	n := 0
	for _, e := range log {
		if e.Method == method && strings.HasSuffix(e.Path, pathSuffix) && !e.Batch {
			n++
		}
	}
	return n
}

func TestEmulatorServiceEndToEnd(t *testing.T) {
	// the emulator answers 400 to contains() with a hyphen, as the service did
	srv := startEmulator(t, func(c *emulator.Config) {
		c.RejectHyphenContains = true
		c.PageSize = 2 // lists of 3-4 items take two pages
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ctx := context.Background()

	info, err := c.Preflight(ctx)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if info.TenantID != srv.TenantID || info.AppID != srv.ClientID || info.Expires.Before(time.Now()) {
		t.Errorf("token info = %+v", info)
	}

	dup := testHash("EMU-3", "Dell Inc.")
	items := []importer.ImportItem{
		{Serial: "EMU-1", GroupTag: "Kiosk", Hardware: testHash("EMU-1", "HP")},
		{Serial: "O'NEIL 2", Hardware: testHash("O'NEIL 2", "LENOVO")},
		{Serial: "EMU-3", Hardware: dup},
		{Serial: "EMU-3", Hardware: dup}, // duplicate within the upload: 807
	}
	recs, err := c.Import(ctx, items)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if r.Serial != items[i].Serial || r.ID == "" || r.Final() {
			t.Errorf("record %d = %+v", i, r)
		}
	}
	if recs[0].GroupTag != "Kiosk" {
		t.Errorf("group tag = %q", recs[0].GroupTag)
	}
	time.Sleep(100 * time.Millisecond) // processing_delay
	one, err := c.GetImported(ctx, recs[0].ID)
	if err != nil || one.Status != importer.ImportComplete || one.RegistrationID == "" {
		t.Fatalf("get: %+v, %v", one, err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	ids = append(ids, "00000000-0000-0000-0000-00000000dead")
	many, err := c.GetImportedMany(ctx, ids)
	if err != nil {
		t.Fatalf("get many: %v", err)
	}
	if len(many) != 4 {
		t.Errorf("get many: %d records, want 4 (the unknown id absent)", len(many))
	}
	final := 0
	for _, r := range many {
		if r.Final() {
			final++
		}
	}
	if final != 4 || many[recs[3].ID].ErrorCode != 807 && many[recs[2].ID].ErrorCode != 807 {
		t.Errorf("verdicts = %+v", many)
	}

	listed := 0
	if err := c.ListImported(ctx, func(importer.ImportRecord) bool { listed++; return true }); err != nil || listed != 4 {
		t.Errorf("list imported: %d, %v", listed, err)
	}
	var devs []importer.AutopilotDevice
	if err := c.ListDevices(ctx, func(d importer.AutopilotDevice) bool { devs = append(devs, d); return true }); err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 {
		t.Errorf("%d registered devices, want 3", len(devs))
	}
	for _, serial := range []string{"EMU-1", "O'NEIL 2", "emu-3"} {
		found, err := c.FindDevices(ctx, serial)
		if err != nil {
			t.Fatalf("find %s: %v", serial, err)
		}
		if len(found) != 1 || !strings.EqualFold(found[0].Serial, serial) {
			t.Errorf("find %s = %+v", serial, found)
		}
	}
	if found, err := c.FindDevices(ctx, "EMU"); err != nil || len(found) != 0 {
		t.Errorf("find EMU (substring only) = %+v, %v", found, err)
	}

	tag := "Shared"
	name := "KIOSK-01"
	dev, _ := c.FindDevices(ctx, "EMU-1")
	if err := c.UpdateDevice(ctx, dev[0].ID, importer.DeviceUpdate{GroupTag: &tag, DisplayName: &name}); err != nil {
		t.Fatalf("update: %v", err)
	}
	dev, _ = c.FindDevices(ctx, "EMU-1")
	if dev[0].GroupTag != "Shared" || dev[0].DisplayName != "KIOSK-01" {
		t.Errorf("after update: %+v", dev[0])
	}

	if err := c.DeleteImported(ctx, recs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteImported(ctx, recs[0].ID); err != nil {
		t.Errorf("deleting a missing record: %v, want nil", err)
	}
	if _, err := c.GetImported(ctx, recs[0].ID); !errors.Is(err, importer.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}

	if _, err := c.GetSyncInfo(ctx); err != nil {
		t.Fatalf("sync info: %v", err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := c.Sync(ctx); !errors.Is(err, importer.ErrSyncInProgress) && !errors.Is(err, importer.ErrSyncTooSoon) {
		t.Errorf("second sync: %v, want importer.ErrSyncInProgress or ErrSyncTooSoon", err)
	}
	if s, err := c.GetSyncInfo(ctx); err != nil || s.LastManualSync.IsZero() {
		t.Errorf("sync info after sync = %+v, %v", s, err)
	}

	// every Graph request the emulator saw carried gzip bodies where there was a body
	if n := countReq(srv.Requests(), "GET", "/importedWindowsAutopilotDeviceIdentities"); n < 2 {
		t.Errorf("listing 4 records with page size 2 took %d GETs", n)
	}
	for _, e := range srv.Requests() {
		if e.Method == "POST" && !e.Batch && strings.Contains(e.Path, "/v1.0/") && e.ContentEncoding != "gzip" {
			t.Errorf("%s %s sent without gzip", e.Method, e.Path)
		}
	}
	st := c.Stats()
	if st.Requests == 0 || st.Writes == 0 || st.Retries != 0 || st.Throttled != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestEmulatorTokenRefresh(t *testing.T) {
	// MSAL treats a token as expired 5 minutes before exp: a 304 s token is good
	// for about 4 s, so a request 5 s later must fetch a fresh one.
	srv := startEmulator(t, func(c *emulator.Config) { c.TokenLifetime = emulator.Duration(304 * time.Second) })
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ctx := context.Background()
	if err := c.ListImported(ctx, func(importer.ImportRecord) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := c.ListImported(ctx, func(importer.ImportRecord) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if n := countReq(srv.Requests(), "POST", "/oauth2/v2.0/token"); n != 1 {
		t.Fatalf("%d token requests for two calls within the lifetime, want 1 (one credential, cached)", n)
	}
	time.Sleep(5 * time.Second)
	if err := c.ListImported(ctx, func(importer.ImportRecord) bool { return true }); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := countReq(srv.Requests(), "POST", "/oauth2/v2.0/token"); n != 2 {
		t.Errorf("%d token requests, want 2 (refreshed after expiry)", n)
	}
}

func TestEmulatorPermissions(t *testing.T) {
	srv := startEmulator(t, func(c *emulator.Config) { c.Roles = []string{emulator.RoleRead} })
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ctx := context.Background()
	info, err := c.Preflight(ctx)
	if !errors.Is(err, ErrMissingPermission) {
		t.Fatalf("preflight: %v, want ErrMissingPermission", err)
	}
	if !strings.Contains(err.Error(), emulator.RoleRead) || !strings.Contains(err.Error(), "admin consent") {
		t.Errorf("hint = %v", err)
	}
	if len(info.Roles) != 1 {
		t.Errorf("roles = %v", info.Roles)
	}
	_, err = c.Import(ctx, []importer.ImportItem{{Serial: "X1", Hardware: testHash("X1", "HP")}})
	if !importer.IsAuth(err) || IsAmbiguous(err) {
		t.Fatalf("import without write role: %v, want IsAuth", err)
	}
	var ae *importer.APIError
	if errors.As(err, &ae); ae.StatusCode != 403 || ae.RequestID == "" {
		t.Errorf("APIError = %+v", ae)
	}
	if err := c.ListImported(ctx, func(importer.ImportRecord) bool { return true }); err != nil {
		t.Errorf("read with Read.All: %v", err)
	}
}

// TestEmulatorDryRunPermission: tokens the emulator issues with chosen roles; a dry run
// passes the read-only pre-flight and plans with Read.All alone, an import needs
// ReadWrite.All, and a token with neither fails both pre-flights.
func TestEmulatorDryRunPermission(t *testing.T) {
	srv := startEmulator(t, nil)
	tests := []struct {
		name           string
		roles          []string
		dryOK, writeOK bool
	}{
		{"read", []string{emulator.RoleRead}, true, false},
		{"read-write", []string{emulator.RoleReadWrite}, true, true},
		{"none", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := emuClient(t, srv, &stubCred{token: srv.IssueToken(tt.roles, time.Hour)}, nil)
			ctx := context.Background()
			_, err := c.PreflightFor(ctx, true)
			if (err == nil) != tt.dryOK || err != nil && (!errors.Is(err, ErrMissingPermission) || !strings.Contains(err.Error(), ReadPermission)) {
				t.Errorf("dry-run pre-flight: %v", err)
			}
			if _, err := c.PreflightFor(ctx, false); (err == nil) != tt.writeOK || err != nil && !errors.Is(err, ErrMissingPermission) {
				t.Errorf("import pre-flight: %v", err)
			}
			if !tt.dryOK {
				return
			}
			var c2 importertest.Collector
			sum, err := importer.Run(ctx, c, emuRows(3, "DRY"), importer.Options{DryRun: true}, c2.Emit)
			if err != nil || sum.Counts[importer.ResultNew] != 3 || sum.Writes != 0 {
				t.Errorf("plan: %v, %+v", err, sum)
			}
		})
	}
}

func TestEmulatorFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults emulator.Faults
		write  bool
		// want: sent = requests the emulator logged for the call
		wantSent  int
		wantAmbig bool
		wantErr   bool
	}{
		{name: "5xx on import is ambiguous, sent once", faults: emulator.Faults{Error5xx: 1}, write: true, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "503 on import is ambiguous, sent once", faults: emulator.Faults{Error503: 1}, write: true, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "drop on import is ambiguous, sent once", faults: emulator.Faults{DropConnection: 1}, write: true, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "drop after processing is ambiguous", faults: emulator.Faults{DropConnection: 1, DropAfterProcessing: true}, write: true, wantSent: 1, wantAmbig: true, wantErr: true},
		{name: "5xx on GET retried to the limit", faults: emulator.Faults{Error5xx: 1}, wantSent: 3, wantErr: true},
		{name: "drop on GET retried to the limit", faults: emulator.Faults{DropConnection: 1}, wantSent: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startEmulator(t, nil)
			c := emuClient(t, srv, secretCred(t, srv), func(cfg *ClientConfig) { cfg.Retry.MaxRetries = 2 })
			ctx := context.Background()
			if _, err := c.Preflight(ctx); err != nil { // token fetched before faults
				t.Fatal(err)
			}
			srv.SetFaults(tt.faults)
			var err error
			suffix := "/importedWindowsAutopilotDeviceIdentities"
			if tt.write {
				suffix += "/import"
				_, err = c.Import(ctx, []importer.ImportItem{{Serial: "F1", Hardware: testHash("F1", "HP")}})
			} else {
				err = c.ListImported(ctx, func(importer.ImportRecord) bool { return true })
			}
			if (err != nil) != tt.wantErr || IsAmbiguous(err) != tt.wantAmbig {
				t.Fatalf("err = %v (ambiguous %v)", err, IsAmbiguous(err))
			}
			method := "GET"
			if tt.write {
				method = "POST"
			}
			n := countReq(srv.Requests(), method, suffix)
			if !tt.write && tt.faults.DropConnection > 0 && n == tt.wantSent+1 {
				// net/http itself resends a GET once when a reused keep-alive
				// connection (here the pre-flight's) is closed before any answer.
				n--
			}
			if n != tt.wantSent {
				t.Errorf("emulator logged %d %s requests, want %d", n, method, tt.wantSent)
			}
			if tt.faults.DropAfterProcessing {
				srv.SetFaults(emulator.Faults{})
				n := 0
				_ = c.ListImported(ctx, func(r importer.ImportRecord) bool { n++; return true })
				if n != 1 {
					t.Errorf("after a dropped-but-processed import, %d records exist, want 1 (reconcile finds it)", n)
				}
			}
		})
	}
}

func TestEmulatorThrottling(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("omit_retry_after=%v", omit), func(t *testing.T) {
			srv := startEmulator(t, func(c *emulator.Config) {
				c.WriteLimit = 2
				c.RequestLimit = 50
				c.ThrottleWindow = emulator.Duration(time.Second)
				c.OmitRetryAfter = omit
			})
			// the client budget is looser than the service's: the service throttles
			c := emuClient(t, srv, secretCred(t, srv), func(cfg *ClientConfig) {
				cfg.Retry = RetryPolicy{BaseDelay: 300 * time.Millisecond, MaxDelay: time.Second, MaxRetries: 8}
			})
			ctx := context.Background()
			for i := 0; i < 5; i++ {
				s := fmt.Sprintf("T%d", i)
				if _, err := c.Import(ctx, []importer.ImportItem{{Serial: s, Hardware: testHash(s, "HP")}}); err != nil {
					t.Fatalf("import %d: %v", i, err)
				}
			}
			st := c.Stats()
			if st.Throttled == 0 || st.Retries < st.Throttled {
				t.Errorf("stats = %+v, want throttled responses retried", st)
			}
			throttled := 0
			for _, e := range srv.Requests() {
				if e.Throttled {
					throttled++
				}
			}
			if throttled != st.Throttled {
				t.Errorf("emulator throttled %d, client counted %d", throttled, st.Throttled)
			}
			if n := len(srv.Imported()); n != 5 {
				t.Errorf("%d import records, want 5 (a 429 is safe to resend, never duplicated)", n)
			}
		})
	}
}

func TestEmulatorCertificateCredential(t *testing.T) {
	srv := startEmulator(t, nil)
	if srv.ClientCertFile == "" {
		t.Skip("emulator has no client certificate")
	}
	cred, err := NewCredential(AuthConfig{Mode: AuthCertificate, AuthorityURL: srv.AuthorityURL, TenantID: srv.TenantID,
		ClientID: srv.ClientID, CertificateFile: srv.ClientCertFile, CAFile: srv.CAFile, SendCertificateChain: true,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	c := emuClient(t, srv, cred, nil)
	if _, err := c.Preflight(context.Background()); err != nil {
		t.Fatalf("preflight with certificate: %v", err)
	}
}

func TestEmulatorSecretFile(t *testing.T) {
	srv := startEmulator(t, nil)
	dir := t.TempDir()
	tests := []struct {
		name, content string
		wantErr       bool
	}{
		{"trailing newline", srv.ClientSecret + "\n", false},
		{"crlf", srv.ClientSecret + "\r\n", false},
		{"wrong secret", "nope\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(f, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			cred, err := NewCredential(AuthConfig{Mode: AuthClientSecret, AuthorityURL: srv.AuthorityURL, TenantID: srv.TenantID,
				ClientID: srv.ClientID, ClientSecretFile: f, CAFile: srv.CAFile,
				Getenv: func(string) string { return "env-secret-must-not-win" }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = emuClient(t, srv, cred, nil).Preflight(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("preflight: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "nope") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}

func TestEmulatorBatchItemFaultsRetried(t *testing.T) {
	srv := startEmulator(t, func(c *emulator.Config) { c.Faults.FaultBatchItems = true })
	c := emuClient(t, srv, secretCred(t, srv), func(cfg *ClientConfig) { cfg.Retry.MaxRetries = 10 })
	ctx := context.Background()
	var items []importer.ImportItem
	for i := 0; i < 30; i++ {
		s := fmt.Sprintf("B%02d", i)
		items = append(items, importer.ImportItem{Serial: s, Hardware: testHash(s, "HP")})
	}
	recs, err := c.Import(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	srv.SetFaults(emulator.Faults{Error5xx: 0.3, FaultBatchItems: true})
	got, err := c.GetImportedMany(ctx, ids)
	if err != nil {
		t.Fatalf("get many under faults: %v", err)
	}
	if len(got) != 30 {
		t.Errorf("%d records, want 30", len(got))
	}
	faulted := 0
	for _, e := range srv.Requests() {
		if e.Fault != "" {
			faulted++
		}
	}
	if faulted == 0 || c.Stats().Retries == 0 {
		t.Errorf("no fault injected (%d) or retried (%+v): the test proves nothing", faulted, c.Stats())
	}
}
