package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/apimport/apimport/importer"
)

// Authentication modes accepted by --auth.
const (
	AuthClientSecret     = "client-secret"
	AuthCertificate      = "certificate"
	AuthManagedIdentity  = "managed-identity"
	AuthWorkloadIdentity = "workload-identity"
	AuthDeviceCode       = "device-code"
	AuthAzureCLI         = "azure-cli"
	AuthEnvironment      = "environment"
)

// AuthModes lists the accepted authentication modes.
var AuthModes = []string{AuthClientSecret, AuthCertificate, AuthManagedIdentity, AuthWorkloadIdentity,
	AuthDeviceCode, AuthAzureCLI, AuthEnvironment}

// Environment variables NewCredential reads (secrets are never flag values).
const (
	EnvClientSecret        = "AZURE_CLIENT_SECRET"
	EnvCertificatePassword = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
)

// RequiredPermission is the Graph permission the import needs (application or delegated).
const RequiredPermission = "DeviceManagementServiceConfig.ReadWrite.All"

// ReadPermission is the Graph permission a dry run needs at least (RequiredPermission
// covers it too): a plan only reads.
const ReadPermission = "DeviceManagementServiceConfig.Read.All"

// ErrMissingPermission means the token lacks RequiredPermission (or, for a read-only
// pre-flight, ReadPermission); Preflight wraps it with a hint.
// It matches importer.ErrPermission.
var ErrMissingPermission error = &classError{msg: "missing Graph permission " + RequiredPermission, class: importer.ErrPermission}

// classError is a sentinel of this package that belongs to a class of the importer
// error contract.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string        { return e.msg }
func (e *classError) Is(target error) bool { return target == e.class }

// AuthConfig selects and configures one credential. TenantID and ClientID are
// final values: the CLI applies AZURE_TENANT_ID/AZURE_CLIENT_ID defaults itself.
type AuthConfig struct {
	Mode         string // one of AuthModes
	Cloud        string // global (default), usgov, usgovdod, china
	AuthorityURL string // overrides the cloud's authority (emulator, private endpoint); https, or http on loopback (rehearsals)
	TenantID     string
	ClientID     string // app id; for managed-identity optional (user-assigned identity)

	ClientSecretFile     string // client-secret: file holding the secret; else $AZURE_CLIENT_SECRET
	CertificateFile      string // certificate: PEM or PFX with the private key; password in $AZURE_CLIENT_CERTIFICATE_PASSWORD
	SendCertificateChain bool   // certificate: send x5c (subject name/issuer auth)

	// device-code: TokenCacheName names the persistent cache (default "apimport");
	// AuthRecordFile is where the AuthenticationRecord is kept (default next to
	// the cache: <cache dir>/.IdentityService/<name>.authrecord-<tenant>.json).
	TokenCacheName    string
	AuthRecordFile    string
	NoPersistentCache bool // device-code: keep tokens in memory only

	CAFile string    // extra trusted CA (PEM) for the authority, e.g. a TLS-inspecting proxy
	Prompt io.Writer // device-code instructions and warnings; default os.Stderr

	// Getenv reads the environment (tests replace it); nil means os.Getenv.
	Getenv func(string) string
	// Transport replaces the HTTP transport of the credential (tests); nil means
	// a transport honouring HTTPS_PROXY and CAFile.
	Transport policy.Transporter
}

// NewCredential builds the credential cfg.Mode names. Call it once per process:
// the credential caches tokens in memory, so one instance means one token request
// per token lifetime. Errors name what is missing and how to provide it.
//
// Every error of the returned credential matches a class of the importer error
// contract (see classifiedCredential). NewCredential's own errors match
// importer.ErrConfig (a missing or unusable setting: mode, ids, secret, certificate
// file, --authority-url, --ca-file), importer.ErrCredential (a certificate file
// whose password is wrong) or importer.ErrCredentialUnavailable (workload identity
// without a token file).
func NewCredential(cfg AuthConfig) (azcore.TokenCredential, error) {
	rt := &recordingTransport{}
	cred, err := newCredential(cfg, rt)
	if err != nil {
		if !hasClass(err) {
			// azidentity's constructors refuse only settings (a malformed tenant id,
			// missing AZURE_* variables for environment auth).
			err = fmt.Errorf("%w: %w", importer.ErrConfig, err)
		}
		return nil, err
	}
	return &classifiedCredential{cred: cred, tr: rt}, nil
}

