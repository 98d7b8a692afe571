package csvreport

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// sniffSize is how much of a file is inspected to choose its encoding.
const sniffSize = 64 << 10

// Encoding names used in Format.Encoding.
const (
	encUTF8     = "utf-8"
	encUTF8BOM  = "utf-8-bom"
	encUTF16LE  = "utf-16le"
	encUTF16BE  = "utf-16be"
	encWin1252  = "windows-1252"
	maxCtrlRate = 0.01 // share of control bytes above which a prefix is binary, not text
)

// sniffResult is the encoding decision for a file.
type sniffResult struct {
	encoding string
	noBOM16  bool // UTF-16 recognised from NUL bytes, without a BOM
	binary   bool // not text at all
	xlsx     bool // a zip container (Excel workbook)
	empty    bool // no bytes (or only a BOM)
}

// sniff chooses an encoding from the first bytes of a file (at most sniffSize; eof tells
// whether prefix is the whole file).
//
// Order: a BOM decides (FF FE, FE FF, EF BB BF). Without one, NUL bytes mean UTF-16 (the
// side the NULs are on gives the byte order; PowerShell "Out-File -Encoding Unicode" without
// BOM, or a file cut in two). Otherwise a prefix that is valid UTF-8 means UTF-8, and a
// prefix that is not means Windows-1252 ("ANSI") for the whole file.
//
// A file whose prefix is valid UTF-8 but which holds a stray non-UTF-8 byte further in
// (an "ANSI" group tag appended to a UTF-8 file, say) is still read as UTF-8: every byte that
// is not part of a valid UTF-8 sequence is then decoded as Windows-1252 on its own (see
// utf8Fallback) and a Note names the first line where that happened. This never fails and
// never needs to re-read the file, which keeps reading streaming.
func sniff(prefix []byte, eof bool) sniffResult {
	switch {
	case len(prefix) == 0:
		return sniffResult{encoding: encUTF8, empty: true}
	case bytes.HasPrefix(prefix, []byte{0xEF, 0xBB, 0xBF}):
		rest := prefix[3:]
		if textThenUTF16(rest) {
			rest = rest[:bytes.IndexByte(rest, 0)]
		}
		return sniffResult{encoding: encUTF8BOM, empty: len(prefix) == 3, binary: isBinary(rest)}
	case bytes.HasPrefix(prefix, []byte{0xFF, 0xFE}):
		return sniffResult{encoding: encUTF16LE, empty: len(prefix) == 2}
	case bytes.HasPrefix(prefix, []byte{0xFE, 0xFF}):
		return sniffResult{encoding: encUTF16BE, empty: len(prefix) == 2}
	case bytes.HasPrefix(prefix, []byte("PK\x03\x04")):
		return sniffResult{encoding: encUTF8, binary: true, xlsx: true}
	}
	if bytes.IndexByte(prefix, 0) >= 0 {
		var even, odd int
		for i, b := range prefix {
			if b == 0 {
				if i%2 == 0 {
					even++
				} else {
					odd++
				}
			}
		}
		half := len(prefix) / 2
		// UTF-16 must show from the very start (ASCII text in UTF-16LE has a NUL at every
		// odd offset), not only after some UTF-8 text.
		headEven, headOdd := 0, 0
		head := prefix[:min(len(prefix), 64)]
		for i, b := range head {
			if b == 0 {
				if i%2 == 0 {
					headEven++
				} else {
					headOdd++
				}
			}
		}
		switch {
		case odd > half/4 && even*20 < odd && headOdd*5 >= len(head):
			return sniffResult{encoding: encUTF16LE, noBOM16: true}
		case even > half/4 && odd*20 < even && headEven*5 >= len(head):
			return sniffResult{encoding: encUTF16BE, noBOM16: true}
		}
		// Not UTF-16 throughout. Text followed by NULs is a file that had UTF-16 text
		// appended (Out-File -Append onto an ANSI/UTF-8 file): read it as text with the
		// NUL bytes dropped (see nulDropper).
		if !textThenUTF16(prefix) {
			return sniffResult{encoding: encUTF8, binary: true}
		}
		prefix = prefix[:bytes.IndexByte(prefix, 0)]
		eof = false
	}
	if isBinary(prefix) {
		return sniffResult{encoding: encUTF8, binary: true}
	}
	p := prefix
	if !eof {
		p = trimIncompleteRune(p)
	}
	if utf8.Valid(p) {
		return sniffResult{encoding: encUTF8}
	}
	return sniffResult{encoding: encWin1252}
}

