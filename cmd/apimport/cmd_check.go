package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
)

func init() { registerCommand(newCheckCmd) }

type checkOptions struct {
	rowFlags
	json bool
	html htmlFlag
}

func newCheckCmd(env *cliEnv) *cobra.Command {
	opts := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [flags] FILE...",
		Short: "Validate exports offline: encoding, columns, hashes, duplicates (sends nothing)",
		Long: `Check reads every FILE (patterns allowed, also on Windows: exports/*.csv, and
exports/**/*.csv for every subfolder; quote a path with spaces) and reports, for each
data row, whether the device would be registered: valid, invalid (with codes),
duplicate (a later copy of a device already seen) or conflict (one serial, two
different machines). It never contacts Microsoft Graph. A warning given on many
rows of a file for the same reason is printed once, with the count. With
--allow-empty a drop folder without files is "nothing to do" (exit 0).

Corporate device identifier files (Windows Autopilot device preparation: the
portal's headerless manufacturer,model,serial lines, or Manufacturer, Model and
Serial Number columns without a hash column) are recognised by content and checked
as such: empty values, commas, quotes, values over 128 characters, placeholder
serials, periods in serials (a warning), duplicates (same identifier) and conflicts
(one serial with two manufacturers or models). They get their own summary line
(JSON: "kind":"corporate_identifier" on their rows and summary).

Text output: one line per finding, "file:line: serial: code: message", then a
summary line. With --json: JSON Lines, one {"message_type":"row",...} per data row,
then one {"message_type":"summary",...}.

` + exitCodesHelp,
		Example: `  apimport check AutopilotHWID.csv
  apimport check --json exports/*.csv > check.jsonl
  apimport check --allow-empty "C:\Autopilot\inbox\**\*.csv"
  apimport check --group-tag Sales report.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(env, opts, args)
		},
	}
	opts.rowFlags.register(cmd)
	cmd.Flags().BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	opts.html.register(cmd)
	return cmd
}

func runCheck(env *cliEnv, opts *checkOptions, args []string) error {
	if err := opts.html.validate(); err != nil {
		return err
	}
	k, err := runChecks(env, args, opts.options())
	if err != nil {
		return err
	}
	corp, err := k.corporate(env, opts.options()) // corporate identifier files, recognised by content
	if err != nil {
		return err
	}
	rep := k.rep
	hashFiles := corp == nil || rep.Summary.Files > 0
	out := bufio.NewWriter(env.stdout)
	if opts.json {
		// Notes (mixed encodings, skipped preambles, Partner tuples) are not part of the
		// JSON Lines contract; they still reach the user on stderr.
		printNotes(env.stderr, rep.Notes)
		if hashFiles {
			writeCheckJSON(out, rep, withPortalWarnings(k.results()))
		}
		if corp != nil {
			noteLargeCorporateFiles(corp)
			printNotes(env.stderr, corp.Notes)
			writeCorporateCheckJSON(out, corp)
		}
	} else {
		printNotes(env.stderr, rep.Notes)
		printFileErrors(env.stderr, rep.FileErrors)
		if hashFiles {
			writeCheckText(out, rep.Summary, withPortalWarnings(k.results()))
		}
		if corp != nil {
			noteLargeCorporateFiles(corp)
			printNotes(env.stderr, corp.Notes)
			printFileErrors(env.stderr, corp.FileErrors)
			writeCorporateCheckText(out, corp)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if opts.html.enabled() && hashFiles {
		if err := opts.html.write(checkReport(&opts.html, k)); err != nil {
			return err
		}
	}
	return exitForAll(rep, corp)
}

// maxPendingWarnings bounds the distinct warnings of one file held back by writeCheckText
// to be said once with their count; further distinct ones are printed at once.
const maxPendingWarnings = 1000

// writeCheckText writes one line per error finding, in input order, and the warnings of
// each file after its rows: a warning given on several rows of a file for the same
// reason (same code and message: the ConfigMgr report's product IDs on every row) is said
// once, on the line of its first row, with the count of the others. --json still lists
// every row's warnings. Then the summary.
func writeCheckText(w io.Writer, s mapping.Summary, results iter.Seq[mapping.Result]) {
	writeCheckRows(w, results)
	fmt.Fprintf(w, "%s in %s: %d valid, %d invalid, %s, %s; %s would be registered\n",
		plural(s.Rows, "row"), plural(s.Files, "file"), s.Valid, s.Invalid, plural(s.Duplicates, "duplicate"), plural(s.Conflicts, "conflict"), plural(s.Devices, "device"))
}

// writeCheckRows writes the findings of writeCheckText, without the summary.
func writeCheckRows(w io.Writer, results iter.Seq[mapping.Result]) {
	type warnKey struct{ code, msg string }
	type warn struct {
		line   int
		serial string
		n      int
	}
	var (
		file    string
		pending = map[warnKey]*warn{}
		order   []warnKey
	)
	flush := func() {
		for _, k := range order {
			x := pending[k]
			more := ""
			if x.n > 1 {
				more = fmt.Sprintf(" (the same on %s of this file; said once, --json lists every row)", plural(x.n-1, "more row"))
			}
			fmt.Fprintf(w, "%s:%d: %s: %s: warning: %s%s\n", textsafe.Display(file), x.line, displaySerial(x.serial), k.code, textsafe.Inline(redactHashes(k.msg)), more)
		}
		clear(pending)
		order = order[:0]
	}
	for res := range results {
		r := &res
		if r.File != file {
			flush()
			file = r.File
		}
		for _, f := range r.Findings {
			if f.Warning {
				k := warnKey{f.Code, f.Message}
				if x := pending[k]; x != nil {
					x.n++
					continue
				}
				if len(order) < maxPendingWarnings {
					pending[k] = &warn{line: r.Line, serial: r.Serial, n: 1}
					order = append(order, k)
					continue
				}
				fmt.Fprintf(w, "%s:%d: %s: %s: warning: %s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), f.Code, textsafe.Inline(redactHashes(f.Message)))
				continue
			}
			fmt.Fprintf(w, "%s:%d: %s: %s: %s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), f.Code, textsafe.Inline(redactHashes(f.Message)))
		}
		if len(r.Findings) == 0 && r.Status != mapping.StatusValid {
			fmt.Fprintf(w, "%s:%d: %s: %s: row is %s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), r.Status, r.Status)
		}
	}
	flush()
}

// withPortalWarnings adds to each valid row that 'apimport convert' would leave out (a
// value the portal's unquoted ANSI file cannot carry) a warning with convert's code:
// check and convert agree on every row, and the row stays valid because 'apimport import'
// can register it.
func withPortalWarnings(results iter.Seq[mapping.Result]) iter.Seq[mapping.Result] {
	return func(yield func(mapping.Result) bool) {
		for r := range results {
			if r.Status == mapping.StatusValid && r.Device != nil {
				if code, msg := portalProblem(r.Device); code != "" {
					r.Findings = append(slices.Clip(r.Findings), mapping.Finding{Code: code, Warning: true,
						Message: msg + " (apimport convert leaves this row out; apimport import can register it)"})
				}
			}
			if !yield(r) {
				return
			}
		}
	}
}

type jsonRow struct {
	MessageType  string   `json:"message_type"`
	File         string   `json:"file"`
	Line         int      `json:"line"`
	Serial       string   `json:"serial"`
	Status       string   `json:"status"`
	Codes        []string `json:"codes"`
	Warnings     []string `json:"warnings,omitempty"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	DuplicateOf  string   `json:"duplicate_of,omitempty"`
	Fingerprint  string   `json:"hash_fingerprint,omitempty"`
	Kind         string   `json:"kind,omitempty"` // "corporate_identifier" for corporate identifier rows
}

