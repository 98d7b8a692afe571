// Package csvreport reads every known shape of the "Windows Autopilot Device Information"
// export (Get-WindowsAutopilotInfo files, the Configuration Manager SSRS report export,
// OEM/partner CSVs, merged files) in any of the encodings seen in the wild, streaming,
// into rows that keep their file and line number. It never touches the network.
//
// # Encoding
//
// The first 64 KiB decide: a BOM (UTF-16LE, UTF-16BE, UTF-8) wins; NUL bytes in a UTF-16
// pattern from the first bytes on mean UTF-16 without BOM (a Note hints at PowerShell
// Out-File); otherwise a valid UTF-8 prefix means UTF-8 and an invalid one means
// Windows-1252 ("ANSI") for the whole file, with a Note. A UTF-8 file with a stray
// non-UTF-8 byte after the prefix is not re-read: each such byte is decoded as
// Windows-1252 on its own and a Note names the first line (so a multi-MB file whose only
// "ANSI" character sits at the end still reads, streaming). Files that mix encodings
// because text was appended in another one (Out-File -Append, >>, Add-Content;
// PowerShell/PowerShell#9423) are read whole: in a UTF-8 or ANSI file NUL bytes are
// dropped (UTF-16 text appended, with or without its BOM), and in a UTF-16LE file a line
// that starts with single-byte text switches to reading bytes (ASCII or UTF-8 appended);
// a Note names the first line concerned. CRLF, LF and lone CR line ends are accepted.
//
// # Layout
//
// The header is searched by content among the first 10 non-blank records; column names
// are matched case-insensitively with spaces, underscores, a BOM and zero-width
// characters ignored (Device Serial Number / SerialNumber / serial_number …). Lines before
// it are skipped with a Note. The ConfigMgr report export (SSRS CSV, Excel mode) is
// recognised by its data rows, whose first cells repeat the labels Device Serial
// Number,Windows Product ID,Hardware Hash and whose next cells hold the values; its
// preamble and element-name header may be anything, and report lines after the devices
// that are not device rows (footers, totals: no labels, no hash) are skipped with a Note
// each (the first few, then one with the count).
//
// # The ConfigMgr report
//
// Every rendering of the report by the SSRS CSV renderer is read as-is, by content, and
// the "ssrs_layout" Note names the one recognised:
//   - Excel mode (ExcelMode=true, the default): the report's text boxes once
//     (Textbox_ReportName,Textbox_Description and their values), a blank line, the table's
//     element-name header (Textbox2,…,Details_Table0_SerialNumber,…), then one row per
//     device: the column labels Device Serial Number,Windows Product ID,Hardware Hash, then
//     the values.
//   - flat mode (ExcelMode=false): one table; the header names every element
//     (Textbox_ReportName,…,Details_Table0_HardwareHash) and every row repeats the text
//     boxes' values and the labels before the device's values. The labels are searched
//     within the first cells of a row, so any number of text boxes in front is read.
//   - either mode without the header row (NoHeader=true).
//   - the Encoding device setting: UTF-8 (with or without BOM) or Unicode (UTF-16LE with
//     BOM; the SSRS 2005 default).
//   - the delivery: the console's Export, a file-share subscription and URL access
//     (…&rs:Format=CSV) write the renderer's bytes as they are; a download saved through
//     PowerShell 5.1's (Invoke-WebRequest …).Content | Out-File is UTF-16LE starting with
//     "ï»¿" (the UTF-8 BOM read as ANSI), which is dropped with a Note ("bom_as_text").
//
// A report row with the labels and a serial is a device row whatever its hash: a device
// without hash in inventory is a row with an empty hash (mapping reports missing_hash),
// never a header, in any layout. The tests build every rendering (mapping's
// TestSSRSRenderingsMissingHash; TestFlatRendering and TestDeviceRowNeverHeader here)
// from the renderer's documented rules with hashes made by the hwhash encoder; no real
// export of the report was available, and the label text boxes' names are not relied on.
//
// # Headerless and merged files
//
// A file without header whose rows hold
// a hash-like cell (≥ 1000 base64 characters) is read by position. Header lines repeated
// mid-file (merged exports) are skipped; a header with other columns switches the mapping.
// A file whose header is separated by semicolons or tabs (Excel in European locales,
// "Unicode Text") is read again from the start with that delimiter, with a Note.
// Graph/Intune device lists, corporate identifier lists (manufacturer,model,serial; code
// CodeCorporate: OpenCorporateContext reads them, see corporate.go), files without a hash
// column, empty and binary files are refused with a *FileError whose Code and Hint say
// what the file is and what to do.
//
// # Rows
//
// Every record that holds data becomes exactly one Row, with the line where it starts.
// Records with the wrong number of fields, stray quotes or undecodable text still become
// rows, with Row.Problem set; blank lines are skipped. A hash wrapped over several lines,
// quoted or not (copied from a console window), is read whole, with a Note. Values are
// trimmed of surrounding spaces and otherwise kept verbatim (serials keep leading zeros
// and inner spaces); zero-width characters and no-break spaces pasted into a hash are
// removed, with one Note per file giving the number of rows cleaned ("hash_cleaned").
// Notes also explain rows that are Partner Center tuples (make and model, no hash),
// serials in Excel's scientific notation and ConfigMgr rows without hash. A file keeps at
// most 10 Notes of one code and then one with the count of the others (a 100,000-column
// header gives a handful of notes). "\r\r\n" line ends count as one line end. A quote
// opened and never closed is reported with the line where it opens.
// Memory use does not grow with the file size; a single record longer than 1 MiB (an
// unbalanced quote) ends the file with a *FileError of code "record_too_long".
package csvreport

