package csvreport

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Corporate device identifiers (Windows Autopilot device preparation; lifecycle-api.md §5,
// input-formats.md §3.4) are manufacturer, model and serial number, read in two shapes:
//
//   - the Intune portal's file: no header, one "manufacturer,model,serial" per line
//     (Microsoft,surface 5,01234567890123), recognised when no cell of the first lines
//     looks like a hash and at least half of them hold exactly three values;
//   - a file with a header that names Manufacturer (or Manufacturer name), Model (or
//     Device model) and Serial Number (any serial alias) and has no hardware hash column,
//     e.g. the identifier columns of a Partner Center file; other columns are ignored
//     with a note.
//
// A file with a hardware hash column, or with a hash-like cell, is a hash export and is
// never read as corporate identifiers (CodeHashExport); an Intune/Graph list of
// registered Autopilot devices is refused too (its devices are registered, and a
// registered Autopilot device takes precedence over a corporate identifier). A Note of
// code "corporate_layout" names the shape recognised. Values are kept as read (trimmed);
// package mapping validates them.

// LayoutCorporate is a corporate device identifier list (manufacturer, model, serial).
const LayoutCorporate Layout = "corporate"

// File error codes of the corporate identifier reading.
const (
	// CodeCorporate: a corporate identifier list was given where hashes were expected.
	CodeCorporate = "corporate_identifiers"
	// CodeHashExport: a hardware-hash export was given where corporate identifiers were expected.
	CodeHashExport = "hash_export"
)

// OpenCorporateContext is OpenContext for a corporate device identifier list: rows carry
// Manufacturer, Model and Serial. A hash export is refused with a *FileError of code
// CodeHashExport; a file that is neither is refused with a hint on the expected format.
func OpenCorporateContext(ctx context.Context, path string, o OpenOptions) (*Reader, error) {
	return openContext(ctx, path, o, true)
}

// NewCorporateReaderContext is NewReaderContext for a corporate device identifier list.
func NewCorporateReaderContext(ctx context.Context, r io.Reader, name string) (*Reader, error) {
	return newReaderContext(ctx, r, name, true)
}

// NewCorporateReader is NewReader for a corporate device identifier list.
func NewCorporateReader(r io.Reader, name string) (*Reader, error) {
	return newReader(r, name, true)
}

// corporateFormatHint says what a corporate identifier file looks like.
const corporateFormatHint = "a corporate identifier file has no header and one manufacturer,model,serial per line " +
	"(Microsoft,Surface Laptop 5,0F01234567890), or a header with the columns Manufacturer, Model and Serial Number and no Hardware Hash"

// maxCorporateCell is the longest cell the headerless detection takes for an identifier
// value (mapping enforces its own, smaller, limits per value).
const maxCorporateCell = 128

// looksCorporate reports whether headerless records are manufacturer,model,serial
// lines: no cell looks like a hash, and at least half of the records (one at least)
// hold exactly three non-empty short values. Bad lines among them (a comma inside a
// value, an empty field) are still rows, reported by the checks.
func looksCorporate(scanned []record) bool {
	three := 0
	for _, rec := range scanned {
		if hashIndex(rec.cells) >= 0 {
			return false
		}
		if trimmedLen(rec.cells) != 3 {
			continue
		}
		ok := true
		for _, c := range rec.cells[:3] {
			if c = strings.TrimSpace(c); c == "" || len(c) > maxCorporateCell {
				ok = false
			}
		}
		if ok {
			three++
		}
	}
	return three > 0 && 2*three >= len(scanned)
}

// onlyImportColumns reports whether every named column of a header is an import column
// (the partner layout without its hash column): such a file with Manufacturer, Model and
// Serial Number is a corporate identifier list, while one with other columns (an
// Endpoint Analytics or Intune device export) is a device list.
func onlyImportColumns(rec []string, h headerInfo) bool {
	for i, f := range h.fields {
		if f == fNone && strings.TrimFunc(rec[i], isSpaceOrInvisible) != "" {
			return false
		}
	}
	return !hasGraphColumns(rec)
}

func (r *Reader) hashExportError(line int, why string) error {
	return r.fileErr(line, CodeHashExport, "this is a hardware-hash export ("+why+"), not a corporate identifier list",
		"import it without --corporate-identifiers: a file with a hardware hash registers the devices in Windows Autopilot", nil)
}

// detectCorporate decides the layout of a corporate identifier file: a header with the
// three columns (after up to scanRecords-1 preamble lines), else three values per line.
func (r *Reader) detectCorporate() error {
	scanned, err := r.scanRecords()
	if err != nil {
		return err
	}
	for i := 0; i < len(scanned) && i < scanRecords; i++ {
		rec := scanned[i]
		if hashIndex(rec.cells) >= 0 {
			return r.hashExportError(rec.line, "a cell holds a hardware hash")
		}
		if _, k := ssrsLabelsAt(scanned, i); k > 0 {
			return r.hashExportError(rec.line, "the ConfigMgr report Windows Autopilot Device Information")
		}
		if h, ok := looksLikeHeader(rec.cells); ok {
			return r.acceptHeader(scanned, i, h)
		}
	}
	if looksCorporate(scanned) {
		r.note(scanned[0].line, "corporate_layout", "read as corporate device identifiers without header (the Intune portal's file): "+
			"manufacturer, model, serial number by position")
		r.setMap(newMap(LayoutCorporate, []field{fManufacturer, fModel, fSerial}, 3, 0))
		r.queue = scanned
		return nil
	}
	if r.deferred != nil {
		return r.deferred
	}
	for _, rec := range scanned {
		if len(rec.cells) != 1 {
			continue
		}
		for _, sep := range []string{";", "\t", "|"} {
			if parts := strings.Split(rec.cells[0], sep); len(parts) == 3 {
				r.wrongSep = rune(sep[0])
				return r.fileErr(rec.line, "wrong_delimiter", "the values are separated by "+sepNames[rune(sep[0])]+", not commas",
					"the portal's corporate identifier file uses commas: manufacturer,model,serial", nil)
			}
		}
	}
	return r.fileErr(scanned[0].line, "no_header", fmt.Sprintf("not a corporate identifier list: the first %d lines hold neither a header with "+
		"Manufacturer, Model and Serial Number nor three values per line", len(scanned)), corporateFormatHint, nil)
}

// checkCorporateHeader refuses headers that cannot describe corporate identifiers.
func (r *Reader) checkCorporateHeader(rec record, h headerInfo) error {
	switch {
	case h.has(fHash):
		return r.hashExportError(rec.line, "the header has a Hardware Hash column")
	case h.has(fSerial) && hasGraphColumns(rec.cells):
		return r.fileErr(rec.line, "device_list_export",
			"this is a list of devices already registered in Windows Autopilot (Intune/Graph export), not corporate identifiers to add",
			"a registered Autopilot device takes precedence over a corporate identifier (its Autopilot profile applies): "+
				"deregister the devices first ('apimport remove') if they are to enroll through device preparation", nil)
	}
	var missing []string
	for _, f := range []field{fManufacturer, fModel, fSerial} {
		if !h.has(f) {
			missing = append(missing, map[field]string{fManufacturer: "Manufacturer", fModel: "Model", fSerial: "Serial Number"}[f])
		}
	}
	if len(missing) > 0 {
		return r.fileErr(rec.line, "no_identifier_columns",
			fmt.Sprintf("the header has no %s column (columns: %s)", strings.Join(missing, " or "), quoteList(trimAll(rec.cells[:trimmedLen(rec.cells)]))),
			corporateFormatHint, nil)
	}
	return nil
}

// noteCorporateHeader names the columns a corporate identifier header maps and those
// it ignores.
func (r *Reader) noteCorporateHeader(rec record, h headerInfo) {
	pos := map[field]int{}
	var ignored []string
	for i, f := range h.fields {
		switch f {
		case fManufacturer, fModel, fSerial:
			pos[f] = i + 1
		case fNone:
		default:
			ignored = append(ignored, strings.TrimFunc(rec.cells[i], isSpaceOrInvisible))
		}
	}
	msg := fmt.Sprintf("read as corporate device identifiers by column name: manufacturer = column %d, model = column %d, serial number = column %d",
		pos[fManufacturer], pos[fModel], pos[fSerial])
	if len(ignored) > 0 {
		msg += "; ignored (not part of a corporate identifier): " + quoteList(ignored)
	}
	r.note(rec.line, "corporate_layout", msg)
}