func newCredential(cfg AuthConfig, rt *recordingTransport) (azcore.TokenCredential, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	prompt := cfg.Prompt
	if prompt == nil {
		prompt = os.Stderr
	}
	ep, err := ResolveEndpoints(cfg.Cloud, "", cfg.AuthorityURL, "")
	if err != nil {
		return nil, err
	}
	co := azcore.ClientOptions{Cloud: ep.Cloud.azcoreConfig()}
	disableDiscovery := false
	if cfg.AuthorityURL != "" {
		authority := ep.AuthorityURL
		if u, _ := url.Parse(authority); u != nil && u.Scheme == "http" {
			// Loopback only (ResolveEndpoints): azidentity refuses a non-https
			// authority, so it is given the https form and the transport speaks
			// plain http to that host (see recordingTransport.plainHost).
			rt.plainHost = u.Host
			u.Scheme = "https"
			authority = u.String()
		}
		co.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority, Services: co.Cloud.Services}
		disableDiscovery = true
	}
	switch {
	case cfg.Transport != nil:
		co.Transport = cfg.Transport
	case cfg.CAFile != "":
		t, err := newBaseTransport(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		co.Transport = &http.Client{Transport: t, CheckRedirect: checkRedirect}
	}
	if co.Transport == nil {
		t, err := newBaseTransport("")
		if err != nil {
			return nil, err
		}
		co.Transport = &http.Client{Transport: t, CheckRedirect: checkRedirect}
	}
	rt.base = co.Transport
	co.Transport = rt
	needTenantClient := func(mode string) error {
		var missing []string
		if cfg.TenantID == "" {
			missing = append(missing, "a tenant id (--tenant-id or AZURE_TENANT_ID)")
		}
		if cfg.ClientID == "" {
			missing = append(missing, "a client id (--client-id or AZURE_CLIENT_ID)")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s auth needs %s", importer.ErrConfig, mode, strings.Join(missing, " and "))
		}
		return nil
	}

	switch cfg.Mode {
	case AuthClientSecret:
		if err := needTenantClient(cfg.Mode); err != nil {
			return nil, err
		}
		secret, err := readSecret(cfg.ClientSecretFile, getenv)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
	case AuthCertificate:
		if err := needTenantClient(cfg.Mode); err != nil {
			return nil, err
		}
		if cfg.CertificateFile == "" {
			return nil, fmt.Errorf("%w: certificate auth needs --certificate (PEM or PFX with the private key)", importer.ErrConfig)
		}
		data, err := os.ReadFile(cfg.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("%w: reading certificate: %w", importer.ErrConfig, err)
		}
		certs, key, err := parseCertificates(data, getenv(EnvCertificatePassword))
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", cfg.CertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: disableDiscovery,
				SendCertificateChain: cfg.SendCertificateChain})
	case AuthManagedIdentity:
		// A managed identity endpoint that cannot be reached means there is no
		// managed identity here (off Azure): ErrCredentialUnavailable, not a network failure.
		rt.unreachableIsUnavailable = true
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if cfg.ClientID != "" {
			o.ID = azidentity.ClientID(cfg.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case AuthWorkloadIdentity:
		if err := needTenantClient(cfg.Mode); err != nil {
			return nil, err
		}
		if getenv("AZURE_FEDERATED_TOKEN_FILE") == "" {
			return nil, fmt.Errorf("%w: workload-identity auth needs AZURE_FEDERATED_TOKEN_FILE (set by the workload identity webhook)", importer.ErrCredentialUnavailable)
		}
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: cfg.ClientID, TenantID: cfg.TenantID,
			TokenFilePath: getenv("AZURE_FEDERATED_TOKEN_FILE"), DisableInstanceDiscovery: disableDiscovery})
	case AuthDeviceCode:
		if err := needTenantClient(cfg.Mode); err != nil {
			return nil, err
		}
		return newDeviceCodeCredential(cfg, co, disableDiscovery, prompt)
	case AuthAzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cfg.TenantID})
	case AuthEnvironment:
		return azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: disableDiscovery})
	case "":
		return nil, fmt.Errorf("%w: no auth mode chosen (want one of %s)", importer.ErrConfig, strings.Join(AuthModes, ", "))
	default:
		return nil, fmt.Errorf("%w: unknown auth mode %q (want one of %s)", importer.ErrConfig, cfg.Mode, strings.Join(AuthModes, ", "))
	}
}

