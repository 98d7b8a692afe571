package mapping

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/internal/digits"
	"github.com/apimport/apimport/internal/serial"
)

// More finding codes, added to the contract in mapping.go.
const (
	// CodeDuplicateDiffers is a warning on a duplicate whose group tag or assigned user
	// differs from the first occurrence: the first occurrence's values win.
	CodeDuplicateDiffers = "duplicate_differs"
	// CodeSerialCase is a warning: the CSV serial equals the serial inside the hash except
	// for letter case; the hash's spelling is used.
	CodeSerialCase = "serial_case"
	// CodeGroupTagOverridden is a warning, given at most once per file: Options.GroupTag
	// replaced a different, non-empty Group Tag value of the file.
	CodeGroupTagOverridden = "group_tag_overridden"
	// CodeUserOverridden is a warning, given at most once per file: Options.AssignedUser
	// replaced a different, non-empty Assigned User value of the file.
	CodeUserOverridden = "assigned_user_overridden"
)

// OptionError reports an Options value that New rejects.
type OptionError struct {
	Option string // "group tag" or "assigned user"
	Value  string
	Reason string
}

// Error says which option is wrong and why, e.g. `invalid group tag "a,b": contains ','…`.
func (e *OptionError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Option, e.Value, e.Reason)
}

// Prepared is the outcome of the per-row work that needs no other row: field checks, hash
// decoding and verification, identity. It is produced by Checker.Prepare and consumed,
// in input order, by Checker.AddPrepared.
type Prepared struct {
	res          Result
	dev          Device // filled when res.Status is StatusValid
	key          string // dedupe key
	ident        [16]byte
	tagReplaced  string // non-empty CSV group tag that Options.GroupTag replaced
	userReplaced string // non-empty CSV assigned user that Options.AssignedUser replaced
}

// Result returns the row's outcome as far as it is known without the other rows:
// Status is StatusValid (with Device) or StatusInvalid.
func (p *Prepared) Result() Result {
	r := p.res
	if r.Status == StatusValid {
		d := p.dev
		r.Device = &d
	}
	return r
}

// productIDIgnored is the finding of a dropped Windows Product ID. Every row of a
// ConfigMgr report has it, so rows whose only finding it is share this slice.
var productIDIgnored = []Finding{{Code: CodeProductIDIgnored, Warning: true, Message: "the Windows Product ID is not a " +
	"13-digit product key ID (PKID) but, e.g., the OS product ID of a Configuration Manager report; it is optional and was dropped"}}

// productIDExcel is the finding of a Windows Product ID in Excel's scientific notation
// (3.30761E+12): a 13-digit PKID that Excel turned into a number, losing digits.
var productIDExcel = []Finding{{Code: CodeProductIDIgnored, Warning: true, Message: "the Windows Product ID is a number in " +
	"scientific notation (e.g. 3.30761E+12): Excel converted it and lost digits, so it was dropped (it is optional); " +
	"export the file again and do not open or save it in Excel"}}

// findings collects a row's findings.
type findings struct {
	list   []Finding
	errors int
}

func (f *findings) err(code, msg string) {
	f.list = append(f.list, Finding{Code: code, Message: msg})
	f.errors++
}

func (f *findings) warn(code, msg string) {
	f.list = append(f.list, Finding{Code: code, Message: msg, Warning: true})
}

