package csvreport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
	"golang.org/x/text/transform"

	"github.com/apimport/apimport/internal/digits"
)

const (
	// maxRecordBytes bounds one record (after decoding). A real row is ~4 KB; a record
	// this long means an unbalanced quote swallowed the rest of the file, and reading on
	// would hold it all in memory.
	maxRecordBytes = 1 << 20
	// scanRecords is how many non-blank records are searched for the header.
	scanRecords = 10
	// maxOtherLineNotes is how many skipped ConfigMgr report lines get a note each.
	maxOtherLineNotes = 5
	// maxUnknownColumnNotes is how many unknown columns of a header get a note each; the
	// rest are counted in one note.
	maxUnknownColumnNotes = 5
	// maxNotesPerCode is how many notes of one code a file keeps (see Reader.note).
	maxNotesPerCode = 10
	// batchSize is how many records are handed to gocsv at a time.
	batchSize = 64
)

var errRecordTooLong = errors.New("record too long")

// bomAsANSI is the UTF-8 byte order mark EF BB BF decoded as Windows-1252 or Latin-1.
const bomAsANSI = "\u00ef\u00bb\u00bf"

// Reader streams the rows of one export file. It holds at most one batch of rows
// (batchSize records) in memory, whatever the file size. A Reader is not safe for
// concurrent use.
type Reader struct {
	name   string
	closer io.Closer
	closed bool
	cr     *csv.Reader
	lim    *limitReader
	fb     *utf8Fallback
	nd     *nulDropper
	at     *asciiTail
	format Format
	notes  []Note

	queue    []record // records read while detecting the layout, not yet consumed
	held     *record  // a header that ends a batch, to be handled by the next one
	m        *layoutMap
	nextLine int   // best guess of the line after the last record read
	deferred error // a read error met during detection, returned after the queued records
	noted    map[string]bool
	wrongSep rune // set by detection when the header is separated by another delimiter
	// corporate reads corporate device identifiers (manufacturer, model, serial)
	// instead of hashes: see corporate.go.
	corporate bool

	otherLines int // ConfigMgr report lines skipped as not device rows

	oddQuotes   bool           // the sniffed prefix holds an odd number of quote bytes (an unclosed quote)
	noteCount   map[string]int // notes per code, including those not kept (see note)
	cleaned     int            // rows whose hash held white space or invisible characters
	cleanedLine int            // line of the first of them

	pending []pendingRow
	tagged  []taggedRow
	out     []Row
	outPos  int
	err     error // sticky: io.EOF or *FileError
}

type record struct {
	line  int
	cells []string
}

type pendingRow struct {
	line    int
	cells   []string
	problem *RowProblem
}

// layoutMap says which cell of a record holds which field.
type layoutMap struct {
	layout     Layout
	fields     []field
	tags       []string // gocsv header: the tag of each position, then the unused tags
	width      int      // fields a record should have (trailing empty cells excluded)
	headerLine int      // 0 when there is no header
	labels     int      // SSRS: number of label cells in each data row
	off        int      // SSRS: index of the first label cell (0 in Excel mode; after the text boxes in the flat rendering)
	elemKey    string   // SSRS: normalised element-name header, to skip repeats
}

// Open opens path, detects its encoding and layout and returns a Reader positioned at the
// first data row. A file that is not an import file, or cannot be read, returns a
// *FileError (the file is then closed).
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{File: path, Code: "unreadable", Message: "cannot open: " + causeText(err),
			Hint: "check the file name and that you may read it", Err: err}
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &FileError{File: path, Code: "unreadable", Message: "is a directory",
			Hint: "give the CSV files inside it, or a pattern like dir/*.csv"}
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// causeText is the error text without the "open <path>:" prefix of *os.PathError.
func causeText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// NewReader reads an export from r; name is used as Row.File and in errors and notes.
// Like Open, it detects encoding and layout before returning, and returns a *FileError
// when r is not an import file.
func NewReader(r io.Reader, name string) (*Reader, error) {
	return newReader(r, name, false)
}

func newReader(r io.Reader, name string, corporate bool) (*Reader, error) {
	rd := &Reader{name: name, noted: map[string]bool{}, corporate: corporate}
	br := bufio.NewReaderSize(r, sniffSize)
	prefix, err := br.Peek(sniffSize)
	eof := false
	if err != nil {
		if err != io.EOF {
			return nil, rd.fileErr(0, "unreadable", "cannot read: "+causeText(err), "check that the file is readable", err)
		}
		eof = true
	}
	s := sniff(prefix, eof)
	switch {
	case s.xlsx:
		return nil, rd.fileErr(0, "not_csv", "this is an Excel workbook or zip archive, not a CSV file",
			`export the hashes again, or save the sheet with "CSV (Comma delimited)"`, nil)
	case s.binary:
		return nil, rd.fileErr(0, "not_csv", "this is not a text file",
			"give the CSV written by Get-WindowsAutopilotInfo or exported from the ConfigMgr report", nil)
	case s.empty:
		return nil, rd.fileErr(0, "empty", "the file is empty",
			"export the hashes again with Get-WindowsAutopilotInfo or the ConfigMgr report", nil)
	}
	if s.encoding == encUTF16LE || s.encoding == encUTF16BE {
		// A BOM or NUL pattern says UTF-16; make sure the text is text.
		p := prefix
		if !eof {
			p = p[:len(p)&^1]
		}
		if txt, _, err := transform.Bytes(s.decoder(&utf8Fallback{}, &nulDropper{}, &asciiTail{}), p); err == nil && isBinaryText(txt) {
			return nil, rd.fileErr(0, "not_csv", "this is not a text file",
				"give the CSV written by Get-WindowsAutopilotInfo or exported from the ConfigMgr report", nil)
		}
	}
	rd.format.Encoding = s.encoding
	rd.oddQuotes = bytes.Count(prefix, []byte{'"'})%2 == 1
	if s.noBOM16 {
		rd.note(0, "utf16_no_bom", "no byte order mark but NUL bytes between the characters: read as "+
			strings.ToUpper(s.encoding)+" (this usually comes from PowerShell Out-File or > redirection)")
	}
	if s.encoding == encWin1252 {
		rd.note(0, "encoding_ansi", "the file is not valid UTF-8: read as Windows-1252 (ANSI)")
	}
	// The raw bytes read during detection are kept, so that a file found to use another
	// delimiter can be read again from the start (a non-seekable source included).
	rec := &recorder{r: br, on: true, max: maxRecordBytes}
	rd.start(s, rec, ',')
	err = rd.detect()
	if rd.wrongSep != 0 && !rec.over {
		// Excel in a locale whose list separator is ";" (or "Unicode Text", tabs): the
		// header and rows are all there, only the separator differs.
		sep := rd.wrongSep
		rec.on = false
		rd.wrongSep, rd.queue, rd.deferred, rd.nextLine = 0, nil, nil, 0
		rd.start(s, io.MultiReader(bytes.NewReader(rec.buf), rec), sep)
		rec.buf = nil
		if err = rd.detect(); err == nil {
			line := 1
			if rd.m.headerLine > 0 {
				line = rd.m.headerLine
			}
			why := map[rune]string{';': ` (Excel saves so where the Windows list separator is ";", in many European locales)`,
				'\t': ` (Excel "Unicode Text" or another tab-separated export)`}[sep]
			rd.note(line, "delimiter", fmt.Sprintf("the columns are separated by %s, not commas%s: read as such; "+
				"the Intune portal needs commas, apimport convert writes them", sepNames[sep], why))
		}
	}
	rec.on, rec.buf = false, nil
	if err != nil {
		return nil, err
	}
	return rd, nil
}

