package graph

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestCloudTable(t *testing.T) {
	tests := []struct {
		name, authority, graph, scope string
		az                            cloud.Configuration
	}{
		{CloudGlobal, "https://login.microsoftonline.com/", "https://graph.microsoft.com", "https://graph.microsoft.com/.default", cloud.AzurePublic},
		{CloudUSGov, "https://login.microsoftonline.us/", "https://graph.microsoft.us", "https://graph.microsoft.us/.default", cloud.AzureGovernment},
		{CloudUSGovDoD, "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default", cloud.AzureGovernment},
		{CloudChina, "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default", cloud.AzureChina},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := ResolveEndpoints(strings.ToUpper(tt.name), "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if ep.AuthorityURL != tt.authority || ep.GraphURL != tt.graph || ep.Scope != tt.scope {
				t.Errorf("endpoints = %+v", ep)
			}
			if got := ep.Cloud.azcoreConfig().ActiveDirectoryAuthorityHost; got != tt.az.ActiveDirectoryAuthorityHost {
				t.Errorf("azcore authority = %s, want %s", got, tt.az.ActiveDirectoryAuthorityHost)
			}
			if got := ep.Cloud.azcoreConfig().ActiveDirectoryAuthorityHost; got != tt.authority {
				t.Errorf("azcore authority %s differs from the table's %s", got, tt.authority)
			}
		})
	}
	if len(Clouds) != len(tests) {
		t.Errorf("Clouds has %d entries, table tests %d", len(Clouds), len(tests))
	}
	ep, err := ResolveEndpoints("", "", "", "")
	if err != nil || ep.Cloud.Name != CloudGlobal {
		t.Errorf("default cloud = %+v, %v", ep.Cloud, err)
	}
}

func TestResolveOverrides(t *testing.T) {
	tests := []struct {
		name, cloud, graph, authority string
		wantGraph, wantAuthority      string
		wantErr                       string
	}{
		{name: "unknown cloud", cloud: "mars", wantErr: `unknown cloud "mars"`},
		{name: "emulator https", graph: "https://127.0.0.1:8443/v1.0/", authority: "https://127.0.0.1:8443",
			wantGraph: "https://127.0.0.1:8443", wantAuthority: "https://127.0.0.1:8443/"},
		{name: "loopback http", graph: "http://localhost:8080", wantGraph: "http://localhost:8080", wantAuthority: "https://login.microsoftonline.com/"},
		{name: "ipv6 loopback http", graph: "http://[::1]:8080", wantGraph: "http://[::1]:8080", wantAuthority: "https://login.microsoftonline.com/"},
		{name: "proxy https", cloud: "usgov", graph: "https://graph-proxy.corp.example/beta", wantGraph: "https://graph-proxy.corp.example", wantAuthority: "https://login.microsoftonline.us/"},
		{name: "http graph refused", graph: "http://graph.corp.example", wantErr: "http:// is refused"},
		{name: "http authority refused", authority: "http://login.corp.example", wantErr: "http:// is refused"},
		{name: "relative", graph: "graph.microsoft.com", wantErr: "absolute https://"},
		{name: "ftp", graph: "ftp://x", wantErr: "absolute https://"},
		{name: "userinfo", graph: "https://u:p@x.example", wantErr: "credentials in the URL"},
		{name: "query", graph: "https://x.example/?a=1", wantErr: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := ResolveEndpoints(tt.cloud, tt.graph, tt.authority, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "u:p@") {
					t.Errorf("error echoes credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.GraphURL != tt.wantGraph || ep.AuthorityURL != tt.wantAuthority {
				t.Errorf("got graph %s authority %s", ep.GraphURL, ep.AuthorityURL)
			}
		})
	}
}

func TestNewClientRefusesPlainHTTP(t *testing.T) {
	_, err := NewClient(&stubCred{token: "x"}, ClientConfig{GraphURL: "http://graph.example.com"})
	if err == nil || !strings.Contains(err.Error(), "http:// is refused") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewClient(nil, ClientConfig{}); err == nil {
		t.Fatal("nil credential accepted")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// scopeCred records the scopes it was asked for.
type scopeCred struct{ scopes []string }

func (s *scopeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	s.scopes = append(s.scopes, o.Scopes...)
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestClientUsesCloudHostAndScope(t *testing.T) {
	for _, name := range CloudNames() {
		t.Run(name, func(t *testing.T) {
			var got *http.Request
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r
				body := `{"id":"a","serialNumber":"S"}`
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
			})
			cred := &scopeCred{}
			c, err := NewClient(cred, ClientConfig{Cloud: name, Transport: rt})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetImported(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			want := Clouds[name]
			if u := got.URL.Scheme + "://" + got.URL.Host; u != want.GraphURL || !strings.HasPrefix(got.URL.Path, "/v1.0/deviceManagement/") {
				t.Errorf("request went to %s", got.URL)
			}
			if got.Header.Get("Authorization") != "Bearer t" {
				t.Errorf("no token attached for the cloud's own Graph host")
			}
			if len(cred.scopes) != 1 || cred.scopes[0] != want.Scope {
				t.Errorf("scopes = %v, want [%s]", cred.scopes, want.Scope)
			}
		})
	}
}
