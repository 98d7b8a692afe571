package emulator

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// CheckLoopback returns an error unless addr (host:port) listens on a loopback address
// ("127.0.0.1", "::1", "localhost"). An empty host means every interface and is refused.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: %w (use host:port, e.g. 127.0.0.1:0)", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		if host == "" {
			host = "every interface"
		}
		return fmt.Errorf("address %q listens on %s, not loopback", addr, host)
	}
	return nil
}

// WriteInfo writes what a client needs, one "key: value" line each: graph_url,
// authority_url, tenant_id, client_id, client_secret, ca_file (the emulator's throwaway
// secret is meant to be printed).
func (s *Server) WriteInfo(w io.Writer) error {
	_, err := fmt.Fprintf(w, "graph_url: %s\nauthority_url: %s\ntenant_id: %s\nclient_id: %s\nclient_secret: %s\nca_file: %s\n",
		s.GraphURL, s.AuthorityURL, s.TenantID, s.ClientID, s.ClientSecret, s.CAFile)
	return err
}
