package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/importer"
)

// throwawayCert makes a self-signed RSA certificate and its key for one test.
func throwawayCert(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "apimport test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// TestParsePFXLegacyAndModern: a PFX in the legacy format (3DES, SHA-1 MAC) and one
// in OpenSSL 3's default (AES-256-CBC, PBKDF2, SHA-256 MAC) both load; a wrong
// password is ErrCredential; a non-certificate is ErrConfig (issue 8 item 10).
func TestParsePFXLegacyAndModern(t *testing.T) {
	key, cert := throwawayCert(t)
	const pw = "correct horse"
	for name, enc := range map[string]*pkcs12.Encoder{"legacy 3DES SHA-1": pkcs12.LegacyDES, "modern AES-256 SHA-256": pkcs12.Modern2023} {
		t.Run(name, func(t *testing.T) {
			pfx, err := enc.Encode(key, cert, nil, pw)
			if err != nil {
				t.Fatal(err)
			}
			certs, k, err := parseCertificates(pfx, pw)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 1 || !certs[0].Equal(cert) {
				t.Errorf("certificates = %d, want the leaf", len(certs))
			}
			if rk, ok := k.(*rsa.PrivateKey); !ok || !rk.Equal(key) {
				t.Errorf("key %T is not the one encoded", k)
			}
			_, _, err = parseCertificates(pfx, "wrong")
			assertOneClass(t, err, importer.ErrCredential)
		})
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pemFile := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if certs, _, err := parseCertificates(pemFile, ""); err != nil || len(certs) != 1 {
		t.Errorf("PEM: %d certificates, %v", len(certs), err)
	}
	_, _, err := parseCertificates([]byte("not a certificate"), "")
	assertOneClass(t, err, importer.ErrConfig)
	_, _, err = parseCertificates(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), "")
	assertOneClass(t, err, importer.ErrConfig) // PEM without the key
}

// TestEmulatorModernPFXAuthenticates: a client whose certificate is given as an
// OpenSSL 3-style PFX gets a token from the emulator and passes the pre-flight.
func TestEmulatorModernPFXAuthenticates(t *testing.T) {
	key, cert := throwawayCert(t)
	const clientID = "8a4e2f43-5d0c-4bb1-9a51-6d0b8f2f1c10"
	srv := startEmulator(t, func(c *emulator.Config) {
		c.Clients = []emulator.ClientConfig{{ClientID: clientID,
			Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))}}
	})
	pfx, err := pkcs12.Modern2023.Encode(key, cert, nil, "pfx-password")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "client.pfx")
	if err := os.WriteFile(file, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := NewCredential(AuthConfig{Mode: AuthCertificate, AuthorityURL: srv.AuthorityURL, TenantID: srv.TenantID,
		ClientID: clientID, CertificateFile: file, CAFile: srv.CAFile,
		Getenv: func(k string) string {
			if k == EnvCertificatePassword {
				return "pfx-password"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := emuClient(t, srv, cred, nil).Preflight(context.Background())
	if err != nil {
		t.Fatalf("pre-flight with a modern PFX: %v", err)
	}
	if info.AppID != clientID {
		t.Errorf("token for %q, want %q", info.AppID, clientID)
	}
}
