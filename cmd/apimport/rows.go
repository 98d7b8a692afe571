package main

import (
	"encoding/binary"
	"errors"
	"sort"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/spill"
)

// rowStore keeps a run's device lines for the outputs written at the end in input
// order (the text table, the CSV report, the HTML page), shared by all of them. A
// large run has 100,000 lines of some 250 bytes each: past the first rowsInMemory, their
// values wait in a private temporary file (internal/spill: mode 0600, removed at once
// where the OS allows) and memory keeps 24 bytes a line. When that file cannot be
// created or written the lines stay in memory: the report matters more than the memory.
type rowStore struct {
	inMemory int // lines kept in memory before spilling (rowsInMemory; tests lower it)
	st       *spill.Store
	noSpill  bool // creating or writing the spill file failed
	refs     []rowRef
	mem      []importer.DeviceResult
}

// rowsInMemory is how many lines a run keeps in memory before it spills (~250 kB).
const rowsInMemory = 1000

type rowRef struct {
	pos int
	ref spill.Ref
	mem int32 // index in mem + 1; 0: spilled at ref
}

func newRowStore() *rowStore { return &rowStore{inMemory: rowsInMemory} }

func (s *rowStore) add(d deviceLine) {
	if len(s.mem) < s.inMemory || s.noSpill || !s.spill(d) { // spill fails only on a file error
		s.mem = append(s.mem, d.DeviceResult)
		s.refs = append(s.refs, rowRef{pos: d.pos, mem: int32(len(s.mem))})
	}
}

// spill writes d to the spill file; false when it cannot.
func (s *rowStore) spill(d deviceLine) bool {
	if s.st == nil {
		st, err := spill.New("")
		if err != nil {
			s.noSpill = true
			return false
		}
		s.st = st
	}
	ref, err := s.st.Put(encodeResult(d.DeviceResult))
	if err != nil {
		s.noSpill = true
		return false
	}
	s.refs = append(s.refs, rowRef{pos: d.pos, ref: ref})
	return true
}

func (s *rowStore) len() int {
	if s == nil {
		return 0
	}
	return len(s.refs)
}

// each calls fn with every line in input order (lines of the same position in the
// order they came); it stops at fn's first error, or at a line it cannot read back.
func (s *rowStore) each(fn func(deviceLine) error) error {
	if s == nil {
		return nil
	}
	sort.SliceStable(s.refs, func(i, j int) bool { return s.refs[i].pos < s.refs[j].pos })
	for _, r := range s.refs {
		d := deviceLine{pos: r.pos}
		if r.mem > 0 {
			d.DeviceResult = s.mem[r.mem-1]
		} else {
			b, err := s.st.Get(r.ref)
			if err == nil {
				d.DeviceResult, err = decodeResult(b)
			}
			if err != nil {
				return err
			}
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// close removes the spill file.
func (s *rowStore) close() {
	if s != nil && s.st != nil {
		_ = s.st.Close()
		s.st = nil
	}
}

// resultFields lists a DeviceResult's fields for encodeResult and decodeResult: the
// strings byte for byte (a file name or serial need not be UTF-8, which JSON would
// change), the two numbers as varints.
func resultFields(d *importer.DeviceResult) ([]*string, []*int) {
	return []*string{&d.File, &d.Serial, &d.Result, &d.ErrorName, &d.Message, &d.Hint, &d.ImportID, &d.RegistrationID,
			&d.ProfileStatus, &d.ProfileName, &d.Group, &d.GroupTag, &d.DuplicateOf},
		[]*int{&d.Line, &d.ErrorCode}
}

func encodeResult(d importer.DeviceResult) []byte {
	strs, ints := resultFields(&d)
	var b []byte
	for _, n := range ints {
		b = binary.AppendVarint(b, int64(*n))
	}
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	return b
}

var errBadRow = errors.New("a result line in the temporary file is damaged")

func decodeResult(b []byte) (importer.DeviceResult, error) {
	var d importer.DeviceResult
	strs, ints := resultFields(&d)
	for _, n := range ints {
		v, k := binary.Varint(b)
		if k <= 0 {
			return d, errBadRow
		}
		*n, b = int(v), b[k:]
	}
	for _, s := range strs {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return d, errBadRow
		}
		*s, b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	if len(b) != 0 {
		return d, errBadRow
	}
	return d, nil
}