// Row is one data row of an export, with columns found by name.
type Row struct {
	File string // the path as given
	Line int    // 1-based line where the record starts

	Serial       string // Device Serial Number (verbatim, only trimmed)
	ProductID    string // Windows Product ID
	Hash         string // Hardware Hash (base64 text, whitespace kept as read)
	GroupTag     string // Group Tag / OrderID
	AssignedUser string // Assigned User
	Manufacturer string // partner layout: Manufacturer name
	Model        string // partner layout: Device model

	// Problem is set when the record itself is malformed (e.g. more fields than the header
	// because a value contained a comma). Such a row still counts as a data row and must be
	// reported invalid with Problem.Code.
	Problem *RowProblem
}

// RowProblem describes a malformed record.
type RowProblem struct {
	Code    string // e.g. "row_columns", "row_encoding"
	Message string
}

// Layout names the shape of a file.
type Layout string

const (
	LayoutCanonical  Layout = "canonical"  // Device Serial Number,Windows Product ID,Hardware Hash[,Group Tag[,Assigned User]] and variants
	LayoutPartner    Layout = "partner"    // …,Manufacturer name,Device model
	LayoutSSRS       Layout = "ssrs"       // ConfigMgr report export (preamble, element-name header, label cells)
	LayoutHeaderless Layout = "headerless" // no header, one cell is a hash
	// LayoutCorporate (corporate.go): manufacturer, model, serial; no hash.
)

// Format describes what was detected about a file.
type Format struct {
	Encoding        string // "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "windows-1252"
	Layout          Layout
	HasGroupTag     bool // the file has a group tag column
	HasAssignedUser bool // the file has an assigned user column
}

// Note is a file-level remark (unknown extra column, encoding fallback, …).
type Note struct {
	File    string
	Line    int
	Code    string
	Message string
}

// FileError means a file cannot be read as an import file at all (exit code 1).
type FileError struct {
	File    string
	Line    int    // 0 when not line-specific
	Code    string // "unreadable", "empty", "no_hash_column", "device_list_export", "corporate_identifiers", "no_header", …
	Message string // what is wrong
	Hint    string // what to do
	Err     error  // underlying error (I/O), if any
}

// Unwrap returns the underlying error, if any.
func (e *FileError) Unwrap() error { return e.Err }

func (e *FileError) Error() string {
	if e.Line > 0 {
		return e.File + ":" + itoa(e.Line) + ": " + e.Message
	}
	return e.File + ": " + e.Message
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
