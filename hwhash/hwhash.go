package hwhash

// Problem codes. Errors make a hash unusable; warnings are reported only.
const (
	CodeNotBase64           = "hash_not_base64"           // error: not decodable base64
	CodeLayout              = "hash_layout"               // error: magic, length or record walk is wrong
	CodeChecksum            = "hash_checksum"             // error: SHA-256 trailer does not match
	CodeMissingSerial       = "hash_missing_serial"       // error: no SMBIOS serial record (service says 802)
	CodeMissingManufacturer = "hash_missing_manufacturer" // error: no SMBIOS manufacturer record (802)
	CodePadding             = "hash_padding"              // warning: base64 '=' padding was missing and was added
	CodeLength              = "hash_length"               // warning: decoded length is not 3000 bytes
	CodeTrailingData        = "hash_trailing_data"        // warning: non-zero bytes after the checksum (not covered by it)
	CodeEKMismatch          = "hash_ek_mismatch"          // warning: record 11 is not the SHA-256 of the record 25 EK
)

// Problem is one finding about a hash.
type Problem struct {
	Code    string
	Message string // lowercase, no final period, never contains the hash
	Warning bool   // true: reported, but the hash is still usable
}

// Info holds the fields decoded from the records. Empty strings mean "record absent".
type Info struct {
	Length       int      // decoded length in bytes
	Used         int      // T: bytes covered by the checksum
	Records      int      // number of records walked
	Serial       string   // record 14 SmbiosSystemSerialNumber
	Manufacturer string   // record 16 SmbiosSystemManufacturer
	Model        string   // record 17 SmbiosSystemProductName
	SKU          string   // record 18
	Family       string   // record 19
	SMBIOSUUID   string   // record 12, canonical lowercase GUID form
	MACs         []string // record 8, "aa:bb:cc:dd:ee:ff"
	DiskSerials  []string // record 7, serial part of "serial|model|"
	TPMVersion   string   // record 13
	TPMEKDigest  string   // hex SHA-256 of the TPM EK (from record 11, else computed from record 25); never the EK itself
	ProductKeyID string   // record 24 (13-digit PKID)
	OSBuild      string   // from record 1, when decodable

	// Added after the first contract.
	OfflineIDType  int    // record 11 id type byte (1 = TPM_EK; 3 seen on VMs without TPM); 0 when absent
	OfflineID      string // record 11 hex SHA-256 whatever its type (equals TPMEKDigest for type 1)
	UnknownRecords int    // records whose type has no known meaning (0 or > 30); they are allowed
}

// Identity is what identifies a machine across captures (hashes differ between
// captures because they embed capture details). Comparable with ==.
type Identity struct {
	Serial, Manufacturer, Model, UUID, EKDigest string
}

// Hash is a decoded hardware hash.
type Hash struct {
	Raw      []byte // decoded bytes: what Graph receives as hardwareIdentifier (Edm.Binary)
	Info     Info
	Problems []Problem
}
