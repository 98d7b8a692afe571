package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/graph"
	"github.com/apimport/apimport/importer"
)

// authFlags are the connection flags of every command that talks to the tenant.
type authFlags struct {
	auth         string
	secretFile   string
	certificate  string
	tenantID     string
	clientID     string
	cloud        string
	graphURL     string
	authorityURL string
	caFile       string
	expectTenant string
	limits       graph.Limits
}

func (a *authFlags) register(cmd *cobra.Command, required string) {
	f := cmd.Flags()
	f.StringVar(&a.auth, "auth", "", "authentication `mode`: "+strings.Join(graph.AuthModes, "|")+" ("+required+")")
	f.StringVar(&a.secretFile, "client-secret-file", "", "read the client secret from `FILE` (default: $AZURE_CLIENT_SECRET)")
	f.StringVar(&a.certificate, "certificate", "", "client certificate `FILE` (PEM or PFX; password in $AZURE_CLIENT_CERTIFICATE_PASSWORD)")
	f.StringVar(&a.tenantID, "tenant-id", "", "Entra tenant `ID` (default: $AZURE_TENANT_ID)")
	f.StringVar(&a.clientID, "client-id", "", "application (client) `ID` (default: $AZURE_CLIENT_ID)")
	f.StringVar(&a.cloud, "cloud", "", "Microsoft cloud: "+strings.Join(graph.CloudNames(), "|")+" (default global)")
	f.StringVar(&a.graphURL, "graph-url", "", "Graph root `URL` override (private endpoint, emulator)")
	f.StringVar(&a.authorityURL, "authority-url", "", "Entra authority `URL` override")
	f.StringVar(&a.caFile, "ca-file", "", "extra trusted CA certificates (PEM `FILE`), e.g. for a TLS-inspecting proxy")
	f.StringVar(&a.expectTenant, "expect-tenant", "", "refuse to run unless the token is for this tenant `ID`")
	f.IntVar(&a.limits.Writes, "write-limit", 0, "client write budget per throttle window (default 100)")
	f.IntVar(&a.limits.Requests, "request-limit", 0, "client request budget per throttle window (default 1000)")
	f.DurationVar(&a.limits.Window, "throttle-window", 0, "client throttle window (default 20s)")
	for _, name := range []string{"write-limit", "request-limit", "throttle-window"} {
		_ = f.MarkHidden(name)
	}
}

// validate checks the flags; required is false when the command may run without the
// tenant (a dry run offline).
func (a *authFlags) validate(required bool, offlineHint string) error {
	if a.auth == "" && required {
		return &exitError{code: exitUsage, msg: "--auth is required", hint: "choose one of " + strings.Join(graph.AuthModes, ", ") + offlineHint}
	}
	if a.auth != "" && !slices.Contains(graph.AuthModes, a.auth) {
		return usageErrorf("--auth %q is not one of %s", a.auth, strings.Join(graph.AuthModes, ", "))
	}
	if a.secretFile != "" && a.auth != graph.AuthClientSecret {
		return usageErrorf("--client-secret-file can't be combined with --auth %s", a.auth)
	}
	if a.certificate != "" && a.auth != graph.AuthCertificate {
		return usageErrorf("--certificate can't be combined with --auth %s", a.auth)
	}
	if a.tenantID == "" {
		a.tenantID = os.Getenv("AZURE_TENANT_ID")
	}
	if a.clientID == "" {
		a.clientID = os.Getenv("AZURE_CLIENT_ID")
	}
	return nil
}

// binding names the tenant and cloud a journal belongs to.
func (a *authFlags) binding(tenant string) importer.Binding {
	return importer.Binding{Tenant: tenant, Cloud: a.cloud}
}

// connect builds the credential and client and checks the token before any other Graph
// call. Errors keep their importer class; classify turns them into exit code and hint.
func (a *authFlags) connect(env *cliEnv, readOnly bool) (*graph.Client, graph.TokenInfo, error) {
	cred, err := graph.NewCredential(graph.AuthConfig{Mode: a.auth, Cloud: a.cloud, AuthorityURL: a.authorityURL,
		TenantID: a.tenantID, ClientID: a.clientID, ClientSecretFile: a.secretFile, CertificateFile: a.certificate,
		CAFile: a.caFile, Prompt: env.stderr})
	if err != nil {
		return nil, graph.TokenInfo{}, settingError(err)
	}
	client, err := graph.NewClient(cred, graph.ClientConfig{Cloud: a.cloud, GraphURL: a.graphURL, CAFile: a.caFile, Limits: a.limits,
		Logger:    graph.DebugLogger(os.Getenv("APIMPORT_DEBUG"), env.stderr), // APIMPORT_DEBUG=api: one line per request, Authorization redacted
		UserAgent: "apimport/" + version()})
	if err != nil {
		return nil, graph.TokenInfo{}, settingError(err)
	}
	info, err := client.PreflightFor(env.ctx, readOnly)
	if a.expectTenant != "" && (err == nil || info.TenantID != "") && !strings.EqualFold(a.expectTenant, info.TenantID) {
		return nil, info, &exitError{code: exitAuth, msg: fmt.Sprintf("the token is for tenant %s, not the expected %s", info.TenantID, a.expectTenant),
			hint: "check --tenant-id and the credentials; nothing was sent"}
	}
	if err != nil {
		if env.ctx.Err() != nil {
			return nil, info, env.ctx.Err()
		}
		return nil, info, err
	}
	return client, info, nil
}

// settingError marks a failure to build the credential or client from the flags (a
// missing tenant id, an unreadable certificate, a malformed URL) as a usage error,
// unless it already has a class of the importer error contract.
func settingError(err error) error {
	if code, _ := classify(err); code != exitFatal {
		return err
	}
	return &exitError{code: exitUsage, msg: err.Error(), hint: hintConfig}
}
