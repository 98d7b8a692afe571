package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/htmlreport"
	"github.com/apimport/apimport/mapping"
)

// htmlFlag is --html PATH of a command: the self-contained HTML report of the run (see
// internal/htmlreport). A command registers it, validates it before reading or sending
// anything, and hands its results to one of the builders below, which see the same
// (redacted) values as the command's JSON output.
type htmlFlag struct {
	path  string
	cmd   *cobra.Command
	start time.Time
}

func (h *htmlFlag) register(cmd *cobra.Command) {
	h.cmd = cmd
	cmd.Flags().StringVar(&h.path, "html", "", "also write a self-contained HTML report to `PATH` (mode 0600): header, summary, findings, every row; for readers without a terminal")
}

// validate checks, before anything is read or sent, that the report can be written.
func (h *htmlFlag) validate() error {
	h.start = time.Now()
	return checkWritable("--html", h.path)
}

func (h *htmlFlag) enabled() bool { return h.path != "" }

func (h *htmlFlag) write(r *htmlreport.Report) error {
	r.Sanitize = redactHashes
	if err := htmlreport.WriteFile(h.path, r); err != nil {
		return &exitError{code: exitFatal, msg: err.Error()}
	}
	return nil
}

func (h *htmlFlag) header(title string) htmlreport.Header {
	when := h.start
	if when.IsZero() {
		when = time.Now()
	}
	return htmlreport.Header{Title: title, Command: h.cmd.Name(), CommandLine: commandLine(h.cmd), When: when, Version: versionLine()}
}

// commandLine rebuilds the command line from the parsed flags and arguments. Secrets are
// never flag values (environment variables or files); a flag whose name says secret,
// password or token without being a file is still masked, in case one is added.
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		name := "--" + f.Name
		v := f.Value.String()
		if f.Value.Type() == "bool" {
			if v == "true" {
				parts = append(parts, name)
			} else {
				parts = append(parts, name+"="+v)
			}
			return
		}
		if n := strings.ToLower(f.Name); (strings.Contains(n, "secret") || strings.Contains(n, "password") || strings.Contains(n, "token")) && !strings.HasSuffix(n, "-file") {
			parts = append(parts, name, "REDACTED")
			return
		}
		parts = append(parts, name, shellQuote(v))
	})
	for _, a := range cmd.Flags().Args() {
		parts = append(parts, shellQuote(a))
	}
	return redactHashes(strings.Join(parts, " "))
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"'`$&|;<>()*?[]{}!#~\\") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkHints says what to do about each check code (the message of each finding says
// what is wrong).
var checkHints = map[string]string{
	"missing_serial":            "fill in the serial number, or capture the hash again (the serial is taken from it)",
	"missing_manufacturer":      "corporate identifiers: fill in the manufacturer exactly as Win32_ComputerSystem.Manufacturer reports it",
	"missing_model":             "corporate identifiers: fill in the model exactly as Win32_ComputerSystem.Model reports it",
	"comma_in_value":            "corporate identifiers: the portal's file and the API join the values with commas; remove the comma from the value",
	"bad_character":             "corporate identifiers: remove the control or unprintable character from the value",
	"too_long":                  "corporate identifiers: the value is longer than any real manufacturer, model or serial; check that the row was not pasted into one cell",
	"serial_period":             "corporate identifiers: Microsoft says to remove periods from the serial number; check it against what the device reports",
	"missing_hash":              "capture the hash on the device (Get-WindowsAutopilotInfo) or export the report again",
	"hash_not_base64":           "the hash is damaged: capture it again on the device",
	"hash_layout":               "the hash is damaged: capture it again on the device",
	"hash_checksum":             "the hash was altered after capture: capture it again on the device",
	"hash_missing_serial":       "the service would refuse it (802 InvalidZtdHardwareHash): capture it again after the OEM sets the serial",
	"hash_missing_manufacturer": "the service would refuse it (802 InvalidZtdHardwareHash): capture it again",
	"serial_mismatch":           "the hash belongs to another machine or the serial was edited: capture the hash again",
	"placeholder_serial":        "the firmware has no real serial: have the OEM set it, then capture the hash again",
	"bad_group_tag":             "remove commas, quotes and control characters from the group tag",
	"bad_user":                  "give a user principal name (user@domain) or leave the column empty",
	"row_columns":               "fix the row in the file: quote values that hold commas",
	"row_quote":                 "fix the row in the file: remove the stray quote",
	"row_multiline":             "fix the file: close the quote that swallows the following rows",
	"row_encoding":              "save the file again as UTF-8 or UTF-16 (Get-WindowsAutopilotInfo's output)",
	"duplicate":                 "nothing to do: only the first occurrence is registered",
	"conflict":                  "keep the row of the right machine, or fix the serial in the firmware and capture again",
	codeNotANSI:                 "apimport import can register it; the portal's ANSI file cannot carry it",
	codeNotPortalSafe:           "apimport import can register it; the portal's unquoted file cannot carry it",
	"product_id_ignored":        "nothing to do: the product ID is optional and was dropped",
	"serial_from_hash":          "nothing to do: the serial inside the hash is used",
	"serial_case":               "nothing to do: the serial inside the hash is used",
	"hash_padding":              "nothing to do: the hash verifies",
	"hash_length":               "nothing to do: the hash verifies",
	"hash_trailing_data":        "nothing to do: the hash verifies; bytes after its checksum are ignored",
	"hash_ek_mismatch":          "check the TPM: its endorsement key differs from the digest in the hash",
	"duplicate_differs":         "the first occurrence's group tag and user are used: check which is right",
	"group_tag_overridden":      "nothing to do: --group-tag was given",
	"assigned_user_overridden":  "nothing to do: --assigned-user was given",
}

func loc(file string, line int) string {
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line)
}

