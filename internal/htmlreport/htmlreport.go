// Package htmlreport renders the result of an apimport command as one self-contained
// HTML page for people who never open a terminal: a change board reading a dry run, a
// platform team reading last night's scheduled import.
//
// The page has the run's header (command line, tenant, time, version, input files with
// size and SHA-256), the summary (a number and a bar per status: label, number and a
// pattern, never colour alone), the findings grouped by code with their hint and the
// affected file:lines (capped per code, with the count of the rest), the per-row table
// (sortable, filterable by status, searchable) and, for a dry run, the plan grouped by
// action.
//
// The page loads nothing: the stylesheet and a small script are inline, and a
// Content-Security-Policy meta tag (default-src 'none', the script allowed by its
// SHA-256 only) makes the browser refuse any other resource. Without the script every
// row is shown and the controls stay hidden. The script honours a URL fragment such as
// report.html#status=invalid&q=CZC (and keeps it up to date), so a filtered view can be
// linked and a headless browser can check it.
//
// The commands build a [Report] from the same values as their other outputs (already
// redacted: never a full hash or a secret); [Report.Sanitize], when set, is applied to
// every text on the page as a second line of defence. Rendering uses html/template, so
// every value is escaped for its context.
package htmlreport

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apimport/apimport/internal/safefile"
)

// Report is everything the page shows. Only Header.Command and Summary are required;
// empty sections are left out.
type Report struct {
	Header   Header
	Summary  Summary
	Findings []FindingGroup // in the order to show; see [Findings]
	Table    Table
	Plan     []PlanGroup // dry runs only; see [Planner]

	// Sanitize, when set, is applied to every text shown (e.g. the command's hash
	// redaction), after the commands have already redacted their values.
	Sanitize func(string) string
}

// Header describes the run.
type Header struct {
	Title       string // e.g. "apimport check"; the page title and heading
	Command     string // the command name: check, import, cleanup, …
	CommandLine string // as typed, reconstructed from the parsed flags (secrets are never flag values)
	DryRun      bool
	Tenant      string // tenant id, when the command talked to one
	When        time.Time
	Version     string // apimport version, commit and date
	Journal     string
	Files       []File
	Notes       []string // remarks about the run shown under the header
}

// File is one input file.
type File struct {
	Name   string
	Size   int64  // -1 when unknown (standard input, a named pipe)
	SHA256 string // hex; "" when not hashed
	Error  string // why it was not hashed, or why it could not be read
}

// Summary is the run's numbers.
type Summary struct {
	Total      int    // rows (or records) the bars are relative to
	TotalLabel string // "rows", "import records"
	Counts     []Count
	Facts      []Fact // further numbers: requests, throttled, sync, elapsed, …
}

// Count is the number of rows with one status.
type Count struct {
	Status string
	N      int
}

// Fact is one labelled value of the summary.
type Fact struct {
	Label string
	Value string
}

// FindingGroup is every occurrence of one code.
type FindingGroup struct {
	Code      string
	Severity  string // "error" or "warning"
	Hint      string // what to do
	Message   string // the first occurrence's message, as an example
	Total     int    // occurrences
	Locations []string
	More      int // occurrences not listed (Total - len(Locations))
}

// Table is the per-row table.
type Table struct {
	Caption string
	Columns []Column
	Rows    []Row
}

// Column is a table column.
type Column struct {
	Label   string
	Numeric bool // sorted as a number
}

// Row is a table row; Status drives the filter and must be one of the summary's.
type Row struct {
	Status string
	Cells  []Cell
}

// Cell is one value; Sort, when set, is its sort key (a file:line sorts by file, then
// line as a number).
type Cell struct {
	Text  string
	Sort  string
	Mono  bool // a code, id or fingerprint: monospace
	Badge bool // the row's status: shown with its mark and pattern
}

// PlanGroup is the devices of one planned action.
type PlanGroup struct {
	Action      string
	Label       string
	Description string
	N           int
	Items       []string // "serial (file:line)", capped
	More        int
}

// MaxLocations is how many file:lines a finding group or plan group lists.
const MaxLocations = 50

// status describes a status for the page: a label, a tone (the CSS pattern) and a
// mark, so that no meaning depends on colour.
type status struct {
	label, tone, mark string
	order             int
}

var statuses = map[string]status{}

