package mapping

import (
	"encoding/hex"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/internal/spill"
)

// maxListedRows caps how many other rows a conflict message names.
const maxListedRows = 10

// Checker validates and dedupes rows across all input files, in input order.
//
// Add (or Prepare + AddPrepared) takes the rows; Results and Summary give the outcome
// once every row has been added, because a conflict (one serial on two machines) turns
// earlier rows into conflicts too. Prepare is safe for concurrent use; every other method
// must be called from one goroutine at a time.
//
// Rows are kept in a compact form (about 60 bytes plus the serial for a valid row) and
// turned into Results only by Results, so that checking a 100,000-row export stays well
// under 100 MB.
type Checker struct {
	opts    Options
	recs    []rec
	files   []string          // file index -> name
	fileIdx map[string]uint32 // name -> file index
	strs    []string          // intern table: index -> value; strs[0] == ""
	strIdx  map[string]uint32 // value -> index
	serials map[string]serialEntry
	warned  map[string]uint8 // file -> override warnings already given (warnTag|warnUser)
	dirty   []string         // keys of conflicted serials whose rows need (re)marking
	out     []Result         // materialized results; nil when recs changed since
}

const (
	warnTag  = 1
	warnUser = 2
)

// rec is the compact state of one row.
type rec struct {
	serial string
	line   int32
	file   uint32
	mfr    uint32 // intern indexes
	model  uint32
	tag    uint32
	dup    int32 // index of the first occurrence, for duplicates; -1 otherwise
	status uint8
	fp     [6]byte // fingerprint bytes when hasFP
	hasFP  bool
	x      *recExtra // findings and rarer fields; nil for a plain valid row
}

// recExtra holds what most valid rows do not have.
type recExtra struct {
	codes    []string // error codes of an invalid row
	findings []Finding
	dev      *devExtra
}

// devExtra holds the rarer device fields of a valid row.
type devExtra struct {
	productKey  string
	user        string
	fingerprint string // when it does not fit rec.fp
	hardware    []byte
	spilled     spill.Ref // hardware in Options.Spill
}

const (
	stValid uint8 = iota
	stInvalid
	stDuplicate
	stConflict
)

var statusOf = [...]Status{stValid: StatusValid, stInvalid: StatusInvalid, stDuplicate: StatusDuplicate, stConflict: StatusConflict}

// serialEntry tracks the otherwise-valid rows of one serial.
type serialEntry struct {
	first int32    // index of the first row
	ident [16]byte // identity digest of the first row
	more  *serialMore
}

// serialMore exists only for serials seen more than once.
type serialMore struct {
	rows     []int32 // later rows (duplicates or conflicts), in input order
	idents   []identFirst
	index    map[[16]byte]int32 // identity -> first row, once idents is long (one serial shared by a whole fleet)
	conflict bool
	queued   bool // in Checker.dirty: the rows must be (re)marked as conflicts
}

type identFirst struct {
	ident [16]byte
	first int32
}

// maxLinearIdents is how many identities of one serial are searched linearly.
const maxLinearIdents = 8

// find returns the first row of identity id, or -1.
func (m *serialMore) find(id [16]byte) int32 {
	if m.index != nil {
		if first, ok := m.index[id]; ok {
			return first
		}
		return -1
	}
	for _, x := range m.idents {
		if x.ident == id {
			return x.first
		}
	}
	return -1
}

// add records a new identity of the serial.
func (m *serialMore) add(id [16]byte, first int32) {
	m.idents = append(m.idents, identFirst{id, first})
	if m.index != nil {
		m.index[id] = first
	} else if len(m.idents) > maxLinearIdents {
		m.index = make(map[[16]byte]int32, 2*len(m.idents))
		for _, x := range m.idents {
			m.index[x.ident] = x.first
		}
	}
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
		fileIdx: make(map[string]uint32),
		strs:    []string{""},
		strIdx:  map[string]uint32{"": 0},
		serials: make(map[string]serialEntry),
		warned:  make(map[string]uint8),
	}, nil
}

// Add takes the next row in input order: Prepare followed by AddPrepared.
func (c *Checker) Add(row csvreport.Row) {
	c.AddPrepared(c.Prepare(row))
}