type jsonSummary struct {
	MessageType string `json:"message_type"`
	Kind        string `json:"kind,omitempty"` // "corporate_identifier": the summary of corporate identifier rows
	mapping.Summary
	FileErrors int `json:"file_errors"`
}

type jsonFileError struct {
	MessageType string `json:"message_type"`
	File        string `json:"file"`
	Line        int    `json:"line,omitempty"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	Hint        string `json:"hint,omitempty"`
}

func fileErrorJSON(fe *csvreport.FileError) jsonFileError {
	return jsonFileError{MessageType: "file_error", File: fe.File, Line: fe.Line, Code: fe.Code, Message: redactHashes(fe.Message), Hint: fe.Hint}
}

func rowJSON(r *mapping.Result) jsonRow {
	row := jsonRow{
		MessageType:  "row",
		File:         r.File,
		Line:         r.Line,
		Serial:       jsonSerial(r.Serial),
		Status:       string(r.Status),
		Codes:        r.Codes,
		Manufacturer: redactHashes(r.Manufacturer), // from the CSV when there is no hash: an unclosed quote can put one there
		Model:        redactHashes(r.Model),
		DuplicateOf:  r.DuplicateOf,
	}
	if row.Codes == nil {
		row.Codes = []string{}
	}
	for _, f := range r.Findings {
		if f.Warning {
			row.Warnings = append(row.Warnings, f.Code)
		}
	}
	if r.Device != nil {
		row.Fingerprint = r.Device.Fingerprint
	}
	return row
}

// writeCheckJSON writes the JSON Lines contract: file errors, one row object per data row,
// then the summary.
func writeCheckJSON(w io.Writer, rep *mapping.Report, results iter.Seq[mapping.Result]) {
	enc := json.NewEncoder(w)
	for _, fe := range rep.FileErrors {
		enc.Encode(fileErrorJSON(fe))
	}
	for r := range results {
		enc.Encode(rowJSON(&r))
	}
	enc.Encode(jsonSummary{MessageType: "summary", Summary: rep.Summary, FileErrors: len(rep.FileErrors)})
}
