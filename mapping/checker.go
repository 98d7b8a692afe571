package mapping

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
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

// maxListedRows caps how many other rows a conflict message names.
const maxListedRows = 10

// maxInterned caps the manufacturer/model intern table (real exports hold a few dozen
// distinct values; the cap only bounds memory on hostile input).
const maxInterned = 1 << 14

// Checker validates and dedupes rows across all input files, in input order.
//
// Add (or Prepare + AddPrepared) takes the rows; Results and Summary give the outcome
// once every row has been added, because a conflict (one serial on two machines) turns
// earlier rows into conflicts too. Prepare is safe for concurrent use; every other method
// must be called from one goroutine at a time.
type Checker struct {
	opts    Options
	results []Result
	serials map[string]serialEntry // dedupe key (normalized serial) -> rows of that serial
	intern  map[string]string
	devices []Device         // slab the Device pointers come from
	warned  map[string]uint8 // file -> override warnings already given (warnTag|warnUser)
	dirty   []string         // keys of conflicted serials whose rows need (re)marking
}

const (
	warnTag  = 1
	warnUser = 2
)

// serialEntry tracks the otherwise-valid rows of one serial.
type serialEntry struct {
	first int32    // index of the first row in results
	ident [16]byte // identity digest of the first row
	more  *serialMore
}

// serialMore exists only for serials seen more than once.
type serialMore struct {
	rows     []int32 // later rows (duplicates or conflicts), in input order
	idents   []identFirst
	conflict bool
	queued   bool // in Checker.dirty: the rows must be (re)marked as conflicts
}

type identFirst struct {
	ident [16]byte
	first int32
}

// New returns a Checker for opts. Option values are trimmed; a group tag or assigned user
// that could never be imported returns an *OptionError (a usage error for the CLI).
func New(opts Options) (*Checker, error) {
	opts.GroupTag = strings.TrimSpace(opts.GroupTag)
	opts.AssignedUser = strings.TrimSpace(opts.AssignedUser)
	if msg := checkGroupTag(opts.GroupTag); msg != "" {
		return nil, &OptionError{Option: "group tag", Value: opts.GroupTag, Reason: msg}
	}
	if msg := checkUPN(opts.AssignedUser); msg != "" {
		return nil, &OptionError{Option: "assigned user", Value: opts.AssignedUser, Reason: msg}
	}
	return &Checker{
		opts:    opts,
		serials: make(map[string]serialEntry),
		intern:  make(map[string]string),
		warned:  make(map[string]uint8),
	}, nil
}

// OptionError reports an Options value that New rejects.
type OptionError struct {
	Option string // "group tag" or "assigned user"
	Value  string
	Reason string
}

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

// Result returns the row's outcome as far as it is known without the other rows
// (Status is StatusValid or StatusInvalid).
func (p *Prepared) Result() Result { return p.res }

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
		fs.err(row.Problem.Code, row.Problem.Message)
	}

	// Hash.
	var h *hwhash.Hash
	if isBlank(row.Hash) {
		fs.err(CodeMissingHash, "the hardware hash is empty: capture it again on the device "+
			"(Get-WindowsAutopilotInfo, elevated, in full Windows rather than WinPE)")
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
		if isPKID(pid) {
			productKey = pid
		} else {
			fs.warn(CodeProductIDIgnored, "the windows product id is not a 13-digit product key id (pkid), "+
				"e.g. the os product id of a configuration manager report; it is optional and was dropped")
		}
	}

	// Group tag and assigned user: the option wins over the column.
	tag := strings.TrimSpace(row.GroupTag)
	if c.opts.GroupTag != "" {
		if tag != "" && tag != c.opts.GroupTag {
			p.tagReplaced = tag
		}
		tag = c.opts.GroupTag
	} else if msg := checkGroupTag(tag); msg != "" {
		fs.err(CodeBadGroupTag, fmt.Sprintf("group tag %q %s", tag, msg))
	}
	user := strings.TrimSpace(row.AssignedUser)
	if c.opts.AssignedUser != "" {
		if user != "" && user != c.opts.AssignedUser {
			p.userReplaced = user
		}
		user = c.opts.AssignedUser
	} else if msg := checkUPN(user); msg != "" {
		fs.err(CodeBadUser, fmt.Sprintf("assigned user %q %s", user, msg))
	}

	r.Findings = fs.list
	if fs.errors > 0 {
		r.Status = StatusInvalid
		r.Codes = fs.codes()
		return p
	}
	r.Status = StatusValid
	p.key = serialKey(r.Serial)
	p.ident = identityDigest(h.Identity())
	p.dev = Device{
		File:         r.File,
		Line:         r.Line,
		Serial:       r.Serial,
		ProductKey:   productKey,
		GroupTag:     tag,
		AssignedUser: user,
		Fingerprint:  hwhash.Fingerprint(h.Raw),
		Manufacturer: r.Manufacturer,
		Model:        r.Model,
	}
	if c.opts.KeepHardware {
		p.dev.Hardware = h.Raw
		p.dev.HashB64 = h.Base64()
	}
	return p
}

