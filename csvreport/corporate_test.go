package csvreport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type corpRow struct {
	line                    int
	manufacturer, model, sn string
	problem                 string
}

func readCorporate(t *testing.T, data []byte) ([]corpRow, []Note, Format, error) {
	t.Helper()
	r, err := NewCorporateReader(bytes.NewReader(data), "ids.csv")
	if err != nil {
		return nil, nil, Format{}, err
	}
	var rows []corpRow
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, r.Notes(), r.Format(), err
		}
		cr := corpRow{line: row.Line, manufacturer: row.Manufacturer, model: row.Model, sn: row.Serial}
		if row.Problem != nil {
			cr.problem = row.Problem.Code
		}
		rows = append(rows, cr)
	}
	return rows, r.Notes(), r.Format(), nil
}

func TestCorporateShapes(t *testing.T) {
	portal := "Microsoft,Surface Laptop 5,0F0123456789\r\nLENOVO,20XW0026GE,PF3ABC12\r\nDell Inc.,Latitude 7440,7XK2M93\r\n"
	tests := []struct {
		name     string
		data     []byte
		wantRows []corpRow
		noteHas  string
	}{
		{"portal headerless", []byte(portal), []corpRow{
			{1, "Microsoft", "Surface Laptop 5", "0F0123456789", ""},
			{2, "LENOVO", "20XW0026GE", "PF3ABC12", ""},
			{3, "Dell Inc.", "Latitude 7440", "7XK2M93", ""}}, "without header"},
		{"utf-16 with BOM", encodeAs(t, portal, "utf-16le"), []corpRow{
			{1, "Microsoft", "Surface Laptop 5", "0F0123456789", ""},
			{2, "LENOVO", "20XW0026GE", "PF3ABC12", ""},
			{3, "Dell Inc.", "Latitude 7440", "7XK2M93", ""}}, "without header"},
		{"partner columns by name", []byte("Device Serial Number,Windows Product ID,Manufacturer name,Device model\r\nSN1,,Contoso,Laptop 7\r\n"),
			[]corpRow{{2, "Contoso", "Laptop 7", "SN1", ""}}, `serial number = column 1; ignored (not part of a corporate identifier): "Windows Product ID"`},
		{"other column order", []byte("Model,Serial,Manufacturer\nLaptop 7,SN1,Contoso\n"),
			[]corpRow{{2, "Contoso", "Laptop 7", "SN1", ""}}, "manufacturer = column 3, model = column 1, serial number = column 2"},
		{"a comma inside a value makes four fields", []byte(portal + "Dell, Inc.,Latitude,ABC\r\n"), []corpRow{
			{1, "Microsoft", "Surface Laptop 5", "0F0123456789", ""},
			{2, "LENOVO", "20XW0026GE", "PF3ABC12", ""},
			{3, "Dell Inc.", "Latitude 7440", "7XK2M93", ""},
			{4, "Dell", " Inc.", "Latitude", "row_columns"}}, ""},
		{"a short line", []byte(portal + "Dell,Latitude\r\n"), []corpRow{
			{1, "Microsoft", "Surface Laptop 5", "0F0123456789", ""},
			{2, "LENOVO", "20XW0026GE", "PF3ABC12", ""},
			{3, "Dell Inc.", "Latitude 7440", "7XK2M93", ""},
			{4, "Dell", "Latitude", "", "row_columns"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, notes, f, err := readCorporate(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Layout != LayoutCorporate {
				t.Errorf("layout %q", f.Layout)
			}
			if len(rows) != len(tt.wantRows) {
				t.Fatalf("rows %+v, want %+v", rows, tt.wantRows)
			}
			for i := range rows {
				w := tt.wantRows[i]
				w.model = strings.TrimSpace(w.model)
				if rows[i] != w {
					t.Errorf("row %d = %+v, want %+v", i, rows[i], w)
				}
			}
			found := false
			for _, n := range notes {
				if n.Code == "corporate_layout" && strings.Contains(n.Message, tt.noteHas) {
					found = true
				}
			}
			if !found {
				t.Errorf("no corporate_layout note with %q: %+v", tt.noteHas, notes)
			}
		})
	}
}

func TestCorporateRefusals(t *testing.T) {
	tests := []struct {
		name, data, code, hint string
	}{
		{"hash export with header", "Device Serial Number,Windows Product ID,Hardware Hash\r\nSN1,," + fakeHash(1) + "\r\n", CodeHashExport, "without --corporate-identifiers"},
		{"partner file with a hash column", "Device Serial Number,Windows Product ID,Hardware Hash,Manufacturer name,Device model\r\nSN1,,,Contoso,Laptop\r\n", CodeHashExport, "without --corporate-identifiers"},
		{"headerless hashes", "SN1,," + fakeHash(2) + "\r\n", CodeHashExport, "without --corporate-identifiers"},
		{"graph device list", "id,serialNumber,manufacturer,model,groupTag,enrollmentState\r\n1,SN1,Contoso,Laptop,,enrolled\r\n", "device_list_export", "takes precedence"},
		{"serials only", "Serial Number,Group Tag\r\nSN1,Sales\r\n", "no_identifier_columns", "Manufacturer, Model and Serial Number"},
		{"one value per line", "SN1\r\nSN2\r\n", "no_header", "manufacturer,model,serial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := readCorporate(t, []byte(tt.data))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			if fe.Code != tt.code || !strings.Contains(fe.Hint, tt.hint) {
				t.Errorf("code %q hint %q, want %q with %q", fe.Code, fe.Hint, tt.code, tt.hint)
			}
		})
	}
}

// A hash-mode read of a corporate file is refused with CodeCorporate, also when bad
// lines sit among the first ones and when the header names the three columns plus others.
func TestHashReaderRecognisesCorporate(t *testing.T) {
	for name, data := range map[string]string{
		"portal with a bad line": "Microsoft,Surface,SN1\r\nDell, Inc.,Latitude,SN2\r\nLENOVO,T14,SN3\r\n",
		"header with a tag":      "Serial Number,Manufacturer,Model,Group Tag\r\nSN1,Contoso,Laptop,Sales\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(data), "ids.csv")
			var fe *FileError
			if !errors.As(err, &fe) || fe.Code != CodeCorporate || !strings.Contains(fe.Hint, "--corporate-identifiers") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// A device export with other columns (Endpoint Analytics) stays a device list.
	_, err := NewReader(strings.NewReader("Device name,Serial number,Manufacturer,Model,Windows version\r\nPC1,SN1,LENOVO,20XW,10.0\r\n"), "ea.csv")
	var fe *FileError
	if !errors.As(err, &fe) || fe.Code != "device_list_export" {
		t.Errorf("Endpoint Analytics export: %v", err)
	}
}

// Excel in a European locale saves with semicolons: read again with that delimiter.
func TestCorporateSemicolons(t *testing.T) {
	rows, notes, _, err := readCorporate(t, []byte("Microsoft;Surface;SN1\r\nMicrosoft;Surface;SN2\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1] != (corpRow{2, "Microsoft", "Surface", "SN2", ""}) {
		t.Fatalf("rows %+v", rows)
	}
	var codes []string
	for _, n := range notes {
		codes = append(codes, n.Code)
	}
	if !strings.Contains(strings.Join(codes, ","), "delimiter") {
		t.Errorf("notes %v", codes)
	}
}
