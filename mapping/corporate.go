package mapping

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/internal/serial"
)

// Corporate device identifiers (Windows Autopilot device preparation): manufacturer,
// model and serial number, registered through the beta importedDeviceIdentities actions
// as one "Manufacturer,Model,Serial" string (lifecycle-api.md §5). Intune marks a device
// corporate only when all three match what it reports (Win32_ComputerSystem.Manufacturer,
// .Model, Win32_BIOS.SerialNumber).
//
// # Rules
//
// A row is invalid when it has any error finding: the csvreport row problem (a comma
// inside an unquoted value gives four fields: "row_columns"), an empty value
// ("missing_manufacturer", "missing_model", "missing_serial"), a comma inside a quoted
// value ("comma_in_value": the identifier and the portal file are comma-separated), a
// quote or control character ("bad_character"), a value longer than MaxIdentifierValue
// characters ("too_long"), or a placeholder serial ("placeholder_serial": every device of
// a model would match it). A period in the serial is a "serial_period" warning:
// Microsoft's instructions say to remove all periods from the serial number, and which
// spelling the device reports is not documented, so the value is sent as written.
//
// Only otherwise-valid rows are deduped, by serial (case-insensitively, like the hash
// import; whether Intune compares case-insensitively is UNCONFIRMED): the same
// manufacturer and model again (case-insensitively) is a duplicate of the first row; the
// same serial with another manufacturer or model is a conflict for every row of that
// serial, and none is imported (which one the device reports cannot be told from the file).

// MaxIdentifierValue is the longest manufacturer, model or serial accepted, in
// characters. No limit is documented (UNCONFIRMED). Real values are far shorter: the
// longest seen is a VMware serial of 54 characters ("VMware-56 4d …"); SMBIOS strings
// are rarely over 64. 128 keeps every plausible value and catches a line or a hash
// pasted into one cell; it also bounds an identifier (3×128 + 2 characters), so that
// 5,000 of them stay far below the portal's 5 MB per file.
const MaxIdentifierValue = 128

// Finding codes of corporate identifier rows (besides CodeMissingSerial,
// CodePlaceholderSerial, CodeDuplicate and CodeConflict).
const (
	CodeMissingManufacturer = "missing_manufacturer"
	CodeMissingModel        = "missing_model"
	CodeCommaInValue        = "comma_in_value"
	CodeBadCharacter        = "bad_character"
	CodeTooLong             = "too_long"
	CodeSerialPeriod        = "serial_period" // warning
)

// Identifier is the importedDeviceIdentifier of a corporate identifier device:
// "Manufacturer,Model,Serial" (comma-separated, as every client and the portal file
// use; the enum's documentation says semicolon, UNCONFIRMED, lifecycle-api.md §5).
func (d *Device) Identifier() string {
	return d.Manufacturer + "," + d.Model + "," + d.Serial
}

// CheckCorporateFiles reads corporate identifier files (csvreport.OpenCorporateContext;
// "-" is opts.Stdin, else os.Stdin), validates and dedupes every row across all files
// and returns one Result per row, in input order. A valid Result's Device carries File,
// Line, Serial, Manufacturer and Model. A file that cannot be read is recorded in
// Report.FileErrors (a hash export: csvreport.CodeHashExport) and the others are still
// read. Cancelling ctx stops the work and returns ctx.Err().
func CheckCorporateFiles(ctx context.Context, files []string, opts Options) (*Report, error) {
	rep := &Report{Formats: map[string]csvreport.Format{}}
	c := &corpChecker{serials: map[string]*corpSerial{}}
	n := 0
	err := readInputs(ctx, files, opts.Stdin, opts.AllowSpecialFiles, true, rep, func(row csvreport.Row) bool {
		c.add(row)
		n++
		return n%256 != 0 || ctx.Err() == nil // ctx is looked at every 256 rows
	})
	if err != nil {
		return nil, err
	}
	rep.Results = c.finish()
	rep.Summary = summarize(rep.Results, len(files))
	return rep, nil
}

// summarize counts results.
func summarize(results []Result, files int) Summary {
	s := Summary{Files: files, Rows: len(results)}
	for _, r := range results {
		switch r.Status {
		case StatusValid:
			s.Valid++
			s.Devices++
		case StatusInvalid:
			s.Invalid++
		case StatusDuplicate:
			s.Duplicates++
		case StatusConflict:
			s.Conflicts++
		}
	}
	return s
}

type corpChecker struct {
	results []Result
	serials map[string]*corpSerial
}

// corpSerial tracks the otherwise-valid rows of one serial; it is a conflict when they
// hold more than one manufacturer+model.
type corpSerial struct {
	idents map[string]int // manufacturer+model key -> index of its first row
	rows   []int          // every otherwise-valid row of the serial
}

func identKey(mfr, model string) string {
	return strings.ToUpper(strings.TrimSpace(mfr)) + "\x00" + strings.ToUpper(strings.TrimSpace(model))
}

func loc(r *Result) string { return r.File + ":" + strconv.Itoa(r.Line) }

