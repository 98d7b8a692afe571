package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/textsafe"
)

// deviceLine is one row's result as every output shows it: hashes shortened, and its
// position in the input for the outputs that follow the input order.
type deviceLine struct {
	importer.DeviceResult
	pos int
}

// inputOrder maps a row (file and line) to its position in the input, for the outputs
// that follow the input order: per file a slice indexed by line, 4 bytes a line rather
// than a map entry and a key string per row (a large import has 100,000 rows).
type inputOrder map[string][]int32

// add records that the row at file:line is at position pos.
func (o inputOrder) add(file string, line, pos int) {
	if line < 0 {
		return
	}
	lines := o[file]
	if line >= len(lines) {
		lines = append(lines, make([]int32, line+1-len(lines))...)
	}
	lines[line] = int32(pos + 1) // 0: no row
	o[file] = lines
}

// pos is the position of the row at file:line; a row not added sorts last.
func (o inputOrder) pos(file string, line int) int {
	if lines := o[file]; line >= 0 && line < len(lines) && lines[line] > 0 {
		return int(lines[line] - 1)
	}
	return math.MaxInt
}

// ordered is embedded by the reporters that write the run's lines at the end, in input
// order (the text table, the CSV report, the HTML page): they read them from the run's
// one rowStore, which importOutput fills, so they take nothing line by line.
type ordered struct {
	rows *rowStore
}

func (o *ordered) device(deviceLine)      {}
func (o *ordered) useRows(rows *rowStore) { o.rows = rows }

// runSummary is the end of a run as every output shows it.
type runSummary struct {
	importer.RunSummary
	DryRun     bool
	FileErrors int
}

// reporter is one output of a run: the text table, JSON Lines, the CSV report. Every
// reporter is fed the same values.
type reporter interface {
	device(d deviceLine)
	summary(s runSummary)
	close() error
}

// reporters fans out to several reporters.
type reporters []reporter

func (rs reporters) device(d deviceLine) {
	for _, r := range rs {
		r.device(d)
	}
}

func (rs reporters) summary(s runSummary) {
	for _, r := range rs {
		r.summary(s)
	}
}