// Add takes the next row in input order: Prepare followed by AddPrepared.
func (c *Checker) Add(row csvreport.Row) {
	c.AddPrepared(c.Prepare(row))
}

// AddPrepared takes the next prepared row in input order and decides duplicates.
func (c *Checker) AddPrepared(p Prepared) {
	idx := int32(len(c.results))
	r := p.res
	r.Manufacturer = c.internString(r.Manufacturer)
	r.Model = c.internString(r.Model)
	if p.tagReplaced != "" && c.warned[r.File]&warnTag == 0 {
		c.warned[r.File] |= warnTag
		r.Findings = append(r.Findings, Finding{Code: CodeGroupTagOverridden, Warning: true, Message: fmt.Sprintf(
			"group tag %q from the options replaces %q from the file (given once per file: it applies to every row)",
			c.opts.GroupTag, p.tagReplaced)})
	}
	if p.userReplaced != "" && c.warned[r.File]&warnUser == 0 {
		c.warned[r.File] |= warnUser
		r.Findings = append(r.Findings, Finding{Code: CodeUserOverridden, Warning: true, Message: fmt.Sprintf(
			"assigned user %q from the options replaces %q from the file (given once per file: it applies to every row)",
			c.opts.AssignedUser, p.userReplaced)})
	}
	if r.Status != StatusValid {
		c.results = append(c.results, r)
		return
	}

	e, seen := c.serials[p.key]
	if !seen {
		r.Device = c.newDevice(p.dev, r.Manufacturer, r.Model)
		c.serials[p.key] = serialEntry{first: idx, ident: p.ident}
		c.results = append(c.results, r)
		return
	}
	if e.more == nil {
		e.more = &serialMore{idents: []identFirst{{e.ident, e.first}}}
		c.serials[p.key] = e
	}
	m := e.more
	m.rows = append(m.rows, idx)
	first := int32(-1)
	for _, id := range m.idents {
		if id.ident == p.ident {
			first = id.first
			break
		}
	}
	if first < 0 {
		m.idents = append(m.idents, identFirst{p.ident, idx})
		m.conflict = true
		r.Status = StatusConflict // findings are written when the rows are marked
		r.Codes = []string{CodeConflict}
	} else {
		fr := &c.results[first]
		r.Status = StatusDuplicate
		r.DuplicateOf = fr.File + ":" + strconv.Itoa(fr.Line)
		r.Codes = []string{CodeDuplicate}
		r.Findings = append(r.Findings, Finding{Code: CodeDuplicate, Message: fmt.Sprintf(
			"same device as %s (same serial and hardware identity); only the first occurrence is registered", r.DuplicateOf)})
		if d := p.dev; fr.Device != nil {
			var diff []string
			if d.GroupTag != fr.Device.GroupTag {
				diff = append(diff, fmt.Sprintf("group tag %q (first: %q)", d.GroupTag, fr.Device.GroupTag))
			}
			if d.AssignedUser != fr.Device.AssignedUser {
				diff = append(diff, fmt.Sprintf("assigned user %q (first: %q)", d.AssignedUser, fr.Device.AssignedUser))
			}
			if len(diff) > 0 {
				r.Findings = append(r.Findings, Finding{Code: CodeDuplicateDiffers, Warning: true, Message: "this copy has " +
					strings.Join(diff, " and ") + "; the values of the first occurrence " + r.DuplicateOf + " win"})
			}
		}
	}
	c.results = append(c.results, r)
	if m.conflict && !m.queued {
		m.queued = true
		c.dirty = append(c.dirty, p.key)
	}
}