func (c *corpChecker) add(row csvreport.Row) {
	res := Result{File: row.File, Line: row.Line, Serial: strings.TrimSpace(row.Serial),
		Manufacturer: strings.TrimSpace(row.Manufacturer), Model: strings.TrimSpace(row.Model)}
	var fs findings
	if p := row.Problem; p != nil {
		msg := p.Message
		if p.Code == "row_columns" {
			// The values are misaligned: no field can be trusted as the serial.
			res.Serial, res.Manufacturer, res.Model = "", "", ""
			msg += " (a corporate identifier is manufacturer,model,serial: a value cannot hold a comma; remove it)"
		}
		fs.err(p.Code, msg)
	} else {
		for _, v := range []struct{ name, val, missing string }{
			{"manufacturer", res.Manufacturer, CodeMissingManufacturer},
			{"model", res.Model, CodeMissingModel},
			{"serial number", res.Serial, CodeMissingSerial},
		} {
			switch {
			case v.val == "":
				fs.err(v.missing, "the "+v.name+" is empty: Intune marks a device corporate only when manufacturer, model and serial number all match; "+
					"fill it in with what the device reports (Win32_ComputerSystem.Manufacturer, Win32_ComputerSystem.Model, Win32_BIOS.SerialNumber)")
			case strings.Contains(v.val, ","):
				fs.err(CodeCommaInValue, fmt.Sprintf("the %s %q holds a comma, which the comma-separated identifier cannot carry; "+
					"check the value the device reports and write it without the comma", v.name, v.val))
			case strings.ContainsRune(v.val, '"') || strings.IndexFunc(v.val, unicode.IsControl) >= 0:
				fs.err(CodeBadCharacter, fmt.Sprintf("the %s %q holds a quote or control character; correct the value", v.name, v.val))
			case utf8.RuneCountInString(v.val) > MaxIdentifierValue:
				fs.err(CodeTooLong, fmt.Sprintf("the %s is %d characters long, more than %d: not a real %s (a line or a hash pasted into one cell?)",
					v.name, utf8.RuneCountInString(v.val), MaxIdentifierValue, v.name))
			}
		}
		if isPlaceholder(res.Serial) {
			fs.err(CodePlaceholderSerial, fmt.Sprintf("%q is a firmware placeholder, not a serial number: it would match every device of this model; "+
				"leave the device out, or register it by hardware hash", res.Serial))
		}
		if strings.Contains(res.Serial, ".") {
			fs.warn(CodeSerialPeriod, fmt.Sprintf("the serial number %q has a period: Microsoft's instructions say to "+
				"remove all periods from the serial number; check what the device reports (Win32_BIOS.SerialNumber); sent as written", res.Serial))
		}
	}
	res.Findings, res.Codes = fs.list, fs.codes()
	idx := len(c.results)
	if len(res.Codes) > 0 {
		res.Status = StatusInvalid
		c.results = append(c.results, res)
		return
	}
	key := serial.Key(res.Serial)
	ik := identKey(res.Manufacturer, res.Model)
	e := c.serials[key]
	switch {
	case e == nil:
		res.Status = StatusValid
		c.serials[key] = &corpSerial{idents: map[string]int{ik: idx}, rows: []int{idx}}
	default:
		e.rows = append(e.rows, idx)
		if first, ok := e.idents[ik]; ok {
			res.Status = StatusDuplicate
			res.DuplicateOf = loc(&c.results[first])
			res.Codes = []string{CodeDuplicate}
			res.Findings = append(res.Findings, Finding{Code: CodeDuplicate, Message: "the same identifier as " + res.DuplicateOf + ": sent once"})
		} else {
			e.idents[ik] = idx
			res.Status = StatusValid // marked below, with every row of the serial
		}
	}
	c.results = append(c.results, res)
}

// finish marks the rows of conflicting serials and returns the results.
func (c *corpChecker) finish() []Result {
	for _, e := range c.serials {
		if len(e.idents) == 1 { // one manufacturer and model: no conflict
			continue
		}
		for _, i := range e.rows {
			r := &c.results[i]
			ik := identKey(r.Manufacturer, r.Model)
			var others []string
			for _, j := range e.rows {
				if j != i && identKey(c.results[j].Manufacturer, c.results[j].Model) != ik && len(others) < maxListedRows {
					o := &c.results[j]
					others = append(others, fmt.Sprintf("%s (%s, %s)", loc(o), o.Manufacturer, o.Model))
				}
			}
			r.Status, r.Codes, r.DuplicateOf = StatusConflict, []string{CodeConflict}, ""
			r.Findings = append(r.Findings[:0:0], Finding{Code: CodeConflict, Message: fmt.Sprintf(
				"serial number %q also appears with another manufacturer or model on %s: which one the device reports cannot be told, "+
					"so none is imported; keep the right line and remove the others", r.Serial, strings.Join(others, ", "))})
		}
	}
	for i := range c.results {
		r := &c.results[i]
		if r.Status == StatusValid {
			r.Device = &Device{File: r.File, Line: r.Line, Serial: r.Serial, Manufacturer: r.Manufacturer, Model: r.Model}
		}
	}
	return c.results
}
