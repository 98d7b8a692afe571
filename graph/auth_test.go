package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/importer"
)

func TestNewCredentialErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notCert := filepath.Join(dir, "notcert.pem")
	if err := os.WriteFile(notCert, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     AuthConfig
		env     map[string]string
		wantErr string // "" = success
		wantIs  error  // the error's class
	}{
		{name: "no mode", cfg: AuthConfig{}, wantErr: "no auth mode chosen", wantIs: importer.ErrConfig},
		{name: "unknown mode", cfg: AuthConfig{Mode: "password"}, wantErr: `unknown auth mode "password"`, wantIs: importer.ErrConfig},
		{name: "secret without secret", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c"},
			wantErr: "client-secret auth needs AZURE_CLIENT_SECRET or --client-secret-file", wantIs: importer.ErrConfig},
		{name: "secret without tenant", cfg: AuthConfig{Mode: AuthClientSecret, ClientID: "c"}, env: map[string]string{EnvClientSecret: "Sup3rS3cretValue"},
			wantErr: "client-secret auth needs a tenant id (--tenant-id or AZURE_TENANT_ID)", wantIs: importer.ErrConfig},
		{name: "secret without both ids", cfg: AuthConfig{Mode: AuthClientSecret}, wantErr: "a tenant id (--tenant-id or AZURE_TENANT_ID) and a client id", wantIs: importer.ErrConfig},
		{name: "secret from env", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c"}, env: map[string]string{EnvClientSecret: "Sup3rS3cretValue"}},
		{name: "empty secret file", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c", ClientSecretFile: empty}, wantErr: "is empty", wantIs: importer.ErrConfig},
		{name: "missing secret file", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c", ClientSecretFile: filepath.Join(dir, "nope")}, wantErr: "reading client secret file", wantIs: importer.ErrConfig},
		{name: "cert without file", cfg: AuthConfig{Mode: AuthCertificate, TenantID: "t", ClientID: "c"}, wantErr: "certificate auth needs --certificate", wantIs: importer.ErrConfig},
		{name: "cert file missing", cfg: AuthConfig{Mode: AuthCertificate, TenantID: "t", ClientID: "c", CertificateFile: filepath.Join(dir, "nope.pfx")}, wantErr: "reading certificate", wantIs: importer.ErrConfig},
		{name: "cert not parseable", cfg: AuthConfig{Mode: AuthCertificate, TenantID: "t", ClientID: "c", CertificateFile: notCert}, wantErr: "not a PEM or PFX file", wantIs: importer.ErrConfig},
		{name: "workload without token file", cfg: AuthConfig{Mode: AuthWorkloadIdentity, TenantID: "t", ClientID: "c"}, wantErr: "AZURE_FEDERATED_TOKEN_FILE", wantIs: importer.ErrCredentialUnavailable},
		{name: "device code without client", cfg: AuthConfig{Mode: AuthDeviceCode, TenantID: "t"}, wantErr: "device-code auth needs a client id", wantIs: importer.ErrConfig},
		{name: "managed identity", cfg: AuthConfig{Mode: AuthManagedIdentity, ClientID: "c"}},
		{name: "azure cli", cfg: AuthConfig{Mode: AuthAzureCLI}},
		{name: "http authority refused", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c", AuthorityURL: "http://login.example.com"},
			env: map[string]string{EnvClientSecret: "Sup3rS3cretValue"}, wantErr: "http:// is refused", wantIs: importer.ErrConfig},
		{name: "unparseable authority", cfg: AuthConfig{Mode: AuthClientSecret, TenantID: "t", ClientID: "c", AuthorityURL: "https://login.example.com:port/"},
			env: map[string]string{EnvClientSecret: "Sup3rS3cretValue"}, wantErr: "authority URL is not a URL", wantIs: importer.ErrConfig},
		{name: "bad cloud", cfg: AuthConfig{Mode: AuthManagedIdentity, Cloud: "moon"}, wantErr: `unknown cloud "moon"`, wantIs: importer.ErrConfig},
		{name: "missing CA file", cfg: AuthConfig{Mode: AuthManagedIdentity, CAFile: filepath.Join(dir, "none.pem")}, wantErr: "reading CA file", wantIs: importer.ErrConfig},
		{name: "CA file without PEM", cfg: AuthConfig{Mode: AuthManagedIdentity, CAFile: notCert}, wantErr: "no PEM certificate found", wantIs: importer.ErrConfig},
		{name: "environment without variables", cfg: AuthConfig{Mode: AuthEnvironment}, wantErr: "", wantIs: importer.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Getenv = func(k string) string { return tt.env[k] }
			tt.cfg.NoPersistentCache = true
			if tt.cfg.Mode == AuthEnvironment {
				for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME"} {
					t.Setenv(k, "")
				}
			}
			cred, err := NewCredential(tt.cfg)
			if tt.wantIs == nil {
				if err != nil || cred == nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			assertOneClass(t, err, tt.wantIs)
			if v := tt.env[EnvClientSecret]; v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}

// contractClasses are the classes of the importer error contract.
var contractClasses = []error{importer.ErrConfig, importer.ErrCredential, importer.ErrPermission,
	importer.ErrCredentialUnavailable, importer.ErrNetwork, importer.ErrTLS, importer.ErrThrottled}

// assertOneClass checks that err matches want and no other class of the contract.
func assertOneClass(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("errors.Is(%v, %v) = false", err, want)
	}
	for _, c := range contractClasses {
		if c != want && errors.Is(err, c) {
			t.Errorf("%v also matches %v", err, c)
		}
	}
}

func TestDeviceCodeCredentialInMemory(t *testing.T) {
	cred, err := NewCredential(AuthConfig{Mode: AuthDeviceCode, TenantID: "t", ClientID: "c", NoPersistentCache: true,
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := cred.(*classifiedCredential).cred.(*deviceCodeCredential)
	if !ok {
		t.Fatalf("type %T", cred)
	}
	if d.recordFile != "" {
		t.Errorf("record file %q without a persistent cache", d.recordFile)
	}
}

func jwt(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl"
}

func TestPreflight(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name      string
		token     string
		wantErr   error
		wantHint  string
		wantApp   string
		wantRoles int
	}{
		{name: "app role", token: jwt(map[string]any{"tid": "T", "appid": "A", "roles": []string{"User.Read.All", RequiredPermission}, "exp": exp.Unix()}), wantApp: "A", wantRoles: 2},
		{name: "delegated scope", token: jwt(map[string]any{"tid": "T", "azp": "B", "scp": "openid " + RequiredPermission, "exp": exp.Unix()}), wantApp: "B"},
		{name: "read only role", token: jwt(map[string]any{"tid": "T", "appid": "A", "roles": []string{"DeviceManagementServiceConfig.Read.All"}}),
			wantErr: ErrMissingPermission, wantHint: "the token has roles [DeviceManagementServiceConfig.Read.All]; grant the application permission DeviceManagementServiceConfig.ReadWrite.All and admin consent", wantApp: "A", wantRoles: 1},
		{name: "no roles", token: jwt(map[string]any{"tid": "T", "appid": "A"}), wantErr: ErrMissingPermission, wantHint: "the token has roles []", wantApp: "A"},
		{name: "delegated without scope", token: jwt(map[string]any{"tid": "T", "scp": "User.Read"}), wantErr: ErrMissingPermission, wantHint: "scopes [User.Read]"},
		{name: "not a jwt", token: "opaque", wantHint: "access token is not a JWT"},
		{name: "bad payload", token: "a.!!!.c", wantHint: "access token payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(&stubCred{token: tt.token}, ClientConfig{Transport: emptyGraph})
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Preflight(context.Background())
			if tt.wantHint == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantHint) {
					t.Fatalf("err = %v, want %q", err, tt.wantHint)
				}
				if strings.Contains(err.Error(), tt.token) {
					t.Errorf("error contains the token")
				}
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(%v) = false", tt.wantErr)
			}
			if info.AppID != tt.wantApp || len(info.Roles) != tt.wantRoles {
				t.Errorf("info = %+v", info)
			}
			if tt.name == "app role" && (!info.Expires.Equal(exp) || info.TenantID != "T") {
				t.Errorf("expires %v tenant %q", info.Expires, info.TenantID)
			}
		})
	}
	c, _ := NewClient(&stubCred{err: errors.New("AADSTS7000215: invalid secret")}, ClientConfig{Cloud: CloudUSGov, Transport: emptyGraph})
	if _, err := c.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), "https://graph.microsoft.us/.default") {
		t.Errorf("credential failure: %v, want the scope named", err)
	}
}

