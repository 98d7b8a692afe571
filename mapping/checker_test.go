package mapping

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
)

func TestSingleRow(t *testing.T) {
	good := machine("CZC1234567", 1)
	noSerial := machine("", 2)
	noSerial.OmitSerial = true
	noMaker := machine("CZC7654321", 3)
	noMaker.OmitManufacturer = true
	tbf := machine("To be filled by O.E.M.", 4)
	zeros := machine("0000000000", 5)
	vm := machine("VMware-56 4d 2b 1a 9c 7e 33 0f-8a 11 22 33 44 55 66 77", 6)
	hashFromPlain := b64(good)
	unpadded := strings.TrimRight(base64.StdEncoding.EncodeToString(good.Encode()[:2998]), "=")

	tests := []struct {
		name       string
		opts       Options
		row        csvreport.Row
		wantStatus Status
		wantCodes  []string // error codes
		wantWarns  []string // warning codes
		wantSerial string
		check      func(t *testing.T, r Result)
	}{
		{name: "valid", row: row("a.csv", 2, "CZC1234567", b64(good)), wantStatus: StatusValid, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				d := r.Device
				if d == nil {
					t.Fatal("no device")
				}
				if d.Serial != "CZC1234567" || d.File != "a.csv" || d.Line != 2 || d.Manufacturer != "Contoso" || d.Model != "Book 13" {
					t.Errorf("device = %+v", *d)
				}
				if d.Fingerprint != hwhash.Fingerprint(good.Encode()) || len(d.Fingerprint) != 12 {
					t.Errorf("fingerprint = %q", d.Fingerprint)
				}
				if d.Hardware != nil || d.HashBase64() != "" {
					t.Error("hardware kept without KeepHardware")
				}
				if r.Manufacturer != "Contoso" || r.Model != "Book 13" {
					t.Errorf("result manufacturer/model = %q/%q", r.Manufacturer, r.Model)
				}
			}},
		{name: "unpadded shorter hash", row: row("a.csv", 2, "CZC1234567", unpadded),
			wantStatus: StatusValid, wantWarns: []string{hwhash.CodePadding, hwhash.CodeLength}, wantSerial: "CZC1234567"},
		{name: "keep hardware", opts: Options{KeepHardware: true}, row: row("a.csv", 2, "CZC1234567", b64(good)),
			wantStatus: StatusValid, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if string(r.Device.Hardware) != string(good.Encode()) {
					t.Error("Hardware is not the decoded hash")
				}
				if r.Device.HashBase64() != hashFromPlain {
					t.Error("HashB64 is not the canonical padded base64")
				}
			}},
		{name: "keep hardware of a hash cut short in its zero padding", opts: Options{KeepHardware: true}, row: row("a.csv", 2, "CZC1234567", b64(good)[:2048]),
			wantStatus: StatusValid, wantWarns: []string{hwhash.CodeLength}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if string(r.Device.Hardware) != string(good.Encode()) || r.Device.HashBase64() != hashFromPlain {
					t.Errorf("hardware is %d bytes, not the full hash restored", len(r.Device.Hardware))
				}
			}},
		{name: "serial padded with spaces and NULs", row: row("a.csv", 2, " CZC1234567\x00 ", b64(good)), wantStatus: StatusValid, wantSerial: "CZC1234567"},
		{name: "hash with line breaks", row: row("a.csv", 2, "CZC1234567", b64(good)[:2000]+"\r\n"+b64(good)[2000:]), wantStatus: StatusValid, wantSerial: "CZC1234567"},
		{name: "vm serial with inner spaces", row: row("a.csv", 2, vm.Serial, b64(vm)), wantStatus: StatusValid, wantSerial: vm.Serial},
		{name: "missing serial and hash", row: row("a.csv", 2, "", "  "), wantStatus: StatusInvalid,
			wantCodes: []string{CodeMissingHash, CodeMissingSerial}},
		{name: "missing hash", row: row("a.csv", 2, "CZC1234567", ""), wantStatus: StatusInvalid,
			wantCodes: []string{CodeMissingHash}, wantSerial: "CZC1234567"},
		{name: "partner tuple without hash", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Manufacturer: "LENOVO", Model: "20XW0026GE"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeMissingHash}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if msg := r.Findings[0].Message; !strings.Contains(msg, "only be uploaded through Partner Center") || strings.Contains(msg, "WinPE") {
					t.Errorf("message = %q", msg)
				}
				if r.Manufacturer != "LENOVO" || r.Model != "20XW0026GE" {
					t.Errorf("manufacturer/model = %q/%q", r.Manufacturer, r.Model)
				}
			}},
		{name: "empty hash says recapture", row: row("a.csv", 2, "CZC1234567", ""), wantStatus: StatusInvalid,
			wantCodes: []string{CodeMissingHash}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if msg := r.Findings[0].Message; !strings.Contains(msg, "Get-WindowsAutopilotInfo") || strings.Contains(msg, "Partner Center") {
					t.Errorf("message = %q", msg)
				}
			}},
		{name: "rows joined by an unclosed quote: no missing_hash", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567\nCZC2,,",
			Problem: &csvreport.RowProblem{Code: "row_multiline", Message: "Device Serial Number holds a line break"}},
			wantStatus: StatusInvalid, wantCodes: []string{"row_multiline"}},
		{name: "record cut short still says the hash is missing", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567",
			Problem: &csvreport.RowProblem{Code: "row_columns", Message: "expected 3 fields, got 1: no Hardware Hash"}},
			wantStatus: StatusInvalid, wantCodes: []string{CodeMissingHash, "row_columns"}, wantSerial: "CZC1234567"},
		{name: "hash not base64", row: row("a.csv", 2, "CZC1234567", "T0E0!!not-base64"), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeNotBase64}, wantSerial: "CZC1234567"},
		{name: "hash checksum", row: row("a.csv", 2, "CZC1234567", corrupt(good, 40)), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeChecksum}, wantSerial: "CZC1234567"},
		{name: "hash layout", row: row("a.csv", 2, "CZC1234567", corrupt(good, 0)), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeLayout}, wantSerial: "CZC1234567"},
		{name: "hash without serial record", row: row("a.csv", 2, "CZC1234567", b64(noSerial)), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeMissingSerial}, wantSerial: "CZC1234567"},
		{name: "hash without serial record and empty csv serial", row: row("a.csv", 2, "", b64(noSerial)), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeMissingSerial, CodeMissingSerial}},
		{name: "hash without manufacturer", row: row("a.csv", 2, "CZC7654321", b64(noMaker)), wantStatus: StatusInvalid,
			wantCodes: []string{hwhash.CodeMissingManufacturer}, wantSerial: "CZC7654321"},
		{name: "serial mismatch", row: row("a.csv", 2, "CZC0000001", b64(good)), wantStatus: StatusInvalid,
			wantCodes: []string{CodeSerialMismatch}, wantSerial: "CZC0000001"},
		{name: "serial lost its leading zeros (Excel)", row: row("a.csv", 2, "1234567", b64(machine("0001234567", 9))), wantStatus: StatusInvalid,
			wantCodes: []string{CodeSerialMismatch}, wantSerial: "1234567",
			check: func(t *testing.T, r Result) {
				if msg := r.Findings[0].Message; !strings.Contains(msg, `"1234567" is "0001234567" inside the hash without its leading zeros`) || !strings.Contains(msg, "Excel") {
					t.Errorf("message = %q", msg)
				}
			}},
		{name: "serial mismatch that is not zeros", row: row("a.csv", 2, "234567", b64(machine("0001234567", 9))), wantStatus: StatusInvalid,
			wantCodes: []string{CodeSerialMismatch}, wantSerial: "234567",
			check: func(t *testing.T, r Result) {
				if msg := r.Findings[0].Message; strings.Contains(msg, "Excel") || !strings.Contains(msg, "capture the hash again") {
					t.Errorf("message = %q", msg)
				}
			}},
		{name: "serial differs in case only", row: row("a.csv", 2, "czc1234567", b64(good)), wantStatus: StatusValid,
			wantWarns: []string{CodeSerialCase}, wantSerial: "CZC1234567"},
		{name: "empty serial filled from hash", row: row("a.csv", 2, "", b64(good)), wantStatus: StatusValid,
			wantWarns: []string{CodeSerialFromHash}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if r.Device.Serial != "CZC1234567" {
					t.Errorf("device serial = %q", r.Device.Serial)
				}
			}},
		{name: "empty serial and placeholder in hash", row: row("a.csv", 2, "", b64(tbf)), wantStatus: StatusInvalid,
			wantCodes: []string{CodeMissingSerial, CodePlaceholderSerial}},
		{name: "placeholder serial", row: row("a.csv", 2, "To be filled by O.E.M.", b64(tbf)), wantStatus: StatusInvalid,
			wantCodes: []string{CodePlaceholderSerial}, wantSerial: "To be filled by O.E.M."},
		{name: "placeholder other case", row: row("a.csv", 2, "to be filled by o.e.m.", b64(tbf)), wantStatus: StatusInvalid,
			wantCodes: []string{CodePlaceholderSerial}, wantWarns: []string{CodeSerialCase}},
		{name: "all zeros serial", row: row("a.csv", 2, "0000000000", b64(zeros)), wantStatus: StatusInvalid,
			wantCodes: []string{CodePlaceholderSerial}},
		{name: "placeholder only in hash", row: row("a.csv", 2, "CZC1234567", b64(tbf)), wantStatus: StatusInvalid,
			wantCodes: []string{CodePlaceholderSerial, CodeSerialMismatch}},
		{name: "pkid kept", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", ProductID: " 3300000012345 ", Hash: b64(good)},
			wantStatus: StatusValid, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if r.Device.ProductKey != "3300000012345" {
					t.Errorf("product key = %q", r.Device.ProductKey)
				}
			}},
		{name: "os product id ignored", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", ProductID: "00330-80000-00000-AA123", Hash: b64(good)},
			wantStatus: StatusValid, wantWarns: []string{CodeProductIDIgnored}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if r.Device.ProductKey != "" {
					t.Errorf("product key = %q", r.Device.ProductKey)
				}
			}},
		{name: "20 digit product id ignored", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", ProductID: "12345678901234567890", Hash: b64(good)},
			wantStatus: StatusValid, wantWarns: []string{CodeProductIDIgnored}, wantSerial: "CZC1234567"},
		{name: "group tag and user kept", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: " Sales ", AssignedUser: "ann@contoso.com"},
			wantStatus: StatusValid, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if r.Device.GroupTag != "Sales" || r.Device.AssignedUser != "ann@contoso.com" {
					t.Errorf("tag/user = %q/%q", r.Device.GroupTag, r.Device.AssignedUser)
				}
			}},
		{name: "group tag with comma", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: "Sales,EU"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadGroupTag}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if msg := r.Findings[0].Message; !strings.Contains(msg, `"Sales,EU" contains ','`) || !strings.Contains(msg, "--group-tag") {
					t.Errorf("message = %q", msg)
				}
			}},
		{name: "group tag with quote", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: `Sales"EU`},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadGroupTag}, wantSerial: "CZC1234567"},
		{name: "group tag with control char", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: "Sales\tEU"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadGroupTag}, wantSerial: "CZC1234567"},
		{name: "user without at", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), AssignedUser: "ann"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadUser}, wantSerial: "CZC1234567"},
		{name: "user domain without dot", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), AssignedUser: "ann@contoso"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadUser}, wantSerial: "CZC1234567"},
		{name: "user with two at", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), AssignedUser: "ann@x@contoso.com"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadUser}, wantSerial: "CZC1234567"},
		{name: "user with space", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), AssignedUser: "ann smith@contoso.com"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadUser}, wantSerial: "CZC1234567"},
		{name: "bad tag and bad user together", row: csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: "a,b", AssignedUser: "CONTOSO\\ann"},
			wantStatus: StatusInvalid, wantCodes: []string{CodeBadGroupTag, CodeBadUser}, wantSerial: "CZC1234567"},
		{name: "option replaces bad csv values", opts: Options{GroupTag: "Lab", AssignedUser: "bob@contoso.com"},
			row:        csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: "a,b", AssignedUser: "nobody"},
			wantStatus: StatusValid, wantWarns: []string{CodeGroupTagOverridden, CodeUserOverridden}, wantSerial: "CZC1234567",
			check: func(t *testing.T, r Result) {
				if r.Device.GroupTag != "Lab" || r.Device.AssignedUser != "bob@contoso.com" {
					t.Errorf("tag/user = %q/%q", r.Device.GroupTag, r.Device.AssignedUser)
				}
			}},
		{name: "option equal to csv value: no warning", opts: Options{GroupTag: "Lab"},
			row:        csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC1234567", Hash: b64(good), GroupTag: "Lab"},
			wantStatus: StatusValid, wantSerial: "CZC1234567"},
		{name: "malformed record", row: csvreport.Row{File: "a.csv", Line: 7, Serial: "CZC1234567", Hash: b64(good),
			Problem: &csvreport.RowProblem{Code: "row_columns", Message: "6 fields, the header has 5"}},
			wantStatus: StatusInvalid, wantCodes: []string{"row_columns"}, wantSerial: "CZC1234567"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			c.Add(tt.row)
			res := c.Results()
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			r := res[0]
			if r.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s (findings %+v)", r.Status, tt.wantStatus, r.Findings)
			}
			want := slices.Clone(tt.wantCodes)
			slices.Sort(want)
			if !slices.Equal(r.Codes, want) {
				t.Errorf("codes = %v, want %v", r.Codes, want)
			}
			if got := codesOf(r.Findings, false); !sameSet(got, tt.wantCodes) {
				t.Errorf("error findings = %v, want %v", got, tt.wantCodes)
			}
			if got := codesOf(r.Findings, true); !sameSet(got, tt.wantWarns) {
				t.Errorf("warnings = %v, want %v", got, tt.wantWarns)
			}
			if tt.wantSerial != "" && r.Serial != tt.wantSerial {
				t.Errorf("serial = %q, want %q", r.Serial, tt.wantSerial)
			}
			if (r.Device != nil) != (r.Status == StatusValid) {
				t.Errorf("device set = %v for status %s", r.Device != nil, r.Status)
			}
			for _, f := range r.Findings {
				if f.Message == "" || strings.Contains(f.Message, b64(good)[:40]) {
					t.Errorf("finding %s has an empty message or prints the hash: %q", f.Code, f.Message)
				}
			}
			if tt.check != nil && r.Device != nil {
				tt.check(t, r)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func TestDedupe(t *testing.T) {
	m1 := machine("CZC1111111", 1)
	m2 := machine("CZC1111111", 2) // same serial, another machine
	m3 := machine("CZC3333333", 3)
	lower := machine("czc3333333", 4) // serial differs only in case from m3, another machine
	type want struct {
		status Status
		dupOf  string
		codes  []string
	}
	tests := []struct {
		name string
		rows []csvreport.Row
		want []want
	}{
		{
			name: "same row twice",
			rows: []csvreport.Row{row("a.csv", 2, m1.Serial, b64(m1)), row("a.csv", 3, m1.Serial, b64(m1))},
			want: []want{{StatusValid, "", nil}, {StatusDuplicate, "a.csv:2", []string{CodeDuplicate}}},
		},
		{
			name: "same machine recaptured, across files",
			rows: []csvreport.Row{row("a.csv", 2, m1.Serial, b64(m1)), row("b.csv", 5, m1.Serial, b64(recaptured(m1)))},
			want: []want{{StatusValid, "", nil}, {StatusDuplicate, "a.csv:2", []string{CodeDuplicate}}},
		},
		{
			name: "same serial on another machine: every row conflicts",
			rows: []csvreport.Row{row("a.csv", 2, m1.Serial, b64(m1)), row("a.csv", 3, m3.Serial, b64(m3)),
				row("a.csv", 4, m2.Serial, b64(m2)), row("b.csv", 9, m1.Serial, b64(m2))},
			want: []want{{StatusConflict, "", []string{CodeConflict}}, {StatusValid, "", nil},
				{StatusConflict, "", []string{CodeConflict}}, {StatusConflict, "", []string{CodeConflict}}},
		},
		{
			name: "duplicate then conflict: all rows conflict",
			rows: []csvreport.Row{row("a.csv", 2, m1.Serial, b64(m1)), row("a.csv", 3, m1.Serial, b64(recaptured(m1))),
				row("a.csv", 4, m2.Serial, b64(m2))},
			want: []want{{StatusConflict, "", []string{CodeConflict}}, {StatusConflict, "", []string{CodeConflict}},
				{StatusConflict, "", []string{CodeConflict}}},
		},
		{
			name: "invalid rows take no part",
			rows: []csvreport.Row{row("a.csv", 2, m1.Serial, corrupt(m1, 40)), row("a.csv", 3, m1.Serial, ""),
				row("a.csv", 4, m1.Serial, b64(m1)), row("a.csv", 5, m1.Serial, corrupt(m2, 40))},
			want: []want{{StatusInvalid, "", []string{hwhash.CodeChecksum}}, {StatusInvalid, "", []string{CodeMissingHash}},
				{StatusValid, "", nil}, {StatusInvalid, "", []string{hwhash.CodeChecksum}}},
		},
		{
			name: "serials compare case-insensitively",
			rows: []csvreport.Row{row("a.csv", 2, m3.Serial, b64(m3)), row("a.csv", 3, lower.Serial, b64(lower))},
			want: []want{{StatusConflict, "", []string{CodeConflict}}, {StatusConflict, "", []string{CodeConflict}}},
		},
		{
			name: "serial from hash dedupes with the csv serial",
			rows: []csvreport.Row{row("a.csv", 2, "", b64(m1)), row("a.csv", 3, m1.Serial, b64(recaptured(m1)))},
			want: []want{{StatusValid, "", nil}, {StatusDuplicate, "a.csv:2", []string{CodeDuplicate}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.rows {
				c.Add(r)
			}
			res := c.Results()
			if len(res) != len(tt.want) {
				t.Fatalf("%d results, want %d", len(res), len(tt.want))
			}
			for i, w := range tt.want {
				r := res[i]
				if r.Status != w.status || r.DuplicateOf != w.dupOf || !slices.Equal(r.Codes, w.codes) {
					t.Errorf("row %d: status %s dupOf %q codes %v; want %s %q %v (findings %+v)",
						i, r.Status, r.DuplicateOf, r.Codes, w.status, w.dupOf, w.codes, r.Findings)
				}
				if (r.Device != nil) != (r.Status == StatusValid) {
					t.Errorf("row %d: device set = %v for %s", i, r.Device != nil, r.Status)
				}
				if r.Status == StatusConflict {
					// The message names every other row of the serial and no finding is left from dedupe.
					var msg string
					for _, f := range r.Findings {
						if f.Code == CodeDuplicate || f.Code == CodeDuplicateDiffers {
							t.Errorf("row %d: stale finding %s", i, f.Code)
						}
						if f.Code == CodeConflict {
							msg = f.Message
						}
					}
					for j, o := range tt.rows {
						loc := o.File + ":" + strconv.Itoa(o.Line)
						sameSerial := res[j].Status == StatusConflict && strings.EqualFold(res[j].Serial, r.Serial)
						if j != i && sameSerial && !strings.Contains(msg, loc) {
							t.Errorf("row %d: conflict message %q does not name %s", i, msg, loc)
						}
						if j == i && strings.Contains(msg, loc+",") || j == i && strings.HasSuffix(strings.Split(msg, ";")[0], loc) {
							t.Errorf("row %d: conflict message names the row itself: %q", i, msg)
						}
					}
				}
			}
			s := c.Summary(1)
			if s.Rows != len(tt.rows) || s.Valid+s.Invalid+s.Duplicates+s.Conflicts != s.Rows || s.Devices != s.Valid {
				t.Errorf("summary does not add up: %+v", s)
			}
		})
	}
}

func TestDuplicateWithOtherValues(t *testing.T) {
	m := machine("CZC2222222", 7)
	c, _ := New(Options{})
	c.Add(csvreport.Row{File: "a.csv", Line: 2, Serial: m.Serial, Hash: b64(m), GroupTag: "Sales", AssignedUser: "ann@contoso.com"})
	c.Add(csvreport.Row{File: "a.csv", Line: 3, Serial: m.Serial, Hash: b64(m), GroupTag: "Lab", AssignedUser: "ann@contoso.com"})
	c.Add(csvreport.Row{File: "a.csv", Line: 4, Serial: m.Serial, Hash: b64(m), GroupTag: "Sales", AssignedUser: "ann@contoso.com"})
	res := c.Results()
	if res[1].Status != StatusDuplicate || !slices.Equal(codesOf(res[1].Findings, true), []string{CodeDuplicateDiffers}) {
		t.Fatalf("row 2: %s %+v", res[1].Status, res[1].Findings)
	}
	msg := res[1].Findings[len(res[1].Findings)-1].Message
	for _, want := range []string{`"Lab"`, `"Sales"`, "a.csv:2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %s", msg, want)
		}
	}
	if res[0].Device.GroupTag != "Sales" {
		t.Errorf("first occurrence's tag changed to %q", res[0].Device.GroupTag)
	}
	if res[2].Status != StatusDuplicate || len(codesOf(res[2].Findings, true)) != 0 {
		t.Errorf("row 3 with equal values: %s %+v", res[2].Status, res[2].Findings)
	}
}