// textThenUTF16 reports whether p is text (at least one whole line) followed, from its
// first NUL byte on, by UTF-16 text: what Out-File -Append or >> leaves when it appends
// UTF-16 to an ANSI or UTF-8 file (PowerShell/PowerShell#9423). A header line written
// with Set-Content followed by rows appended with Out-File is enough.
func textThenUTF16(p []byte) bool {
	first := bytes.IndexByte(p, 0)
	if first < 0 || bytes.IndexByte(p[:first], '\n') < 0 || isBinary(p[:first]) {
		return false
	}
	rest := bytes.ReplaceAll(p[first:], []byte{0}, nil)
	return !isBinary(rest)
}

// isBinary reports whether b has more control bytes (other than tab, CR, LF, FF) than
// text ever has.
func isBinary(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	ctrl := 0
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7F {
			ctrl++
		}
	}
	return float64(ctrl) > maxCtrlRate*float64(len(b)) && ctrl > 1
}

// isBinaryText is isBinary for decoded text (used after UTF-16 decoding).
func isBinaryText(s []byte) bool {
	ctrl, n := 0, 0
	for _, r := range string(s) {
		n++
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7F || r == utf8.RuneError {
			ctrl++
		}
	}
	return n > 0 && float64(ctrl) > maxCtrlRate*float64(n) && ctrl > 1
}

// trimIncompleteRune drops a UTF-8 sequence cut off at the end of p.
func trimIncompleteRune(p []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(p); i++ {
		if utf8.RuneStart(p[len(p)-i]) {
			if !utf8.FullRune(p[len(p)-i:]) {
				return p[:len(p)-i]
			}
			return p
		}
	}
	return p
}

// decoder returns the x/text transformer that turns the file's bytes into UTF-8, with
// line ends normalised so that encoding/csv sees them (it ignores a lone CR).
func (s sniffResult) decoder(fb *utf8Fallback, nd *nulDropper, at *asciiTail) transform.Transformer {
	var t transform.Transformer
	switch s.encoding {
	case encUTF16LE:
		bom := unicode.ExpectBOM
		if s.noBOM16 {
			bom = unicode.IgnoreBOM
		}
		t = transform.Chain(at, unicode.UTF16(unicode.LittleEndian, bom).NewDecoder())
	case encUTF16BE:
		bom := unicode.ExpectBOM
		if s.noBOM16 {
			bom = unicode.IgnoreBOM
		}
		t = unicode.UTF16(unicode.BigEndian, bom).NewDecoder()
	case encWin1252:
		t = transform.Chain(nd, charmap.Windows1252.NewDecoder())
	default: // UTF-8 with or without BOM
		// fb drops a UTF-8 BOM at the start, decodes bytes that are not UTF-8 as
		// Windows-1252 (also after a BOM) and drops NUL bytes (UTF-16 text appended to
		// the file) like nulDropper.
		t = fb
	}
	return transform.Chain(t, &crNormalizer{})
}

// utf8Fallback passes valid UTF-8 through and decodes every byte that is not part of a
// valid UTF-8 sequence as Windows-1252 (with charmap.Windows1252), recording the line of
// the first such byte. Valid input is copied in bulk after one utf8.Valid check per chunk.
type utf8Fallback struct {
	lines     int  // line ends seen so far (LF, CRLF or lone CR)
	prevCR    bool // last byte seen was a CR
	firstLine int  // 1-based line of the first fallback byte, 0 if none
	count     int  // bytes decoded as Windows-1252
	started   bool // past the start of the file (where a BOM is dropped)
	nuls      int  // NUL bytes dropped (UTF-16 text appended to the file, see nulDropper)
	nulLine   int  // 1-based line of the first dropped NUL, 0 if none
}

