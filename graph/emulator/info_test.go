package emulator_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/apimport/apimport/graph/emulator"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true}, {"localhost:8443", true}, {"[::1]:0", true}, {"127.0.0.2:1", true},
		{":8443", false}, {"0.0.0.0:0", false}, {"192.168.1.5:443", false}, {"example.com:443", false}, {"127.0.0.1", false},
	}
	for _, tt := range tests {
		if err := emulator.CheckLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestWriteInfo(t *testing.T) {
	srv := startEmu(t, nil)
	var b strings.Builder
	if err := srv.WriteInfo(&b); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var keys []string
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("line %q is not key: value", sc.Text())
		}
		keys = append(keys, k)
		got[k] = v
	}
	if strings.Join(keys, ",") != "graph_url,authority_url,tenant_id,client_id,client_secret,ca_file" {
		t.Fatalf("keys %v", keys)
	}
	if got["graph_url"] != srv.GraphURL || !strings.HasSuffix(got["authority_url"], "/") || got["client_secret"] != srv.ClientSecret {
		t.Fatalf("info %v", got)
	}
	if _, err := os.Stat(got["ca_file"]); err != nil {
		t.Fatalf("ca_file: %v", err)
	}
}