const maxHTMLNotes = 20

// checkReport builds the page of 'check' from the results and summary that its JSON
// output writes (rowJSON, the same redaction).
func checkReport(h *htmlFlag, k *checked) *htmlreport.Report {
	rep := k.rep
	r := &htmlreport.Report{Header: h.header("apimport check")}
	r.Header.Files = htmlreport.DescribeFiles(k.files)
	for i, n := range rep.Notes {
		if i == maxHTMLNotes {
			r.Header.Notes = append(r.Header.Notes, fmt.Sprintf("and %d more notes", len(rep.Notes)-maxHTMLNotes))
			break
		}
		r.Header.Notes = append(r.Header.Notes, loc(n.File, n.Line)+": "+redactHashes(n.Message))
	}
	s := rep.Summary
	r.Summary = htmlreport.Summary{Total: s.Rows, TotalLabel: "rows",
		Counts: htmlreport.Counts(map[string]int{string(mapping.StatusValid): s.Valid, string(mapping.StatusInvalid): s.Invalid,
			string(mapping.StatusDuplicate): s.Duplicates, string(mapping.StatusConflict): s.Conflicts},
			string(mapping.StatusValid), string(mapping.StatusInvalid), string(mapping.StatusDuplicate), string(mapping.StatusConflict)),
		Facts: []htmlreport.Fact{{Label: "files", Value: strconv.Itoa(s.Files)}, {Label: "devices that would be registered", Value: strconv.Itoa(s.Devices)},
			{Label: "files that could not be read", Value: strconv.Itoa(len(rep.FileErrors))}}}
	var f htmlreport.Findings
	for _, fe := range rep.FileErrors {
		f.Add(fe.Code, false, redactHashes(fe.Message), fe.Hint, loc(fe.File, fe.Line))
	}
	r.Table = htmlreport.Table{Caption: "Every data row, in input order", Columns: []htmlreport.Column{
		{Label: "Row"}, {Label: "Serial"}, {Label: "Status"}, {Label: "Codes"}, {Label: "Warnings"},
		{Label: "Manufacturer"}, {Label: "Model"}, {Label: "Fingerprint"}, {Label: "Duplicate of"}}}
	for res := range withPortalWarnings(k.results()) {
		j := rowJSON(&res)
		at := loc(res.File, res.Line)
		for _, fd := range res.Findings {
			f.Add(fd.Code, fd.Warning || fd.Code == "duplicate", redactHashes(fd.Message), checkHints[fd.Code], at) // duplicates are fine (exit 0)
		}
		if len(res.Findings) == 0 && res.Status != mapping.StatusValid {
			f.Add(string(res.Status), res.Status == mapping.StatusDuplicate, "row is "+string(res.Status), checkHints[string(res.Status)], at)
		}
		r.Table.Rows = append(r.Table.Rows, htmlreport.Row{Status: j.Status, Cells: []htmlreport.Cell{
			{Text: at, Sort: htmlreport.LocationSort(j.File, j.Line)}, {Text: j.Serial, Mono: true}, {Text: j.Status, Badge: true},
			{Text: strings.Join(j.Codes, ", ")}, {Text: strings.Join(j.Warnings, ", ")}, {Text: j.Manufacturer}, {Text: j.Model},
			{Text: j.Fingerprint, Mono: true}, {Text: j.DuplicateOf}}})
	}
	r.Findings = f.Groups()
	return r
}

