package csvreport

import (
	"encoding/csv"
	"io"
	"runtime"
	"strconv"
	"testing"
)

// genReader streams a synthetic export of n rows (header + rows with 4000-character
// hashes, CRLF) without ever holding more than one line: the 800 MB UTF-16 variant must
// not be in memory for the benchmark to say anything about the reader's memory.
type genReader struct {
	n, i      int
	utf16     bool
	encHashes [][]byte // fakeHash values in the output encoding
	line      []byte
	buf       []byte
	pos       int
	total     int64
}

func newGen(n int, utf16 bool) *genReader {
	g := &genReader{n: n, utf16: utf16}
	for i := range 16 {
		g.line = g.line[:0]
		g.appendLine([]byte(fakeHash(i)))
		g.encHashes = append(g.encHashes, append([]byte(nil), g.line...))
	}
	g.setLine([]byte("Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n"), true)
	return g
}

func (g *genReader) setLine(s []byte, first bool) {
	g.line = g.line[:0]
	g.pos = 0
	if first && g.utf16 {
		g.line = append(g.line, 0xFF, 0xFE)
	}
	g.appendLine(s)
}

func (g *genReader) appendLine(s []byte) {
	if !g.utf16 {
		g.line = append(g.line, s...)
		return
	}
	for i := 0; i < len(s); i++ { // the generated text is ASCII
		g.line = append(g.line, s[i], 0)
	}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.pos >= len(g.line) {
		if g.i >= g.n {
			return 0, io.EOF
		}
		// serial,,hash,Sales,userN@contoso.example CRLF; the hash is pre-encoded.
		g.buf = append(g.buf[:0], "SYN-"...)
		g.buf = strconv.AppendInt(g.buf, int64(1000000+g.i), 10)
		g.buf = append(g.buf, ",,"...)
		g.setLine(g.buf, false)
		g.line = append(g.line, g.encHashes[g.i%len(g.encHashes)]...)
		g.buf = append(g.buf[:0], ",Sales,user"...)
		g.buf = strconv.AppendInt(g.buf, int64(g.i%100), 10)
		g.buf = append(g.buf, "@contoso.example\r\n"...)
		g.appendLine(g.buf)
		g.i++
	}
	n := copy(p, g.line[g.pos:])
	g.pos += n
	g.total += int64(n)
	return n, nil
}

// size returns the byte size of the generated stream.
func genSize(n int, utf16 bool) int64 {
	g := newGen(n, utf16)
	buf := make([]byte, 64<<10)
	for {
		_, err := g.Read(buf)
		if err == io.EOF {
			return g.total
		}
	}
}

// heapPeak samples the live heap; call sample() now and then, report at the end.
type heapPeak struct{ peak uint64 }

func (h *heapPeak) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > h.peak {
		h.peak = ms.HeapInuse
	}
}

const benchRows = 100_000

func BenchmarkRead100k(b *testing.B) {
	for _, enc := range []struct {
		name  string
		utf16 bool
	}{{"utf-8", false}, {"utf-16le", true}} {
		b.Run(enc.name, func(b *testing.B) {
			b.SetBytes(genSize(benchRows, enc.utf16))
			var hp heapPeak
			b.ReportAllocs()
			for b.Loop() {
				rd, err := NewReader(newGen(benchRows, enc.utf16), "bench.csv")
				if err != nil {
					b.Fatal(err)
				}
				rows := 0
				for {
					row, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if row.Problem != nil || len(row.Hash) != 4000 {
						b.Fatalf("line %d: bad row", row.Line)
					}
					rows++
					if rows%10000 == 0 {
						hp.sample()
					}
				}
				if rows != benchRows {
					b.Fatalf("%d rows", rows)
				}
			}
			b.ReportMetric(float64(hp.peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// BenchmarkBareCSV is the floor: encoding/csv alone over the same UTF-8 stream.
func BenchmarkBareCSV(b *testing.B) {
	b.SetBytes(genSize(benchRows, false))
	var hp heapPeak
	b.ReportAllocs()
	for b.Loop() {
		cr := csv.NewReader(newGen(benchRows, false))
		cr.ReuseRecord = true
		cr.FieldsPerRecord = -1
		rows := 0
		for {
			_, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
			if rows%10000 == 0 {
				hp.sample()
			}
		}
		if rows != benchRows+1 {
			b.Fatalf("%d records", rows)
		}
	}
	b.ReportMetric(float64(hp.peak)/(1<<20), "peak-heap-MB")
}