func TestOverrideWarnedOncePerFile(t *testing.T) {
	c, err := New(Options{GroupTag: " Lab ", AssignedUser: "bob@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []string{"a.csv", "a.csv", "a.csv", "b.csv", "b.csv"} {
		m := machine("SER"+strconv.Itoa(100+i), 10+i)
		c.Add(csvreport.Row{File: f, Line: i + 2, Serial: m.Serial, Hash: b64(m), GroupTag: "Sales" + strconv.Itoa(i)})
	}
	var warned []int
	for i, r := range c.Results() {
		if r.Status != StatusValid || r.Device.GroupTag != "Lab" || r.Device.AssignedUser != "bob@contoso.com" {
			t.Errorf("row %d: %s %+v", i, r.Status, r.Device)
		}
		for _, f := range r.Findings {
			if f.Code == CodeGroupTagOverridden {
				warned = append(warned, i)
				if !strings.Contains(f.Message, `"Lab"`) || !strings.Contains(f.Message, `"Sales`) {
					t.Errorf("message %q", f.Message)
				}
			}
			if f.Code == CodeUserOverridden {
				t.Errorf("row %d: user warning though the file had no user", i)
			}
		}
	}
	if !slices.Equal(warned, []int{0, 3}) {
		t.Errorf("override warned on rows %v, want [0 3] (once per file)", warned)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"empty", Options{}, true},
		{"good", Options{GroupTag: "Sales EU", AssignedUser: " ann@contoso.co.uk "}, true},
		{"tag comma", Options{GroupTag: "a,b"}, false},
		{"tag quote", Options{GroupTag: `a"b`}, false},
		{"tag newline", Options{GroupTag: "a\nb"}, false},
		{"user no at", Options{AssignedUser: "ann"}, false},
		{"user no dot", Options{AssignedUser: "ann@contoso"}, false},
		{"user empty local", Options{AssignedUser: "@contoso.com"}, false},
		{"user dot at end", Options{AssignedUser: "ann@contoso."}, false},
		{"user comma", Options{AssignedUser: "ann,bob@contoso.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if tt.ok {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("New error = %v, want *OptionError", err)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || strings.HasSuffix(msg, ".") {
				t.Errorf("error style: %q", msg)
			}
		})
	}
}