// sepNames names the delimiters a file can use instead of commas.
var sepNames = map[rune]string{';': "semicolons", '\t': "tabs", '|': "vertical bars"}

// start builds the decoding and CSV pipeline over src with the given delimiter.
func (r *Reader) start(s sniffResult, src io.Reader, comma rune) {
	r.fb = &utf8Fallback{}
	r.nd = &nulDropper{}
	r.at = &asciiTail{}
	r.lim = &limitReader{r: transform.NewReader(src, s.decoder(r.fb, r.nd, r.at)), max: maxRecordBytes}
	cr := csv.NewReader(bufio.NewReaderSize(r.lim, 64<<10))
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // the column count is checked per row, against the header
	cr.LazyQuotes = true    // a stray quote in a quote-stripped file must not stop the file
	cr.ReuseRecord = true   // safe: every record is copied (and trimmed) before the next Read
	r.cr = cr
}

// recorder keeps a copy of the bytes read through it while on, up to max bytes (over is
// set, and the copy dropped, when there are more).
type recorder struct {
	r    io.Reader
	buf  []byte
	on   bool
	over bool
	max  int
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.on {
		if len(c.buf)+n > c.max {
			c.on, c.over, c.buf = false, true, nil
		} else {
			c.buf = append(c.buf, p[:n]...)
		}
	}
	return n, err
}

// Next returns the next data row, or io.EOF after the last one. Blank lines, preamble
// lines and header lines repeated mid-file are not rows. A malformed record is still a
// row, with Problem set. Any other error is a *FileError and is returned again by later
// calls.
func (r *Reader) Next() (Row, error) {
	for {
		if r.outPos < len(r.out) {
			row := r.out[r.outPos]
			r.out[r.outPos] = Row{}
			r.outPos++
			return row, nil
		}
		if r.err != nil {
			return Row{}, r.err
		}
		if r.closed {
			return Row{}, r.fileErr(0, "unreadable", "read after close", "", nil)
		}
		r.fill()
	}
}

// Format returns what was detected about the file. Encoding and Layout are final once
// Open/NewReader returns. HasGroupTag and HasAssignedUser can still turn true while rows
// are read (a header with more columns later in a merged file, or a headerless row with a
// group tag), so read them after the last row when they decide the output columns.
func (r *Reader) Format() Format { return r.format }

// Notes returns the file-level remarks gathered so far (the encoding fallback note may
// only appear once the rows that need it have been read).
func (r *Reader) Notes() []Note {
	r.checkFallback()
	out := append([]Note(nil), r.notes...)
	for _, n := range out {
		if c := r.noteCount[n.Code]; c > maxNotesPerCode && !r.capNoted(out, n.Code) {
			out = append(out, Note{File: r.name, Code: n.Code, Message: fmt.Sprintf(
				"%d more notes like the %s ones above, not shown one by one", c-maxNotesPerCode, n.Code)})
		}
	}
	if r.cleaned > 0 {
		msg := fmt.Sprintf("the Hardware Hash of %s held spaces, tabs, zero-width or no-break spaces "+
			"(copied from a web page, chat, document or console window): removed; the SHA-256 trailer decides whether the rest is intact", pluralWord(r.cleaned, "row", "rows"))
		if r.cleaned == 1 {
			msg = strings.Replace(msg, "of 1 row held", "on this line held", 1)
		}
		out = append(out, Note{File: r.name, Line: r.cleanedLine, Code: "hash_cleaned", Message: msg})
	}
	return out
}

// capNoted reports whether notes already hold the count note of code.
func (r *Reader) capNoted(notes []Note, code string) bool {
	for _, n := range notes {
		if n.Code == code && n.Line == 0 && strings.HasSuffix(n.Message, "not shown one by one") {
			return true
		}
	}
	return false
}

// Close closes the file when Open opened it. It is safe to call more than once.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

func (r *Reader) fileErr(line int, code, msg, hint string, err error) *FileError {
	return &FileError{File: r.name, Line: line, Code: code, Message: msg, Hint: hint, Err: err}
}

// note adds a file note. Past maxNotesPerCode notes of one code (a merged file with a
// header per part, thousands of wrapped hashes) the rest are only counted: Notes then
// ends with one note giving the count.
func (r *Reader) note(line int, code, msg string) {
	if r.noteCount == nil {
		r.noteCount = map[string]int{}
	}
	if r.noteCount[code]++; r.noteCount[code] > maxNotesPerCode {
		return
	}
	r.notes = append(r.notes, Note{File: r.name, Line: line, Code: code, Message: msg})
}

// noteOnce adds a note the first time code is seen.
func (r *Reader) noteOnce(line int, code, msg string) {
	if r.noted[code] {
		return
	}
	r.noted[code] = true
	r.note(line, code, msg)
}

// nulLine is the line of the first NUL byte dropped from a UTF-8 or ANSI file, 0 if none.
func (r *Reader) nulLine() int {
	if r.nd != nil && r.nd.firstLine > 0 {
		return r.nd.firstLine
	}
	if r.fb != nil {
		return r.fb.nulLine
	}
	return 0
}

