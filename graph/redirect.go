package graph

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/apimport/apimport/importer"
)

// RedirectError is a redirect the client refused to follow: one that leaves the
// host it was sent to, or goes from https to http (issue 8 item 8). It arrives
// wrapped in a *importer.HostError of class ErrNetwork naming the host that
// answered: something between here and the service (a proxy, a captive portal)
// is rewriting the traffic.
type RedirectError struct {
	Status   int
	From, To string // URLs without query or credentials
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("did not follow a redirect (HTTP %d) from %s to %s: redirects must stay on the host and on https (and be at most 5)", e.Status, e.From, e.To)
}

// redirectTarget resolves the Location of resp against the request URL.
func redirectTarget(req *http.Request, resp *http.Response) (*url.URL, bool) {
	loc := resp.Header.Get("Location")
	if loc == "" || req == nil || req.URL == nil {
		return nil, false
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, false
	}
	return u, true
}

// allowedRedirect reports whether a redirect from from to to stays on the same
// host and port and keeps https (http→https is an upgrade and fine).
func allowedRedirect(from, to *url.URL) bool {
	if !strings.EqualFold(from.Host, to.Host) {
		return false
	}
	return strings.EqualFold(to.Scheme, from.Scheme) || strings.EqualFold(to.Scheme, "https")
}

// sameOriginRedirect is the kiota RedirectHandler's ShouldRedirect.
func sameOriginRedirect(req *http.Request, resp *http.Response) bool {
	to, ok := redirectTarget(req, resp)
	return ok && allowedRedirect(req.URL, to)
}

// redirectGuard sits above the kiota RedirectHandler: a 3xx that comes out of it
// was not followed (refused, or past MaxRedirects) and would otherwise be parsed
// as an empty success. It becomes an error instead.
type redirectGuard struct{}

func (redirectGuard) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err != nil || resp == nil || resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
		return resp, err
	}
	drain(resp)
	from := resp.Request
	if from == nil || from.URL == nil {
		from = req
	}
	re := &RedirectError{Status: resp.StatusCode, From: plainURL(from.URL)}
	if to, ok := redirectTarget(from, resp); ok {
		re.To = plainURL(to)
	}
	return nil, &importer.HostError{Host: from.URL.Host, Class: importer.ErrNetwork, Err: re}
}

// checkRedirect is the CheckRedirect of the credential's http.Client: the same
// rule for the authority.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	prev := via[len(via)-1]
	if !allowedRedirect(prev.URL, req.URL) {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &RedirectError{Status: status, From: plainURL(prev.URL), To: plainURL(req.URL)}
	}
	return nil
}

// plainURL is u without userinfo, query and fragment (tokens and secrets never
// travel in Graph URLs, but a proxy's Location might carry anything).
func plainURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}
