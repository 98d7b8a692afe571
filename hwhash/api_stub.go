package hwhash

// TEMPORARY stubs so that other packages compile while hwhash is written.
// The hwhash implementer replaces this file with the real code (same signatures).

// Parse decodes a base64 hash leniently (whitespace stripped, missing '=' padding added
// with a CodePadding warning) and verifies it. It never panics and never returns nil.
func Parse(s string) *Hash { return &Hash{} }

// ParseBytes verifies already-decoded hash bytes. It never panics and never returns nil.
func ParseBytes(raw []byte) *Hash { return &Hash{Raw: raw} }

// Valid reports whether the hash has no error-level problem.
func (h *Hash) Valid() bool { return false }

// Identity returns the machine identity inside the hash.
func (h *Hash) Identity() Identity { return Identity{} }

// Fingerprint returns a short, non-reversible id of a hash (first 12 hex digits of the
// SHA-256 of the decoded bytes), safe to print in logs and reports.
func Fingerprint(raw []byte) string { return "" }

// Device describes a machine for the encoder.
type Device struct {
	Serial, Manufacturer, Model, SKU, Family string
	UUID                                     [16]byte
	MACs                                     [][6]byte
	DiskSerials                              []string
	TPMVersion                               string
	EKPub                                    []byte // RSA modulus; only its SHA-256 lands in record 11
	ProductKeyID                             string
	CaptureTime                              uint64 // varies between captures of the same machine
	OmitSerial, OmitManufacturer             bool   // build broken hashes for tests
}

// Encode builds a valid 3000-byte hash (correct layout and SHA-256 trailer).
func (d Device) Encode() []byte { return nil }

// EncodeBase64 is base64.StdEncoding of Encode: the CSV form.
func (d Device) EncodeBase64() string { return "" }
