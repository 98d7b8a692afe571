// Package mapping turns export rows into devices to register and findings: it validates
// each row (serial, hash, group tag, user), cross-checks the CSV against the fields inside
// the hash, and dedupes across all input files. Every input row ends in exactly one Status.
//
// # Rules
//
// A row is invalid when it has any error finding: the csvreport row problem (e.g.
// "row_columns"), an empty hash, a hash error from package hwhash, no serial, a
// placeholder serial, a CSV serial that differs from the serial inside the hash, a group
// tag the import CSV cannot carry, or an assigned user that is not a UPN. Codes lists the
// error codes, sorted; a duplicate has Codes ["duplicate"] and a conflict ["conflict"].
//
// Serials are trimmed of spaces, tabs and NULs at both ends; inner spaces are kept (VM
// serials have them). The CSV serial must equal the serial inside the hash; when they
// differ in letter case only, the row stays valid with a "serial_case" warning and the
// hash's spelling is used. An empty CSV serial is filled from the hash ("serial_from_hash")
// unless that is a placeholder. Placeholders ("To be filled by O.E.M.", "Default string",
// "System Serial Number", all zeros, "SMBIOS_STRING_INDEX_0", …) are matched
// case-insensitively in both the CSV and the hash.
//
// Only otherwise-valid rows are deduped. Serials compare case-insensitively (whether
// Autopilot does is UNCONFIRMED; folding case can only turn two registrations into a
// reported conflict). Rows of one serial with the same hardware identity
// (hwhash.Identity: serial, manufacturer, model, SMBIOS UUID, TPM EK digest) are one
// machine: the first is valid, the later ones duplicates (a "duplicate_differs" warning
// when their group tag or user differs: the first wins). Rows of one serial with
// different identities are all conflicts, and none is registered.
//
// The options' group tag and user win over the columns ("group_tag_overridden" /
// "assigned_user_overridden", once per file). A Windows Product ID is kept only when it
// is a 13-digit PKID ("product_id_ignored" otherwise). No group tag length limit is
// documented, so none is enforced.
package mapping

import (
	"encoding/base64"
	"io"

	"github.com/apimport/apimport/internal/spill"
)

// Status is the final state of one input row.
type Status string

const (
	StatusValid     Status = "valid"     // first occurrence of a device that would be registered
	StatusInvalid   Status = "invalid"   // one or more error codes
	StatusDuplicate Status = "duplicate" // a later copy of a device already seen (same row, or same machine captured again)
	StatusConflict  Status = "conflict"  // same serial, different machine: no row of that serial is registered
)

// Finding codes (hash codes come from package hwhash).
const (
	CodeMissingSerial     = "missing_serial"
	CodeMissingHash       = "missing_hash"
	CodeSerialMismatch    = "serial_mismatch"
	CodePlaceholderSerial = "placeholder_serial"
	CodeBadGroupTag       = "bad_group_tag"
	CodeBadUser           = "bad_user"
	CodeDuplicate         = "duplicate"
	CodeConflict          = "conflict"
	// warnings
	CodeSerialFromHash   = "serial_from_hash"   // empty CSV serial filled from the hash
	CodeProductIDIgnored = "product_id_ignored" // not a 13-digit PKID (e.g. OS product ID from ConfigMgr)
)

// Finding is one remark about a row. Warning findings do not change the status.
type Finding struct {
	Code    string
	Message string
	Warning bool
}

// Device is what would be sent to Graph for a valid row.
type Device struct {
	File         string
	Line         int
	Serial       string
	ProductKey   string // only a 13-digit PKID, else ""
	GroupTag     string
	AssignedUser string
	Hardware     []byte // decoded hash bytes, hwhash.Hash.Canonical (hardwareIdentifier); nil unless Options.KeepHardware
	Fingerprint  string // hwhash.Fingerprint, safe to print
	Manufacturer string // from the hash
	Model        string // from the hash

	// With Options.Spill the hash bytes are in the spill file, not in Hardware.
	spilled spill.Ref
	store   *spill.Store
}

// HardwareLoader returns a function that reads the hash bytes back from the spill file
// without holding the Device; nil when the bytes are in Hardware (or absent).
func (d *Device) HardwareLoader() func() ([]byte, error) {
	if d.Hardware != nil || d.store == nil {
		return nil
	}
	store, ref := d.store, d.spilled
	return func() ([]byte, error) { return store.Get(ref) }
}

// LoadHardware returns the hash bytes: Hardware, or read back from the spill file.
// Both nil without Options.KeepHardware.
func (d *Device) LoadHardware() ([]byte, error) {
	if d.Hardware != nil || d.store == nil {
		return d.Hardware, nil
	}
	return d.store.Get(d.spilled)
}

// Result is the outcome of one input row.
type Result struct {
	File         string
	Line         int
	Serial       string // effective serial (CSV, or from the hash when the CSV was empty)
	Status       Status
	Codes        []string  // error codes, sorted, unique; empty for valid
	Findings     []Finding // errors and warnings, in the order found
	Manufacturer string
	Model        string
	DuplicateOf  string  // "file:line" of the first occurrence, for duplicate
	Device       *Device // set for StatusValid
}

// Summary counts results. Rows counts data rows (not headers).
type Summary struct {
	Files      int `json:"files"`
	Rows       int `json:"rows"`
	Valid      int `json:"valid"`
	Invalid    int `json:"invalid"`
	Duplicates int `json:"duplicates"`
	Conflicts  int `json:"conflicts"`
	Devices    int `json:"devices"`
}

// Options control validation.
type Options struct {
	GroupTag     string // --group-tag: overrides the CSV column when set
	AssignedUser string // --assigned-user: overrides the CSV column when set
	KeepHardware bool   // keep decoded hash bytes in Device (import needs them; check does not)
	// Spill, with KeepHardware, keeps the hash bytes in this spill file instead of
	// memory (Device.LoadHardware reads them back): 3 KB per device add up to 300 MB
	// at 100,000 devices.
	Spill *spill.Store

	// Stdin is read for the file name "-" by CheckFiles and AddFiles; nil means os.Stdin.
	// A program that is handed its standard input (tests, the CLI's run) sets it.
	Stdin io.Reader

	// AllowSpecialFiles reads inputs that are not regular files (named pipes, devices);
	// without it CheckFiles and AddFiles refuse them with a FileError of code
	// csvreport.CodeNotRegular, since reading one can wait forever.
	AllowSpecialFiles bool
}

// HashBase64 returns the canonical (padded) base64 of Hardware, the form the Intune
// portal file and Graph carry; "" unless Options.KeepHardware. It is computed on demand so
// that a kept device costs its 3000 hash bytes, not 7 KB.
func (d *Device) HashBase64() string {
	if d == nil {
		return ""
	}
	b, err := d.LoadHardware()
	if err != nil || b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