func (r *Reader) checkFallback() {
	if r.at != nil && r.at.switchLine > 0 {
		r.noteOnce(r.at.switchLine, "ascii_appended",
			"from this line on the UTF-16 file continues in ASCII/UTF-8: text appended with Out-File -Append, >> or "+
				"Add-Content in another encoding; read as such. Before uploading the file to the Intune portal, "+
				"save it again in one encoding (or use apimport convert)")
	}
	if line := r.nulLine(); line > 0 {
		r.noteOnce(line, "utf16_appended",
			"NUL bytes from this line on, dropped: usually UTF-16 text appended to the file with "+
				"Out-File -Append or >> in another encoding. Before uploading the file "+
				"to the Intune portal, save it again in one encoding (or use apimport convert)")
	}
	if r.fb != nil && r.fb.firstLine > 0 {
		r.noteOnce(r.fb.firstLine, "encoding_fallback",
			"bytes that are not valid UTF-8 were read as Windows-1252 (ANSI) from this line on; the file mixes encodings")
	}
}

// readRaw reads the next record from the CSV reader. The cells are only valid until the
// next call.
func (r *Reader) readRaw() (record, error) {
	cells, err := r.cr.Read()
	if err != nil {
		if err == io.EOF {
			return record{}, io.EOF
		}
		if errors.Is(err, errRecordTooLong) {
			line := max(r.nextLine, 1)
			if line == 1 && r.oddQuotes {
				return record{}, r.fileErr(line, "record_too_long",
					fmt.Sprintf("a quote (\") on line 1 is never closed: more than %d MiB from there on reads as one value", maxRecordBytes>>20),
					`remove that quote, or close it after its value, and read the file again`, nil)
			}
			return record{}, r.fileErr(line, "record_too_long",
				fmt.Sprintf("a record starting near this line is longer than %d MiB", maxRecordBytes>>20),
				`a value probably opens a quote (") that is never closed; fix or remove that quote`, nil)
		}
		return record{}, r.fileErr(r.nextLine, "unreadable", "cannot read: "+causeText(err), "check that the file is readable", err)
	}
	line, _ := r.cr.FieldPos(0)
	last, _ := r.cr.FieldPos(len(cells) - 1)
	r.nextLine = last + strings.Count(cells[len(cells)-1], "\n") + 1
	r.lim.recStart = r.cr.InputOffset()
	return record{line: line, cells: cells}, nil
}

// readRecord returns a held header, then queued records, then reads on.
func (r *Reader) readRecord() (record, error) {
	if r.held != nil {
		rec := *r.held
		r.held = nil
		return rec, nil
	}
	if len(r.queue) > 0 {
		rec := r.queue[0]
		r.queue = r.queue[1:]
		return rec, nil
	}
	if r.deferred != nil {
		return record{}, r.deferred
	}
	return r.readRaw()
}

// scanRecords reads up to scanRecords non-blank records (plus one to look ahead) for
// the layout detection; a read error after some records is deferred.
func (r *Reader) scanRecords() ([]record, error) {
	var scanned []record
	for len(scanned) <= scanRecords {
		rec, err := r.readRaw()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(scanned) == 0 {
				return nil, err
			}
			// Rows before the bad record are still delivered; the error comes after them.
			r.deferred = err
			break
		}
		if blank(rec.cells) {
			continue
		}
		rec.cells = append([]string(nil), rec.cells...)
		scanned = append(scanned, rec)
	}
	if len(scanned) == 0 {
		return nil, r.fileErr(0, "empty", "the file has no data, only blank lines",
			"export the hashes again with Get-WindowsAutopilotInfo or the ConfigMgr report", nil)
	}
	if first := &scanned[0]; first.line == 1 && len(first.cells) > 0 {
		// A UTF-8 byte order mark read as ANSI and saved again: PowerShell 5.1's
		// Invoke-WebRequest decodes a response without charset as ISO-8859-1, so
		// (Invoke-WebRequest "…&rs:Format=CSV").Content | Out-File starts with "ï»¿".
		if rest, ok := strings.CutPrefix(first.cells[0], bomAsANSI); ok {
			first.cells[0] = rest
			r.note(1, "bom_as_text", `the file starts with "ï»¿", a UTF-8 byte order mark that was decoded as ANSI and saved again `+
				`(e.g. PowerShell 5.1: (Invoke-WebRequest <report URL>&rs:Format=CSV).Content | Out-File): ignored; `+
				`save the download as it is instead (Invoke-WebRequest -OutFile)`)
		}
	}
	return scanned, nil
}

// detect reads up to scanRecords non-blank records (plus one to look ahead) and decides
// the layout. Records that are data are queued for Next.
func (r *Reader) detect() error {
	if r.corporate {
		return r.detectCorporate()
	}
	scanned, err := r.scanRecords()
	if err != nil {
		return err
	}
	for i := 0; i < len(scanned) && i < scanRecords; i++ {
		rec := scanned[i]
		if off, k := ssrsLabelsAt(scanned, i); k > 0 {
			var elem *record
			if i > 0 {
				elem = &scanned[i-1]
			}
			r.setSSRS(rec, off, k, elem)
			skipped := i
			if elem != nil {
				skipped--
			}
			r.note(rec.line, "ssrs_layout", r.ssrsNote(off, elem != nil && looksLikeElementHeader(elem.cells), skipped))
			r.queue = scanned[i:]
			return nil
		}
		if h, ok := looksLikeHeader(rec.cells); ok {
			if _, k := ssrsLabelsAt(scanned, i+1); k > 0 {
				continue // the element-name header of an SSRS export
			}
			return r.acceptHeader(scanned, i, h)
		}
		if hi := hashIndex(rec.cells); hi >= 0 {
			// Records just before the first hash with the same number of fields are rows
			// too (devices whose hash could not be read), not a preamble.
			start := i
			for start > 0 && len(scanned[start-1].cells) == len(rec.cells) {
				if _, ok := looksLikeHeader(scanned[start-1].cells); ok {
					break
				}
				start--
			}
			if start > 0 {
				r.note(scanned[0].line, "preamble_skipped", fmt.Sprintf("skipped %d line(s) before the first row", start))
			}
			r.setHeaderless(rec, hi)
			r.queue = scanned[start:]
			return nil
		}
	}
	if r.deferred != nil {
		return r.deferred
	}
	return r.noHeaderError(scanned)
}