func init() {
	for i, s := range []struct{ name, label, tone, mark string }{
		{"valid", "valid", "ok", "✓"},
		{"new", "new", "info", "+"},
		{"registered", "registered", "ok", "✓"},
		{"updated", "updated", "ok", "✓"},
		{"update", "update", "info", "↻"},
		{"already_registered", "already registered", "neutral", "="},
		{"deleted", "deleted", "ok", "✓"},
		{"would_delete", "would delete", "info", "−"},
		{"gone", "gone", "neutral", "="},
		{"duplicate", "duplicate", "neutral", "="},
		{"pending", "pending", "warn", "…"},
		{"processing", "processing", "warn", "…"},
		{"timeout", "timeout", "warn", "⧗"},
		{"interrupted", "interrupted", "warn", "!"},
		{"conflict", "conflict", "bad", "≠"},
		{"invalid", "invalid", "bad", "✗"},
		{"rejected", "rejected", "bad", "✗"},
		{"failed", "failed", "bad", "✗"},
	} {
		statuses[s.name] = status{label: s.label, tone: s.tone, mark: s.mark, order: i}
	}
}

func lookup(name string) status {
	if s, ok := statuses[name]; ok {
		return s
	}
	return status{label: strings.ReplaceAll(name, "_", " "), tone: "neutral", mark: "•", order: len(statuses)}
}

// Counts turns a count per status into the summary's order (known statuses first, in
// a fixed order, then the others by name). Statuses with no row are left out unless
// listed in always.
func Counts(m map[string]int, always ...string) []Count {
	seen := map[string]bool{}
	var out []Count
	for k, n := range m {
		if n > 0 {
			out = append(out, Count{k, n})
			seen[k] = true
		}
	}
	for _, k := range always {
		if !seen[k] {
			out = append(out, Count{k, m[k]})
			seen[k] = true
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := lookup(out[i].Status), lookup(out[j].Status)
		if a.order != b.order {
			return a.order < b.order
		}
		return out[i].Status < out[j].Status
	})
	return out
}

// Findings groups findings by code, in order of first appearance, errors before
// warnings, listing at most MaxLocations locations per code.
type Findings struct {
	groups []*FindingGroup
	index  map[string]*FindingGroup
}

// Add records one occurrence of code at loc ("file:line"); message is the detail of this
// occurrence and hint what to do about the code (the first non-empty one is kept).
func (f *Findings) Add(code string, warning bool, message, hint, loc string) {
	if f.index == nil {
		f.index = map[string]*FindingGroup{}
	}
	sev := "error"
	if warning {
		sev = "warning"
	}
	key := sev + "\x00" + code
	g := f.index[key]
	if g == nil {
		g = &FindingGroup{Code: code, Severity: sev}
		f.index[key] = g
		f.groups = append(f.groups, g)
	}
	g.Total++
	if g.Message == "" {
		g.Message = message
	}
	if g.Hint == "" {
		g.Hint = hint
	}
	if len(g.Locations) < MaxLocations {
		g.Locations = append(g.Locations, loc)
	} else {
		g.More++
	}
}

// Groups returns the groups: errors first, then warnings, each in order of first
// appearance.
func (f *Findings) Groups() []FindingGroup {
	out := make([]FindingGroup, 0, len(f.groups))
	for _, sev := range []string{"error", "warning"} {
		for _, g := range f.groups {
			if g.Severity == sev {
				out = append(out, *g)
			}
		}
	}
	return out
}

// Planner groups the devices of a dry run by action.
type Planner struct {
	groups map[string]*PlanGroup
}

// planActions are the plan's groups, in order.
var planActions = []struct{ action, label, desc string }{
	{"new", "New", "would be imported"},
	{"update", "Update", "registered with another group tag or user: updated with --update-existing, else left as is"},
	{"already_registered", "Already registered", "in this tenant already: nothing is sent"},
	{"pending", "Pending", "an import record for the serial is still processing: the run collects it, nothing new is posted"},
	{"conflict", "Conflict", "one serial, two different machines in the input: none of them is sent until a human decides"},
	{"other_tenant", "Other tenant", "registered to another tenant (808): the previous owner or the OEM must deregister it"},
	{"other", "Other", "not sent: invalid rows, duplicates of another row, other rejections"},
}

// Add files one device under its action: new, update, already_registered, pending,
// conflict, other_tenant; anything else goes under other.
func (p *Planner) Add(action, item string) {
	if p.groups == nil {
		p.groups = map[string]*PlanGroup{}
	}
	known := false
	for _, a := range planActions {
		if a.action == action {
			known = true
		}
	}
	if !known {
		action = "other"
	}
	g := p.groups[action]
	if g == nil {
		g = &PlanGroup{Action: action}
		p.groups[action] = g
	}
	g.N++
	if len(g.Items) < MaxLocations {
		g.Items = append(g.Items, item)
	} else {
		g.More++
	}
}

// Groups returns every action's group, in the fixed order, empty ones included (a
// change board wants to see "0 conflicts" said).
func (p *Planner) Groups() []PlanGroup {
	out := make([]PlanGroup, 0, len(planActions))
	for _, a := range planActions {
		g := PlanGroup{Action: a.action}
		if x := p.groups[a.action]; x != nil {
			g = *x
		}
		g.Label, g.Description = a.label, a.desc
		out = append(out, g)
	}
	return out
}

