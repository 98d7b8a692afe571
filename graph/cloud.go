package graph

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/apimport/apimport/importer"
)

// Cloud is one Microsoft cloud: the Entra authority, the Graph host and the
// Graph scope always travel together (a token for one cloud is useless in another).
type Cloud struct {
	Name          string // global, usgov, usgovdod, china
	AuthorityHost string // https://login.microsoftonline.com/
	GraphURL      string // https://graph.microsoft.com (no version suffix, no trailing slash)
	Scope         string // https://graph.microsoft.com/.default
}

// Cloud names accepted by --cloud.
const (
	CloudGlobal   = "global"
	CloudUSGov    = "usgov"
	CloudUSGovDoD = "usgovdod"
	CloudChina    = "china"
)

// Clouds lists the supported clouds by name (see https://learn.microsoft.com/graph/deployments).
var Clouds = map[string]Cloud{
	CloudGlobal: {
		Name:          CloudGlobal,
		AuthorityHost: "https://login.microsoftonline.com/",
		GraphURL:      "https://graph.microsoft.com",
		Scope:         "https://graph.microsoft.com/.default",
	},
	CloudUSGov: {
		Name:          CloudUSGov,
		AuthorityHost: "https://login.microsoftonline.us/",
		GraphURL:      "https://graph.microsoft.us",
		Scope:         "https://graph.microsoft.us/.default",
	},
	CloudUSGovDoD: {
		Name:          CloudUSGovDoD,
		AuthorityHost: "https://login.microsoftonline.us/",
		GraphURL:      "https://dod-graph.microsoft.us",
		Scope:         "https://dod-graph.microsoft.us/.default",
	},
	CloudChina: {
		Name:          CloudChina,
		AuthorityHost: "https://login.chinacloudapi.cn/",
		GraphURL:      "https://microsoftgraph.chinacloudapi.cn",
		Scope:         "https://microsoftgraph.chinacloudapi.cn/.default",
	},
}

// CloudNames returns the accepted cloud names, sorted, for help text and errors.
func CloudNames() []string {
	names := make([]string, 0, len(Clouds))
	for n := range Clouds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupCloud returns the cloud called name; "" means global. Names are case-insensitive.
func LookupCloud(name string) (Cloud, error) {
	if name == "" {
		name = CloudGlobal
	}
	c, ok := Clouds[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Cloud{}, fmt.Errorf("%w: unknown cloud %q (want one of %s)", importer.ErrConfig, name, strings.Join(CloudNames(), ", "))
	}
	return c, nil
}

// azcoreConfig maps the cloud to the azcore configuration the credentials use.
func (c Cloud) azcoreConfig() cloud.Configuration {
	switch c.Name {
	case CloudUSGov, CloudUSGovDoD:
		return cloud.AzureGovernment
	case CloudChina:
		return cloud.AzureChina
	default:
		return cloud.AzurePublic
	}
}

// Endpoints are the resolved URLs one run talks to.
type Endpoints struct {
	Cloud        Cloud
	GraphURL     string // scheme://host[:port][/path], no trailing slash, no /v1.0
	AuthorityURL string // with a trailing slash
	Scope        string
}

// ResolveEndpoints picks the endpoints of cloudName, then applies the optional
// overrides (the emulator, a TLS-inspecting proxy, a private endpoint). Overrides
// must be absolute https URLs; http is accepted only for loopback hosts
// (127.0.0.0/8, ::1, localhost: rehearsals). The scope stays the cloud's unless
// scope is set. Every error matches importer.ErrConfig.
func ResolveEndpoints(cloudName, graphURL, authorityURL, scope string) (Endpoints, error) {
	c, err := LookupCloud(cloudName)
	if err != nil {
		return Endpoints{}, err
	}
	ep := Endpoints{Cloud: c, GraphURL: c.GraphURL, AuthorityURL: c.AuthorityHost, Scope: c.Scope}
	if graphURL != "" {
		u, err := checkEndpointURL("graph URL", graphURL)
		if err != nil {
			return Endpoints{}, err
		}
		s := strings.TrimRight(u.String(), "/")
		s = strings.TrimSuffix(s, "/v1.0")
		s = strings.TrimSuffix(s, "/beta")
		ep.GraphURL = s
	}
	if authorityURL != "" {
		u, err := checkEndpointURL("authority URL", authorityURL)
		if err != nil {
			return Endpoints{}, err
		}
		ep.AuthorityURL = strings.TrimRight(u.String(), "/") + "/"
	}
	if scope != "" {
		ep.Scope = scope
	}
	return ep, nil
}

// checkEndpointURL parses raw and refuses anything but https, except http on loopback.
func checkEndpointURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may hold a password
		}
		return nil, fmt.Errorf("%w: %s is not a URL: %w", importer.ErrConfig, what, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: %s %q: want an absolute https:// URL", importer.ErrConfig, what, u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s: credentials in the URL are not allowed", importer.ErrConfig, what)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %s %q: a query or fragment is not allowed", importer.ErrConfig, what, raw)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%w: %s %q: http:// is refused for non-loopback hosts, use https://", importer.ErrConfig, what, raw)
	}
	return u, nil
}

// isLoopbackHost reports whether host (no port) names the local machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
