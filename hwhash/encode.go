package hwhash

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"
)

// Device describes a machine for the encoder.
type Device struct {
	Serial, Manufacturer, Model, SKU, Family string
	UUID                                     [16]byte // bytes_le order, as stored in record 12
	MACs                                     [][6]byte
	DiskSerials                              []string
	TPMVersion                               string
	EKPub                                    []byte // RSA modulus; only its SHA-256 lands in record 11
	ProductKeyID                             string
	CaptureTime                              uint64 // varies between captures of the same machine
	OmitSerial, OmitManufacturer             bool   // build broken hashes for tests
}

// Encoder limits. Encode truncates longer strings and drops records beyond these.
const (
	MaxEncodedString  = 255 // bytes per string record (SMBIOS strings are far shorter)
	MaxEncodedRepeats = 16  // MACs and disk serials each
)

// Encode builds a valid 3000-byte hash (correct layout and SHA-256 trailer).
//
// Records, in this order: 1 (versions; CaptureTime folded into the bytes that differ
// between real captures), 2 (processor), 16, 17, 14, 18, 19 (when set), 12 (when UUID is
// not all zero), 13 (when set), one 8 per MAC (Ethernet, bus "PCI"), one 7 per disk serial
// ("serial||"), 11 (TPM_EK prefix + SHA-256 of EKPub, when set) and 24 (when set).
// Strings are written as NUL-terminated UTF-8, truncated to MaxEncodedString bytes on a
// character boundary;
// at most MaxEncodedRepeats MACs and disk serials are written. Empty strings are
// written too for 14 and 16 (an empty record still counts as missing).
func (d Device) Encode() []byte {
	buf := make([]byte, headerLen, StandardLength)
	buf[0], buf[1] = magic[0], magic[1]

	// Record 1: ToolBuild and OSBuild (minor, major, revision, build), 4+1 bytes that differ
	// between captures, OSType 2 (FullOS), architecture 9 (x64), ToolVersion 9.
	var v [24]byte
	putVersion(v[0:8], 10, 0, 26100, 1)
	putVersion(v[8:16], 10, 0, 26100, 2894)
	t := d.CaptureTime
	binary.LittleEndian.PutUint32(v[16:20], uint32(t))
	hi := uint32(t >> 32)
	v[20] = byte(hi ^ hi>>8 ^ hi>>16 ^ hi>>24)
	v[21], v[22], v[23] = 2, 9, 9
	buf = appendRecord(buf, RecVersion, v[:])

	// Record 2: architecture 9 (x64), 1 package, 4 cores, 8 threads, hyperthreading.
	var p [12]byte
	for i, x := range []uint16{9, 1, 4, 8, 1} {
		binary.LittleEndian.PutUint16(p[2*i:], x)
	}
	buf = appendRecord(buf, RecProcessor, p[:])

	if !d.OmitManufacturer {
		buf = appendString(buf, RecManufacturer, d.Manufacturer)
	}
	if d.Model != "" {
		buf = appendString(buf, RecModel, d.Model)
	}
	if !d.OmitSerial {
		buf = appendString(buf, RecSerial, d.Serial)
	}
	if d.SKU != "" {
		buf = appendString(buf, RecSKU, d.SKU)
	}
	if d.Family != "" {
		buf = appendString(buf, RecFamily, d.Family)
	}
	if d.UUID != [16]byte{} {
		buf = appendRecord(buf, RecSMBIOSUUID, d.UUID[:])
	}
	if d.TPMVersion != "" {
		buf = appendString(buf, RecTPMVersion, d.TPMVersion)
	}
	for i, m := range d.MACs {
		if i == MaxEncodedRepeats {
			break
		}
		// u32 PhysicalMedium (14 = Ethernet), MAC, u32 byte length of the UTF-16 bus name, "PCI\0".
		var n [22]byte
		n[0] = 14
		copy(n[4:10], m[:])
		n[10] = 8
		copy(n[14:], []byte{'P', 0, 'C', 0, 'I', 0, 0, 0})
		buf = appendRecord(buf, RecNetwork, n[:])
	}
	for i, s := range d.DiskSerials {
		if i == MaxEncodedRepeats {
			break
		}
		s = truncate(s, MaxEncodedString-2)
		buf = appendRecord(buf, RecDiskSerial, []byte(s+"||"))
	}
	if len(d.EKPub) > 0 {
		sum := sha256.Sum256(d.EKPub)
		var o [10 + sha256.Size]byte
		copy(o[:], ekPrefix[:])
		copy(o[10:], sum[:])
		buf = appendRecord(buf, RecOfflineID, o[:])
	}
	if d.ProductKeyID != "" {
		buf = appendString(buf, RecProductKeyID, d.ProductKeyID)
	}

	used := len(buf)
	binary.LittleEndian.PutUint16(buf[2:4], uint16(used))
	sum := sha256.Sum256(buf[:used])
	buf = append(buf, trailer[:]...)
	buf = append(buf, sum[:]...)
	if len(buf) < StandardLength {
		buf = buf[:StandardLength] // zero padding: make() zeroed the capacity
	}
	return buf
}

// EncodeBase64 is base64.StdEncoding of Encode: the CSV form.
func (d Device) EncodeBase64() string { return base64.StdEncoding.EncodeToString(d.Encode()) }

func putVersion(b []byte, major, minor, build, rev uint16) {
	binary.LittleEndian.PutUint16(b[0:], minor)
	binary.LittleEndian.PutUint16(b[2:], major)
	binary.LittleEndian.PutUint16(b[4:], rev)
	binary.LittleEndian.PutUint16(b[6:], build)
}

func appendRecord(buf []byte, typ uint16, data []byte) []byte {
	buf = binary.LittleEndian.AppendUint16(buf, typ)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(recHeadLen+len(data)))
	return append(buf, data...)
}

func appendString(buf []byte, typ uint16, s string) []byte {
	s = truncate(s, MaxEncodedString-1)
	buf = binary.LittleEndian.AppendUint16(buf, typ)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(recHeadLen+len(s)+1))
	buf = append(buf, s...)
	return append(buf, 0)
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