// AddPrepared takes the next prepared row in input order and decides duplicates.
func (c *Checker) AddPrepared(p Prepared) {
	c.out = nil
	idx := int32(len(c.recs))
	r := &p.res
	findings := r.Findings
	if p.tagReplaced != "" && c.warned[r.File]&warnTag == 0 {
		c.warned[r.File] |= warnTag
		findings = append(findings, Finding{Code: CodeGroupTagOverridden, Warning: true, Message: fmt.Sprintf(
			"group tag %q from the options replaces %q from the file (given once per file: it applies to every row)",
			c.opts.GroupTag, p.tagReplaced)})
	}
	if p.userReplaced != "" && c.warned[r.File]&warnUser == 0 {
		c.warned[r.File] |= warnUser
		findings = append(findings, Finding{Code: CodeUserOverridden, Warning: true, Message: fmt.Sprintf(
			"assigned user %q from the options replaces %q from the file (given once per file: it applies to every row)",
			c.opts.AssignedUser, p.userReplaced)})
	}
	rc := rec{
		serial: r.Serial,
		line:   int32(r.Line),
		file:   c.fileIndex(r.File),
		mfr:    c.intern(r.Manufacturer),
		model:  c.intern(r.Model),
		dup:    -1,
		status: stInvalid,
	}
	var x recExtra // copied to the heap only when not empty
	x.findings, x.codes = findings, r.Codes
	if r.Status != StatusValid {
		xc := x
		rc.x = &xc
		c.recs = append(c.recs, rc)
		return
	}

	// An otherwise valid row: keep the device fields.
	d := &p.dev
	rc.status = stValid
	rc.tag = c.intern(d.GroupTag)
	de := devExtra{productKey: d.ProductKey, user: d.AssignedUser, hardware: d.Hardware, spilled: d.spilled}
	if len(d.Fingerprint) == 2*len(rc.fp) {
		if _, err := hex.Decode(rc.fp[:], []byte(d.Fingerprint)); err == nil {
			rc.hasFP = true
		}
	}
	if !rc.hasFP {
		de.fingerprint = d.Fingerprint
	}
	if de.productKey != "" || de.user != "" || de.fingerprint != "" || de.hardware != nil || d.store != nil {
		dc := de
		x.dev = &dc
	}

	e, seen := c.serials[p.key]
	if seen {
		if e.more == nil {
			e.more = &serialMore{idents: []identFirst{{e.ident, e.first}}}
			c.serials[p.key] = e
		}
		m := e.more
		m.rows = append(m.rows, idx)
		first := m.find(p.ident)
		if first < 0 {
			m.add(p.ident, idx)
			m.conflict = true
			rc.status = stConflict // the finding is written when the rows are marked
		} else {
			rc.status, rc.dup = stDuplicate, first
			at := c.location(first)
			x.findings = append(x.findings, Finding{Code: CodeDuplicate, Message: fmt.Sprintf(
				"same device as %s (same serial and hardware identity); only the first occurrence is registered", at)})
			if diff := c.differences(first, d); diff != "" {
				x.findings = append(x.findings, Finding{Code: CodeDuplicateDiffers, Warning: true, Message: "this copy has " +
					diff + "; the values of the first occurrence " + at + " win"})
			}
		}
		if m.conflict && !m.queued {
			m.queued = true
			c.dirty = append(c.dirty, p.key)
		}
	} else {
		c.serials[p.key] = serialEntry{first: idx, ident: p.ident}
	}
	if !x.empty() {
		xc := x
		rc.x = &xc
	}
	c.recs = append(c.recs, rc)
}

func (x *recExtra) empty() bool {
	return len(x.findings) == 0 && len(x.codes) == 0 && x.dev == nil
}

// differences describes how a duplicate's group tag and user differ from the first
// occurrence, or returns "".
func (c *Checker) differences(first int32, d *Device) string {
	f := &c.recs[first]
	var firstUser string
	if f.x != nil && f.x.dev != nil {
		firstUser = f.x.dev.user
	}
	var diff []string
	if t := c.strs[f.tag]; d.GroupTag != t {
		diff = append(diff, fmt.Sprintf("group tag %q (first: %q)", d.GroupTag, t))
	}
	if d.AssignedUser != firstUser {
		diff = append(diff, fmt.Sprintf("assigned user %q (first: %q)", d.AssignedUser, firstUser))
	}
	return strings.Join(diff, " and ")
}

func (c *Checker) location(idx int32) string {
	r := &c.recs[idx]
	return c.files[r.file] + ":" + strconv.Itoa(int(r.line))
}

func (c *Checker) fileIndex(name string) uint32 {
	if n := len(c.files); n > 0 && c.files[n-1] == name {
		return uint32(n - 1)
	}
	if i, ok := c.fileIdx[name]; ok {
		return i
	}
	i := uint32(len(c.files))
	c.files = append(c.files, name)
	c.fileIdx[name] = i
	return i
}

