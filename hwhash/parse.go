package hwhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Layout constants of the OA3 hardware report.
const (
	// StandardLength is the decoded length of every real hash seen so far (4000 base64 chars).
	StandardLength = 3000
	// MinLength is the smallest length that can hold the magic, T, one byte of records and the trailer.
	MinLength   = 4 + 1 + trailerLen
	trailerLen  = 4 + sha256.Size // "CS" 0x24 0x00 + SHA-256
	headerLen   = 4               // 'O' 'A' + u16 T
	recHeadLen  = 4               // u16 type + u16 length
	maxRecordID = 30              // highest record type with a known meaning
)

var (
	magic   = [2]byte{'O', 'A'}
	trailer = [4]byte{'C', 'S', 0x24, 0x00}
	// ekPrefix precedes the SHA-256 of the TPM EK in record 11 (OfflineDeviceId type 1 = TPM_EK).
	ekPrefix = [10]byte{0, 0, 0, 0, 1, 0, 0x20, 0, 0, 0}
)

// Record types with a decoded meaning (see the package documentation for the full table).
const (
	RecVersion      = 1  // tool build, OS build, OS type, architecture
	RecProcessor    = 2  // processor architecture and counts
	RecDiskSerial   = 7  // "serial|model|"
	RecNetwork      = 8  // physical medium, MAC, bus
	RecOfflineID    = 11 // OfflineDeviceId: type + SHA-256 (TPM EK for type 1)
	RecSMBIOSUUID   = 12 // 16-byte GUID, bytes_le order
	RecTPMVersion   = 13 // TPM version string
	RecSerial       = 14 // SmbiosSystemSerialNumber
	RecManufacturer = 16 // SmbiosSystemManufacturer
	RecModel        = 17 // SmbiosSystemProductName
	RecSKU          = 18 // SmbiosSkuNumber
	RecFamily       = 19 // SmbiosSystemFamily
	RecProductKeyID = 24 // 13-digit PKID
	RecTPMEKPub     = 25 // RSA-2048 EK modulus (never exposed)
)