// ssrsLabelsAt returns the label offset and the number of label cells when scanned[i] is
// an SSRS label row (clearly, or weakly and followed by another row with the labels at
// the same place: a header never repeats on the next line), else k == 0.
func ssrsLabelsAt(scanned []record, i int) (off, k int) {
	if i >= len(scanned) {
		return 0, 0
	}
	off, k, strong := labelRow(scanned[i].cells)
	if k > 0 && (strong || i+1 < len(scanned) && labelsAt(scanned[i+1].cells, off) || i > 0 && elementHeaderFor(scanned[i-1].cells, scanned[i].cells, off, k)) {
		return off, k
	}
	return 0, 0
}

// elementHeaderFor reports whether elem is the SSRS element-name header of the label row
// rec with k labels at off: its cells off+k..off+2k-1 name the same fields as the labels
// (e.g. Details_Table0_SerialNumber0 over the serial value). It decides a label row whose
// values look like no data (a single device without hash), which alone reads like a header.
func elementHeaderFor(elem, rec []string, off, k int) bool {
	if len(elem) < off+2*k {
		return false
	}
	for j := 0; j < k; j++ {
		if f := lookupField(elem[off+k+j]); f == fNone || f != lookupField(rec[off+j]) {
			return false
		}
	}
	return true
}

// looksLikeElementHeader reports whether cells is an SSRS element-name header (its names
// map to import columns, e.g. Details_Table0_SerialNumber) rather than text-box values.
func looksLikeElementHeader(cells []string) bool {
	h := parseHeader(cells)
	return h.matched >= 2
}

// ssrsNote names the SSRS CSV rendering recognised: Excel mode (the default: the report's
// text boxes once, a blank line, then the table) or the flat mode (ExcelMode=false: one
// table, the text boxes repeated on every row), with or without the element-name header
// (NoHeader), and the encoding (the Encoding device setting: UTF-8, the default, or
// Unicode, i.e. UTF-16LE).
func (r *Reader) ssrsNote(off int, header bool, skipped int) string {
	mode := "Excel mode, the default: text boxes first, then the table"
	if off > 0 {
		mode = fmt.Sprintf("flat mode, ExcelMode=false: the report's %s repeated on every row", pluralWord(off, "text box", "text boxes"))
	}
	enc := map[string]string{encUTF8: "UTF-8", encUTF8BOM: "UTF-8 with BOM", encUTF16LE: "Unicode (UTF-16LE)",
		encUTF16BE: "UTF-16BE", encWin1252: "ANSI"}[r.format.Encoding]
	msg := "read as a ConfigMgr report export (SSRS CSV, " + mode
	if !header {
		msg += "; no header row"
	}
	if enc != "" {
		msg += "; " + enc
	}
	msg += "): each row repeats the column labels before the values"
	if skipped > 0 {
		msg += fmt.Sprintf("; skipped %d report line(s) before the data", skipped)
	}
	return msg
}

// noHeaderError explains why no header or hash was found in the scanned records.
func (r *Reader) noHeaderError(scanned []record) error {
	// manufacturer,model,serial: three short values on most lines, no hash.
	if looksCorporate(scanned) {
		return r.corporateError(scanned[0].line)
	}
	for _, rec := range scanned {
		if len(rec.cells) != 1 {
			continue
		}
		for _, sep := range []string{";", "\t", "|"} {
			parts := strings.Split(rec.cells[0], sep)
			for i, p := range parts { // Excel quotes every cell: "a";"b" reads as one cell a";"b
				parts[i] = strings.Trim(p, `" `)
			}
			if _, ok := looksLikeHeader(parts); ok {
				r.wrongSep = rune(sep[0])
				name := map[string]string{";": "semicolons", "\t": "tabs", "|": "vertical bars"}[sep]
				hint := `export the hashes again (Get-WindowsAutopilotInfo or the ConfigMgr report) instead of re-saving them in Excel, ` +
					`or replace every ` + map[string]string{";": ";", "\t": "tab", "|": "|"}[sep] + ` by a comma in a text editor`
				if sep == ";" {
					hint += `; Excel uses semicolons when the Windows list separator is ";" (many European locales)`
				}
				return r.fileErr(rec.line, "wrong_delimiter", "the columns are separated by "+name+", not commas", hint, nil)
			}
		}
	}
	for _, rec := range scanned {
		for _, c := range rec.cells {
			if strings.Contains(normHeader(c), "autopilotdeviceinformation") {
				return r.fileErr(0, "no_rows", "this is a ConfigMgr report export (Windows Autopilot Device Information) without any device rows",
					"check that hardware inventory collects the class MDM_DevDetail_Ext01 (clients on Windows 10 1703 or later), "+
						"run the report for the right collection, and export it again", nil)
			}
		}
	}
	for _, rec := range scanned {
		for _, c := range rec.cells {
			if n := strings.Count(c, "\n"); n >= 2 {
				return r.fileErr(rec.line, "unclosed_quote", fmt.Sprintf(
					"a quote (\") on line %d is never closed: lines %d to %d read as one value, so no header was found", rec.line, rec.line, rec.line+n),
					"remove that quote, or close it after its value, and read the file again", nil)
			}
		}
	}
	return r.fileErr(0, "no_header", fmt.Sprintf("no header row and no hardware hash in the first %d lines", len(scanned)),
		"an import file starts with the header Device Serial Number,Windows Product ID,Hardware Hash; export the hashes with Get-WindowsAutopilotInfo or the ConfigMgr report", nil)
}

func (r *Reader) corporateError(line int) error {
	return r.fileErr(line, CodeCorporate,
		"this is a corporate device identifier list (manufacturer,model,serial), not a hardware-hash export",
		"import it with 'apimport import --corporate-identifiers' ('apimport check' and 'apimport convert' read it as it is), "+
			"or upload it in Intune under Devices > Enrollment > Corporate device identifiers; it is not an Autopilot hash import", nil)
}

