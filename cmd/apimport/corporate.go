package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
)

// Corporate device identifiers (Windows Autopilot device preparation): check and convert
// recognise the files by content; import reads them with --corporate-identifiers.

// Portal limits of a corporate identifier file (corporate-identifiers-add.md): 5,000 rows
// or 5 MB per file.
const (
	corporateMaxRows  = 5000
	corporateMaxBytes = 5_000_000
)

// corporateKind tags the JSON lines of corporate identifier rows and their summary.
const corporateKind = "corporate_identifier"

// checkCorporateInputs expands the arguments and checks them as corporate identifier
// files (import --corporate-identifiers).
func checkCorporateInputs(env *cliEnv, args []string, opts mapping.Options) (*mapping.Report, error) {
	if len(args) == 0 {
		return nil, usageErrorf("no input files given")
	}
	files, err := expandArgs(env, args)
	if err != nil {
		return nil, err
	}
	return checkCorporateFiles(env, files, opts)
}

func checkCorporateFiles(env *cliEnv, files []string, opts mapping.Options) (*mapping.Report, error) {
	opts.Stdin = env.stdin
	rep, err := mapping.CheckCorporateFiles(env.ctx, files, opts)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.File] = true
	}
	for _, fe := range rep.FileErrors {
		seen[fe.File] = true
	}
	for _, f := range files {
		if !seen[f] {
			rep.FileErrors = append(rep.FileErrors, &csvreport.FileError{File: f, Code: "no_rows",
				Message: "the file has a header but no identifier rows", Hint: "add one manufacturer,model,serial per line"})
		}
	}
	return rep, nil
}

// corporate takes the files the hash check refused as corporate identifier lists out of
// k's report and checks them as such; nil when there are none. On standard input the
// file cannot be read again: its refusal stays, with a hint.
func (k *checked) corporate(env *cliEnv, opts mapping.Options) (*mapping.Report, error) {
	var files []string
	kept := k.rep.FileErrors[:0]
	for _, fe := range k.rep.FileErrors {
		if fe.Code == csvreport.CodeCorporate && fe.File != "-" {
			files = append(files, fe.File)
			continue
		}
		if fe.Code == csvreport.CodeCorporate {
			fe.Hint = "give a corporate identifier file by name, not on standard input"
		}
		kept = append(kept, fe)
	}
	k.rep.FileErrors = kept
	if len(files) == 0 {
		return nil, nil
	}
	k.rep.Summary.Files -= len(files)
	return checkCorporateFiles(env, files, opts)
}

// noteLargeCorporateFiles adds a note for each file over the portal's 5,000 rows.
func noteLargeCorporateFiles(rep *mapping.Report) {
	rows := map[string]int{}
	var order []string
	for _, r := range rep.Results {
		if rows[r.File] == 0 {
			order = append(order, r.File)
		}
		rows[r.File]++
	}
	for _, f := range order {
		if n := rows[f]; n > corporateMaxRows {
			rep.Notes = append(rep.Notes, csvreport.Note{File: f, Code: "portal_limit", Message: fmt.Sprintf(
				"%d rows: the Intune portal takes at most %d rows or 5 MB per corporate identifier file; "+
					"'apimport convert -o FILE' writes numbered files within the limits, 'apimport import --corporate-identifiers' posts them in chunks", n, corporateMaxRows)})
		}
	}
}

// writeCorporateCheckText writes the findings of corporate identifier rows and their summary.
func writeCorporateCheckText(w io.Writer, rep *mapping.Report) {
	writeCheckRows(w, slices.Values(rep.Results))
	s := rep.Summary
	fmt.Fprintf(w, "%s in %s (corporate identifiers): %d valid, %d invalid, %s, %s; %s would be added\n",
		plural(s.Rows, "row"), plural(s.Files, "file"), s.Valid, s.Invalid, plural(s.Duplicates, "duplicate"), plural(s.Conflicts, "conflict"),
		plural(s.Devices, "corporate identifier"))
}

// writeCorporateCheckJSON writes file errors, one row object per data row (kind
// corporate_identifier) and the summary (kind corporate_identifier).
func writeCorporateCheckJSON(w io.Writer, rep *mapping.Report) {
	enc := json.NewEncoder(w)
	for _, fe := range rep.FileErrors {
		enc.Encode(fileErrorJSON(fe))
	}
	for i := range rep.Results {
		row := rowJSON(&rep.Results[i])
		row.Kind = corporateKind
		enc.Encode(row)
	}
	enc.Encode(jsonSummary{MessageType: "summary", Kind: corporateKind, Summary: rep.Summary, FileErrors: len(rep.FileErrors)})
}

// exitForAll is exitFor over the hash and the corporate reports (corp may be nil).
func exitForAll(rep, corp *mapping.Report) error {
	if corp == nil {
		return exitFor(rep)
	}
	merged := &mapping.Report{FileErrors: append(append([]*csvreport.FileError(nil), rep.FileErrors...), corp.FileErrors...)}
	merged.Summary.Invalid = rep.Summary.Invalid + corp.Summary.Invalid
	merged.Summary.Conflicts = rep.Summary.Conflicts + corp.Summary.Conflicts
	return exitFor(merged)
}