// readSecret reads the client secret from file (trailing newline trimmed) or the environment.
func readSecret(file string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%w: reading client secret file: %w", importer.ErrConfig, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("%w: client secret file %s is empty", importer.ErrConfig, file)
		}
		return s, nil
	}
	if s := getenv(EnvClientSecret); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%w: client-secret auth needs %s or --client-secret-file", importer.ErrConfig, EnvClientSecret)
}

// deviceCodeCredential adds a saved AuthenticationRecord to azidentity's device
// code flow, so the next run reuses the persistent token cache without a prompt.
type deviceCodeCredential struct {
	cred       *azidentity.DeviceCodeCredential
	recordFile string
	haveRecord bool
	mu         sync.Mutex
}

func newDeviceCodeCredential(cfg AuthConfig, co azcore.ClientOptions, disableDiscovery bool, prompt io.Writer) (azcore.TokenCredential, error) {
	o := &azidentity.DeviceCodeCredentialOptions{
		ClientOptions: co, TenantID: cfg.TenantID, ClientID: cfg.ClientID, DisableInstanceDiscovery: disableDiscovery,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			_, err := fmt.Fprintln(prompt, m.Message)
			return err
		},
	}
	d := &deviceCodeCredential{recordFile: cfg.AuthRecordFile}
	persistent := false
	name := cfg.TokenCacheName
	if name == "" {
		name = "apimport"
	}
	if !cfg.NoPersistentCache {
		c, err := newPersistentCache(name)
		if err != nil {
			fmt.Fprintf(prompt, "apimport: warning: persistent token cache unavailable (%v); tokens are kept in memory and you will sign in again next run\n", err)
		} else {
			o.Cache = c
			persistent = true
		}
	}
	if persistent {
		if d.recordFile == "" {
			d.recordFile = defaultRecordFile(name, cfg.TenantID)
		}
		if d.recordFile != "" {
			if b, err := os.ReadFile(d.recordFile); err == nil {
				var rec azidentity.AuthenticationRecord
				if json.Unmarshal(b, &rec) == nil && rec.HomeAccountID != "" {
					o.AuthenticationRecord = rec
					d.haveRecord = true
				}
			}
		}
	} else {
		d.recordFile = "" // a record without a persistent cache saves nothing
	}
	cred, err := azidentity.NewDeviceCodeCredential(o)
	if err != nil {
		return nil, err
	}
	d.cred = cred
	return d, nil
}

// GetToken signs in once with Authenticate (saving the record) when no record was loaded.
func (d *deviceCodeCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	d.mu.Lock()
	if !d.haveRecord && d.recordFile != "" {
		rec, err := d.cred.Authenticate(ctx, &opts)
		if err != nil {
			d.mu.Unlock()
			return azcore.AccessToken{}, err
		}
		d.haveRecord = true
		if b, err := json.Marshal(rec); err == nil {
			if err := os.MkdirAll(filepath.Dir(d.recordFile), 0o700); err == nil {
				_ = os.WriteFile(d.recordFile, b, 0o600)
			}
		}
	}
	d.mu.Unlock()
	return d.cred.GetToken(ctx, opts)
}

// defaultRecordFile puts the AuthenticationRecord next to the persistent cache
// (azidentity/cache keeps it in <dir>/.IdentityService, where dir is the home
// directory on macOS and the user cache directory elsewhere).
func defaultRecordFile(cacheName, tenant string) string {
	var dir string
	var err error
	if runtime.GOOS == "darwin" {
		dir, err = os.UserHomeDir()
	} else {
		dir, err = os.UserCacheDir()
	}
	if err != nil || dir == "" {
		return ""
	}
	return filepath.Join(dir, ".IdentityService", cacheName+".authrecord-"+safeName(tenant)+".json")
}