// checkHeader rejects headers that cannot describe an import file.
func (r *Reader) checkHeader(rec record, h headerInfo) error {
	if h.dup != fNone {
		return r.fileErr(rec.line, "duplicate_column",
			fmt.Sprintf("columns %d (%q) and %d (%q) both hold the %s", h.dupA+1, strings.TrimSpace(rec.cells[h.dupA]),
				h.dupB+1, strings.TrimSpace(rec.cells[h.dupB]), fieldNames[h.dup]),
			"remove or rename one of the two columns", nil)
	}
	if r.corporate {
		return r.checkCorporateHeader(rec, h)
	}
	if h.has(fHash) {
		return nil
	}
	if h.has(fManufacturer) && h.has(fModel) && h.has(fSerial) && (trimmedLen(rec.cells) == 3 || onlyImportColumns(rec.cells, h)) {
		return r.corporateError(rec.line)
	}
	if isGraphExport(rec.cells, h) {
		return r.fileErr(rec.line, "device_list_export",
			"this is a list of devices already registered (Intune/Graph export), not a hardware-hash export",
			"export hashes with Get-WindowsAutopilotInfo or the ConfigMgr report Windows Autopilot Device Information", nil)
	}
	return r.fileErr(rec.line, "no_hash_column",
		fmt.Sprintf("the header has no hardware hash column (columns: %s)", quoteList(trimAll(rec.cells[:trimmedLen(rec.cells)]))),
		"an import file needs the column Hardware Hash; export the hashes with Get-WindowsAutopilotInfo or the ConfigMgr report", nil)
}

func trimAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.TrimFunc(c, isSpaceOrInvisible)
	}
	return out
}

// newMap builds the gocsv header for fields: one tag per position (a unique placeholder
// where the position maps to nothing), then every tag not used, so that gocsv's global
// FailIfUnmatchedStructTags / FailIfDoubleHeaderNames, if another package sets them,
// cannot make a batch fail.
func newMap(layout Layout, fields []field, width, headerLine int) *layoutMap {
	m := &layoutMap{layout: layout, fields: fields, width: width, headerLine: headerLine}
	used := map[field]bool{}
	for i, f := range fields {
		if f == fNone || used[f] {
			m.tags = append(m.tags, "_ignored_"+strconv.Itoa(i))
			continue
		}
		used[f] = true
		m.tags = append(m.tags, fieldTags[f])
	}
	for f := fSerial; f <= fModel; f++ {
		if !used[f] {
			m.tags = append(m.tags, fieldTags[f])
		}
	}
	return m
}

func (r *Reader) setMap(m *layoutMap) {
	r.m = m
	if r.format.Layout == "" {
		r.format.Layout = m.layout
	}
	for _, f := range m.fields {
		switch f {
		case fGroupTag:
			r.format.HasGroupTag = true
		case fUser:
			r.format.HasAssignedUser = true
		}
	}
}

// acceptHeader takes scanned[i] as the header h: it checks it, notes the preamble lines
// before it, maps the columns and queues the records after it.
func (r *Reader) acceptHeader(scanned []record, i int, h headerInfo) error {
	rec := scanned[i]
	if err := r.checkHeader(rec, h); err != nil {
		return err
	}
	if i > 0 {
		r.note(scanned[0].line, "preamble_skipped", fmt.Sprintf("skipped %d line(s) before the header", i))
	}
	r.setHeader(rec, h)
	r.queue = scanned[i+1:]
	return nil
}

// setHeader maps columns by the header's names.
func (r *Reader) setHeader(rec record, h headerInfo) {
	layout := LayoutCanonical
	if h.has(fManufacturer) || h.has(fModel) {
		layout = LayoutPartner
	}
	if r.corporate {
		layout = LayoutCorporate
		r.noteCorporateHeader(rec, h)
	}
	unknown := 0
	for i, f := range h.fields {
		if name := strings.TrimFunc(rec.cells[i], isSpaceOrInvisible); f == fNone && name != "" {
			if unknown++; unknown <= maxUnknownColumnNotes {
				r.note(rec.line, "unknown_column", fmt.Sprintf("column %d %q is not an import column; it is ignored", i+1, shorten(name, 80)))
			}
		}
	}
	r.noteMoreUnknown(rec.line, unknown)
	r.setMap(newMap(layout, h.fields, trimmedLen(rec.cells), rec.line))
}

// noteMoreUnknown adds one note for the unknown columns past the first
// maxUnknownColumnNotes (a very wide header must not print a note per column).
func (r *Reader) noteMoreUnknown(line, unknown int) {
	if n := unknown - maxUnknownColumnNotes; n > 0 {
		msg := fmt.Sprintf("%d more columns are not import columns either; they are ignored", n)
		if n == 1 {
			msg = "1 more column is not an import column either; it is ignored"
		}
		r.note(line, "unknown_column", msg)
	}
}

// setHeaderless maps a file without header: serial is the first cell, the hash the
// hash-like cell. When the hash is the third cell the canonical order is assumed for
// the others (Windows Product ID, then Group Tag and Assigned User).
func (r *Reader) setHeaderless(rec record, hi int) {
	width := trimmedLen(rec.cells)
	fields := make([]field, max(width, hi+1))
	fields[hi] = fHash
	desc := fmt.Sprintf("hash = column %d", hi+1)
	if hi > 0 {
		fields[0] = fSerial
		desc = "serial = column 1, " + desc
	}
	if hi == 2 {
		fields[1] = fProductID
		for len(fields) < 5 {
			fields = append(fields, fNone)
		}
		fields[3], fields[4] = fGroupTag, fUser
		width = max(width, 5)
		desc = "columns taken in the order Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User"
	}
	r.note(rec.line, "headerless", "no header row: "+desc)
	m := newMap(LayoutHeaderless, fields, width, 0)
	r.setMap(m)
	// Without a header, the columns exist when the first row has them (later rows with a
	// value set the flags too, see convert).
	n := trimmedLen(rec.cells)
	r.format.HasGroupTag = hi == 2 && n >= 4
	r.format.HasAssignedUser = hi == 2 && n >= 5
}

