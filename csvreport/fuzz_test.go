package csvreport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader: whatever the bytes, the reader never panics, every row has a line ≥ 1 (and
// lines go up), every problem and note has a code, and every error is a *FileError with a
// code.
func FuzzReader(f *testing.F) {
	for _, td := range testdataFiles() {
		f.Add(td.bytes(f))
	}
	for _, dir := range []string{filepath.Join("..", "samples"), filepath.Join("..", "..", "shared", "samples-public")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("Serial,Hardware Hash\r\n\"a\"b,\"c\r\n"))
	f.Add([]byte("\xff\xfe\x00"))
	f.Add([]byte("\xfe\xff\x00D\x00e"))
	f.Add([]byte("Device Serial Number,Windows Product ID,Hardware Hash\rS,,H\rS2,,H2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.csv"
		rd, err := NewReader(bytes.NewReader(data), name)
		if err != nil {
			checkFuzzErr(t, err, name)
			return
		}
		defer rd.Close()
		last := 0
		for range 100000 {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkFuzzErr(t, err, name)
				break
			}
			if row.Line < 1 || row.Line <= last || row.File != name {
				t.Fatalf("row line %d after %d, file %q", row.Line, last, row.File)
			}
			last = row.Line
			if row.Problem != nil && (row.Problem.Code == "" || row.Problem.Message == "") {
				t.Fatalf("problem without code or message: %+v", row.Problem)
			}
		}
		for _, n := range rd.Notes() {
			if n.Code == "" || n.Message == "" || n.File != name || n.Line < 0 {
				t.Fatalf("bad note %+v", n)
			}
		}
		if rd.Format().Layout == "" || rd.Format().Encoding == "" {
			t.Fatalf("format %+v", rd.Format())
		}
	})
}

func checkFuzzErr(t *testing.T, err error, name string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FileError", err, err)
	}
	if fe.Code == "" || fe.Message == "" || fe.File != name || fe.Line < 0 {
		t.Fatalf("bad file error %+v", fe)
	}
}
