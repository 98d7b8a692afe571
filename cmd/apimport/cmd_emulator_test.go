package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEmulatorCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--dir", t.TempDir(), "--processing-delay", "100ms"}, strings.NewReader(""), &out, &errb)
	}()

	info := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(info) < 6 && time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("emulator exited %d early: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		info = map[string]string{}
		for _, l := range strings.Split(out.String(), "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				info[k] = v
			}
		}
	}
	for _, k := range []string{"graph_url", "authority_url", "tenant_id", "client_id", "client_secret", "ca_file"} {
		if info[k] == "" {
			t.Fatalf("no %s line in %q", k, out.String())
		}
	}
	if !strings.HasPrefix(info["graph_url"], "https://127.0.0.1:") || !strings.HasSuffix(info["authority_url"], "/") {
		t.Errorf("urls: %q %q", info["graph_url"], info["authority_url"])
	}

	// The CA it wrote makes its TLS certificate trusted, and Graph needs a token.
	pem, err := os.ReadFile(info["ca_file"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca_file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := hc.Get(info["graph_url"] + "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without a token: %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after interrupt, want 0 (stopping the emulator is its normal end)", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("emulator did not stop after cancel")
	}
}

func TestEmulatorCommandRefusesRemoteAddr(t *testing.T) {
	res := runCLI(t, "emulator", "--addr", "0.0.0.0:0")
	if res.code != exitUsage || !strings.Contains(res.stderr, "--allow-remote") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestEmulatorCommandVisibilityDelay(t *testing.T) {
	res := runCLI(t, "emulator", "--visibility-delay", "-1s")
	if res.code != exitUsage || !strings.Contains(res.stderr, "--visibility-delay") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestEmulatorCommandProfileDelay(t *testing.T) {
	res := runCLI(t, "emulator", "--profile-delay", "0s")
	if res.code != exitUsage || !strings.Contains(res.stderr, "--profile-delay") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestEmulatorCommandServesDefaultProfile: profile-json works against 'apimport
// emulator' as started, with its default app's roles, profile and organization.
func TestEmulatorCommandServesDefaultProfile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "--dir", t.TempDir(), "--profile-delay", "2s"}, strings.NewReader(""), &out, &errb)
	}()
	info := map[string]string{}
	for deadline := time.Now().Add(30 * time.Second); info["ca_file"] == "" && time.Now().Before(deadline); {
		select {
		case code := <-done:
			t.Fatalf("emulator exited %d early: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok {
				info[k] = v
			}
		}
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(info["client_secret"]), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "profile-json", "--auth", "client-secret", "--tenant-id", info["tenant_id"], "--client-id", info["client_id"],
		"--client-secret-file", secret, "--authority-url", info["authority_url"], "--graph-url", info["graph_url"], "--ca-file", info["ca_file"],
		"--profile", "Default profile")
	if res.code != exitOK {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &m); err != nil {
		t.Fatal(err)
	}
	if m["CloudAssignedTenantId"] != info["tenant_id"] || m["CloudAssignedTenantDomain"] != "apimportemulator.onmicrosoft.com" ||
		m["Comment_File"] != "Profile Default profile" || m["CloudAssignedOobeConfig"] != float64(8+256+2+4+16) || m["CloudAssignedForcedEnrollment"] != 1.0 {
		t.Errorf("file %v", m)
	}
	cancel()
	<-done
}