// htmlReporter is the --html output of 'import': a reporter like the JSON and CSV ones,
// fed the same device lines and summary; the page is written at close.
type htmlReporter struct {
	ordered
	h       *htmlFlag
	command string // import, update, remove
	dryRun  bool
	sum     *runSummary
	files   []string
}

func newHTMLReporter(h *htmlFlag, dryRun bool, results []mapping.Result) *htmlReporter {
	files := make([]string, 0, 4)
	seen := map[string]bool{}
	for _, r := range results {
		if !seen[r.File] {
			seen[r.File] = true
			files = append(files, r.File)
		}
	}
	return newRunHTMLReporter(h, "import", dryRun, files)
}

// newRunHTMLReporter is the HTML reporter of a run over the tenant (import, update,
// remove): command names the title, files the inputs described in the header.
func newRunHTMLReporter(h *htmlFlag, command string, dryRun bool, files []string) *htmlReporter {
	return &htmlReporter{h: h, dryRun: dryRun, command: command, files: files}
}

func (hr *htmlReporter) summary(s runSummary) { hr.sum = &s }

// planAction is the group of a dry-run result in the plan.
func planAction(d importer.DeviceResult) string {
	switch {
	case d.Result == importer.ResultRejected && (d.ErrorCode == importer.CodeAssignedToAnotherTenant || d.Hint == importer.HintOtherTenant):
		return "other_tenant"
	case d.Result == importer.ResultConflict:
		return "conflict"
	}
	return d.Result // new, update, already_registered, pending; the rest goes under "other"
}

func (hr *htmlReporter) close() error {
	title := "apimport " + hr.command
	if hr.dryRun {
		title += " --dry-run"
	}
	r := &htmlreport.Report{Header: hr.h.header(title)}
	r.Header.DryRun = hr.dryRun
	r.Header.Files = htmlreport.DescribeFiles(hr.files)
	s := hr.sum
	if s == nil { // the run stopped before its summary: show the rows there are
		s = &runSummary{RunSummary: importer.RunSummary{Rows: hr.rows.len(), Counts: map[string]int{}}, DryRun: hr.dryRun}
		_ = hr.rows.each(func(d deviceLine) error {
			s.Counts[d.Result]++
			return nil
		})
	}
	r.Header.Tenant, r.Header.Journal = s.Tenant, s.Journal
	var always []string
	if hr.dryRun {
		always = []string{importer.ResultNew, importer.ResultUpdate, importer.ResultAlreadyRegistered, importer.ResultPending}
	}
	r.Summary = htmlreport.Summary{Total: s.Rows, TotalLabel: "rows", Counts: htmlreport.Counts(s.Counts, always...), Facts: importFacts(s)}
	var f htmlreport.Findings
	var plan htmlreport.Planner
	r.Table = htmlreport.Table{Caption: "Every input row, in input order", Columns: []htmlreport.Column{
		{Label: "Row"}, {Label: "Serial"}, {Label: "Result"}, {Label: "Group tag"}, {Label: "Error"}, {Label: "Detail"}, {Label: "Import id"}}}
	if err := hr.rows.each(func(d deviceLine) error {
		at := loc(d.File, d.Line)
		if hr.dryRun {
			plan.Add(planAction(d.DeviceResult), d.Serial+" ("+at+")")
		}
		switch d.Result {
		case importer.ResultInvalid, importer.ResultDuplicate, importer.ResultConflict, importer.ResultRejected,
			importer.ResultTimeout, importer.ResultFailed, importer.ResultInterrupted:
			codes := []string{d.Result}
			if d.ErrorName != "" {
				codes = strings.Split(d.ErrorName, ",")
			}
			for _, c := range codes {
				code := c
				if d.ErrorCode != 0 {
					code = strconv.Itoa(d.ErrorCode) + " " + c
				}
				hint := d.Hint
				if hint == "" {
					hint = checkHints[c]
				}
				f.Add(code, d.Result == importer.ResultDuplicate, d.Message, hint, at)
			}
		}
		errText := d.ErrorName
		if d.ErrorCode != 0 {
			errText = strings.TrimSpace(strconv.Itoa(d.ErrorCode) + " " + d.ErrorName)
		}
		det := d.Message
		if d.Hint != "" {
			det = strings.TrimPrefix(det+"; hint: "+d.Hint, "; ")
		}
		if d.DuplicateOf != "" && !strings.Contains(det, d.DuplicateOf) {
			det = strings.TrimPrefix(det+"; duplicate of "+d.DuplicateOf, "; ")
		}
		r.Table.Rows = append(r.Table.Rows, htmlreport.Row{Status: d.Result, Cells: []htmlreport.Cell{
			{Text: at, Sort: htmlreport.LocationSort(d.File, d.Line)}, {Text: d.Serial, Mono: true}, {Text: d.Result, Badge: true},
			{Text: d.GroupTag}, {Text: errText}, {Text: det}, {Text: d.ImportID, Mono: true}}})
		return nil
	}); err != nil {
		return fmt.Errorf("writing the HTML report: %w", err)
	}
	r.Findings = f.Groups()
	if hr.dryRun {
		r.Plan = plan.Groups()
	}
	return hr.h.write(r)
}

