package csvreport

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"golang.org/x/text/transform"
)

func TestCountLines(t *testing.T) {
	tests := []struct {
		chunks []string
		want   int
	}{
		{[]string{"a\r\nb\r\nc"}, 2},
		{[]string{"a\r", "\nb\r\n"}, 2},
		{[]string{"a\rb\rc\n"}, 3},
		{[]string{"a\r", "b\r", "\r\n"}, 3},
		{[]string{"\n\n", "\r"}, 3},
		{[]string{"no line end"}, 0},
	}
	for _, tt := range tests {
		var f utf8Fallback
		for _, c := range tt.chunks {
			f.countLines([]byte(c))
		}
		if f.lines != tt.want {
			t.Errorf("%q: %d lines, want %d", tt.chunks, f.lines, tt.want)
		}
	}
}

// TestTransformersOneByte feeds the decoders one byte at a time, so that every CRLF, UTF-8
// sequence and UTF-16 code unit is split across calls.
func TestTransformersOneByte(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		enc  sniffResult
		want string
	}{
		{"utf-8 with lone CRs", []byte("a\rb\r\nc\nd\r"), sniffResult{encoding: encUTF8}, "a\nb\r\nc\nd\n"},
		{"utf-8 BOM stripped", []byte("\xef\xbb\xbfé\r"), sniffResult{encoding: encUTF8BOM}, "é\n"},
		{"invalid bytes as windows-1252", []byte("S\xfcd \x80 \xe2\x82\xac \xe2\x82"), sniffResult{encoding: encUTF8}, "Süd € € â‚"},
		{"utf-16le", encodeAs(t, "Süd\r\nx\ry", "utf-16le"), sniffResult{encoding: encUTF16LE}, "Süd\r\nx\ny"},
		{"utf-16be no BOM", encodeAs(t, "ab\rc", "utf-16be-nobom"), sniffResult{encoding: encUTF16BE, noBOM16: true}, "ab\nc"},
		{"windows-1252", []byte("M\xfcller\r"), sniffResult{encoding: encWin1252}, "Müller\n"},
		{"utf-8 then utf-16 appended", append([]byte("a,b\r\n"), encodeAs(t, "cü,d\r\n", "utf-16le-nobom")...),
			sniffResult{encoding: encUTF8}, "a,b\r\ncü,d\r\n"},
		{"utf-8 then utf-16 with BOM appended", append([]byte("a,b\r\n"), encodeAs(t, "c,d\r\n", "utf-16le")...),
			sniffResult{encoding: encUTF8}, "a,b\r\nc,d\r\n"},
		{"windows-1252 then utf-16 appended", append([]byte("M\xfcller\r\n"), encodeAs(t, "Süd\r\n", "utf-16le")...),
			sniffResult{encoding: encWin1252}, "Müller\r\nSüd\r\n"},
		{"utf-8 BOM then a windows-1252 byte", []byte("\xef\xbb\xbfa\r\nS\xfcd\r\n"), sniffResult{encoding: encUTF8BOM}, "a\r\nSüd\r\n"},
		{"utf-8 BOM then utf-16 appended", append([]byte("\xef\xbb\xbfa\r\n"), encodeAs(t, "b\r\n", "utf-16le")...),
			sniffResult{encoding: encUTF8BOM}, "a\r\nb\r\n"},
		{"utf-16le cut one byte short", encodeAs(t, "a\r\n", "utf-16le")[:7], sniffResult{encoding: encUTF16LE}, "a\r\n"},
		{"lone 0xFF kept as windows-1252", []byte("a\xff\xfeb"), sniffResult{encoding: encUTF8}, "aÿþb"},
		{"utf-16le then ascii appended", append(encodeAs(t, "a,b\r\n", "utf-16le"), "SER1,,AAAA\r\nS\xfcd,,x\r\n"...),
			sniffResult{encoding: encUTF16LE}, "a,b\r\nSER1,,AAAA\r\nSüd,,x\r\n"},
		{"utf-16le then utf-8 BOM appended", append(encodeAs(t, "a\r\n", "utf-16le"), "\xef\xbb\xbfb,c\r\n"...),
			sniffResult{encoding: encUTF16LE}, "a\r\nb,c\r\n"},
		// CJK whose UTF-16 bytes are all printable ASCII (U+4E2D 中 = 2D 4E) must not look like
		// appended ASCII: the line ends in CR LF code units, which hold NULs.
		{"utf-16le cjk stays utf-16", encodeAs(t, "a\r\n中中中中\r\n中", "utf-16le"), sniffResult{encoding: encUTF16LE}, "a\r\n中中中中\r\n中"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, _, err := transform.Bytes(tt.enc.decoder(&utf8Fallback{}, &nulDropper{}, &asciiTail{}), tt.in)
			if err != nil || string(whole) != tt.want {
				t.Fatalf("whole: %q, %v; want %q", whole, err, tt.want)
			}
			got, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(bytes.NewReader(tt.in)), tt.enc.decoder(&utf8Fallback{}, &nulDropper{}, &asciiTail{})))
			if err != nil || string(got) != tt.want {
				t.Fatalf("one byte at a time: %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFallbackNoteLine(t *testing.T) {
	fb := &utf8Fallback{}
	in := []byte("h1\r\nok\r\r\nbad \xfc\r\nbad again \xfc\n")
	if _, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(bytes.NewReader(in)), sniffResult{encoding: encUTF8}.decoder(fb, &nulDropper{}, &asciiTail{}))); err != nil {
		t.Fatal(err)
	}
	if fb.firstLine != 4 || fb.count != 2 {
		t.Errorf("first fallback on line %d (want 4), %d bytes (want 2)", fb.firstLine, fb.count)
	}
}

