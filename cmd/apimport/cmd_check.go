package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newCheckCmd) }

type checkOptions struct {
	rowFlags
	json bool
}

func newCheckCmd(env *cliEnv) *cobra.Command {
	opts := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [flags] FILE...",
		Short: "Validate exports offline: encoding, columns, hashes, duplicates (sends nothing)",
		Long: `Check reads every FILE (globs allowed, also on Windows) and reports, for each
data row, whether the device would be registered: valid, invalid (with codes),
duplicate (a later copy of a device already seen) or conflict (one serial, two
different machines). It never contacts Microsoft Graph.

Text output: one line per finding, "file:line: serial: code: message", then a
summary line. With --json: JSON Lines, one {"message_type":"row",...} per data row,
then one {"message_type":"summary",...}.

` + exitCodesHelp,
		Example: `  apimport check AutopilotHWID.csv
  apimport check --json exports/*.csv > check.jsonl
  apimport check --group-tag Sales report.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(env, opts, args)
		},
	}
	opts.rowFlags.register(cmd)
	cmd.Flags().BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	return cmd
}

func runCheck(env *cliEnv, opts *checkOptions, args []string) error {
	k, err := runChecks(env, args, opts.options())
	if err != nil {
		return err
	}
	rep := k.rep
	out := bufio.NewWriter(env.stdout)
	if opts.json {
		// Notes (mixed encodings, skipped preambles, Partner tuples) are not part of the
		// JSON Lines contract; they still reach the user on stderr.
		printNotes(env.stderr, rep.Notes)
		writeCheckJSON(out, rep, k.results())
	} else {
		printNotes(env.stderr, rep.Notes)
		printFileErrors(env.stderr, rep.FileErrors)
		writeCheckText(out, rep.Summary, k.results())
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return exitFor(rep)
}

// maxRepeatedWarnings is how many rows a warning with the same code and message is shown
// for in text output; a ConfigMgr report gives every row the same product_id_ignored
// warning, which would bury the errors. --json still lists every row's warnings.
const maxRepeatedWarnings = 5

// writeCheckText writes one line per finding (identical warnings only for the first
// maxRepeatedWarnings rows, then a count), then the summary.
func writeCheckText(w io.Writer, s mapping.Summary, results iter.Seq[mapping.Result]) {
	type warnKey struct{ code, msg string }
	shown := map[warnKey]int{}
	var order []warnKey
	for res := range results {
		r := &res
		for _, f := range r.Findings {
			msg := f.Message
			if f.Warning {
				k := warnKey{f.Code, f.Message}
				if shown[k]++; shown[k] > maxRepeatedWarnings {
					continue
				}
				if shown[k] == 1 {
					order = append(order, k)
				}
				msg = "warning: " + msg
			}
			fmt.Fprintf(w, "%s:%d: %s: %s: %s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), f.Code, textsafe.Inline(redactHashes(msg)))
		}
		if len(r.Findings) == 0 && r.Status != mapping.StatusValid {
			fmt.Fprintf(w, "%s:%d: %s: %s: row is %s\n", textsafe.Display(r.File), r.Line, displaySerial(r.Serial), r.Status, r.Status)
		}
	}
	for _, k := range order {
		if n := shown[k] - maxRepeatedWarnings; n > 0 {
			fmt.Fprintf(w, "warning %s also on %s (not shown; --json lists every row)\n", k.code, plural(n, "more row"))
		}
	}
	fmt.Fprintf(w, "%s in %s: %d valid, %d invalid, %s, %s; %s would be registered\n",
		plural(s.Rows, "row"), plural(s.Files, "file"), s.Valid, s.Invalid, plural(s.Duplicates, "duplicate"), plural(s.Conflicts, "conflict"), plural(s.Devices, "device"))
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
}

type jsonSummary struct {
	MessageType string `json:"message_type"`
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