// TestPreflightReadOnly: a read-only pre-flight (dry run) accepts Read.All or
// ReadWrite.All, as a role or a delegated scope; without either the error matches
// ErrMissingPermission and names Read.All.
func TestPreflightReadOnly(t *testing.T) {
	tests := []struct {
		name     string
		claims   map[string]any
		readOnly bool
		wantErr  string // "" when accepted
	}{
		{"read role, dry run", map[string]any{"tid": "T", "roles": []string{ReadPermission}}, true, ""},
		{"read-write role, dry run", map[string]any{"tid": "T", "roles": []string{RequiredPermission}}, true, ""},
		{"read scope, dry run", map[string]any{"tid": "T", "scp": "openid " + ReadPermission}, true, ""},
		{"no role, dry run", map[string]any{"tid": "T", "roles": []string{"User.Read.All"}}, true,
			"missing Graph permission " + ReadPermission + " (or " + RequiredPermission + "): the token has roles [User.Read.All]; grant the application permission " + ReadPermission},
		{"no scope, dry run", map[string]any{"tid": "T", "scp": "User.Read"}, true, "the token has scopes [User.Read]"},
		{"read role, import", map[string]any{"tid": "T", "roles": []string{ReadPermission}}, false,
			"missing Graph permission " + RequiredPermission + ": the token has roles [" + ReadPermission + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(&stubCred{token: jwt(tt.claims)}, ClientConfig{Transport: emptyGraph})
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.PreflightFor(context.Background(), tt.readOnly)
			if tt.wantErr == "" {
				if err != nil || info.TenantID != "T" {
					t.Fatalf("err = %v, info %+v", err, info)
				}
				return
			}
			if !errors.Is(err, ErrMissingPermission) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want ErrMissingPermission with %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeviceCodePersistentCacheOrWarning(t *testing.T) {
	dir := t.TempDir()
	recFile := filepath.Join(dir, "record.json")
	rec := `{"authority":"login.microsoftonline.com","clientId":"c","homeAccountId":"uid.utid","tenantId":"t","username":"admin@contoso.com","version":"1.0"}`
	if err := os.WriteFile(recFile, []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	var prompt strings.Builder
	cred, err := NewCredential(AuthConfig{Mode: AuthDeviceCode, TenantID: "t", ClientID: "c", TokenCacheName: "apimport-test",
		AuthRecordFile: recFile, Prompt: &prompt, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	d := cred.(*classifiedCredential).cred.(*deviceCodeCredential)
	switch {
	case d.recordFile == "": // cache unavailable here: in memory, with a warning
		if !strings.Contains(prompt.String(), "warning: persistent token cache unavailable") {
			t.Errorf("no warning when the cache is unavailable: %q", prompt.String())
		}
	default: // persistent cache: the saved record is loaded, so no new sign-in
		if d.recordFile != recFile || !d.haveRecord {
			t.Errorf("record file %q loaded %v", d.recordFile, d.haveRecord)
		}
		if prompt.Len() != 0 {
			t.Errorf("unexpected output %q", prompt.String())
		}
	}
}

func TestDefaultRecordFile(t *testing.T) {
	f := defaultRecordFile("apimport", "contoso.onmicrosoft.com/../x")
	if f == "" {
		t.Skip("no user cache directory")
	}
	if !strings.Contains(f, filepath.Join(".IdentityService", "apimport.authrecord-contoso.onmicrosoft.com_.._x.json")) {
		t.Errorf("record file = %s", f)
	}
}

// emptyGraph answers every request with an empty collection, offline.
var emptyGraph = roundTripFunc(func(r *http.Request) (*http.Response, error) {
	body := `{"value":[]}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
})
