package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// identity is the emulator's key material and default application. With Config.Dir it
// is kept in dir/identity.json so that restarts keep the CA, tenant and secret.
type identity struct {
	TenantID     string `json:"tenant_id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	CACert       string `json:"ca_cert"`
	CAKey        string `json:"ca_key"`
	ServerCert   string `json:"server_cert"`
	ServerKey    string `json:"server_key"`
	SigningKey   string `json:"signing_key"`
	ClientCert   string `json:"client_cert"`
	ClientKey    string `json:"client_key"`
}

// keys is the parsed form of identity.
type keys struct {
	caCert     *x509.Certificate
	caPEM      []byte
	tlsCert    tls.Certificate
	signing    *rsa.PrivateKey
	clientCert *x509.Certificate
	clientPEM  []byte // certificate + PKCS#8 key, for azidentity.ParseCertificates
}

var (
	sharedOnce sync.Once
	sharedID   identity
	sharedErr  error
)

// processIdentity returns key material shared by every emulator of this process without a
// Dir (key generation costs about a second on a busy machine; tests start many servers).
func processIdentity() (identity, error) {
	sharedOnce.Do(func() { sharedID, sharedErr = generateIdentity() })
	return sharedID, sharedErr
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func generateIdentity() (identity, error) {
	var id identity
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return id, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "apimport Graph emulator CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return id, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return id, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return id, err
	}
	signKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return id, err
	}
	cliKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return id, err
	}
	cliTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 2),
		Subject:      pkix.Name{CommonName: "apimport emulator client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	cliDER, err := x509.CreateCertificate(rand.Reader, cliTmpl, cliTmpl, &cliKey.PublicKey, cliKey)
	if err != nil {
		return id, err
	}
	caKeyDER, _ := x509.MarshalPKCS8PrivateKey(caKey)
	srvKeyDER, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	signDER, _ := x509.MarshalPKCS8PrivateKey(signKey)
	cliKeyDER, _ := x509.MarshalPKCS8PrivateKey(cliKey)
	id = identity{
		TenantID:     newGUID(),
		ClientID:     newGUID(),
		ClientSecret: newSecret(),
		CACert:       pemBlock("CERTIFICATE", caDER),
		CAKey:        pemBlock("PRIVATE KEY", caKeyDER),
		ServerCert:   pemBlock("CERTIFICATE", srvDER),
		ServerKey:    pemBlock("PRIVATE KEY", srvKeyDER),
		SigningKey:   pemBlock("PRIVATE KEY", signDER),
		ClientCert:   pemBlock("CERTIFICATE", cliDER),
		ClientKey:    pemBlock("PRIVATE KEY", cliKeyDER),
	}
	return id, nil
}

// loadIdentity reads dir/identity.json, creating it on first use.
func loadIdentity(dir string) (identity, error) {
	path := filepath.Join(dir, "identity.json")
	b, err := os.ReadFile(path)
	if err == nil {
		var id identity
		if err := json.Unmarshal(b, &id); err != nil {
			return id, fmt.Errorf("%s: invalid emulator identity (delete the file to regenerate it): %w", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return identity{}, fmt.Errorf("reading emulator identity: %w", err)
	}
	id, err := generateIdentity()
	if err != nil {
		return id, fmt.Errorf("generating emulator keys: %w", err)
	}
	b, _ = json.MarshalIndent(id, "", "  ")
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return id, fmt.Errorf("writing emulator identity: %w", err)
	}
	return id, nil
}

func (id identity) parse() (*keys, error) {
	k := &keys{caPEM: []byte(id.CACert)}
	blk, _ := pem.Decode([]byte(id.CACert))
	if blk == nil {
		return nil, errors.New("emulator identity: bad ca_cert")
	}
	var err error
	if k.caCert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		return nil, fmt.Errorf("emulator identity: ca_cert: %w", err)
	}
	if k.tlsCert, err = tls.X509KeyPair([]byte(id.ServerCert+id.CACert), []byte(id.ServerKey)); err != nil {
		return nil, fmt.Errorf("emulator identity: server certificate: %w", err)
	}
	blk, _ = pem.Decode([]byte(id.SigningKey))
	if blk == nil {
		return nil, errors.New("emulator identity: bad signing_key")
	}
	sk, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("emulator identity: signing_key: %w", err)
	}
	var ok bool
	if k.signing, ok = sk.(*rsa.PrivateKey); !ok {
		return nil, errors.New("emulator identity: signing_key is not RSA")
	}
	blk, _ = pem.Decode([]byte(id.ClientCert))
	if blk == nil {
		return nil, errors.New("emulator identity: bad client_cert")
	}
	if k.clientCert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		return nil, fmt.Errorf("emulator identity: client_cert: %w", err)
	}
	k.clientPEM = []byte(id.ClientCert + id.ClientKey)
	return k, nil
}

// parseCertsPEM reads every CERTIFICATE block of a PEM text.
func parseCertsPEM(text string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block found")
	}
	return out, nil
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-"
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(out)
}