// setSSRS maps the ConfigMgr report layout: k label cells, then the k values in the
// same order, then (rarely) more cells, named by the element-name header if there is one.
func (r *Reader) setSSRS(rec record, off, k int, elem *record) {
	width := trimmedLen(rec.cells)
	fields := make([]field, max(width, off+2*k))
	used := map[field]bool{}
	for j := 0; j < k; j++ {
		f := lookupField(rec.cells[off+j])
		fields[off+k+j] = f
		used[f] = true
	}
	headerLine := 0
	var elemKey string
	if elem != nil {
		headerLine = elem.line
		elemKey = recordKey(elem.cells)
	}
	unknown := 0
	for i := off + 2*k; i < width; i++ {
		var f field
		if elem != nil && i < len(elem.cells) {
			f = lookupField(elem.cells[i])
		}
		if f != fNone && !used[f] {
			fields[i] = f
			used[f] = true
			continue
		}
		name := ""
		if elem != nil && i < len(elem.cells) {
			name = " " + strconv.Quote(shorten(strings.TrimSpace(elem.cells[i]), 80))
		}
		if unknown++; unknown <= maxUnknownColumnNotes {
			r.note(rec.line, "unknown_column", fmt.Sprintf("column %d%s of the report rows is not an import column; it is ignored", i+1, name))
		}
	}
	r.noteMoreUnknown(rec.line, unknown)
	m := newMap(LayoutSSRS, fields, max(width, off+2*k), headerLine)
	m.labels = k
	m.off = off
	m.elemKey = elemKey
	r.setMap(m)
}

// recordKey identifies a header record regardless of case and spacing.
func recordKey(cells []string) string {
	n := trimmedLen(cells)
	parts := make([]string, n)
	for i := range n {
		parts[i] = normHeader(cells[i])
	}
	return strings.Join(parts, ",")
}