func (rs reporters) close() error {
	var first error
	for _, r := range rs {
		if err := r.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// jsonDevice is the JSON Lines device message; the contract's fields are always
// present (0 or "" when none), for scripts.
type jsonDevice struct {
	MessageType    string `json:"message_type"`
	File           string `json:"file"`
	Line           int    `json:"line"`
	Serial         string `json:"serial"`
	Result         string `json:"result"`
	GroupTag       string `json:"group_tag,omitempty"`
	ErrorCode      int    `json:"error_code"`
	ErrorName      string `json:"error_name"`
	Message        string `json:"message,omitempty"`
	Hint           string `json:"hint"`
	ImportID       string `json:"import_id"`
	RegistrationID string `json:"registration_id,omitempty"`
	DuplicateOf    string `json:"duplicate_of,omitempty"`
	ProfileStatus  string `json:"profile_status,omitempty"`
	ProfileName    string `json:"profile_name,omitempty"`
	Group          string `json:"group,omitempty"`
}

// deviceFields are the names of the device fields, in the order of the CSV report's
// columns (the JSON device message has the same names).
var deviceFields = []string{"file", "line", "serial", "result", "group_tag", "error_code", "error_name", "message", "hint", "import_id", "registration_id", "duplicate_of", "profile_status", "profile_name", "group"}

func (d deviceLine) values() []string {
	return []string{d.File, strconv.Itoa(d.Line), d.Serial, d.Result, d.GroupTag, strconv.Itoa(d.ErrorCode), d.ErrorName,
		d.Message, d.Hint, d.ImportID, d.RegistrationID, d.DuplicateOf, d.ProfileStatus, d.ProfileName, d.Group}
}

type jsonImportSummary struct {
	MessageType string         `json:"message_type"`
	DryRun      bool           `json:"dry_run"`
	Tenant      string         `json:"tenant,omitempty"`
	Rows        int            `json:"rows"`
	Results     map[string]int `json:"results"`
	FileErrors  int            `json:"file_errors"`
	Requests    int            `json:"requests"`
	ReqFinal    int            `json:"requests_until_final"`
	Writes      int            `json:"writes"`
	Throttled   int            `json:"throttled"`
	Posts       int            `json:"import_requests"`
	Polls       int            `json:"polls"`
	Deleted     int            `json:"records_deleted"`
	Leftover    []string       `json:"records_left,omitempty"`
	Sync        string         `json:"sync,omitempty"`
	FinalS      float64        `json:"final_s"`
	ElapsedS    float64        `json:"elapsed_s"`
	Journal     string         `json:"journal,omitempty"`
}

// jsonReporter streams JSON Lines: each device line as soon as it is final.
type jsonReporter struct {
	out *bufio.Writer
	enc *json.Encoder
}

func newJSONReporter(w io.Writer) *jsonReporter {
	out := bufio.NewWriter(w)
	return &jsonReporter{out: out, enc: json.NewEncoder(out)}
}

func (j *jsonReporter) device(d deviceLine) {
	_ = j.enc.Encode(jsonDevice{MessageType: "device", File: d.File, Line: d.Line, Serial: d.Serial, Result: d.Result,
		GroupTag: d.GroupTag, ErrorCode: d.ErrorCode, ErrorName: d.ErrorName, Message: d.Message, Hint: d.Hint,
		ImportID: d.ImportID, RegistrationID: d.RegistrationID, DuplicateOf: d.DuplicateOf,
		ProfileStatus: d.ProfileStatus, ProfileName: d.ProfileName, Group: d.Group})
	_ = j.out.Flush()
}

func (j *jsonReporter) summary(s runSummary) {
	_ = j.enc.Encode(jsonImportSummary{MessageType: "summary", DryRun: s.DryRun, Tenant: s.Tenant, Rows: s.Rows,
		Results: s.Counts, FileErrors: s.FileErrors, Requests: s.Requests, ReqFinal: s.RequestsFinal, Writes: s.Writes,
		Throttled: s.Throttled, Posts: s.Posts, Polls: s.Polls, Deleted: s.Deleted, Leftover: s.Leftover, Sync: s.Sync,
		FinalS: round3(s.Final.Seconds()), ElapsedS: round3(s.Elapsed.Seconds()), Journal: s.Journal})
}

func (j *jsonReporter) close() error { return j.out.Flush() }

// textReporter writes the table at the end, in input order: aligned with a header on
// a terminal, tab-separated with a header line otherwise (scripts); the summary line
// follows, and notes go to stderr.
type textReporter struct {
	ordered
	out    *bufio.Writer
	stderr io.Writer
	tty    bool
}

// tableWriter returns where to write tab-separated lines: on a terminal (tty) a
// tabwriter aligning them in columns, which endTable flushes; else out itself.
func tableWriter(out io.Writer, tty bool) (w io.Writer, endTable func()) {
	if !tty {
		return out, func() {}
	}
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	return tw, func() { tw.Flush() }
}

func (t *textReporter) summary(s runSummary) {
	w, endTable := tableWriter(t.out, t.tty)
	fmt.Fprintln(w, "ROW\tSERIAL\tRESULT\tDETAIL")
	if err := t.rows.each(func(r deviceLine) error {
		_, err := fmt.Fprintf(w, "%s:%d\t%s\t%s\t%s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), r.Result, textsafe.Inline(detail(r.DeviceResult)))
		return err
	}); err != nil {
		fmt.Fprintf(t.stderr, "apimport: the table is incomplete: %v\n", err)
	}
	endTable()
	fmt.Fprintf(t.out, "%s: %s; %d requests (%d throttled), all final after %s, %s in total\n",
		plural(s.Rows, "row"), countsText(s.Counts), s.Requests, s.Throttled, s.Final.Round(100*time.Millisecond), s.Elapsed.Round(100*time.Millisecond))
	if s.FileErrors > 0 {
		fmt.Fprintf(t.out, "%s could not be read\n", plural(s.FileErrors, "file"))
	}
	if s.Sync != "" {
		fmt.Fprintf(t.stderr, "apimport: autopilot sync: %s\n", s.Sync)
	}
	if len(s.Leftover) > 0 && !s.DryRun {
		fmt.Fprintf(t.stderr, "apimport: %s left in the tenant (journal %s): the next run with this journal deletes them, or now: apimport cleanup --journal %s\n",
			plural(len(s.Leftover), "import record"), s.Journal, s.Journal)
	}
	if len(s.Leftover) > 0 && s.DryRun {
		fmt.Fprintf(t.stderr, "apimport: %s of earlier runs would be deleted\n", plural(len(s.Leftover), "import record"))
	}
}

func (t *textReporter) close() error { return t.out.Flush() }

// countsText lists counts by name, sorted: "3 registered, 1 rejected".
func countsText(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

// csvReporter writes the --report file at the end: every field of the JSON device
// line, in input order, each cell neutralised for spreadsheets, through a fresh
// temporary file (mode 0600).
type csvReporter struct {
	ordered
	path string
}

func (c *csvReporter) summary(runSummary) {}

func (c *csvReporter) close() error {
	err := safefile.Write(c.path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		if err := w.Write(deviceFields); err != nil {
			return err
		}
		if err := c.rows.each(func(r deviceLine) error {
			vals := r.values()
			for i := range vals {
				vals[i] = textsafe.CSVCell(vals[i])
			}
			return w.Write(vals)
		}); err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return fmt.Errorf("writing the report %s: %w", c.path, err)
	}
	return nil
}

// checkWritable fails, before anything is sent, when path cannot be written: its folder
// is missing or not writable, or path is a folder.
func checkWritable(flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usageErrorf("%s %s is a folder: name a file", flag, path)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".apimport-check-*")
	if err != nil {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%s %s cannot be written: %v", flag, path, err),
			hint: "create the folder first or name a file in a writable folder; nothing was sent"}
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// progressPrinter shows the engine's progress on stderr: a line redrawn in place on a
// terminal; otherwise one line every interval (scheduled jobs log it), also while the
// engine waits.
type progressPrinter struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	mu       sync.Mutex
	cur      importer.Progress
	have     bool
	last     time.Time
	width    int
	stop     chan struct{}
	stopped  chan struct{}
}

func newProgressPrinter(w io.Writer, tty bool, interval time.Duration) *progressPrinter {
	p := &progressPrinter{w: w, tty: tty, interval: interval, stop: make(chan struct{}), stopped: make(chan struct{})}
	if tty {
		close(p.stopped)
		return p
	}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.have {
					fmt.Fprintln(p.w, progressLine(p.cur))
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func progressLine(pg importer.Progress) string {
	line := fmt.Sprintf("apimport: %d/%d devices done, %d submitted, %d processing, %d records cleaned up", pg.Done, pg.Total, pg.Submitted, pg.Outstanding, pg.Deleted)
	if pg.Waiting > 0 {
		line += fmt.Sprintf(", %d waiting for their profile or group", pg.Waiting)
	}
	if pg.PollFailures > 0 {
		line += fmt.Sprintf(", Graph unreadable for the last %s", plural(pg.PollFailures, "poll"))
	}
	return line
}

func (p *progressPrinter) update(pg importer.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.have = pg, true
	if !p.tty {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond && pg.Done < pg.Total {
		return
	}
	p.last = now
	line := progressLine(pg)
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// done stops the printer and clears the terminal line.
func (p *progressPrinter) done() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func detail(r importer.DeviceResult) string {
	var parts []string
	if r.ErrorCode != 0 || r.ErrorName != "" {
		s := r.ErrorName
		if r.ErrorCode != 0 {
			s = strconv.Itoa(r.ErrorCode) + " " + s
		}
		parts = append(parts, strings.TrimSpace(s))
	}
	if r.Message != "" {
		parts = append(parts, r.Message)
	}
	if r.Hint != "" {
		parts = append(parts, "hint: "+r.Hint)
	}
	if r.ProfileStatus != "" {
		p := "profile " + r.ProfileStatus
		if r.ProfileName != "" {
			p += " (" + r.ProfileName + ")"
		}
		parts = append(parts, p)
	}
	if r.Group != "" {
		parts = append(parts, "group: "+r.Group)
	}
	if (r.Result == importer.ResultTimeout || r.Result == importer.ResultInterrupted) && r.ImportID != "" {
		parts = append(parts, "import id "+r.ImportID)
	}
	return strings.Join(parts, "; ")
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