// intern returns the index of s in the string table. Manufacturers, models and group
// tags repeat across a fleet, so each distinct value is stored once (and copied, since
// row fields are substrings of a whole record).
func (c *Checker) intern(s string) uint32 {
	if i, ok := c.strIdx[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := uint32(len(c.strs))
	c.strs = append(c.strs, s)
	c.strIdx[s] = i
	return i
}

// finish marks every row of a conflicted serial as a conflict.
func (c *Checker) finish() {
	if len(c.dirty) > 0 {
		c.out = nil
	}
	for _, key := range c.dirty {
		e := c.serials[key]
		m := e.more
		m.queued = false
		rows := append([]int32{e.first}, m.rows...)
		for _, idx := range rows {
			r := &c.recs[idx]
			r.status, r.dup = stConflict, -1
			if r.x == nil {
				r.x = &recExtra{}
			}
			kept := r.x.findings[:0:0]
			for _, f := range r.x.findings {
				if f.Code != CodeDuplicate && f.Code != CodeConflict && f.Code != CodeDuplicateDiffers {
					kept = append(kept, f)
				}
			}
			r.x.findings = append(kept, Finding{Code: CodeConflict, Message: c.conflictMessage(r.serial, idx, rows, len(m.idents))})
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
		b.WriteString(c.location(idx))
		n++
	}
	b.WriteString("; none of these rows is registered: keep the row of the right machine, or fix the serial in the firmware and capture again")
	return b.String()
}

// Results returns one Result per row added, in input order. Call it after the last Add:
// conflicts can only be decided once every row is seen. The Results are built on the
// first call after a change; do not modify them.
//
// For 100,000 rows the slice and its Devices take about 35 MB; All yields the same
// Results one at a time without building it.
func (c *Checker) Results() []Result {
	c.finish()
	if c.out != nil || len(c.recs) == 0 {
		return c.out
	}
	valid := 0
	for i := range c.recs {
		if c.recs[i].status == stValid {
			valid++
		}
	}
	out := make([]Result, len(c.recs))
	devs := make([]Device, valid)
	for i := range c.recs {
		var dev *Device
		if c.recs[i].status == stValid {
			dev, devs = &devs[0], devs[1:]
		}
		out[i] = c.result(i, dev)
	}
	c.out = out
	return out
}

// All yields the Results in input order, like Results, but builds each one only when it
// is yielded (with its own Device for a valid row), so that a caller that writes the
// Results out needs no memory for all of them. Do not Add while iterating.
func (c *Checker) All() iter.Seq[Result] {
	return func(yield func(Result) bool) {
		c.finish()
		for i := range c.recs {
			var dev *Device
			if c.recs[i].status == stValid {
				dev = new(Device)
			}
			if !yield(c.result(i, dev)) {
				return
			}
		}
	}
}

var (
	dupCodes      = []string{CodeDuplicate}
	conflictCodes = []string{CodeConflict}
)

// result builds the Result of row i; dev receives the Device of a valid row.
func (c *Checker) result(i int, dev *Device) Result {
	r := &c.recs[i]
	res := Result{
		File:         c.files[r.file],
		Line:         int(r.line),
		Serial:       r.serial,
		Status:       statusOf[r.status],
		Manufacturer: c.strs[r.mfr],
		Model:        c.strs[r.model],
	}
	if r.x != nil {
		res.Findings = r.x.findings
		res.Codes = r.x.codes
	}
	switch r.status {
	case stDuplicate:
		res.Codes = dupCodes[:1:1]
		res.DuplicateOf = c.location(r.dup)
	case stConflict:
		res.Codes = conflictCodes[:1:1]
	case stValid:
		*dev = Device{
			File:         res.File,
			Line:         res.Line,
			Serial:       r.serial,
			GroupTag:     c.strs[r.tag],
			Manufacturer: res.Manufacturer,
			Model:        res.Model,
		}
		if r.hasFP {
			dev.Fingerprint = hex.EncodeToString(r.fp[:])
		}
		if r.x != nil && r.x.dev != nil {
			x := r.x.dev
			dev.ProductKey, dev.AssignedUser = x.productKey, x.user
			dev.Hardware = x.hardware
			if x.hardware == nil && c.opts.Spill != nil && c.opts.KeepHardware {
				dev.spilled, dev.store = x.spilled, c.opts.Spill
			}
			if x.fingerprint != "" {
				dev.Fingerprint = x.fingerprint
			}
		}
		res.Device = dev
	}
	return res
}

// Summary counts the results; files is the number of input files.
func (c *Checker) Summary(files int) Summary {
	c.finish()
	s := Summary{Files: files, Rows: len(c.recs)}
	for i := range c.recs {
		switch c.recs[i].status {
		case stValid:
			s.Valid++
		case stInvalid:
			s.Invalid++
		case stDuplicate:
			s.Duplicates++
		case stConflict:
			s.Conflicts++
		}
	}
	s.Devices = s.Valid
	return s
}