// newDevice copies d into the Device slab (one allocation per 512 devices).
func (c *Checker) newDevice(d Device, manufacturer, model string) *Device {
	if len(c.devices) == cap(c.devices) {
		c.devices = make([]Device, 0, 512)
	}
	d.Manufacturer, d.Model = manufacturer, model
	c.devices = append(c.devices, d)
	return &c.devices[len(c.devices)-1]
}

func (c *Checker) internString(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := c.intern[s]; ok {
		return v
	}
	if len(c.intern) < maxInterned {
		s = strings.Clone(s)
		c.intern[s] = s
	}
	return s
}

// finish marks every row of a conflicted serial as a conflict.
func (c *Checker) finish() {
	for _, key := range c.dirty {
		e := c.serials[key]
		m := e.more
		m.queued = false
		rows := append([]int32{e.first}, m.rows...)
		for _, idx := range rows {
			r := &c.results[idx]
			r.Status = StatusConflict
			r.Device = nil
			r.DuplicateOf = ""
			r.Codes = []string{CodeConflict}
			kept := r.Findings[:0:0]
			for _, f := range r.Findings {
				if f.Code != CodeDuplicate && f.Code != CodeConflict && f.Code != CodeDuplicateDiffers {
					kept = append(kept, f)
				}
			}
			r.Findings = append(kept, Finding{Code: CodeConflict, Message: c.conflictMessage(r.Serial, idx, rows, len(m.idents))})
		}
	}
	c.dirty = c.dirty[:0]
}

func (c *Checker) conflictMessage(serial string, self int32, rows []int32, machines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "serial %q belongs to %d different machines (the hardware identities in the hashes differ); also on ", serial, machines)
	n := 0
	for _, idx := range rows {
		if idx == self {
			continue
		}
		if n == maxListedRows {
			fmt.Fprintf(&b, " and %d more", len(rows)-1-n)
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		o := &c.results[idx]
		b.WriteString(o.File + ":" + strconv.Itoa(o.Line))
		n++
	}
	b.WriteString("; none of these rows is registered: keep the row of the right machine, or fix the serial in the firmware and capture again")
	return b.String()
}

// Results returns one Result per row added, in input order. Call it after the last Add:
// conflicts can only be decided once every row is seen. The slice and the Results'
// slices belong to the Checker until the next Add; do not modify them.
func (c *Checker) Results() []Result {
	c.finish()
	return c.results
}

// Summary counts the results; files is the number of input files.
func (c *Checker) Summary(files int) Summary {
	c.finish()
	s := Summary{Files: files, Rows: len(c.results)}
	for i := range c.results {
		switch c.results[i].Status {
		case StatusValid:
			s.Valid++
		case StatusInvalid:
			s.Invalid++
		case StatusDuplicate:
			s.Duplicates++
		case StatusConflict:
			s.Conflicts++
		}
	}
	s.Devices = s.Valid
	return s
}

// identityDigest reduces an identity to 16 bytes: kept per serial for every row.
func identityDigest(id hwhash.Identity) [16]byte {
	h := sha256.New()
	for _, s := range []string{serialKey(trimSerial(id.Serial)), id.Manufacturer, id.Model, strings.ToLower(id.UUID), strings.ToLower(id.EKDigest)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}