func importFacts(s *runSummary) []htmlreport.Fact {
	facts := []htmlreport.Fact{
		{Label: "Graph requests", Value: fmt.Sprintf("%d (%d until every result was final), %d writes, %d throttled", s.Requests, s.RequestsFinal, s.Writes, s.Throttled)},
		{Label: "import requests", Value: strconv.Itoa(s.Posts)},
		{Label: "poll rounds", Value: strconv.Itoa(s.Polls)},
		{Label: "import records deleted", Value: strconv.Itoa(s.Deleted)},
	}
	if len(s.Leftover) > 0 {
		what := "left for the next run (apimport cleanup deletes them now)"
		if s.DryRun {
			what = "of earlier runs would be deleted"
		}
		facts = append(facts, htmlreport.Fact{Label: "import records " + what, Value: strconv.Itoa(len(s.Leftover))})
	}
	if s.Sync != "" {
		facts = append(facts, htmlreport.Fact{Label: "Autopilot sync", Value: s.Sync})
	}
	facts = append(facts,
		htmlreport.Fact{Label: "time until every result was final", Value: s.Final.Round(100 * time.Millisecond).String()},
		htmlreport.Fact{Label: "time in total", Value: s.Elapsed.Round(100 * time.Millisecond).String()},
		htmlreport.Fact{Label: "files that could not be read", Value: strconv.Itoa(s.FileErrors)})
	return facts
}

// cleanupHTML collects the records of 'apimport cleanup' for its page.
type cleanupHTML struct {
	h    *htmlFlag
	recs []importer.CleanupResult
}

func (c *cleanupHTML) add(r importer.CleanupResult) {
	r.Serial, r.Message = jsonSerial(r.Serial), redactHashes(r.Message)
	c.recs = append(c.recs, r)
}

func (c *cleanupHTML) write(dryRun bool, tenant, journal string, sum importer.CleanupSummary) error {
	title := "apimport cleanup"
	if dryRun {
		title += " --dry-run"
	}
	r := &htmlreport.Report{Header: c.h.header(title)}
	r.Header.DryRun, r.Header.Tenant, r.Header.Journal = dryRun, tenant, journal
	total := 0
	for _, n := range sum.Counts {
		total += n
	}
	r.Summary = htmlreport.Summary{Total: total, TotalLabel: "import records", Counts: htmlreport.Counts(sum.Counts),
		Facts: []htmlreport.Fact{{Label: "import records in the journal", Value: strconv.Itoa(sum.Records)},
			{Label: "unconfirmed submissions (settled by an import run with their input)", Value: strconv.Itoa(sum.Unconfirmed)},
			{Label: "Graph requests", Value: fmt.Sprintf("%d (%d writes)", sum.Requests, sum.Writes)},
			{Label: "time in total", Value: sum.Elapsed.Round(100 * time.Millisecond).String()}}}
	var f htmlreport.Findings
	r.Table = htmlreport.Table{Caption: "Every import record of the journal", Columns: []htmlreport.Column{
		{Label: "Import record"}, {Label: "Serial"}, {Label: "Result"}, {Label: "Message"}}}
	recs := append([]importer.CleanupResult(nil), c.recs...)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Serial < recs[j].Serial })
	for _, x := range recs {
		if x.Result == importer.CleanupFailed {
			f.Add(x.Result, false, x.Message, "the failed records stay in the journal; run cleanup again later", x.ID+" ("+x.Serial+")")
		}
		r.Table.Rows = append(r.Table.Rows, htmlreport.Row{Status: x.Result, Cells: []htmlreport.Cell{
			{Text: x.ID, Mono: true}, {Text: x.Serial, Mono: true}, {Text: x.Result, Badge: true}, {Text: x.Message}}})
	}
	r.Findings = f.Groups()
	return c.h.write(r)
}