// Reset implements transform.Transformer.
func (t *utf8Fallback) Reset() { *t = utf8Fallback{} }

// Transform implements transform.Transformer.
func (t *utf8Fallback) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	if !t.started { // a UTF-8 BOM at the start is dropped
		if len(src) < 3 && !atEOF && bytes.HasPrefix([]byte{0xEF, 0xBB, 0xBF}, src) {
			return 0, 0, transform.ErrShortSrc
		}
		t.started = true
		if bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}) {
			nSrc = 3
		}
	}
	for nSrc < len(src) {
		chunk := src[nSrc:]
		if len(chunk) > len(dst)-nDst {
			chunk = chunk[:len(dst)-nDst]
		}
		if len(chunk) == 0 {
			return nDst, nSrc, transform.ErrShortDst
		}
		complete := atEOF && nSrc+len(chunk) == len(src)
		if !complete {
			chunk = trimIncompleteRune(chunk)
		}
		if len(chunk) > 0 && utf8.Valid(chunk) {
			nul := bytes.IndexByte(chunk, 0)
			if nul >= 0 {
				chunk = chunk[:nul]
			}
			t.countLines(chunk)
			nDst += copy(dst[nDst:], chunk)
			nSrc += len(chunk)
			if nul >= 0 {
				t.dropNUL()
				nSrc++
			}
			continue
		}
		// Slow path: one rune at a time up to and including the first invalid byte, then
		// back to the bulk path.
		for nSrc < len(src) {
			c := src[nSrc]
			if c == 0 {
				t.dropNUL()
				nSrc++
				continue
			}
			if c == 0xFF { // a UTF-16LE BOM in front of appended UTF-16 text: FF FE, a byte, NUL
				if len(src)-nSrc < 4 && !atEOF {
					return nDst, nSrc, transform.ErrShortSrc
				}
				if len(src)-nSrc >= 4 && src[nSrc+1] == 0xFE && src[nSrc+2] != 0 && src[nSrc+3] == 0 {
					nSrc += 2
					continue
				}
			}
			if c < utf8.RuneSelf {
				if nDst >= len(dst) {
					return nDst, nSrc, transform.ErrShortDst
				}
				t.countLines(src[nSrc : nSrc+1])
				dst[nDst] = c
				nDst++
				nSrc++
				continue
			}
			r, size := utf8.DecodeRune(src[nSrc:])
			invalid := r == utf8.RuneError && size <= 1
			if invalid {
				if !atEOF && !utf8.FullRune(src[nSrc:]) {
					return nDst, nSrc, transform.ErrShortSrc
				}
				r = charmap.Windows1252.DecodeByte(c)
				size = 1
			}
			if utf8.RuneLen(r) > len(dst)-nDst {
				return nDst, nSrc, transform.ErrShortDst
			}
			if invalid {
				t.count++
				if t.firstLine == 0 {
					t.firstLine = t.lines + 1
				}
			}
			t.prevCR = false
			nDst += utf8.EncodeRune(dst[nDst:], r)
			nSrc += size
			if invalid {
				break
			}
		}
	}
	return nDst, nSrc, nil
}

// dropNUL records a NUL byte that is dropped (see nulDropper).
func (t *utf8Fallback) dropNUL() {
	t.nuls++
	if t.nulLine == 0 {
		t.nulLine = t.lines + 1
	}
}

func (t *utf8Fallback) countLines(b []byte) {
	if len(b) == 0 {
		return
	}
	t.lines += bytes.Count(b, []byte{'\n'})
	if t.prevCR && b[0] == '\n' {
		t.lines-- // the LF of a CRLF split across chunks: the CR already counted
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			break
		}
		i += j + 1
		if i == len(b) || b[i] != '\n' {
			t.lines++ // lone CR (or CR at the end of the chunk, corrected above if LF follows)
		}
	}
	t.prevCR = b[len(b)-1] == '\r'
}

// crNormalizer turns a lone CR (classic Mac line end) into LF; CRLF and LF pass through.
// encoding/csv treats a lone CR as data, so without this a CR-only file is one record.
// A run of CRs before an LF ("\r\r\n": CRLF written through a stream that turns every
// "\n" into "\r\n", e.g. Python's csv module on Windows without newline=”) is one line
// end, so that line numbers are not doubled.
type crNormalizer struct{}