// TestResultsThenMoreRows checks that a serial that turns into a conflict after Results
// was called is marked again, with messages naming the new row.
func TestResultsThenMoreRows(t *testing.T) {
	m1, m2, m3 := machine("CZC5555555", 21), machine("CZC5555555", 22), machine("CZC5555555", 23)
	c, _ := New(Options{})
	c.Add(row("a.csv", 2, m1.Serial, b64(m1)))
	if r := c.Results(); r[0].Status != StatusValid {
		t.Fatalf("first row %s", r[0].Status)
	}
	c.Add(row("a.csv", 3, m2.Serial, b64(m2)))
	if s := c.Summary(1); s.Conflicts != 2 || s.Devices != 0 {
		t.Fatalf("summary %+v", s)
	}
	c.Add(row("a.csv", 4, m3.Serial, b64(m3)))
	res := c.Results()
	for i, r := range res {
		var n int
		for _, f := range r.Findings {
			if f.Code == CodeConflict {
				n++
				if i != 2 && !strings.Contains(f.Message, "a.csv:4") {
					t.Errorf("row %d message not updated: %q", i, f.Message)
				}
			}
		}
		if r.Status != StatusConflict || n != 1 {
			t.Errorf("row %d: %s with %d conflict findings", i, r.Status, n)
		}
	}
}