func safeName(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// TokenInfo is what Preflight learned from the access token (never the token itself).
type TokenInfo struct {
	TenantID string    // tid
	AppID    string    // appid (v1 tokens) or azp (v2)
	Roles    []string  // application permissions
	Scopes   []string  // delegated permissions (scp)
	Expires  time.Time // exp
}

// Preflight gets a token for the Graph scope and checks that it carries
// RequiredPermission, as an application role or a delegated scope. The JWT
// payload is decoded without verifying the signature (Graph verifies it); the
// token is never printed. A token without the permission yields an error
// wrapping ErrMissingPermission with a hint naming what the token has.
func (c *Client) Preflight(ctx context.Context) (TokenInfo, error) {
	return c.PreflightFor(ctx, false)
}

// PreflightFor is Preflight for a run that writes (readOnly false: RequiredPermission)
// or only reads, like a dry run (readOnly true: ReadPermission or RequiredPermission).
// A token without it yields an error that matches ErrMissingPermission and names the
// permission to grant. With the token in order, it sends one small read to Graph
// (see checkGraph), so that an unreachable or refusing Graph is reported before
// any work starts, within seconds (RetryPolicy.ConnectRetries).
//
// Every error matches one importer class: the credential's (ErrCredential,
// ErrCredentialUnavailable, or a HostError for the authority), ErrPermission, or
// for Graph a HostError (ErrNetwork, ErrTLS), ErrCredential (401), ErrPermission
// (403) or ErrThrottled.
func (c *Client) PreflightFor(ctx context.Context, readOnly bool) (TokenInfo, error) {
	// EnableCAE matches what the SDK requests, so this token lands in the same cache slot.
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.ep.Scope}, EnableCAE: true})
	if err != nil {
		return TokenInfo{}, fmt.Errorf("getting a token for %s: %w", c.ep.Scope, err)
	}
	info, err := decodeToken(tok.Token)
	if err != nil {
		return TokenInfo{}, err
	}
	if info.Expires.IsZero() {
		info.Expires = tok.ExpiresOn
	}
	accepted := []string{RequiredPermission}
	if readOnly {
		accepted = append(accepted, ReadPermission)
	}
	for _, p := range accepted {
		if slices.Contains(info.Roles, p) || slices.Contains(info.Scopes, p) {
			return info, c.checkGraph(ctx)
		}
	}
	kind, have := "roles", info.Roles
	if len(info.Roles) == 0 && len(info.Scopes) > 0 {
		kind, have = "scopes", info.Scopes
	}
	if readOnly {
		return info, &missingReadError{fmt.Sprintf("missing Graph permission %s (or %s): the token has %s [%s]; grant the application permission %s and admin consent (a dry run only reads)",
			ReadPermission, RequiredPermission, kind, strings.Join(have, " "), ReadPermission)}
	}
	return info, fmt.Errorf("%w: the token has %s [%s]; grant the application permission %s and admin consent",
		ErrMissingPermission, kind, strings.Join(have, " "), RequiredPermission)
}

// missingReadError is a read-only pre-flight's missing permission: it names
// ReadPermission and matches ErrMissingPermission.
type missingReadError struct{ msg string }

func (e *missingReadError) Error() string { return e.msg }
func (e *missingReadError) Is(target error) bool {
	return target == ErrMissingPermission || target == importer.ErrPermission
}

// decodeToken reads the claims Preflight needs from a JWT access token.
func decodeToken(token string) (TokenInfo, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return TokenInfo{}, errors.New("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenInfo{}, fmt.Errorf("access token payload: %w", err)
	}
	var c struct {
		Tid   string   `json:"tid"`
		AppID string   `json:"appid"`
		Azp   string   `json:"azp"`
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
		Exp   float64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return TokenInfo{}, fmt.Errorf("access token payload: %w", err)
	}
	info := TokenInfo{TenantID: c.Tid, AppID: c.AppID, Roles: c.Roles, Scopes: strings.Fields(c.Scp)}
	if info.AppID == "" {
		info.AppID = c.Azp
	}
	if c.Exp > 0 {
		info.Expires = time.Unix(int64(c.Exp), 0)
	}
	return info, nil
}

// preflightSerial is the serial the pre-flight looks for: no device has it, and it
// has no hyphen or space (contains() with those has answered 400, graph-api.md §1.3).
const preflightSerial = "APIMPORTPREFLIGHTCHECK"

// checkGraph reads the registered-device list filtered on a serial no device has:
// the documented query the run itself uses (FindDevices), with an empty answer. It
// proves that Graph is reachable, trusts the token and grants the read.
func (c *Client) checkGraph(ctx context.Context) error {
	err := c.listDevices(ctx, "contains(serialNumber,'"+preflightSerial+"')", func(importer.AutopilotDevice) bool { return false })
	if err != nil {
		return fmt.Errorf("pre-flight read from %s: %w", c.ep.GraphURL, err)
	}
	return nil
}