// Reset implements transform.Transformer.
func (crNormalizer) Reset() {}

// Transform implements transform.Transformer.
func (crNormalizer) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		chunk := src[nSrc:]
		if len(chunk) > len(dst)-nDst {
			chunk = chunk[:len(dst)-nDst]
		}
		if len(chunk) == 0 {
			return nDst, nSrc, transform.ErrShortDst
		}
		i := bytes.IndexByte(chunk, '\r')
		if i < 0 {
			nDst += copy(dst[nDst:], chunk)
			nSrc += len(chunk)
			continue
		}
		nDst += copy(dst[nDst:], chunk[:i])
		nSrc += i
		// src[nSrc] is a CR; look at the bytes after the run of CRs it starts.
		j := nSrc
		for j < len(src) && src[j] == '\r' {
			j++
		}
		if j >= len(src) && !atEOF {
			if nSrc == 0 && len(src) >= 64 {
				// A run of CRs longer than the buffer: not a line end worth joining.
				dst[nDst] = '\n'
				return nDst + 1, 1, nil
			}
			return nDst, nSrc, transform.ErrShortSrc
		}
		if j < len(src) && src[j] == '\n' {
			// CR…CRLF: drop the extra CRs, keep the CRLF.
			nSrc = j - 1
			dst[nDst] = '\r'
		} else {
			dst[nDst] = '\n'
		}
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

// nulDropper removes NUL bytes from a file read as ANSI (utf8Fallback does the same for
// UTF-8). No CSV text holds NULs;
// they come from UTF-16 text appended to the file by Out-File -Append or >>
// (PowerShell/PowerShell#9423), whose ASCII characters are each followed by a NUL.
// Dropping the NULs restores that text, and its line ends. A UTF-16LE byte order mark in
// front of the appended text (files joined with copy /b or cmd's type) is dropped too.
// firstLine is the 1-based line of the first NUL, 0 if none.
type nulDropper struct {
	lines     int // LF bytes seen (lines ended)
	firstLine int
	count     int // NUL bytes dropped
}

// Reset implements transform.Transformer.
func (t *nulDropper) Reset() { *t = nulDropper{} }

// Transform implements transform.Transformer.
func (t *nulDropper) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		i := bytes.IndexByte(src[nSrc:], 0)
		j := bytes.IndexByte(src[nSrc:], 0xFF)
		if j >= 0 && (i < 0 || j < i) {
			i = j
		}
		chunk := src[nSrc:]
		if i >= 0 {
			chunk = chunk[:i]
		}
		if len(chunk) > len(dst)-nDst {
			chunk = chunk[:len(dst)-nDst]
			t.lines += bytes.Count(chunk, []byte{'\n'})
			nDst += copy(dst[nDst:], chunk)
			nSrc += len(chunk)
			return nDst, nSrc, transform.ErrShortDst
		}
		t.lines += bytes.Count(chunk, []byte{'\n'})
		nDst += copy(dst[nDst:], chunk)
		nSrc += len(chunk)
		if i < 0 {
			break
		}
		if src[nSrc] == 0 {
			if t.firstLine == 0 {
				t.firstLine = t.lines + 1
			}
			t.count++
			nSrc++
			continue
		}
		// 0xFF: a UTF-16LE BOM (FF FE) followed by UTF-16LE text (a byte, then NUL) is
		// dropped; any other 0xFF is passed on (Windows-1252 "ÿ").
		if len(src)-nSrc < 4 && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc
		}
		if len(src)-nSrc >= 4 && src[nSrc+1] == 0xFE && src[nSrc+2] != 0 && src[nSrc+3] == 0 {
			nSrc += 2
			continue
		}
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		dst[nDst] = src[nSrc]
		nDst++
		nSrc++
	}
	return nDst, nSrc, nil
}

// asciiProbe is how many bytes at the start of a line must be single-byte text for
// asciiTail to switch: UTF-16LE text has a NUL in every ASCII character and line end, and
// 32 CJK characters in a row whose both bytes are printable ASCII do not happen.
const asciiProbe = 64

