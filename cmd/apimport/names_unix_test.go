//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apimport/apimport/hwhash"
)

// forgedName is a file name that, printed raw, would add a "file:line: serial: …" line
// of its own to the output (and a terminal escape sequence).
const forgedName = "x\nforged.csv:9: CZC9999999: hash_checksum: FORGED\x1b[2K.csv"

// assertNoForgedLine fails when any output line starts with what the file name tries
// to forge, or holds a raw escape character.
func assertNoForgedLine(t *testing.T, res result) {
	t.Helper()
	for _, out := range []string{res.stdout, res.stderr} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "forged.csv") || strings.Contains(line, "\x1b") {
				t.Errorf("forged output line %q in\n%s", line, out)
			}
		}
	}
}

// TestFileNamesEscapedInTextOutput: a file name with a line break and an escape
// sequence is printed as one quoted, escaped token by check, convert and decode.
func TestFileNamesEscapedInTextOutput(t *testing.T) {
	dir := t.TempDir()
	good := hwhash.Device{Serial: "CZC1000001", Manufacturer: "Contoso", Model: "Book"}.EncodeBase64()
	name := filepath.Join(dir, forgedName)
	data := "Device Serial Number,Windows Product ID,Hardware Hash\r\n" +
		"CZC1000001,," + good + "\r\n" +
		"CZC1000001,," + good + "\r\n" + // a duplicate: a finding line naming the file twice
		"CZC1000002,,notahash\r\n"
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty\nforged.csv: fine")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	quoted := `x\nforged.csv:9: CZC9999999: hash_checksum: FORGED\x1b[2K.csv`

	res := runCLI(t, "check", name, empty)
	assertNoForgedLine(t, res)
	if !strings.Contains(res.stdout, quoted+`":3: CZC1000001: duplicate: same device as /`) ||
		!strings.Contains(res.stdout, quoted+`:2 (same serial`) {
		t.Errorf("check: the file name is not shown escaped:\n%s", res.stdout)
	}
	if !strings.Contains(res.stderr, `apimport: error: "`+strings.ReplaceAll(empty, "\n", `\n`)+`": the file is empty`) {
		t.Errorf("check: the file error does not show the name escaped:\n%s", res.stderr)
	}
	if n := strings.Count(res.stdout, "\n"); n != 4 { // duplicate, hash_layout, hash_length, summary
		t.Errorf("check printed %d lines, want 4:\n%s", n, res.stdout)
	}

	res = runCLI(t, "decode", name)
	assertNoForgedLine(t, res)
	if !strings.Contains(res.stdout, quoted+`":2: CZC1000001: ok`) {
		t.Errorf("decode: the file name is not shown escaped:\n%s", res.stdout)
	}

	res = runCLI(t, "convert", "-o", filepath.Join(dir, "out\nforged.csv:1: X: ok.csv"), name)
	assertNoForgedLine(t, res)
	if !strings.Contains(res.stderr, `apimport: wrote 1 devices to "`) || !strings.Contains(res.stderr, quoted) {
		t.Errorf("convert: names not shown escaped:\n%s", res.stderr)
	}
}

// TestDecodeEscapesHashFields: the strings inside a hash are any bytes; decode prints
// them escaped, on the field's own line.
func TestDecodeEscapesHashFields(t *testing.T) {
	dir := t.TempDir()
	h := hwhash.Device{Serial: "CZC1000001", Manufacturer: "Contoso", Model: "Book\nforged.csv:1: X: ok\x1b[2K"}.EncodeBase64()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("Device Serial Number,Windows Product ID,Hardware Hash\r\nCZC1000001,,"+h+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, "decode", in)
	assertNoForgedLine(t, res)
	if !strings.Contains(res.stdout, `model:          Book\nforged.csv:1: X: ok\x1b[2K`) {
		t.Errorf("decode: the model is not escaped:\n%s", res.stdout)
	}
}
