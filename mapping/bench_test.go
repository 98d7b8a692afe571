package mapping

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// benchDevices is the size of the acceptance target: a 100,000-device export.
const benchDevices = 100_000

// bench holds the generated exports, made once per test process (generating 100,000
// hashes takes a few seconds) in a temporary directory that TestMain removes. With
// MAPPING_BENCH_DIR set, the files are kept there and reused by later runs, so that a
// run's peak RSS (e.g. /usr/bin/time -v) measures the check alone.
var bench struct {
	once       sync.Once
	dir        string
	utf8Path   string
	utf16Path  string
	osPIDPath  string // UTF-8, every row with an OS product ID as in a ConfigMgr report
	err        error
	generation time.Duration
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchFiles returns the UTF-8 and UTF-16LE (with BOM) exports of benchDevices distinct
// synthetic devices in the Get-WindowsAutopilotInfo layout plus a Group Tag column.
func benchFiles(b *testing.B) (utf8Path, utf16Path string) {
	b.Helper()
	bench.once.Do(func() {
		start := time.Now()
		dir := os.Getenv("MAPPING_BENCH_DIR")
		if dir == "" {
			bench.dir, bench.err = os.MkdirTemp("", "mapping-bench-")
			if bench.err != nil {
				return
			}
			dir = bench.dir
		}
		bench.utf8Path = filepath.Join(dir, "export-utf8.csv")
		bench.utf16Path = filepath.Join(dir, "export-utf16.csv")
		bench.osPIDPath = filepath.Join(dir, "export-ospid.csv")
		if bench.dir == "" {
			done := filepath.Join(dir, "complete-v2") // bump when the generator changes
			if _, err := os.Stat(done); err == nil {
				return
			}
			if bench.err = writeBenchFiles(bench.utf8Path, bench.utf16Path, bench.osPIDPath); bench.err == nil {
				bench.err = os.WriteFile(done, nil, 0o600)
			}
			return
		}
		bench.err = writeBenchFiles(bench.utf8Path, bench.utf16Path, bench.osPIDPath)
		bench.generation = time.Since(start)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.utf8Path, bench.utf16Path
}

func writeBenchFiles(p8, p16, pOS string) error {
	f8, err := os.Create(p8)
	if err != nil {
		return err
	}
	defer f8.Close()
	fOS, err := os.Create(pOS)
	if err != nil {
		return err
	}
	defer fOS.Close()
	wOS := bufio.NewWriterSize(fOS, 1<<20)
	wOS.WriteString("Device Serial Number,Windows Product ID,Hardware Hash\r\n")
	f16, err := os.Create(p16)
	if err != nil {
		return err
	}
	defer f16.Close()
	w8 := bufio.NewWriterSize(f8, 1<<20)
	w16 := bufio.NewWriterSize(f16, 1<<20)
	w16.Write([]byte{0xFF, 0xFE})
	var u16 []byte
	line := func(s string) {
		w8.WriteString(s)
		u16 = u16[:0]
		for _, c := range utf16.Encode([]rune(s)) {
			u16 = append(u16, byte(c), byte(c>>8))
		}
		w16.Write(u16)
	}
	line("Device Serial Number,Windows Product ID,Hardware Hash,Group Tag\r\n")
	for i := range benchDevices {
		d := machine(fmt.Sprintf("BENCH%07d", i), i)
		d.UUID[2], d.UUID[3] = byte(i>>16), byte(i>>24)
		d.Model = "Book " + strconv.Itoa(i%7)
		h := d.EncodeBase64()
		line(d.Serial + ",," + h + ",Fleet\r\n")
		wOS.WriteString(d.Serial + ",00330-80000-00000-AA" + strconv.Itoa(100+i%900) + "," + h + "\r\n")
	}
	if err := wOS.Flush(); err != nil {
		return err
	}
	if err := w8.Flush(); err != nil {
		return err
	}
	return w16.Flush()
}

// peakSampler records the largest live heap (bytes in heap objects) seen while it runs.
type peakSampler struct {
	stop chan struct{}
	done chan uint64
}

func startPeakSampler() *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-p.stop:
				p.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) Stop() uint64 { close(p.stop); return <-p.done }

// maxRSS returns the process's peak resident set size (VmHWM), or 0 where unknown.
func maxRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func benchCheckFiles(b *testing.B, path string) {
	benchRun(b, path, func() (Summary, error) {
		rep, err := CheckFiles(context.Background(), []string{path}, Options{}, 0)
		if err != nil {
			return Summary{}, err
		}
		if len(rep.FileErrors) != 0 || len(rep.Results) != benchDevices {
			return rep.Summary, fmt.Errorf("file errors %v, %d results", rep.FileErrors, len(rep.Results))
		}
		return rep.Summary, nil
	})
}

// benchRun runs check over path per iteration and reports throughput, CPU time and
// peak memory.
func benchRun(b *testing.B, path string, check func() (Summary, error)) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	runtime.GC()
	sampler := startPeakSampler()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		s, err := check()
		if err != nil {
			b.Fatal(err)
		}
		if s.Devices != benchDevices {
			b.Fatalf("summary %+v", s)
		}
	}
	b.StopTimer()
	reportCPU(b, cpu0)
	b.ReportMetric(float64(sampler.Stop())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(maxRSS())/(1<<20), "maxrss-MiB")
}