// codes returns the sorted, unique codes of the error findings.
func (f *findings) codes() []string {
	if f.errors == 0 {
		return nil
	}
	out := make([]string, 0, f.errors)
	for _, x := range f.list {
		if !x.Warning {
			out = append(out, x.Code)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Prepare does the per-row work that needs no other row. It only reads the Checker's
// options, so it may run on many goroutines at once (CheckFiles does).
func (c *Checker) Prepare(row csvreport.Row) Prepared {
	var p Prepared
	r := &p.res
	r.File, r.Line = row.File, row.Line
	var fs findings
	if row.Problem != nil {
		fs.err(strings.Clone(row.Problem.Code), strings.Clone(row.Problem.Message))
	}

	// Hash.
	var h *hwhash.Hash
	if isBlank(row.Hash) {
		if msg := missingHashMessage(row); msg != "" {
			fs.err(CodeMissingHash, msg)
		}
	} else {
		h = hwhash.Parse(row.Hash)
		for _, pr := range h.Problems {
			if pr.Warning {
				fs.warn(pr.Code, pr.Message)
			} else {
				fs.err(pr.Code, pr.Message)
			}
		}
		if !h.Valid() && fs.errors == 0 {
			fs.err(hwhash.CodeLayout, "the hardware hash is not usable")
		}
	}
	var hashSerial string
	if h != nil {
		hashSerial = trimSerial(h.Info.Serial)
		r.Manufacturer = strings.TrimSpace(h.Info.Manufacturer)
		r.Model = strings.TrimSpace(h.Info.Model)
	}
	if r.Manufacturer == "" {
		r.Manufacturer = strings.TrimSpace(row.Manufacturer)
	}
	if r.Model == "" {
		r.Model = strings.TrimSpace(row.Model)
	}

	// Serial.
	csvSerial := trimSerial(row.Serial)
	switch {
	case csvSerial == "" && hashSerial == "":
		fs.err(CodeMissingSerial, "the device serial number is empty and the hash holds none")
	case csvSerial == "" && isPlaceholder(hashSerial):
		fs.err(CodeMissingSerial, "the device serial number is empty")
		fs.err(CodePlaceholderSerial, fmt.Sprintf("the serial inside the hash is the placeholder %q: "+
			"set a real serial number in the firmware (BIOS/UEFI or VM settings) and capture the hash again", hashSerial))
	case csvSerial == "":
		r.Serial = hashSerial
		fs.warn(CodeSerialFromHash, fmt.Sprintf("the device serial number is empty; using %q from the hash", hashSerial))
	default:
		r.Serial = csvSerial
		if isPlaceholder(csvSerial) {
			fs.err(CodePlaceholderSerial, fmt.Sprintf("%q is a placeholder, not a serial number: "+
				"set a real serial number in the firmware (BIOS/UEFI or VM settings) and capture the hash again", csvSerial))
		}
		switch {
		case hashSerial == "" || hashSerial == csvSerial:
		case strings.EqualFold(hashSerial, csvSerial):
			r.Serial = hashSerial
			fs.warn(CodeSerialCase, fmt.Sprintf("the serial number %q differs from %q inside the hash in letter case only; using %q",
				csvSerial, hashSerial, hashSerial))
		case lostLeadingZeros(csvSerial, hashSerial):
			fs.err(CodeSerialMismatch, fmt.Sprintf("the serial number %q is %q inside the hash without its leading zeros: "+
				"Excel drops them when it opens and saves a CSV; export the hashes again and do not open or save the file in Excel, "+
				"or type the serial as %q", csvSerial, hashSerial, hashSerial))
		default:
			fs.err(CodeSerialMismatch, fmt.Sprintf("the serial number %q differs from %q inside the hash: "+
				"the hash belongs to another machine or the serial was edited; capture the hash again", csvSerial, hashSerial))
			if isPlaceholder(hashSerial) && !isPlaceholder(csvSerial) {
				fs.err(CodePlaceholderSerial, fmt.Sprintf("the serial inside the hash is the placeholder %q", hashSerial))
			}
		}
	}

	// Windows Product ID: optional, kept only when it is a PKID.
	var productKey string
	if pid := strings.TrimSpace(row.ProductID); pid != "" {
		switch {
		case isPKID(pid):
			productKey = pid
		case digits.Scientific(pid):
			fs.list = append(fs.list, productIDExcel[0])
		default:
			fs.list = append(fs.list, productIDIgnored[0])
		}
	}

	// Group tag and assigned user: the option wins over the column.
	tag, tagReplaced, tagMsg := pickValue(row.GroupTag, c.opts.GroupTag, checkGroupTag)
	if tagMsg != "" {
		fs.err(CodeBadGroupTag, fmt.Sprintf("group tag %q %s; fix the Group Tag column, or set one tag for every row with --group-tag", tag, tagMsg))
	}
	user, userReplaced, userMsg := pickValue(row.AssignedUser, c.opts.AssignedUser, checkUPN)
	if userMsg != "" {
		fs.err(CodeBadUser, fmt.Sprintf("assigned user %q %s; fix the Assigned User column, or set one user for every row with --assigned-user", user, userMsg))
	}
	p.tagReplaced, p.userReplaced = tagReplaced, userReplaced

	// Row fields are substrings of the whole record (encoding/csv allocates one string per
	// record), so anything kept must be copied, or each Result would pin its 4 KB hash.
	// (Manufacturer and Model are copied by AddPrepared's intern table.)
	r.Serial = strings.Clone(r.Serial)
	r.Findings = fs.list
	if len(fs.list) == 1 {
		// The usual case for a ConfigMgr report: share one slice instead of one per row.
		switch fs.list[0] {
		case productIDIgnored[0]:
			r.Findings = productIDIgnored[:1:1]
		case productIDExcel[0]:
			r.Findings = productIDExcel[:1:1]
		}
	}
	if fs.errors > 0 {
		r.Status = StatusInvalid
		r.Codes = fs.codes()
		return p
	}
	r.Status = StatusValid
	p.key = serial.Key(r.Serial)
	p.ident = identityDigest(h.Identity())
	p.dev = Device{
		File:         r.File,
		Line:         r.Line,
		Serial:       r.Serial,
		ProductKey:   strings.Clone(productKey),
		GroupTag:     strings.Clone(tag),
		AssignedUser: strings.Clone(user),
		Fingerprint:  hwhash.Fingerprint(h.Raw),
		Manufacturer: r.Manufacturer,
		Model:        r.Model,
	}
	if c.opts.KeepHardware {
		p.dev.Hardware = h.Canonical()
		if c.opts.Spill != nil {
			if ref, err := c.opts.Spill.Put(p.dev.Hardware); err == nil {
				p.dev.Hardware, p.dev.spilled, p.dev.store = nil, ref, c.opts.Spill
			} // else: kept in memory
		}
	}
	return p
}

// pickValue decides a group tag or assigned user: the trimmed column value, or the
// option when set (the option wins; replaced is the different, non-empty column value it
// replaced). Only a column value is checked: options were checked by New. msg is why the
// value cannot be imported, or "".
func pickValue(column, option string, check func(string) string) (value, replaced, msg string) {
	value = strings.TrimSpace(column)
	if option == "" {
		return value, "", check(value)
	}
	if value != "" && value != option {
		replaced = value
	}
	return option, replaced, ""
}

// missingHashMessage says why a row has no hash and what to do, or returns "" when the
// row's own problem already explains it: a record that swallowed the next lines through
// an unclosed quote has its hash elsewhere, and recapturing would not help.
func missingHashMessage(row csvreport.Row) string {
	if row.Problem != nil && row.Problem.Code == "row_multiline" {
		return ""
	}
	if strings.TrimSpace(row.Manufacturer) != "" && strings.TrimSpace(row.Model) != "" {
		return "the row has a manufacturer and model but no hardware hash: such a Partner Center tuple " +
			"(serial, manufacturer, model) can only be uploaded through Partner Center (by your reseller or OEM), " +
			"not imported here; or capture the hash on the device (Get-WindowsAutopilotInfo, elevated, in full Windows)"
	}
	return "the hardware hash is empty: capture it again on the device " +
		"(Get-WindowsAutopilotInfo, elevated, in full Windows rather than WinPE)"
}

// lostLeadingZeros reports whether csv is hash without its leading zeros, the way Excel
// stores a numeric serial ("0001234567" becomes "1234567").
func lostLeadingZeros(csv, hash string) bool {
	return len(hash) > len(csv) && strings.HasPrefix(hash, "0") && strings.TrimLeft(hash, "0") == csv && csv != ""
}

// identitySeeds key the identity digest; random per process, so crafted hashes cannot
// aim at a collision.
var identitySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// identityDigest reduces an identity to 16 bytes (two seeded 64-bit hashes of the
// length-prefixed fields): kept per serial instead of the identity strings.
func identityDigest(id hwhash.Identity) [16]byte {
	var stack [256]byte
	key := stack[:0]
	for _, s := range [...]string{serial.Key(id.Serial), id.Manufacturer, id.Model, strings.ToLower(id.UUID), strings.ToLower(id.EKDigest)} {
		key = strconv.AppendInt(key, int64(len(s)), 10)
		key = append(key, ':')
		key = append(key, s...)
	}
	var out [16]byte
	binary.LittleEndian.PutUint64(out[:8], maphash.Bytes(identitySeeds[0], key))
	binary.LittleEndian.PutUint64(out[8:], maphash.Bytes(identitySeeds[1], key))
	return out
}
