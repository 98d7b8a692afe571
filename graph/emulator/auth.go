package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// GraphAudience is the aud claim of Graph tokens.
const GraphAudience = "https://graph.microsoft.com"

// app is one registered application.
type app struct {
	clientID string
	secret   string
	certs    []*x509.Certificate
	roles    []string
}

// claims are the claims of tokens the emulator issues.
type claims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	AppID string   `json:"appid"`
	Azp   string   `json:"azp,omitempty"`
	IdTyp string   `json:"idtyp"`
	Oid   string   `json:"oid"`
	Roles []string `json:"roles"`
	Sub   string   `json:"sub"`
	Tid   string   `json:"tid"`
	Ver   string   `json:"ver"`
}

var b64 = base64.RawURLEncoding

func (s *Server) sign(c claims) string {
	hdr, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "emulator"})
	body, _ := json.Marshal(c)
	in := b64.EncodeToString(hdr) + "." + b64.EncodeToString(body)
	sum := sha256.Sum256([]byte(in))
	sig, _ := rsa.SignPKCS1v15(nil, s.keys.signing, crypto.SHA256, sum[:])
	return in + "." + b64.EncodeToString(sig)
}

// IssueToken returns a Graph access token for the default client with the given roles
// (nil roles: none) that expires after lifetime (negative: already expired).
func (s *Server) IssueToken(roles []string, lifetime time.Duration) string {
	return s.issue(s.ClientID, roles, lifetime)
}

// IssueTokenFor is IssueToken for another registered client (Config.Clients); tokens of
// different clients are throttled separately.
func (s *Server) IssueTokenFor(clientID string, roles []string, lifetime time.Duration) string {
	return s.issue(clientID, roles, lifetime)
}

func (s *Server) issue(clientID string, roles []string, lifetime time.Duration) string {
	now := s.now()
	if roles == nil {
		roles = []string{}
	}
	return s.sign(claims{
		Aud: GraphAudience, Iss: "https://sts.windows.net/" + s.TenantID + "/",
		Iat: now.Unix(), Nbf: now.Add(-5 * time.Minute).Unix(), Exp: now.Add(lifetime).Unix(),
		AppID: clientID, Azp: clientID, IdTyp: "app", Oid: clientID, Sub: clientID,
		Roles: roles, Tid: s.TenantID, Ver: "1.0",
	})
}

var (
	errTokenMissing = errors.New("Access token is empty.")
	errTokenInvalid = errors.New("Access token validation failure. Invalid audience or signature.")
	errTokenExpired = errors.New("Lifetime validation failed, the token is expired.")
)

// verifyBearer checks the Authorization header; it returns the token's claims.
func (s *Server) verifyBearer(r *http.Request) (*claims, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return nil, errTokenMissing
	}
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, errTokenInvalid
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errTokenInvalid
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.keys.signing.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, errTokenInvalid
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errTokenInvalid
	}
	var c claims
	if json.Unmarshal(body, &c) != nil || c.Aud != GraphAudience || c.Tid != s.TenantID {
		return nil, errTokenInvalid
	}
	if s.now().Unix() >= c.Exp {
		return nil, errTokenExpired
	}
	return &c, nil
}

// handleOpenID serves GET /{tenant}/v2.0/.well-known/openid-configuration.
func (s *Server) handleOpenID(w http.ResponseWriter, r *http.Request, tenant string) {
	if tenant != s.TenantID && tenant != "organizations" && tenant != "common" {
		writeAADError(w, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := s.AuthorityURL + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"issuer":                                s.AuthorityURL + s.TenantID + "/v2.0",
		"jwks_uri":                              s.AuthorityURL + tenant + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// writeAADError writes an Entra ID (AADSTS) OAuth error.
func writeAADError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, newGUID(), newGUID(), time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          newGUID(),
		"correlation_id":    newGUID(),
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token (client_credentials only).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		writeAADError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if tenant != s.TenantID {
		writeAADError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeAADError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != "client_credentials" {
		writeAADError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", g))
		return
	}
	clientID := f.Get("client_id")
	secret := f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	a, ok := s.apps[clientID]
	if !ok {
		writeAADError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, tenant))
		return
	}
	switch {
	case secret != "":
		if a.secret == "" || secret != a.secret {
			writeAADError(w, http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			writeAADError(w, http.StatusBadRequest, "invalid_request", 50027, "Invalid client_assertion_type.")
			return
		}
		endpoint := s.AuthorityURL + tenant + "/oauth2/v2.0/token"
		if err := verifyAssertion(f.Get("client_assertion"), a, endpoint, s.now()); err != nil {
			writeAADError(w, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: "+err.Error()+".")
			return
		}
	default:
		writeAADError(w, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	scopes := strings.Fields(f.Get("scope"))
	okScope := false
	for _, sc := range scopes {
		switch {
		case sc == "openid" || sc == "profile" || sc == "offline_access":
		case sc == GraphAudience+"/.default" || sc == "00000003-0000-0000-c000-000000000000/.default" ||
			strings.EqualFold(sc, s.GraphURL+"/.default"):
			okScope = true
		default:
			writeAADError(w, http.StatusBadRequest, "invalid_scope", 70011,
				fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", sc))
			return
		}
	}
	if !okScope {
		writeAADError(w, http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	life := s.cfg.TokenLifetime.D()
	tok := s.issue(a.clientID, a.roles, life)
	secs := int(life / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// verifyAssertion checks a client_assertion JWT as Entra ID does: a registered
// certificate (x5t#S256 or x5t thumbprint), a valid PS256/RS256 signature, aud = the token
// endpoint, iss = sub = client id, not expired.
func verifyAssertion(jwt string, a app, endpoint string, now time.Time) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("the assertion is not a JWT")
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return errors.New("the assertion is not base64url")
	}
	var hdr struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var cl struct {
		Aud string      `json:"aud"`
		Iss string      `json:"iss"`
		Sub string      `json:"sub"`
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &cl) != nil {
		return errors.New("the assertion is not valid JSON")
	}
	var cert *x509.Certificate
	for _, c := range a.certs {
		s1 := sha1.Sum(c.Raw)
		s256 := sha256.Sum256(c.Raw)
		if (hdr.X5tS256 != "" && thumbEq(hdr.X5tS256, s256[:])) || (hdr.X5t != "" && thumbEq(hdr.X5t, s1[:])) {
			cert = c
		}
	}
	if cert == nil {
		return errors.New("key was not found (no registered certificate matches the thumbprint)")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the certificate key is not RSA")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "PS256":
		err1 = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	case "RS256":
		err1 = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	default:
		return fmt.Errorf("unsupported alg %q", hdr.Alg)
	}
	if err1 != nil {
		return errors.New("the signature does not verify")
	}
	if !strings.EqualFold(cl.Aud, endpoint) {
		return fmt.Errorf("aud %q is not the token endpoint", cl.Aud)
	}
	if cl.Iss != a.clientID || cl.Sub != a.clientID {
		return errors.New("iss and sub must be the client id")
	}
	exp, err := cl.Exp.Int64()
	if err != nil || now.Unix() >= exp {
		return errors.New("the assertion has expired")
	}
	return nil
}

// thumbEq compares a thumbprint given as base64 (std or url, MSAL uses std) or hex.
func thumbEq(s string, want []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && string(b) == string(want) {
			return true
		}
	}
	return strings.EqualFold(s, fmt.Sprintf("%x", want))
}