// Parse decodes a base64 hash leniently (whitespace stripped, missing '=' padding added
// with a CodePadding warning) and verifies it. It never panics and never returns nil.
func Parse(s string) *Hash {
	// Fast path, the normal export: well-formed padded base64 (the standard decoder
	// also skips CR and LF). Anything else takes the scanning path for leniency and a
	// precise message.
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) > 0 {
		return ParseBytes(raw)
	}
	data, pad, prob := scanBase64(s)
	if prob != nil {
		prob.Message += actionRecopy
		return &Hash{Problems: []Problem{*prob}}
	}
	padded := missingPadding(data, pad)
	src := make([]byte, 0, data+pad+padded)
	for i := 0; i < len(s); i++ {
		if c := b64class[s[i]]; c == clsAlpha || c == clsPad {
			src = append(src, s[i])
		}
	}
	for i := 0; i < padded; i++ {
		src = append(src, '=')
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(raw, src)
	if err != nil {
		// scanBase64 already rejected every character outside the alphabet and every
		// misplaced '=', so the standard decoder is not expected to fail here.
		return &Hash{Problems: []Problem{{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not valid base64: %v; copy the whole Hardware Hash value again", err)}}}
	}
	raw = raw[:n:n]
	h := ParseBytes(raw)
	if padded > 0 {
		h.Problems = append(h.Problems, Problem{Code: CodePadding, Warning: true,
			Message: fmt.Sprintf("base64 padding was missing: added %d '=' (the value was probably truncated or copied without its end; the checksum decides)", padded)})
	}
	return h
}

// Character classes for scanBase64.
const (
	clsInvalid = iota
	clsAlpha   // A-Z a-z 0-9 + /
	clsSkip    // ASCII whitespace and NUL
	clsPad     // '='
)

var b64class = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = clsAlpha
	}
	for _, c := range []byte(" \t\n\r\v\f\x00") {
		t[c] = clsSkip
	}
	t['='] = clsPad
	return t
}()

// scanBase64 checks s without copying it: data is the number of alphabet characters, pad
// the number of '=' (whitespace and NULs are skipped). It rejects characters
// outside the standard alphabet (naming their offset in s) and misplaced '='.
func scanBase64(s string) (data, pad int, p *Problem) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch b64class[c] {
		case clsAlpha:
			if pad > 0 {
				return 0, 0, &Problem{Code: CodeNotBase64,
					Message: fmt.Sprintf("hash is not base64: %s at offset %d after '=' padding", describeChar(s, i), i)}
			}
			data++
		case clsSkip:
		case clsPad:
			pad++
			if pad > 2 {
				return 0, 0, &Problem{Code: CodeNotBase64,
					Message: fmt.Sprintf("hash is not base64: too many '=' at offset %d", i)}
			}
		default:
			hint := ""
			switch c {
			case '-', '_':
				hint = " (base64url is not accepted: the export must use standard base64)"
			case '"', ',', ';':
				hint = " (the CSV column boundaries look wrong)"
			}
			return 0, 0, &Problem{Code: CodeNotBase64,
				Message: fmt.Sprintf("hash is not base64: %s at offset %d%s", describeChar(s, i), i, hint)}
		}
	}
	switch {
	case data+pad == 0:
		return 0, 0, &Problem{Code: CodeNotBase64, Message: "hash is empty"}
	case data%4 == 1:
		return 0, 0, &Problem{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not base64: %d characters cannot be a base64 length (one character too many or three missing)", data)}
	case data%4 == 0 && pad > 0, data%4 == 3 && pad > 1:
		return 0, 0, &Problem{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not base64: '=' padding where none belongs (after %d characters)", data)}
	}
	return data, pad, nil
}

// missingPadding returns how many '=' must be added to data characters followed by pad '='.
func missingPadding(data, pad int) int {
	switch data % 4 {
	case 2:
		return 2 - pad
	case 3:
		return 1 - pad
	}
	return 0
}

// describeChar quotes the character at byte offset i of s without revealing anything else.
func describeChar(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return fmt.Sprintf("character %q", r)
}

// actionRecopy ends the message of a hash that is not base64 or not laid out like a
// hardware hash: what the user can do about it.
const actionRecopy = ": copy the whole Hardware Hash value again from the original export, or capture the hash again on the device"

// ParseBytes verifies already-decoded hash bytes. It never panics and never returns nil.
//
// Info is filled whenever the record walk ends exactly at T, even when the checksum
// fails, so that callers can still compare the serial of a damaged hash with its CSV
// row. Problems lists errors and warnings in the order found; Valid summarises them.
// The decoded strings share one backing string; Raw is not copied.
func ParseBytes(raw []byte) *Hash {
	h := &Hash{Raw: raw}
	h.Info.Length = len(raw)
	ok := h.checkLayout()
	if !ok && len(h.Problems) > 0 {
		h.Problems[len(h.Problems)-1].Message += actionRecopy
	}
	if len(raw) != StandardLength && len(raw) > 0 {
		h.warn(CodeLength, lengthMessage(len(raw), ok && h.Valid() && zeroPaddedOnly(raw)))
	}
	if !ok {
		return h
	}
	h.decodeRecords()
	if i := firstNonZero(raw, h.Info.Used+trailerLen); i >= 0 {
		h.warn(CodeTrailingData, fmt.Sprintf("non-zero bytes after the checksum (first at offset %d); they are not covered by the checksum", i))
	}
	if h.Info.Serial == "" {
		h.fail(CodeMissingSerial, "hash has no SMBIOS serial number (record 14); Autopilot rejects it (802 InvalidZtdHardwareHash), capture the hash again after the OEM sets a serial")
	}
	if h.Info.Manufacturer == "" {
		h.fail(CodeMissingManufacturer, "hash has no SMBIOS manufacturer (record 16); Autopilot rejects it (802 InvalidZtdHardwareHash), capture the hash again after the OEM sets a manufacturer")
	}
	return h
}

// lengthMessage is the CodeLength warning for a hash of n bytes; padOnly means it differs
// from StandardLength only in the zero padding after its checksum (see Canonical).
func lengthMessage(n int, padOnly bool) string {
	msg := fmt.Sprintf("hash is %d bytes, every known export has %d (4000 base64 characters)", n, StandardLength)
	switch {
	case padOnly && n < StandardLength:
		return msg + ": the value was cut short (by a spreadsheet, a column limit or a copy), but only zero padding after " +
			"the checksum is lost, so it verifies and the zeros are restored when it is written; copy the whole value " +
			"again from the original export if you can"
	case padOnly:
		return msg + ": the extra bytes are zeros after the checksum and are dropped when the hash is written"
	case n < StandardLength:
		return msg + ": the value was probably cut short; copy the whole value again from the original export"
	}
	return msg
}

// zeroPaddedOnly reports whether raw has its checksum trailer within StandardLength and
// only zero bytes after it, so that padding or trimming it to StandardLength restores the
// captured hash. It does not verify the checksum.
func zeroPaddedOnly(raw []byte) bool {
	t, ok := trailerAt(raw)
	return ok && t+trailerLen <= StandardLength && firstNonZero(raw, t+trailerLen) < 0
}

// Canonical returns the hash as capture tools write it. A valid hash whose length
// differs from StandardLength only in the zero padding after its checksum (cut short at,
// say, 2048 base64 characters, or zeros appended) is returned padded or trimmed to
// StandardLength, in a new slice; any other hash is returned as Raw.
func (h *Hash) Canonical() []byte {
	if h == nil || len(h.Raw) == StandardLength || !h.Valid() || !zeroPaddedOnly(h.Raw) {
		return h.rawOrNil()
	}
	out := make([]byte, StandardLength)
	copy(out, h.Raw)
	return out
}

// CanonicalBase64 is the padded standard base64 of Canonical: what convert writes and
// import sends.
func (h *Hash) CanonicalBase64() string {
	if h == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(h.Canonical())
}

func (h *Hash) rawOrNil() []byte {
	if h == nil {
		return nil
	}
	return h.Raw
}

var zeros [512]byte

// firstNonZero returns the offset of the first non-zero byte of b at or after from, or -1.
// It compares whole chunks against zeros (vectorised) and only scans a chunk that differs.
func firstNonZero(b []byte, from int) int {
	for from < len(b) {
		n := min(len(b)-from, len(zeros))
		if !bytes.Equal(b[from:from+n], zeros[:n]) {
			for i, c := range b[from : from+n] {
				if c != 0 {
					return from + i
				}
			}
		}
		from += n
	}
	return -1
}

func (h *Hash) warn(code, msg string) {
	h.Problems = append(h.Problems, Problem{Code: code, Message: msg, Warning: true})
}

func (h *Hash) fail(code, msg string) {
	h.Problems = append(h.Problems, Problem{Code: code, Message: msg})
}

// checkLayout checks magic, T, the record walk, the trailer and the checksum. It reports
// whether the records can be decoded (the walk ended exactly at T).
func (h *Hash) checkLayout() bool {
	raw := h.Raw
	switch {
	case len(raw) == 0:
		h.fail(CodeLayout, "hash is empty")
		return false
	case len(raw) < MinLength:
		h.fail(CodeLayout, fmt.Sprintf("hash is %d bytes, too short for any hardware hash (minimum %d, normally %d)", len(raw), MinLength, StandardLength))
		return false
	case raw[0] != magic[0] || raw[1] != magic[1]:
		h.fail(CodeLayout, fmt.Sprintf("hash does not start with the \"OA\" magic (found 0x%02x 0x%02x): not a Windows hardware hash", raw[0], raw[1]))
		return false
	}
	t := int(binary.LittleEndian.Uint16(raw[2:4]))
	if t <= headerLen || t > len(raw)-trailerLen {
		h.fail(CodeLayout, fmt.Sprintf("record area length %d is out of range (must be %d..%d for a %d-byte hash): the hash is truncated or corrupt", t, headerLen+1, len(raw)-trailerLen, len(raw)))
		return false
	}
	h.Info.Used = t

	walked := true
	off, n := headerLen, 0
	for off < t {
		n++
		left := t - off
		if left < recHeadLen {
			h.fail(CodeLayout, fmt.Sprintf("record %d at offset %d: header runs past the end of the record area (%d bytes left)", n, off, left))
			walked = false
			break
		}
		l := int(binary.LittleEndian.Uint16(raw[off+2:]))
		if l < recHeadLen {
			h.fail(CodeLayout, fmt.Sprintf("record %d at offset %d has length %d (minimum %d)", n, off, l, recHeadLen))
			walked = false
			break
		}
		if l > left {
			h.fail(CodeLayout, fmt.Sprintf("record %d at offset %d runs past the end (len %d, %d bytes left)", n, off, l, left))
			walked = false
			break
		}
		off += l
	}
	if walked {
		h.Info.Records = n
	}
	if !bytes.Equal(raw[t:t+4], trailer[:]) {
		h.fail(CodeLayout, fmt.Sprintf("trailer at offset %d is % x, want 43 53 24 00 (\"CS$\\0\"): the record area length or the data is corrupt", t, raw[t:t+4]))
		return false
	}
	sum := sha256.Sum256(raw[:t])
	if !bytes.Equal(sum[:], raw[t+4:t+trailerLen]) {
		h.fail(CodeChecksum, "the SHA-256 checksum does not match the hash contents: the hash was altered or damaged after capture, capture it again")
	}
	return walked
}

// span is a string field inside the decode arena.
type span struct{ a, b int }

func (s span) empty() bool { return s.b <= s.a }

// Scalar fields collected in the arena.
const (
	fSerial = iota
	fManufacturer
	fModel
	fSKU
	fFamily
	fTPMVersion
	fProductKeyID
	fOSBuild
	fUUID
	fOfflineID
	fEKDigest
	nFields
)

// decodeRecords fills Info from a record area already checked by checkLayout. Every
// decoded string is first written into one arena, converted to a single string at the
// end: a parse costs a handful of allocations however many records the hash holds.
func (h *Hash) decodeRecords() {
	raw, in := h.Raw, &h.Info
	var (
		stack  [512]byte
		arena  = stack[:0]
		f      [nFields]span
		macs   = make([]span, 0, 4)
		disks  = make([]span, 0, 2)
		ekPub  []byte
		ekType bool
	)
	for off := headerLen; off < in.Used; {
		typ := binary.LittleEndian.Uint16(raw[off:])
		l := int(binary.LittleEndian.Uint16(raw[off+2:]))
		data := raw[off+recHeadLen : off+l]
		off += l
		fi := -1
		switch typ {
		case RecVersion:
			if f[fOSBuild].empty() && len(data) >= 16 {
				a := len(arena)
				arena = appendVersion(arena, data[8:16])
				f[fOSBuild] = span{a, len(arena)}
			}
		case RecDiskSerial:
			var sp span
			arena, sp = appendField(arena, data)
			if i := bytes.IndexByte(arena[sp.a:sp.b], '|'); i >= 0 {
				sp = trimSpan(arena, span{sp.a, sp.a + i})
			}
			if !sp.empty() {
				disks = append(disks, sp)
			}
		case RecNetwork:
			if len(data) >= 10 {
				a := len(arena)
				arena = appendMAC(arena, data[4:10])
				macs = append(macs, span{a, len(arena)})
			}
		case RecOfflineID:
			if len(data) >= 10+sha256.Size {
				in.OfflineIDType = int(data[4])
				a := len(arena)
				arena = hex.AppendEncode(arena, data[10:10+sha256.Size])
				f[fOfflineID] = span{a, len(arena)}
				ekType = bytes.Equal(data[:10], ekPrefix[:])
			}
		case RecSMBIOSUUID:
			if f[fUUID].empty() && len(data) >= 16 {
				a := len(arena)
				arena = appendGUID(arena, data[:16])
				f[fUUID] = span{a, len(arena)}
			}
		case RecTPMVersion:
			fi = fTPMVersion
		case RecSerial:
			fi = fSerial
		case RecManufacturer:
			fi = fManufacturer
		case RecModel:
			fi = fModel
		case RecSKU:
			fi = fSKU
		case RecFamily:
			fi = fFamily
		case RecProductKeyID:
			fi = fProductKeyID
		case RecTPMEKPub:
			if ekPub == nil && len(data) > 0 {
				ekPub = data
			}
		default:
			if typ == 0 || typ > maxRecordID {
				in.UnknownRecords++
			}
		}
		if fi >= 0 && f[fi].empty() { // the first non-empty record of a type wins
			arena, f[fi] = appendField(arena, data)
		}
	}
	if ekType {
		f[fEKDigest] = f[fOfflineID]
	}
	if ekPub != nil {
		sum := sha256.Sum256(ekPub)
		a := len(arena)
		arena = hex.AppendEncode(arena, sum[:])
		d := span{a, len(arena)}
		switch {
		case f[fEKDigest].empty():
			f[fEKDigest] = d
		case !bytes.Equal(arena[d.a:d.b], arena[f[fEKDigest].a:f[fEKDigest].b]):
			h.warn(CodeEKMismatch, "record 11 (OfflineDeviceId) is not the SHA-256 of record 25 (TPM EK): the hash was assembled from different machines or edited")
		}
	}

	all := string(arena)
	get := func(s span) string {
		if s.empty() {
			return ""
		}
		return all[s.a:s.b]
	}
	in.Serial, in.Manufacturer, in.Model = get(f[fSerial]), get(f[fManufacturer]), get(f[fModel])
	in.SKU, in.Family, in.TPMVersion = get(f[fSKU]), get(f[fFamily]), get(f[fTPMVersion])
	in.ProductKeyID, in.OSBuild, in.SMBIOSUUID = get(f[fProductKeyID]), get(f[fOSBuild]), get(f[fUUID])
	in.OfflineID, in.TPMEKDigest = get(f[fOfflineID]), get(f[fEKDigest])
	if len(macs) > 0 {
		in.MACs = make([]string, len(macs))
		for i, s := range macs {
			in.MACs[i] = get(s)
		}
	}
	if len(disks) > 0 {
		in.DiskSerials = make([]string, len(disks))
		for i, s := range disks {
			in.DiskSerials[i] = get(s)
		}
	}
}

// appendField appends a decoded string record to dst and returns its trimmed span:
// NUL-terminated 8-bit text (UTF-8 when valid, else Latin-1), or UTF-16LE when the data
// looks like it. Spaces and NULs around the value are trimmed.
func appendField(dst, data []byte) ([]byte, span) {
	a := len(dst)
	if looksUTF16(data) {
		for i := 0; i+1 < len(data); i += 2 {
			c := rune(binary.LittleEndian.Uint16(data[i:]))
			if c == 0 {
				break
			}
			if utf16.IsSurrogate(c) && i+3 < len(data) {
				c = utf16.DecodeRune(c, rune(binary.LittleEndian.Uint16(data[i+2:])))
				i += 2
			}
			dst = utf8.AppendRune(dst, c) // unpaired surrogates become U+FFFD
		}
	} else {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			data = data[:i]
		}
		if utf8.Valid(data) {
			dst = append(dst, data...)
		} else {
			for _, b := range data {
				dst = utf8.AppendRune(dst, rune(b))
			}
		}
	}
	return dst, trimSpan(dst, span{a, len(dst)})
}