func TestSniff(t *testing.T) {
	text := []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\n")
	le := encodeAs(t, string(text), "utf-16le-nobom")
	tests := []struct {
		name   string
		prefix []byte
		eof    bool
		want   sniffResult
	}{
		{"empty", nil, true, sniffResult{encoding: encUTF8, empty: true}},
		{"utf-8", text, true, sniffResult{encoding: encUTF8}},
		{"utf-8 cut inside a rune is still utf-8", append(slices.Clone(text), 0xC3), false, sniffResult{encoding: encUTF8}},
		{"bom only", []byte{0xEF, 0xBB, 0xBF}, true, sniffResult{encoding: encUTF8BOM, empty: true}},
		{"utf-16le bom", []byte{0xFF, 0xFE, 'a', 0}, true, sniffResult{encoding: encUTF16LE}},
		{"utf-16be bom", []byte{0xFE, 0xFF, 0, 'a'}, true, sniffResult{encoding: encUTF16BE}},
		{"utf-16le no bom", le, true, sniffResult{encoding: encUTF16LE, noBOM16: true}},
		{"utf-16be no bom", encodeAs(t, string(text), "utf-16be-nobom"), true, sniffResult{encoding: encUTF16BE, noBOM16: true}},
		{"ansi", []byte("S\xfcd,x\r\n"), true, sniffResult{encoding: encWin1252}},
		{"xlsx", []byte("PK\x03\x04rest"), true, sniffResult{encoding: encUTF8, binary: true, xlsx: true}},
		{"control bytes", []byte("a\x01\x02\x03\x04b"), true, sniffResult{encoding: encUTF8, binary: true}},
		{"NUL at start", []byte("\x00\x00\x01\x02abc"), true, sniffResult{encoding: encUTF8, binary: true}},
		{"utf-16 appended to text", append(slices.Repeat(text, 2), le...), true, sniffResult{encoding: encUTF8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sniff(tt.prefix, tt.eof); got != tt.want {
				t.Errorf("sniff = %+v, want %+v", got, tt.want)
			}
		})
	}
}