// asciiTail passes UTF-16LE through until a line starts with single-byte text
// (asciiProbe bytes, or up to the end of the file, none of them NUL and all ASCII; or a
// UTF-8 BOM): text appended to a UTF-16 file in
// ASCII or UTF-8 (a PowerShell 7 >> or Out-File -Append onto a file written by Windows
// PowerShell 5.1, Add-Content -Encoding ASCII, cmd's echo >>; PowerShell/PowerShell#9423).
// From there on every byte is widened to UTF-16LE (Windows-1252 for bytes above 0x7F), so
// that the UTF-16 decoder after it reads the appended rows instead of turning byte pairs
// into CJK characters. switchLine is the 1-based line where that happened, 0 if never.
type asciiTail struct {
	switched   bool
	prevLF     bool // the last code unit passed was LF (a line starts next)
	lines      int
	switchLine int
}

// Reset implements transform.Transformer.
func (t *asciiTail) Reset() { *t = asciiTail{} }

// Transform implements transform.Transformer.
func (t *asciiTail) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for !t.switched {
		if len(src)-nSrc < 2 {
			if len(src) > nSrc {
				if !atEOF {
					return nDst, nSrc, transform.ErrShortSrc
				}
				// A file cut one byte short: an ASCII character (usually the final LF)
				// lost its NUL high byte; restore it. Anything else decodes as U+FFFD.
				if len(dst)-nDst < 2 {
					return nDst, nSrc, transform.ErrShortDst
				}
				dst[nDst] = src[nSrc]
				nDst++
				if src[nSrc] < 0x80 {
					dst[nDst] = 0
					nDst++
				}
				nSrc++
			}
			return nDst, nSrc, nil
		}
		if t.prevLF {
			rest := src[nSrc:]
			if len(rest) < asciiProbe && !atEOF {
				return nDst, nSrc, transform.ErrShortSrc
			}
			if bytes.HasPrefix(rest, []byte{0xEF, 0xBB, 0xBF}) {
				t.switched, t.switchLine = true, t.lines+1
				nSrc += 3
				break
			}
			if len(rest) >= 4 && singleByteText(rest[:min(len(rest), asciiProbe)]) {
				t.switched, t.switchLine = true, t.lines+1
				break
			}
		}
		// Copy whole code units in bulk, up to and including the next LF code unit.
		n := (len(src) - nSrc) &^ 1
		if room := (len(dst) - nDst) &^ 1; n > room {
			n = room
		}
		if n == 0 {
			return nDst, nSrc, transform.ErrShortDst
		}
		end := n
		t.prevLF = false
		for off := 0; off < n; {
			j := bytes.IndexByte(src[nSrc+off:nSrc+n], '\n')
			if j < 0 {
				break
			}
			off += j
			if off%2 == 0 && off+1 < n && src[nSrc+off+1] == 0 {
				end = off + 2
				t.prevLF = true
				t.lines++
				break
			}
			off++
		}
		nDst += copy(dst[nDst:], src[nSrc:nSrc+end])
		nSrc += end
	}
	for nSrc < len(src) {
		if len(dst)-nDst < 2 {
			return nDst, nSrc, transform.ErrShortDst
		}
		r := rune(src[nSrc])
		if r >= 0x80 {
			r = charmap.Windows1252.DecodeByte(src[nSrc])
		}
		dst[nDst], dst[nDst+1] = byte(r), byte(r>>8)
		nDst += 2
		nSrc++
	}
	return nDst, nSrc, nil
}

// singleByteText reports whether b is single-byte text: no NUL or other control byte (in
// UTF-16LE text every second byte of an ASCII character, CR and LF is NUL) and at most
// one byte in eight above 0x7F (an "ANSI" or UTF-8 letter).
func singleByteText(b []byte) bool {
	high := 0
	for _, c := range b {
		switch {
		case c < 0x20 && c != '\t' && c != '\r' && c != '\n', c == 0x7F:
			return false
		case c >= 0x80:
			high++
		}
	}
	return high*8 <= len(b)
}