// BenchmarkCheckFiles100kUTF8 is the acceptance target: CheckFiles over a 100,000-device
// UTF-8 export (~400 MB) on GOMAXPROCS workers.
func BenchmarkCheckFiles100kUTF8(b *testing.B) {
	p, _ := benchFiles(b)
	benchCheckFiles(b, p)
}

// BenchmarkStream100kUTF8 is the streaming variant a CLI can use to keep memory lower:
// AddFiles, then All to walk the Results without building the slice.
func BenchmarkStream100kUTF8(b *testing.B) {
	p, _ := benchFiles(b)
	benchRun(b, p, func() (Summary, error) {
		c, err := New(Options{})
		if err != nil {
			return Summary{}, err
		}
		if _, err := c.AddFiles(context.Background(), []string{p}, 0); err != nil {
			return Summary{}, err
		}
		n := 0
		for r := range c.All() {
			if r.Device != nil && r.Device.Fingerprint != "" {
				n++
			}
		}
		s := c.Summary(1)
		if n != s.Devices {
			return s, fmt.Errorf("All yielded %d devices, summary says %d", n, s.Devices)
		}
		return s, nil
	})
}

// BenchmarkCheckFiles100kOSProductID is the UTF-8 export as a ConfigMgr report has it:
// every row carries an OS product ID, so every row gets a product_id_ignored warning.
func BenchmarkCheckFiles100kOSProductID(b *testing.B) {
	benchFiles(b)
	benchCheckFiles(b, bench.osPIDPath)
}

// BenchmarkCheckFiles100kUTF16 is the same export in UTF-16LE with a BOM (~800 MB), the
// encoding Get-WindowsAutopilotInfo writes.
func BenchmarkCheckFiles100kUTF16(b *testing.B) {
	_, p := benchFiles(b)
	benchCheckFiles(b, p)
}

// reportCPU reports the CPU time (user+system, all goroutines) per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(d.Seconds()/float64(b.N), "cpu-s/op")
	}
}

// BenchmarkBareMinimum is the floor the acceptance target is measured against: split the
// UTF-8 export with encoding/csv, base64-decode each hash and SHA-256 it, on one goroutine.
func BenchmarkBareMinimum(b *testing.B) {
	p, _ := benchFiles(b)
	bareMinimum(b, p, func(r io.Reader) io.Reader { return r })
}

// BenchmarkBareMinimumUTF16 is the same floor for the UTF-16 export, with the UTF-16 to
// UTF-8 decoding (golang.org/x/text) that any reader of that file must do.
func BenchmarkBareMinimumUTF16(b *testing.B) {
	_, p := benchFiles(b)
	bareMinimum(b, p, func(r io.Reader) io.Reader {
		return transform.NewReader(r, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	})
}

func bareMinimum(b *testing.B, path string, decode func(io.Reader) io.Reader) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	buf := make([]byte, 0, 3000)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := csv.NewReader(bufio.NewReaderSize(decode(f), 1<<20))
		r.ReuseRecord = true
		n := 0
		var sink byte
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if n++; n == 1 {
				continue // header
			}
			s := rec[2]
			buf, err = base64.StdEncoding.AppendDecode(buf[:0], unsafe.Slice(unsafe.StringData(s), len(s)))
			if err != nil {
				b.Fatal(err)
			}
			sum := sha256.Sum256(buf)
			sink ^= sum[0]
		}
		f.Close()
		if n != benchDevices+1 {
			b.Fatalf("%d records", n)
		}
		_ = sink
	}
	b.StopTimer()
	reportCPU(b, cpu0)
}

// TestBenchFilesShape checks the generator on a few rows, so the benchmark data is known
// to be what the benchmarks claim (distinct, valid devices) without generating 100,000.
func TestBenchFilesShape(t *testing.T) {
	seen := map[[16]byte]bool{}
	c, _ := New(Options{})
	for i := range 50 {
		d := machine(fmt.Sprintf("BENCH%07d", i), i)
		d.UUID[2], d.UUID[3] = byte(i>>16), byte(i>>24)
		c.Add(row("x.csv", i+2, d.Serial, d.EncodeBase64()))
		seen[d.UUID] = true
	}
	if s := c.Summary(1); s.Devices != 50 || len(seen) != 50 {
		t.Fatalf("summary %+v, %d distinct UUIDs", s, len(seen))
	}
}