// corporateItems are the engine items of the valid corporate identifier rows.
func corporateItems(results []mapping.Result) (offline []mapping.Result, items []importer.Item) {
	for _, r := range results {
		if r.Status != mapping.StatusValid || r.Device == nil {
			offline = append(offline, r)
			continue
		}
		items = append(items, importer.Item{File: r.File, Line: r.Line, Serial: r.Serial, Manufacturer: r.Device.Manufacturer, Model: r.Device.Model})
	}
	return offline, items
}

// corporateChunks splits portal lines into files of at most corporateMaxRows rows and
// corporateMaxBytes bytes.
func corporateChunks(lines []string) [][]string {
	var out [][]string
	for len(lines) > 0 {
		n, size := 0, 0
		for n < len(lines) && n < corporateMaxRows && (n == 0 || size+len(lines[n]) <= corporateMaxBytes) {
			size += len(lines[n])
			n++
		}
		out = append(out, lines[:n])
		lines = lines[n:]
	}
	return out
}

// convertCorporate writes the portal's corporate identifier file(s) for the valid rows:
// no header, "manufacturer,model,serial" CRLF lines, UTF-8 without BOM (plain ASCII for
// the usual values; the portal's encoding for this file is not documented), at most
// 5,000 rows and 5 MB per file, numbered like the hash convert; every file through
// safefile (written whole or not at all).
func convertCorporate(env *cliEnv, output string, rep *mapping.Report) error {
	noteLargeCorporateFiles(rep)
	printNotes(env.stderr, rep.Notes)
	printFileErrors(env.stderr, rep.FileErrors)
	writeCorporateCheckText(env.stderr, rep)
	var lines []string
	for _, r := range rep.Results {
		if r.Status == mapping.StatusValid && r.Device != nil {
			lines = append(lines, r.Device.Identifier()+"\r\n")
		}
	}
	if len(lines) == 0 {
		fmt.Fprintln(env.stderr, "apimport: error: no valid corporate identifiers to write")
		if err := exitFor(rep); err != nil {
			return err
		}
		return &exitError{code: exitRows}
	}
	chunks := corporateChunks(lines)
	if output == "" || output == "-" {
		if len(chunks) > 1 {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("%d valid corporate identifiers, more than the portal's %d rows or 5 MB per file", len(lines), corporateMaxRows),
				hint: "use -o PATH to write numbered files within the limits"}
		}
		if _, err := io.WriteString(env.stdout, strings.Join(lines, "")); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return exitFor(rep)
	}
	w := &chunkWriter{path: output}
	var files []*safefile.File
	defer func() {
		for _, f := range files {
			f.Abort()
		}
	}()
	for i, c := range chunks {
		name := output
		if len(chunks) > 1 {
			ext := filepath.Ext(output)
			if ext == "" {
				ext = ".csv"
			}
			name = strings.TrimSuffix(output, filepath.Ext(output)) + fmt.Sprintf("-%03d", i+1) + ext
		}
		f, err := safefile.Create(name)
		if err != nil {
			return fmt.Errorf("creating output: %w", err)
		}
		files = append(files, f)
		if _, err := io.WriteString(f, strings.Join(c, "")); err != nil {
			return fmt.Errorf("writing %s: %w", textsafe.Display(name), err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", textsafe.Display(name), err)
		}
		w.finals = append(w.finals, name)
	}
	for _, f := range files {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	files = nil
	shown := make([]string, len(w.finals))
	for i, p := range w.finals {
		shown[i] = textsafe.Display(p)
	}
	fmt.Fprintf(env.stderr, "apimport: wrote %s to %s\n", plural(len(lines), "corporate identifier"), strings.Join(shown, ", "))
	for _, stale := range w.staleChunks() {
		fmt.Fprintf(env.stderr, "apimport: warning: %s is left from an earlier run and was not rewritten: delete it before uploading\n", textsafe.Display(stale))
	}
	return exitFor(rep)
}

// validateCorporate checks the import flags that --corporate-identifiers changes: the
// chunk size (default 500, at most the portal's 5,000 rows per file) and the flags that
// only mean something for Autopilot registrations.
func (o *importOptions) validateCorporate(cmd interface{ Flags() *pflag.FlagSet }) error {
	f := cmd.Flags()
	for _, name := range []string{"group-tag", "assigned-user", "update-existing", "wait-profile", "add-to-group"} {
		if f.Changed(name) {
			return &exitError{code: exitUsage, msg: "--" + name + " can't be combined with --corporate-identifiers",
				hint: "a corporate identifier is only manufacturer, model and serial number; group tags, users and profiles belong to Autopilot registrations"}
		}
	}
	if !f.Changed("chunk-size") {
		o.chunkSize = importer.DefaultCorporateChunk
	}
	if o.chunkSize < 1 || o.chunkSize > importer.MaxCorporateChunk {
		return usageErrorf("--chunk-size must be between 1 and %d with --corporate-identifiers (the portal's rows per file)", importer.MaxCorporateChunk)
	}
	return nil
}
