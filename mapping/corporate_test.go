package mapping

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCorporateFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	long := strings.Repeat("X", MaxIdentifierValue+1)
	os.WriteFile(a, []byte("Microsoft,Surface Laptop 5,SN001\r\n"+ // 1 valid
		"LENOVO,T14,SN002\r\n"+ // 2 conflict (with b.csv:2)
		"Dell Inc.,Latitude,SN.003\r\n"+ // 3 valid, serial_period warning
		"microsoft,surface laptop 5,sn001\r\n"+ // 4 duplicate of 1
		",T14,SN004\r\n"+ // 5 missing_manufacturer
		"Dell, Inc.,Latitude,SN005\r\n"+ // 6 row_columns
		"\"Dell, Inc.\",Latitude,SN006\r\n"+ // 7 comma_in_value
		"Dell,"+long+",SN007\r\n"+ // 8 too_long
		"Dell,Latitude,To be filled by O.E.M.\r\n"), 0o600) // 9 placeholder_serial
	os.WriteFile(b, []byte("Manufacturer,Model,Serial Number\r\nHP,EliteBook,SN002\r\n"), 0o600)
	rep, err := CheckCorporateFiles(context.Background(), []string{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.FileErrors) > 0 {
		t.Fatalf("file errors %v", rep.FileErrors[0])
	}
	want := []struct {
		line   int
		status Status
		code   string
	}{
		{1, StatusValid, ""}, {2, StatusConflict, CodeConflict}, {3, StatusValid, ""}, {4, StatusDuplicate, CodeDuplicate},
		{5, StatusInvalid, CodeMissingManufacturer}, {6, StatusInvalid, "row_columns"}, {7, StatusInvalid, CodeCommaInValue},
		{8, StatusInvalid, CodeTooLong}, {9, StatusInvalid, CodePlaceholderSerial}, {2, StatusConflict, CodeConflict},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for i, w := range want {
		r := rep.Results[i]
		code := strings.Join(r.Codes, ",")
		if r.Line != w.line || r.Status != w.status || code != w.code {
			t.Errorf("result %d: line %d %s %q, want line %d %s %q (%+v)", i, r.Line, r.Status, code, w.line, w.status, w.code, r.Findings)
		}
		if r.Status == StatusValid && (r.Device == nil || r.Device.Identifier() != r.Manufacturer+","+r.Model+","+r.Serial) {
			t.Errorf("result %d: device %+v", i, r.Device)
		}
	}
	if rep.Results[3].DuplicateOf != a+":1" {
		t.Errorf("duplicate of %q", rep.Results[3].DuplicateOf)
	}
	if f := rep.Results[2].Findings; len(f) != 1 || f[0].Code != CodeSerialPeriod || !f[0].Warning {
		t.Errorf("findings of the period serial: %+v", f)
	}
	if !strings.Contains(rep.Results[1].Findings[0].Message, b+":2 (HP, EliteBook)") {
		t.Errorf("conflict message %q", rep.Results[1].Findings[0].Message)
	}
	s := rep.Summary
	if s.Rows != 10 || s.Valid != 2 || s.Devices != 2 || s.Invalid != 5 || s.Duplicates != 1 || s.Conflicts != 2 || s.Files != 2 {
		t.Errorf("summary %+v", s)
	}
}
