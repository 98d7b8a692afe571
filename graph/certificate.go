package graph

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/apimport/apimport/importer"
)

// parseCertificates reads the certificate file of --auth certificate: PEM (the
// certificate and its private key, read by azidentity.ParseCertificates) or
// PKCS#12/PFX. PFX goes through go-pkcs12, which reads both the legacy format
// (3DES, SHA-1 MAC) and OpenSSL 3's default (AES-256-CBC with PBKDF2, SHA-256 MAC),
// which azidentity's decoder rejects (issue 8 item 10).
//
// A wrong password matches importer.ErrCredential; a file that is not a
// certificate with its key matches importer.ErrConfig.
func parseCertificates(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		var pw []byte
		if password != "" {
			pw = []byte(password)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w (an encrypted key's password goes in %s)", importer.ErrConfig, err, EnvCertificatePassword)
		}
		return certs, key, nil
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, nil, fmt.Errorf("%w: the PFX password is wrong (it goes in %s)", importer.ErrCredential, EnvCertificatePassword)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: not a PEM or PFX file with a certificate and its private key: %w", importer.ErrConfig, err)
	case key == nil || leaf == nil:
		return nil, nil, fmt.Errorf("%w: the PFX file holds no private key and certificate", importer.ErrConfig)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}
