package csvreport

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// field is a canonical import column. Its tag is the gocsv struct tag of the matching
// taggedRow field; the reader renames every recognised header cell to its tag before
// gocsv sees the records, so gocsv's own (case-sensitive) matching only ever sees tags.
type field int

const (
	fNone field = iota
	fSerial
	fProductID
	fHash
	fGroupTag
	fUser
	fManufacturer
	fModel
)

var fieldTags = [...]string{
	fNone:         "",
	fSerial:       "serial",
	fProductID:    "product_id",
	fHash:         "hash",
	fGroupTag:     "group_tag",
	fUser:         "assigned_user",
	fManufacturer: "manufacturer",
	fModel:        "model",
}

// fieldNames are the canonical column names used in messages.
var fieldNames = [...]string{
	fNone:         "",
	fSerial:       "Device Serial Number",
	fProductID:    "Windows Product ID",
	fHash:         "Hardware Hash",
	fGroupTag:     "Group Tag",
	fUser:         "Assigned User",
	fManufacturer: "Manufacturer name",
	fModel:        "Device model",
}

// taggedRow is what gocsv fills. Tags are lower case so that a header normalizer set
// globally by another package (gocsv.SetHeaderNormalizer(strings.ToLower)) cannot break
// the match.
type taggedRow struct {
	Serial       string `csv:"serial"`
	ProductID    string `csv:"product_id"`
	Hash         string `csv:"hash"`
	GroupTag     string `csv:"group_tag"`
	AssignedUser string `csv:"assigned_user"`
	Manufacturer string `csv:"manufacturer"`
	Model        string `csv:"model"`
}

// aliases maps a normalised header cell (see normHeader) to its field.
var aliases = map[string]field{
	"deviceserialnumber": fSerial,
	"serialnumber":       fSerial,
	"serial":             fSerial,

	"windowsproductid": fProductID,
	"productkey":       fProductID,
	"productid":        fProductID,

	"hardwarehash":        fHash,
	"devicehardwaredata":  fHash,
	"devicehardwaredata0": fHash,
	"hardwareidentifier":  fHash,

	"grouptag": fGroupTag,
	"orderid":  fGroupTag,

	"assigneduser":              fUser,
	"assigneduserprincipalname": fUser,

	"manufacturername": fManufacturer,
	"manufacturer":     fManufacturer,
	"devicemodel":      fModel,
	"model":            fModel,
}

// ssrsLabels are the display labels the ConfigMgr report repeats in the first cells of
// every data row (normalised).
var ssrsLabels = [3]string{"deviceserialnumber", "windowsproductid", "hardwarehash"}

// graphColumns are (normalised) columns of Intune/Graph device-list exports that never
// appear in a hash export. Spellings with "enrol" cover both British and US English.
var graphColumns = []string{
	"id", "displayname", "lastcontacteddatetime", "lastcontacted", "azureactivedirectorydeviceid",
	"azureaddeviceid", "manageddeviceid", "purchaseorderidentifier", "purchaseorder", "systemfamily",
	"skunumber", "deploymentprofileassignmentstatus", "deploymentprofileassigneddatetime",
	"userprincipalname", "addressableusername", "resourcename", "profilestatus", "profile",
	"dateassigned", "associatedintunedevice", "associatedentradevice",
}

// isInvisible reports the characters trimmed from header cells besides spaces: the BOM
// (merged files often carry a second one) and zero-width characters.
func isInvisible(r rune) bool {
	switch r {
	case '\uFEFF', '\u200B', '\u200C', '\u200D', '\u2060':
		return true
	}
	return false
}

// normHeader lower-cases s and drops spaces, underscores, hyphens, dots, quotes (a quoted
// name after a space keeps its quotes), a BOM and zero-width characters, so
// "Device_Serial Number" and "deviceSerialNumber" compare equal.
func normHeader(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == ' ' || r == '_' || r == '-' || r == '.' || r == '"' || r == '\t' || r == '\u00A0' || isInvisible(r):
			continue
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		default:
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	return b.String()
}

// lookupField returns the field a header cell names, or fNone. Besides the plain aliases it
// accepts SSRS element names with a "Details_Table0_" prefix and ConfigMgr view column
// names with a trailing "0" (SerialNumber0).
func lookupField(cell string) field {
	n := normHeader(cell)
	if f, ok := aliases[n]; ok {
		return f
	}
	if rest, ok := strings.CutPrefix(n, "detailstable"); ok {
		rest = strings.TrimLeft(rest, "0123456789")
		if f, ok := aliases[rest]; ok {
			return f
		}
		n = rest
	}
	if trimmed, ok := strings.CutSuffix(n, "0"); ok {
		if f, ok := aliases[trimmed]; ok {
			return f
		}
	}
	return fNone
}

// isHashLike reports whether s looks like a hardware hash: at least 1000 base64 characters.
func isHashLike(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 1000 && isBase64(s)
}

// hashIndex returns the index of the first hash-like cell, or -1.
func hashIndex(rec []string) int {
	for i, c := range rec {
		if isHashLike(c) {
			return i
		}
	}
	return -1
}

// headerInfo is a record read as a header: the field of each cell.
type headerInfo struct {
	fields  []field
	matched int // distinct fields found
	dup     field
	dupA    int // first column index of dup
	dupB    int // second column index of dup
}

func (h *headerInfo) has(f field) bool {
	for _, x := range h.fields {
		if x == f {
			return true
		}
	}
	return false
}