func sameFields(a, b []field) bool {
	n := len(a)
	for n > 0 && a[n-1] == fNone {
		n--
	}
	m := len(b)
	for m > 0 && b[m-1] == fNone {
		m--
	}
	if n != m {
		return false
	}
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// headerAction says what a mid-file record that looks like a header means.
type headerAction int

const (
	notHeader headerAction = iota
	headerRepeated
	headerChanged
)

// midFileHeader checks whether rec is a header line inside the data (files merged by
// concatenation). A repeat of the current header is skipped; a different one switches
// the mapping for the rows that follow.
func (r *Reader) midFileHeader(rec record) (headerAction, headerInfo) {
	if r.m.layout == LayoutSSRS {
		if r.m.elemKey != "" && recordKey(rec.cells) == r.m.elemKey {
			return headerRepeated, headerInfo{}
		}
		return notHeader, headerInfo{}
	}
	// Cheap pre-check: a header has no long cell.
	for _, c := range rec.cells {
		if len(c) > 200 {
			return notHeader, headerInfo{}
		}
	}
	h, ok := looksLikeHeader(rec.cells)
	if !ok {
		return notHeader, headerInfo{}
	}
	// A row is a header only if it holds no data: a ConfigMgr report row with the
	// column labels and a serial but no hash is a device without hash, not a header with
	// other columns (which would misread every row after it).
	if isDeviceLabelRow(rec.cells) {
		return notHeader, headerInfo{}
	}
	if r.m.layout != LayoutHeaderless && sameFields(h.fields, r.m.fields) {
		return headerRepeated, h
	}
	return headerChanged, h
}

// fill reads up to batchSize data rows and converts them with gocsv into r.out.
func (r *Reader) fill() {
	r.out = r.out[:0]
	r.outPos = 0
	n := 0
	for n < batchSize {
		rec, err := r.readRecord()
		if err != nil {
			r.err = err
			break
		}
		if blank(rec.cells) {
			continue
		}
		switch act, h := r.midFileHeader(rec); act {
		case headerRepeated:
			r.noteOnce(rec.line, "repeated_header", "header line repeated inside the file (several exports merged?): skipped, as are later repeats")
			continue
		case headerChanged:
			if n > 0 { // convert the rows read so far with the current mapping first
				held := rec
				held.cells = append([]string(nil), rec.cells...)
				r.held = &held
				r.convert(n)
				r.checkFallback()
				return
			}
			if err := r.checkHeader(rec, h); err != nil {
				r.err = err
				return
			}
			old := r.m.layout
			r.setHeader(rec, h)
			if old == LayoutHeaderless {
				r.note(rec.line, "header_changed", "a header row follows rows without header: the rows after it are read by its column names")
			} else {
				r.note(rec.line, "header_changed", "a header with different columns: the rows after it are read by its column names")
			}
			continue
		}
		if r.m.layout == LayoutSSRS && !labelsAt(rec.cells, r.m.off) && hashIndex(rec.cells) < 0 && trimmedLen(rec.cells) < r.m.width {
			// Not a device row: another region of the report (text boxes, totals, a page
			// footer). Device rows always repeat the labels; one without them but with a
			// hash is still reported as a malformed row.
			r.otherLines++
			switch {
			case r.otherLines <= maxOtherLineNotes:
				r.note(rec.line, "ssrs_other_line", fmt.Sprintf("report line %q is not a device row (no column labels, no hash): skipped",
					shorten(strings.Join(rec.cells[:trimmedLen(rec.cells)], ","), 80)))
			case r.otherLines == maxOtherLineNotes+1:
				r.note(rec.line, "ssrs_other_line", "this and further report lines that are not device rows are skipped without a note each")
			}
			continue
		}
		r.joinWrapped(&rec)
		r.addPending(n, rec)
		n++
	}
	r.convert(n)
	r.checkFallback()
}

const (
	// hashChars is the length of every hash seen in real exports (3000 bytes in base64).
	hashChars = 4000
	// maxJoinedHash bounds a hash joined from wrapped lines.
	maxJoinedHash = 2 * hashChars
)

// joinWrapped appends to the hash of rec the lines after it that hold nothing but base64
// text, while the hash is shorter than a real one: a hash that was copied from a console
// window or wrapped by an editor into an unquoted file. Without this the first part would
// pass for a short hash and the rest for rows without a serial. Only a row whose hash is
// its last cell and not its first is considered; a complete 4000-character hash never is.
func (r *Reader) joinWrapped(rec *record) {
	hi := -1
	for i, f := range r.m.fields {
		if f == fHash {
			hi = i
		}
	}
	if hi <= 0 || trimmedLen(rec.cells) != hi+1 {
		return
	}
	h := strings.TrimSpace(rec.cells[hi])
	if len(h) < 64 || len(h) >= hashChars || !isBase64(h) {
		return
	}
	rec.cells = append([]string(nil), rec.cells...) // the CSV reader reuses the slice
	joined := 0
	for len(h) < hashChars {
		next, err := r.readRecord()
		if err != nil {
			if r.deferred == nil {
				r.deferred = err
			}
			break
		}
		c := ""
		if trimmedLen(next.cells) == 1 {
			c = strings.TrimSpace(next.cells[0])
		}
		// A short piece (a serial alone on its line looks like base64 too) is joined only
		// when it completes the hash to its usual length.
		if c == "" || !isBase64(c) || len(h)+len(c) > maxJoinedHash || len(c) < 16 && len(h)+len(c) != hashChars {
			held := next
			held.cells = append([]string(nil), next.cells...)
			r.held = &held
			break
		}
		h += c
		joined++
	}
	if joined > 0 {
		rec.cells[hi] = h
		r.note(rec.line, "hash_wrapped", fmt.Sprintf("the Hardware Hash continues on the next %s without quotes "+
			"(copied from a console window or wrapped by an editor?): joined into one value", pluralLines(joined)))
	}
}

// pluralWord is "1 text box", "2 text boxes".
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func pluralLines(n int) string {
	if n == 1 {
		return "line"
	}
	return strconv.Itoa(n) + " lines"
}

// addPending copies and trims the cells of rec into slot n and checks the record's shape.
func (r *Reader) addPending(n int, rec record) {
	if n == len(r.pending) {
		r.pending = append(r.pending, pendingRow{})
	}
	p := &r.pending[n]
	p.line = rec.line
	p.cells = p.cells[:0]
	for _, c := range rec.cells {
		p.cells = append(p.cells, unquoteSpaced(strings.TrimSpace(c), c))
	}
	p.problem = r.checkRow(p.cells, rec.line)
}

// checkRow reports what is wrong with the shape of a record starting on line (nil if
// nothing).
func (r *Reader) checkRow(cells []string, line int) *RowProblem {
	m := r.m
	// A line break first: a quote opened and never closed (LazyQuotes) joins the following
	// lines into one value, which also makes the field count wrong; say so rather than
	// "missing column". A quoted hash wrapped over several lines is only whitespace apart
	// from a good hash and is accepted.
	for i, c := range cells {
		if strings.IndexByte(c, '\n') < 0 {
			continue
		}
		f := fNone
		if i < len(m.fields) {
			f = m.fields[i]
		}
		if f == fHash && isBase64(stripSpace(c)) {
			r.noteOnce(line, "hash_wrapped", "the Hardware Hash value spans several lines (quoted, with line breaks inside): the line breaks are ignored")
			continue
		}
		name := fieldNames[f]
		if f == fNone {
			name = fmt.Sprintf("column %d", i+1)
		}
		end := line
		for _, x := range cells {
			end += strings.Count(x, "\n")
		}
		return &RowProblem{Code: "row_multiline", Message: fmt.Sprintf(
			"%s holds a line break (the record runs from line %d to %d): a quote is probably not closed, which joins lines into one value; "+
				"remove the stray quote (\") so that every row is on its own line", name, line, end)}
	}
	if m.layout == LayoutSSRS {
		if !labelsAt(cells, m.off) {
			return &RowProblem{Code: "row_columns", Message: fmt.Sprintf(
				"expected the report labels Device Serial Number,Windows Product ID,Hardware Hash in cells %d-%d, then the values (%d fields), got %d fields", m.off+1, m.off+3, m.width, trimmedLen(cells))}
		}
	}
	if got := trimmedLen(cells); got > m.width {
		return &RowProblem{Code: "row_columns", Message: fmt.Sprintf(
			"expected %d fields, got %d: a value probably contains a comma; remove it or quote the value", m.width, got)}
	}
	if len(cells) < len(m.fields) {
		for _, f := range m.fields[len(cells):] {
			if f == fSerial || f == fHash || r.corporate && (f == fManufacturer || f == fModel) {
				return &RowProblem{Code: "row_columns", Message: fmt.Sprintf(
					"expected %d fields, got %d: no %s", m.width, len(cells), fieldNames[f])}
			}
		}
	}
	if m.layout == LayoutHeaderless {
		hi := -1
		for i, f := range m.fields {
			if f == fHash {
				hi = i
			}
		}
		if hi >= len(cells) || !isHashLike(cells[hi]) {
			if j := hashIndex(cells); j >= 0 {
				return &RowProblem{Code: "row_columns", Message: fmt.Sprintf(
					"the hash is in column %d, expected in column %d like the first row", j+1, hi+1)}
			}
		}
	}
	for i, c := range cells {
		if i >= len(m.fields) || m.fields[i] == fNone {
			continue
		}
		name := fieldNames[m.fields[i]]
		switch {
		case strings.IndexByte(c, 0) >= 0:
			return &RowProblem{Code: "row_encoding", Message: name + " contains NUL bytes: text in another encoding was appended to the file (Out-File -Append or >>)"}
		case strings.Contains(c, "\uFFFD"):
			return &RowProblem{Code: "row_encoding", Message: name + " contains characters that could not be decoded"}
		case strings.IndexByte(c, '"') >= 0:
			return &RowProblem{Code: "row_quote", Message: name + ` contains a quote character ("): a quote is unbalanced or part of the value`}
		}
	}
	return nil
}

// batchSource hands one batch to gocsv as a CSVReader: the tag header, then the records.
type batchSource struct {
	rows [][]string
	pos  int
}

// Read implements gocsv.CSVReader.
func (b *batchSource) Read() ([]string, error) {
	if b.pos >= len(b.rows) {
		return nil, io.EOF
	}
	b.pos++
	return b.rows[b.pos-1], nil
}

// ReadAll implements gocsv.CSVReader.
func (b *batchSource) ReadAll() ([][]string, error) {
	rows := b.rows[b.pos:]
	b.pos = len(b.rows)
	return rows, nil
}

// convert maps the first n pending records to rows.
//
// gocsv does the tag → struct field step: the batch (a header of tags, then the records)
// goes through NewSimpleDecoderFromCSVReader + UnmarshalDecoder, synchronously. Header
// names were already turned into tags by the layout detection, which gocsv cannot do: it
// matches names case-sensitively and has no notion of preambles, SSRS label cells,
// repeated or changing headers. Its other entry points do not fit a pull-style Next:
// NewUnmarshaller takes a *csv.Reader and reads the header and every record itself, so
// records could not be inspected (line numbers, blank lines, repeated headers) before
// mapping; the callback/channel APIs run a goroutine per file that leaks when the caller
// stops early (gocarina/gocsv#236). Batching batchSize records per call keeps gocsv's
// per-call set-up (header matching, reflection) off the per-row cost. No package-global
// gocsv setting is changed, and the tag header is built so that the globals, if another
// package sets them, cannot change the result (see newMap).
func (r *Reader) convert(n int) {
	if n == 0 {
		return
	}
	rows := make([][]string, 0, n+1)
	rows = append(rows, r.m.tags)
	for i := range n {
		c := r.pending[i].cells
		if len(c) > len(r.m.fields) {
			c = c[:len(r.m.fields)]
		}
		rows = append(rows, c)
	}
	if cap(r.tagged) < n {
		r.tagged = make([]taggedRow, n)
	}
	r.tagged = r.tagged[:n]
	if err := gocsv.UnmarshalDecoder(gocsv.NewSimpleDecoderFromCSVReader(&batchSource{rows: rows}), &r.tagged); err != nil {
		// Only string fields are set, so gocsv has nothing to fail on; keep the rows anyway.
		r.err = r.fileErr(r.pending[0].line, "internal", "mapping columns failed: "+err.Error(), "please report this", err)
		return
	}
	for i := range n {
		t := r.tagged[i]
		p := &r.pending[i]
		if t.GroupTag != "" {
			r.format.HasGroupTag = true
		}
		if t.AssignedUser != "" {
			r.format.HasAssignedUser = true
		}
		r.noteRow(p.line, &t)
		hash := dropInvisible(t.Hash)
		if len(hash) != len(t.Hash) || hasSpace(hash) {
			if r.cleaned++; r.cleaned == 1 {
				r.cleanedLine = p.line
			}
		}
		r.out = append(r.out, Row{
			File: r.name, Line: p.line,
			Serial: t.Serial, ProductID: t.ProductID, Hash: hash,
			GroupTag: t.GroupTag, AssignedUser: t.AssignedUser,
			Manufacturer: t.Manufacturer, Model: t.Model,
			Problem: p.problem,
		})
	}
}

// limitReader fails once the current record (bytes since recStart) grows past max.
type limitReader struct {
	r        io.Reader
	total    int64
	recStart int64
	max      int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.total-l.recStart > l.max {
		return 0, errRecordTooLong
	}
	n, err := l.r.Read(p)
	l.total += int64(n)
	return n, err
}

// hasSpace reports whether s holds a space or tab (inside a hash: pasted text; the hash
// decoder skips them). Line breaks inside a quoted hash have their own note.
func hasSpace(s string) bool {
	return strings.IndexByte(s, ' ') >= 0 || strings.IndexByte(s, '\t') >= 0
}

// stripSpace returns s without any white space (a hash wrapped over lines).
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// noteRow adds the file notes that explain a row's values (once per file): a Partner
// Center tuple without hash, a serial that Excel turned into a number.
func (r *Reader) noteRow(line int, t *taggedRow) {
	if !r.corporate && strings.TrimSpace(t.Hash) == "" && strings.TrimSpace(t.Manufacturer) != "" && strings.TrimSpace(t.Model) != "" {
		r.noteOnce(line, "partner_tuple", "rows with Manufacturer name and Device model but no Hardware Hash "+
			"(Get-WindowsAutopilotInfo -Partner writes them when it cannot read the hash) are Partner Center tuples: "+
			"the hash import cannot register them. Register them in Partner Center (serial, manufacturer, model), "+
			"or capture the hash again on the device, elevated, in full Windows; for Autopilot device preparation, a file with only "+
			"Manufacturer, Model and Serial Number columns (no Hardware Hash) is read as corporate identifiers (apimport import --corporate-identifiers)")
	}
	if r.m.layout == LayoutSSRS && strings.TrimSpace(t.Hash) == "" {
		r.noteOnce(line, "ssrs_no_hash", "the ConfigMgr report has no hardware hash for the device on this line (and maybe others): "+
			"enable the hardware inventory class MDM_DevDetail_Ext01 (Windows 10 1703 or later clients), wait for the next inventory cycle "+
			"and run the report again, or capture the hash on the device with Get-WindowsAutopilotInfo")
	}
	if isScientific(t.Serial) {
		r.noteOnce(line, "serial_scientific", fmt.Sprintf("the serial number %q is a number in scientific notation: "+
			"Excel converted the serials (digits and leading zeros are lost); export the hashes again and do not "+
			"open or save the file in Excel", strings.TrimSpace(t.Serial)))
	}
}

// isScientific reports whether s, without surrounding space, looks like a number Excel
// wrote in scientific notation (1.23457E+11, 5E+14).
func isScientific(s string) bool { return digits.Scientific(strings.TrimSpace(s)) }

// shorten cuts s to at most n bytes (on a rune boundary), marking the cut with "…".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// dropInvisible removes zero-width characters, BOMs and no-break spaces from a hash (a
// value copied from a web page, chat or document); it returns s itself when there are none.
func dropInvisible(s string) string {
	// The characters removed start with the UTF-8 lead bytes C2 (U+00A0), E2 (U+200B-D,
	// U+2060) and EF (U+FEFF); a hash has none of these bytes.
	if strings.IndexByte(s, 0xE2) < 0 && strings.IndexByte(s, 0xEF) < 0 && strings.IndexByte(s, 0xC2) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isInvisible(r) || r == '\u00A0' {
			return -1
		}
		return r
	}, s)
}

// unquoteSpaced unquotes a value written as `, "value"`: encoding/csv only treats a quote
// at the very start of a field as quoting, so a space before it (hand-made files, some
// scripts) leaves the quotes in the value. trimmed is raw without surrounding spaces.
func unquoteSpaced(trimmed, raw string) string {
	if len(trimmed) < 2 || trimmed[0] != '"' || trimmed[len(trimmed)-1] != '"' || raw == "" || raw[0] == '"' {
		return trimmed
	}
	inner := trimmed[1 : len(trimmed)-1]
	if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
		return trimmed // not one quoted value
	}
	return strings.ReplaceAll(inner, `""`, `"`)
}
