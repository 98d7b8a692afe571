package csvreport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// fakeHash returns a synthetic 4000-character base64 "hash" (3000 bytes starting "OA",
// like a real one, then a seed-dependent run, then zero padding). csvreport never
// decodes hashes, so the content only has to look right.
func fakeHash(seed int) string {
	b := make([]byte, 3000)
	b[0], b[1] = 'O', 'A'
	for i := 2; i < 700; i++ {
		b[i] = byte(seed*31 + i*7)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// encodeAs turns UTF-8 text into the bytes of the given encoding, with a BOM where the
// encoding name asks for one ("utf-16le-nobom" has none).
func encodeAs(tb testing.TB, text, enc string) []byte {
	tb.Helper()
	var out []byte
	var err error
	switch enc {
	case "utf-8":
		return []byte(text)
	case "utf-8-bom":
		return append([]byte{0xEF, 0xBB, 0xBF}, text...)
	case "utf-16le":
		out, err = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	case "utf-16be":
		out, err = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	case "utf-16le-nobom":
		out, err = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(text))
	case "utf-16be-nobom":
		out, err = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(text))
	case "windows-1252":
		out, err = charmap.Windows1252.NewEncoder().Bytes([]byte(text))
	default:
		tb.Fatalf("unknown encoding %q", enc)
	}
	if err != nil {
		tb.Fatalf("encoding %s: %v", enc, err)
	}
	return out
}

// result is everything a Reader produced for one input.
type result struct {
	format Format
	rows   []Row
	notes  []Note
	err    error // the error from NewReader or Next (never io.EOF)
}

func (r result) noteCodes() []string {
	var c []string
	for _, n := range r.notes {
		c = append(c, n.Code)
	}
	return c
}

func (r result) fileErr(tb testing.TB) *FileError {
	tb.Helper()
	var fe *FileError
	if !errors.As(r.err, &fe) {
		tb.Fatalf("error = %v (%T), want *FileError", r.err, r.err)
	}
	return fe
}

// readBytes reads data completely with NewReader.
func readBytes(tb testing.TB, data []byte, name string) result {
	tb.Helper()
	rd, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		return result{err: err}
	}
	return drain(tb, rd)
}

func drain(tb testing.TB, rd *Reader) result {
	tb.Helper()
	res := result{format: rd.Format()}
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		res.rows = append(res.rows, row)
	}
	res.notes = rd.Notes()
	if err := rd.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return res
}

// readFile reads a file completely with Open.
func readFile(tb testing.TB, path string) result {
	tb.Helper()
	rd, err := Open(path)
	if err != nil {
		return result{err: err}
	}
	return drain(tb, rd)
}

// samplesDir returns ../../shared/samples-public, skipping the test when it is missing
// (failing under CI=true).
func samplesDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "samples-public")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("samples directory missing: %v", err)
		}
		tb.Skipf("samples directory missing: %v", err)
	}
	return dir
}

// short shortens a hash for messages (never print a full hash).
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// crlf joins lines with CRLF and ends with one.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

func problems(rows []Row) []*RowProblem {
	var p []*RowProblem
	for _, r := range rows {
		p = append(p, r.Problem)
	}
	return p
}
