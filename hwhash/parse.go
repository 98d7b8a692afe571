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
	src, padded, prob := cleanBase64(s)
	if prob != nil {
		return &Hash{Problems: []Problem{*prob}}
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(raw, src)
	if err != nil {
		// cleanBase64 already rejected every character outside the alphabet, so this is
		// a padding/length problem such as "A===" or a lone trailing character.
		return &Hash{Problems: []Problem{{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not valid base64: %v; copy the whole Hardware Hash value again", err)}}}
	}
	h := ParseBytes(raw[:n:n])
	if padded > 0 {
		h.Problems = append(h.Problems, Problem{Code: CodePadding, Warning: true,
			Message: fmt.Sprintf("base64 padding was missing: added %d '=' (the value was probably truncated or copied without its end; the checksum decides)", padded)})
	}
	return h
}

// cleanBase64 strips ASCII whitespace and NULs, rejects characters outside the standard
// base64 alphabet with their position in s, and adds missing '=' padding.
func cleanBase64(s string) (src []byte, padded int, p *Problem) {
	src = make([]byte, 0, len(s)+2)
	pad := 0 // '=' seen so far; only whitespace and '=' may follow
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0:
			continue
		case c == '=':
			pad++
			if pad > 2 {
				return nil, 0, &Problem{Code: CodeNotBase64,
					Message: fmt.Sprintf("hash is not base64: too many '=' at offset %d", i)}
			}
		case pad > 0:
			return nil, 0, &Problem{Code: CodeNotBase64,
				Message: fmt.Sprintf("hash is not base64: %s at offset %d after '=' padding", describeChar(s, i), i)}
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
		default:
			hint := ""
			if c == '-' || c == '_' {
				hint = " (base64url is not accepted: the export must use standard base64)"
			} else if c == '"' || c == ',' || c == ';' {
				hint = " (the CSV column boundaries look wrong)"
			}
			return nil, 0, &Problem{Code: CodeNotBase64,
				Message: fmt.Sprintf("hash is not base64: %s at offset %d%s", describeChar(s, i), i, hint)}
		}
		src = append(src, c)
	}
	if len(src) == 0 {
		return nil, 0, &Problem{Code: CodeNotBase64, Message: "hash is empty"}
	}
	n := len(src) - pad // data characters
	switch {
	case n%4 == 1:
		return nil, 0, &Problem{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not base64: %d characters cannot be a base64 length (one character too many or three missing)", n)}
	case n%4 == 0 && pad > 0, n%4 == 3 && pad > 1:
		return nil, 0, &Problem{Code: CodeNotBase64,
			Message: fmt.Sprintf("hash is not base64: '=' padding where none belongs (after %d characters)", n)}
	case n%4 == 2 && pad < 2:
		padded = 2 - pad
	case n%4 == 3 && pad == 0:
		padded = 1
	}
	for i := 0; i < padded; i++ {
		src = append(src, '=')
	}
	return src, padded, nil
}

// describeChar quotes the character at byte offset i of s without revealing anything else.
func describeChar(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return fmt.Sprintf("character %q", r)
}

// ParseBytes verifies already-decoded hash bytes. It never panics and never returns nil.
func ParseBytes(raw []byte) *Hash {
	h := &Hash{Raw: raw}
	h.Info.Length = len(raw)
	ok := h.checkLayout()
	if len(raw) != StandardLength && len(raw) > 0 {
		h.warn(CodeLength, fmt.Sprintf("hash is %d bytes, every known export has %d (4000 base64 characters)", len(raw), StandardLength))
	}
	if !ok {
		return h
	}
	h.decodeRecords()
	for i := h.Info.Used + trailerLen; i < len(raw); i++ {
		if raw[i] != 0 {
			h.warn(CodeTrailingData, fmt.Sprintf("non-zero bytes after the checksum (first at offset %d); they are not covered by the checksum", i))
			break
		}
	}
	if h.Info.Serial == "" {
		h.fail(CodeMissingSerial, "hash has no SMBIOS serial number (record 14); Autopilot rejects it (802 InvalidZtdHardwareHash), capture the hash again after the OEM sets a serial")
	}
	if h.Info.Manufacturer == "" {
		h.fail(CodeMissingManufacturer, "hash has no SMBIOS manufacturer (record 16); Autopilot rejects it (802 InvalidZtdHardwareHash), capture the hash again after the OEM sets a manufacturer")
	}
	return h
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
		h.fail(CodeChecksum, "sha-256 checksum does not match the hash contents: the hash was altered or damaged after capture, capture it again")
	}
	return walked
}

// decodeRecords fills Info from a record area already checked by checkLayout.
func (h *Hash) decodeRecords() {
	raw, in := h.Raw, &h.Info
	var ekPub []byte
	for off := headerLen; off < in.Used; {
		typ := binary.LittleEndian.Uint16(raw[off:])
		l := int(binary.LittleEndian.Uint16(raw[off+2:]))
		data := raw[off+recHeadLen : off+l]
		off += l
		switch typ {
		case RecVersion:
			if in.OSBuild == "" && len(data) >= 16 {
				in.OSBuild = version(data[8:16])
			}
		case RecDiskSerial:
			s := field(data)
			if i := indexByteString(s, '|'); i >= 0 {
				s = trim(s[:i])
			}
			if s != "" {
				in.DiskSerials = append(in.DiskSerials, s)
			}
		case RecNetwork:
			if len(data) >= 10 {
				in.MACs = append(in.MACs, mac(data[4:10]))
			}
		case RecOfflineID:
			if len(data) >= 10+sha256.Size {
				in.OfflineIDType = int(data[4])
				in.OfflineID = hex.EncodeToString(data[10 : 10+sha256.Size])
				if bytes.Equal(data[:10], ekPrefix[:]) {
					in.TPMEKDigest = in.OfflineID
				}
			}
		case RecSMBIOSUUID:
			if in.SMBIOSUUID == "" && len(data) >= 16 {
				in.SMBIOSUUID = guid(data[:16])
			}
		case RecTPMVersion:
			setOnce(&in.TPMVersion, data)
		case RecSerial:
			setOnce(&in.Serial, data)
		case RecManufacturer:
			setOnce(&in.Manufacturer, data)
		case RecModel:
			setOnce(&in.Model, data)
		case RecSKU:
			setOnce(&in.SKU, data)
		case RecFamily:
			setOnce(&in.Family, data)
		case RecProductKeyID:
			setOnce(&in.ProductKeyID, data)
		case RecTPMEKPub:
			if ekPub == nil && len(data) > 0 {
				ekPub = data
			}
		default:
			if typ == 0 || typ > maxRecordID {
				in.UnknownRecords++
			}
		}
	}
	if ekPub != nil {
		sum := sha256.Sum256(ekPub)
		d := hex.EncodeToString(sum[:])
		switch {
		case in.TPMEKDigest == "":
			in.TPMEKDigest = d
		case in.TPMEKDigest != d:
			h.warn(CodeEKMismatch, "record 11 (OfflineDeviceId) is not the SHA-256 of record 25 (TPM EK): the hash was assembled from different machines or edited")
		}
	}
}

func setOnce(dst *string, data []byte) {
	if *dst == "" {
		*dst = field(data)
	}
}

// field decodes a string record: NUL-terminated 8-bit text (UTF-8 when valid, else
// Latin-1), or UTF-16LE when the data looks like it; then trims spaces and NULs.
func field(data []byte) string {
	if looksUTF16(data) {
		u := make([]uint16, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			c := binary.LittleEndian.Uint16(data[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return trim(string(utf16.Decode(u)))
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	data = bytes.Trim(data, " \t\r\n")
	if len(data) == 0 {
		return ""
	}
	if utf8.Valid(data) {
		return string(data)
	}
	r := make([]rune, len(data))
	for i, b := range data {
		r[i] = rune(b)
	}
	return string(r)
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

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// version decodes a Windows file version stored as u16 minor, major, revision, build.
func version(b []byte) string {
	minor := binary.LittleEndian.Uint16(b[0:])
	major := binary.LittleEndian.Uint16(b[2:])
	rev := binary.LittleEndian.Uint16(b[4:])
	build := binary.LittleEndian.Uint16(b[6:])
	buf := make([]byte, 0, 24)
	buf = strconv.AppendUint(buf, uint64(major), 10)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, uint64(minor), 10)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, uint64(build), 10)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, uint64(rev), 10)
	return string(buf)
}

const hexDigits = "0123456789abcdef"

func mac(b []byte) string {
	var buf [17]byte
	for i := 0; i < 6; i++ {
		buf[i*3] = hexDigits[b[i]>>4]
		buf[i*3+1] = hexDigits[b[i]&15]
		if i < 5 {
			buf[i*3+2] = ':'
		}
	}
	return string(buf[:])
}

// guid formats 16 bytes in Microsoft bytes_le order (first three groups little-endian),
// the form Windows shows as the SMBIOS UUID.
func guid(b []byte) string {
	var buf [36]byte
	order := [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	j := 0
	for i, k := range order {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j] = hexDigits[b[k]>>4]
		buf[j+1] = hexDigits[b[k]&15]
		j += 2
	}
	return string(buf[:])
}

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

// Fingerprint returns a short, non-reversible id of a hash (first 12 hex digits of the
// SHA-256 of the decoded bytes), safe to print in logs and reports.
func Fingerprint(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:6])
}