func TestPreparedResult(t *testing.T) {
	c, _ := New(Options{})
	m := machine("CZC8888888", 8)
	p := c.Prepare(row("a.csv", 2, m.Serial, b64(m)))
	if r := p.Result(); r.Status != StatusValid || r.Device == nil || r.Device.Serial != m.Serial {
		t.Errorf("valid: %+v", r)
	}
	p = c.Prepare(row("a.csv", 3, m.Serial, ""))
	if r := p.Result(); r.Status != StatusInvalid || r.Device != nil || !slices.Equal(r.Codes, []string{CodeMissingHash}) {
		t.Errorf("invalid: %+v", r)
	}
}

// TestAllMatchesResults checks that the streaming All yields exactly what Results holds.
func TestAllMatchesResults(t *testing.T) {
	c, _ := New(Options{})
	m1, m2, m3 := machine("CZC7000001", 71), machine("CZC7000001", 72), machine("CZC7000003", 73)
	for i, r := range []csvreport.Row{
		{Serial: m1.Serial, Hash: b64(m1)}, {Serial: m3.Serial, Hash: b64(m3), GroupTag: "Lab", AssignedUser: "ann@contoso.com", ProductID: "3300000012345"},
		{Serial: m3.Serial, Hash: b64(recaptured(m3))}, {Serial: m2.Serial, Hash: b64(m2)}, {Serial: "", Hash: ""},
	} {
		r.File, r.Line = "a.csv", i+2
		c.Add(r)
	}
	var all []Result
	for r := range c.All() {
		all = append(all, r)
	}
	res := c.Results()
	if len(all) != len(res) || len(res) != 5 {
		t.Fatalf("All yielded %d, Results %d", len(all), len(res))
	}
	for i := range res {
		a, b := all[i], res[i]
		if a.Status != b.Status || a.Serial != b.Serial || a.DuplicateOf != b.DuplicateOf || !slices.Equal(a.Codes, b.Codes) ||
			!slices.Equal(a.Findings, b.Findings) || (a.Device == nil) != (b.Device == nil) || a.Device != nil && !reflect.DeepEqual(*a.Device, *b.Device) {
			t.Errorf("row %d: All %+v, Results %+v", i, a, b)
		}
	}
	wantStatus := []Status{StatusConflict, StatusValid, StatusDuplicate, StatusConflict, StatusInvalid}
	for i, w := range wantStatus {
		if res[i].Status != w {
			t.Errorf("row %d: %s, want %s", i, res[i].Status, w)
		}
	}
	if d := res[1].Device; d.GroupTag != "Lab" || d.AssignedUser != "ann@contoso.com" || d.ProductKey != "3300000012345" {
		t.Errorf("device %+v", d)
	}
}

// TestOneSerialWholeFleet: a serial shared by many machines (a firmware default missing
// from the placeholder list) makes every row a conflict, and recaptures among them are
// found through the identity index too.
func TestOneSerialWholeFleet(t *testing.T) {
	c, _ := New(Options{})
	const n = 40
	for i := range n {
		m := machine("FLEET-DEFAULT", 1000+i)
		c.Add(row("a.csv", i+2, m.Serial, b64(m)))
	}
	m := machine("FLEET-DEFAULT", 1000+n-1)
	c.Add(row("a.csv", n+2, m.Serial, b64(recaptured(m))))
	s := c.Summary(1)
	if s.Conflicts != n+1 || s.Devices != 0 {
		t.Fatalf("summary %+v", s)
	}
	res := c.Results()
	msg := res[0].Findings[len(res[0].Findings)-1].Message
	if !strings.Contains(msg, fmt.Sprintf("%d different machines", n)) || !strings.Contains(msg, fmt.Sprintf("and %d more", n-maxListedRows)) {
		t.Errorf("message %q", msg)
	}
}