// DescribeFiles returns the size and SHA-256 of each regular file; standard input ("-")
// and files that are not regular files (named pipes: reading one again could wait
// forever) are listed without them.
func DescribeFiles(names []string) []File {
	out := make([]File, 0, len(names))
	for _, n := range names {
		f := File{Name: n, Size: -1}
		switch st, err := os.Stat(n); {
		case n == "-":
			f.Error = "standard input: not hashed"
		case err != nil:
			f.Error = err.Error()
		case !st.Mode().IsRegular():
			f.Error = "not a regular file: not hashed"
		default:
			f.Size = st.Size()
			if sum, err := hashFile(n); err != nil {
				f.Error = err.Error()
			} else {
				f.SHA256 = sum
			}
		}
		out = append(out, f)
	}
	return out
}

func hashFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

//go:embed report.tmpl
var pageTemplate string

//go:embed style.css
var styleSheet string

//go:embed script.js
var script string

// CSP is the Content-Security-Policy of every page: nothing may be loaded, the inline
// script runs only if its SHA-256 matches.
var CSP = "default-src 'none'; script-src 'sha256-" + hashB64(script) + "'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

func hashB64(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(h[:])
}

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"statusLabel": func(s string) string { return lookup(s).label },
	"statusTone":  func(s string) string { return lookup(s).tone },
	"statusMark":  func(s string) string { return lookup(s).mark },
	"percent": func(n, total int) string {
		if total <= 0 {
			return "0"
		}
		return strconv.FormatFloat(float64(n)*100/float64(total), 'f', 1, 64)
	},
	"size": humanSize,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02 15:04:05 MST")
	},
	"iso":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"plus": func(a, b int) int { return a + b },
}).Parse(pageTemplate))

func humanSize(n int64) string {
	switch {
	case n < 0:
		return "—"
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/1024, n)
	default:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	}
}

// page is what the template sees.
type page struct {
	*Report
	CSP      string
	Style    template.CSS
	Script   template.JS
	Statuses []Count // the statuses of the table's rows, for the filter
}

// Render writes the page to w.
func Render(w io.Writer, r *Report) error {
	rr := *r
	if rr.Sanitize != nil {
		rr = sanitized(rr)
	}
	p := page{Report: &rr, CSP: CSP, Style: template.CSS(styleSheet), Script: template.JS(script)}
	counts := map[string]int{}
	for _, row := range rr.Table.Rows {
		counts[row.Status]++
	}
	p.Statuses = Counts(counts)
	bw := bufio.NewWriter(w)
	if err := tmpl.Execute(bw, p); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteFile renders the page into path through safefile: a fresh 0600 temporary file,
// fsynced and renamed over path; on error path is left as it was.
func WriteFile(path string, r *Report) error {
	if err := safefile.Write(path, func(w io.Writer) error { return Render(w, r) }); err != nil {
		return fmt.Errorf("writing the HTML report %s: %w", path, err)
	}
	return nil
}

// sanitized applies r.Sanitize to every text of a copy of r.
func sanitized(r Report) Report {
	s := r.Sanitize
	h := r.Header
	h.Title, h.CommandLine, h.Tenant, h.Journal = s(h.Title), s(h.CommandLine), s(h.Tenant), s(h.Journal)
	h.Files = append([]File(nil), h.Files...)
	for i := range h.Files {
		h.Files[i].Name, h.Files[i].Error = s(h.Files[i].Name), s(h.Files[i].Error)
	}
	h.Notes = mapStrings(h.Notes, s)
	r.Header = h
	sum := r.Summary
	sum.Facts = append([]Fact(nil), sum.Facts...)
	for i := range sum.Facts {
		sum.Facts[i].Value = s(sum.Facts[i].Value)
	}
	r.Summary = sum
	r.Findings = append([]FindingGroup(nil), r.Findings...)
	for i := range r.Findings {
		g := &r.Findings[i]
		g.Code, g.Hint, g.Message = s(g.Code), s(g.Hint), s(g.Message)
		g.Locations = mapStrings(g.Locations, s)
	}
	t := r.Table
	t.Rows = make([]Row, len(r.Table.Rows))
	for i, row := range r.Table.Rows {
		cells := make([]Cell, len(row.Cells))
		for j, c := range row.Cells {
			cells[j] = Cell{Text: s(c.Text), Sort: s(c.Sort), Mono: c.Mono, Badge: c.Badge}
		}
		t.Rows[i] = Row{Status: row.Status, Cells: cells}
	}
	r.Table = t
	r.Plan = append([]PlanGroup(nil), r.Plan...)
	for i := range r.Plan {
		r.Plan[i].Items = mapStrings(r.Plan[i].Items, s)
	}
	return r
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// LocationSort is the sort key of a "file:line" cell: by file, then by line as a number.
func LocationSort(file string, line int) string {
	return fmt.Sprintf("%s %010d", file, line)
}