// trimSpan trims ASCII spaces, tabs, CR, LF and NULs from both ends of s.
func trimSpan(buf []byte, s span) span {
	for s.a < s.b && isSpaceNUL(buf[s.a]) {
		s.a++
	}
	for s.b > s.a && isSpaceNUL(buf[s.b-1]) {
		s.b--
	}
	return s
}

// looksUTF16 reports whether data starts with at least two UTF-16LE code units of
// printable ASCII. An 8-bit string cannot: its second byte would be its terminator.
func looksUTF16(data []byte) bool {
	return len(data) >= 4 && data[0] >= 0x20 && data[1] == 0 && data[2] >= 0x20 && data[3] == 0
}

func trim(s string) string {
	for len(s) > 0 && isSpaceNUL(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpaceNUL(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpaceNUL(c byte) bool { return c == ' ' || c == 0 || c == '\t' || c == '\r' || c == '\n' }

// appendVersion appends a Windows file version stored as u16 minor, major, revision, build.
func appendVersion(dst, b []byte) []byte {
	minor := binary.LittleEndian.Uint16(b[0:])
	major := binary.LittleEndian.Uint16(b[2:])
	rev := binary.LittleEndian.Uint16(b[4:])
	build := binary.LittleEndian.Uint16(b[6:])
	dst = strconv.AppendUint(dst, uint64(major), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(minor), 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(build), 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(rev), 10)
}

const hexDigits = "0123456789abcdef"

// appendMAC appends 6 bytes as "aa:bb:cc:dd:ee:ff".
func appendMAC(dst, b []byte) []byte {
	for i := 0; i < 6; i++ {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[b[i]>>4], hexDigits[b[i]&15])
	}
	return dst
}

// appendGUID appends 16 bytes in Microsoft bytes_le order (first three groups
// little-endian), the form Windows shows as the SMBIOS UUID.
func appendGUID(dst, b []byte) []byte {
	order := [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	for i, k := range order {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b[k]>>4], hexDigits[b[k]&15])
	}
	return dst
}

// guid formats 16 bytes in bytes_le order as a canonical lowercase GUID.
func guid(b []byte) string { return string(appendGUID(make([]byte, 0, 36), b)) }

// Valid reports whether the hash has no error-level problem.
func (h *Hash) Valid() bool {
	if h == nil || len(h.Raw) == 0 {
		return false
	}
	for _, p := range h.Problems {
		if !p.Warning {
			return false
		}
	}
	return true
}

// Errors returns the error-level problems (those that make the hash unusable).
func (h *Hash) Errors() []Problem {
	if h == nil {
		return nil
	}
	var out []Problem
	for _, p := range h.Problems {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Identity returns the machine identity inside the hash.
func (h *Hash) Identity() Identity {
	if h == nil {
		return Identity{}
	}
	return Identity{
		Serial:       trim(h.Info.Serial),
		Manufacturer: trim(h.Info.Manufacturer),
		Model:        trim(h.Info.Model),
		UUID:         h.Info.SMBIOSUUID,
		EKDigest:     h.Info.TPMEKDigest,
	}
}

// Base64 returns the canonical (padded, standard alphabet) base64 form of Raw: the
// value to write into the Intune import CSV or send to Graph.
func (h *Hash) Base64() string {
	if h == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(h.Raw)
}

// Fingerprint returns a short, non-reversible id of a hash, safe to print in logs and
// reports: the first 12 hex digits of the SHA-256 over the hash's used bytes [0, T),
// which the hash itself carries in its CS trailer. Reading it from the trailer saves a
// second SHA-256 per row; for a hash that verifies, it equals the digest computed over
// [0, T). A byte string without an OA/CS layout gets the SHA-256 of all its bytes.
func Fingerprint(raw []byte) string {
	if t, ok := trailerAt(raw); ok {
		return hex.EncodeToString(raw[t+4 : t+10])
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:6])
}

// trailerAt returns T when raw starts with "OA" and has a "CS$\x00" trailer and room for
// the digest at T.
func trailerAt(raw []byte) (int, bool) {
	if len(raw) < MinLength || raw[0] != 'O' || raw[1] != 'A' {
		return 0, false
	}
	t := int(raw[2]) | int(raw[3])<<8
	if t <= 4 || t+36 > len(raw) || raw[t] != 'C' || raw[t+1] != 'S' || raw[t+2] != 0x24 || raw[t+3] != 0 {
		return 0, false
	}
	return t, true
}
