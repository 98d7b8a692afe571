package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apimport/apimport/importer"
)

// rowLines are n device lines with every field set, added in an order that is not the
// input order (positions n-1 … 0).
func rowLines(n int) []deviceLine {
	var ls []deviceLine
	for i := n - 1; i >= 0; i-- {
		ls = append(ls, deviceLine{pos: i, DeviceResult: importer.DeviceResult{File: "a.csv", Line: i + 2, Serial: fmt.Sprintf("S%03d", i),
			Result: importer.ResultRejected, ErrorCode: 806, ErrorName: "ZtdDeviceAlreadyAssigned", Message: "m", Hint: "h",
			ImportID: "imp", RegistrationID: "reg", ProfileStatus: "assigned", ProfileName: "p", Group: "added", GroupTag: "t", DuplicateOf: "b.csv:3"}})
	}
	return ls
}

func collect(t *testing.T, s *rowStore) []deviceLine {
	t.Helper()
	var got []deviceLine
	if err := s.each(func(d deviceLine) error { got = append(got, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// storeOf is a rowStore that keeps inMemory lines in memory, holding lines.
func storeOf(t *testing.T, lines []deviceLine, inMemory int) *rowStore {
	s := newRowStore()
	s.inMemory = inMemory
	t.Cleanup(s.close)
	for _, d := range lines {
		s.add(d)
	}
	return s
}

func TestRowStoreSpillsAndReturnsInputOrder(t *testing.T) {
	lines := rowLines(25)
	s := storeOf(t, lines, 5)
	if s.st == nil || s.noSpill {
		t.Fatal("20 of 25 lines over the in-memory 5 did not go to the spill file")
	}
	if len(s.mem) != 5 {
		t.Errorf("%d lines in memory, want 5", len(s.mem))
	}
	got := collect(t, s)
	if s.len() != 25 || len(got) != 25 {
		t.Fatalf("len %d, each gave %d lines, want 25", s.len(), len(got))
	}
	for i, d := range got {
		want := lines[len(lines)-1-i]
		if d.pos != i || !reflect.DeepEqual(d, want) {
			t.Errorf("line %d = %+v, want %+v", i, d, want)
		}
	}
}

func TestRowStoreKeepsLinesWhenItCannotSpill(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("TEMP", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("TMP", filepath.Join(t.TempDir(), "missing"))
	lines := rowLines(10)
	s := storeOf(t, lines, 2)
	if !s.noSpill || s.st != nil {
		t.Fatalf("noSpill %v, spill file %v: want the lines kept in memory", s.noSpill, s.st != nil)
	}
	got := collect(t, s)
	if len(got) != 10 || got[0].pos != 0 || got[9].pos != 9 || !reflect.DeepEqual(got[3], lines[6]) {
		t.Errorf("got %d lines, first %d, last %d", len(got), got[0].pos, got[len(got)-1].pos)
	}
}

func TestRowStoreNil(t *testing.T) {
	var s *rowStore
	if s.len() != 0 || s.each(func(deviceLine) error { t.Error("called"); return nil }) != nil {
		t.Error("a nil rowStore is not empty")
	}
	s.close()
}

func TestRowStoreKeepsBytesThatAreNotUTF8(t *testing.T) {
	// Found in review: the spilled lines went through JSON, which turns bytes that are
	// not UTF-8 (a Latin-1 file name on Linux) into U+FFFD past the 1,000th line.
	var lines []deviceLine
	for i := range 3 {
		lines = append(lines, deviceLine{pos: i, DeviceResult: importer.DeviceResult{File: "caf\xe9.csv", Line: i + 2, Serial: "S\xff", Result: importer.ResultRegistered, ErrorCode: -1}})
	}
	s := storeOf(t, lines, 1)
	for _, d := range collect(t, s) {
		if d.File != "caf\xe9.csv" || d.Serial != "S\xff" || d.ErrorCode != -1 {
			t.Errorf("line %d: file %q, serial %q, code %d", d.Line, d.File, d.Serial, d.ErrorCode)
		}
	}
	if _, err := decodeResult(encodeResult(importer.DeviceResult{File: "x"})[:3]); err == nil {
		t.Error("a cut line decoded without an error")
	}
}

func TestResultFieldsListsEveryField(t *testing.T) {
	var d importer.DeviceResult
	strs, ints := resultFields(&d)
	if n := reflect.TypeOf(d).NumField(); n != len(strs)+len(ints) {
		t.Errorf("DeviceResult has %d fields, resultFields lists %d: a new field must be added there", n, len(strs)+len(ints))
	}
}