// parseHeader maps each cell of rec to a field.
func parseHeader(rec []string) headerInfo {
	h := headerInfo{fields: make([]field, len(rec))}
	seen := map[field]int{}
	for i, c := range rec {
		f := lookupField(c)
		h.fields[i] = f
		if f == fNone {
			continue
		}
		if j, ok := seen[f]; ok {
			if h.dup == fNone {
				h.dup, h.dupA, h.dupB = f, j, i
			}
			continue
		}
		seen[f] = i
		h.matched++
	}
	return h
}

// looksLikeHeader reports whether rec is a header row: at least two known columns, no
// cell that looks like a hash, and not clearly an SSRS label row.
func looksLikeHeader(rec []string) (headerInfo, bool) {
	if hashIndex(rec) >= 0 {
		return headerInfo{}, false
	}
	if _, _, strong := labelRow(rec); strong {
		return headerInfo{}, false
	}
	h := parseHeader(rec)
	return h, h.matched >= 2
}

// maxLabelOffset bounds where the label cells of an SSRS row are searched: in the flat
// rendering the report's text boxes come first (a handful in ConfigMgr's reports).
const maxLabelOffset = 32

// labelOffset returns the index of the first of the 3 report labels "Device Serial
// Number", "Windows Product ID", "Hardware Hash" in rec, or -1. They are at 0 in the
// Excel-mode rendering and after the report's text boxes in the flat rendering.
func labelOffset(rec []string) int {
	for off := 0; off+3 <= len(rec) && off <= maxLabelOffset; off++ {
		if labelsAt(rec, off) {
			return off
		}
	}
	return -1
}

// labelRow tells whether rec looks like a data row of the ConfigMgr SSRS export: 3 cells
// (at offset off) are the labels "Device Serial Number", "Windows Product ID", "Hardware
// Hash" (possibly followed by more labels), then the values in the same order. k is the
// number of label cells (0 when rec is not such a row). strong means the values clearly
// hold data (a hash-like cell, or a long base64 token where the hash belongs); a weak
// match needs more evidence (the next row holding the labels too), because a header such
// as "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User,
// Computer Name" looks the same.
func labelRow(rec []string) (off, k int, strong bool) {
	if len(rec) < 6 {
		return 0, 0, false
	}
	off = labelOffset(rec)
	if off < 0 || len(rec)-off < 6 {
		return 0, 0, false
	}
	k = 3
	for k < (len(rec)-off)/2 && lookupField(rec[off+k]) != fNone && !isHashLike(rec[off+k]) {
		k++
	}
	values := rec[off+k:]
	hasData := false
	for _, c := range values {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if isHashLike(c) {
			return off, k, true
		}
		if lookupField(c) == fNone {
			hasData = true
		}
	}
	if !hasData {
		return 0, 0, false
	}
	if hv := strings.TrimSpace(rec[off+k+2]); len(hv) >= 16 && isBase64(hv) && lookupField(hv) == fNone {
		return off, k, true
	}
	return off, k, false
}

// isDeviceLabelRow reports whether rec is an SSRS device row whatever its hash: the labels
// followed by a serial value (a non-empty cell that is no column name). Such a row holds
// data and is never a header, also when its hash is empty (a device without hash in
// inventory); see issue 9.
func isDeviceLabelRow(rec []string) bool {
	off, k, strong := labelRow(rec)
	if k == 0 {
		return false
	}
	if strong {
		return true
	}
	s := strings.TrimSpace(rec[off+k])
	return s != "" && lookupField(s) == fNone
}

// isBase64 reports whether s only holds base64 characters.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// startsWithLabels reports whether the first 3 cells of rec are the report labels.
func startsWithLabels(rec []string) bool { return labelsAt(rec, 0) }

// labelsAt reports whether cells off..off+2 of rec are the report labels.
func labelsAt(rec []string, off int) bool {
	if off < 0 || len(rec) < off+3 {
		return false
	}
	for i, l := range ssrsLabels {
		c := rec[off+i]
		if len(c) > 64 || normHeader(c) != l {
			return false
		}
	}
	return true
}

// hasGraphColumns reports whether a header names columns only the Intune/Graph device
// list has (id, enrollmentState, …).
func hasGraphColumns(rec []string) bool {
	for _, c := range rec {
		n := normHeader(c)
		if strings.HasPrefix(n, "enrol") {
			return true
		}
		for _, g := range graphColumns {
			if n == g {
				return true
			}
		}
	}
	return false
}

// isGraphExport reports whether a header without a hash column is a device-list export
// from Intune or Graph.
func isGraphExport(rec []string, h headerInfo) bool {
	if !h.has(fSerial) {
		return false
	}
	return hasGraphColumns(rec) || h.has(fManufacturer) && h.has(fModel) && len(rec) > 3
}

// quoteList renders cells for messages: "a", "b".
func quoteList(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c))
	}
	return b.String()
}

// blank reports whether every cell is empty after trimming spaces, invisible characters
// and NULs (the remains of a UTF-16 line end in a file read as UTF-8).
func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimFunc(c, isSpaceOrInvisible) != "" {
			return false
		}
	}
	return true
}

func isSpaceOrInvisible(r rune) bool {
	return r == 0 || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == '\u00A0' || isInvisible(r)
}

// trimmedLen is len(rec) without trailing empty cells.
func trimmedLen(rec []string) int {
	n := len(rec)
	for n > 0 && strings.TrimSpace(rec[n-1]) == "" {
		n--
	}
	return n
}
