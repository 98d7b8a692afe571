package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/internal/redact"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
)

// rowFlags are the flags shared by every command that reads exports.
type rowFlags struct {
	groupTag     string
	assignedUser string
	allowSpecial bool
}

func (f *rowFlags) register(cmd *cobra.Command) {
	registerAllowEmpty(cmd)
	cmd.Flags().StringVar(&f.groupTag, "group-tag", "", "set this group tag on every device (wins over the file's Group Tag column)")
	cmd.Flags().StringVar(&f.assignedUser, "assigned-user", "", "set this user `UPN` on every device (wins over the file's Assigned User column)")
	registerAllowSpecial(cmd, &f.allowSpecial)
}

// allowSpecialFlag is the flag that lets a command read inputs that are not regular files.
const allowSpecialFlag = "allow-special-files"

func registerAllowSpecial(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, allowSpecialFlag, false, "also read inputs that are not regular files (named pipes, devices); without it they are refused, as reading one can wait forever")
}

func (f *rowFlags) options() mapping.Options {
	return mapping.Options{GroupTag: f.groupTag, AssignedUser: f.assignedUser, AllowSpecialFiles: f.allowSpecial}
}

// checked is the outcome of the offline checks over every input file. The per-row
// results are not kept in memory: results() builds them one at a time, in input order.
type checked struct {
	c     *mapping.Checker
	rep   *mapping.Report // FileErrors, Notes, Formats and Summary; no Results
	files []string
}

// results yields every row's Result in input order.
func (k *checked) results() iter.Seq[mapping.Result] { return k.c.All() }

// checkInputs is runChecks with every Result collected into rep.Results.
func checkInputs(env *cliEnv, args []string, opts mapping.Options) (*mapping.Report, []string, error) {
	k, err := runChecks(env, args, opts)
	if err != nil {
		return nil, nil, err
	}
	k.rep.Results = slices.Collect(k.results())
	return k.rep, k.files, nil
}

// runChecks expands the arguments (globs too, for Windows shells) and runs the offline
// checks over every file. A bad flag value is a usage error.
func runChecks(env *cliEnv, args []string, opts mapping.Options) (*checked, error) {
	if len(args) == 0 {
		return nil, usageErrorf("no input files given")
	}
	files, err := expandArgs(env, args)
	if err != nil {
		return nil, err
	}
	opts.Stdin = env.stdin
	c, err := mapping.New(opts)
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	rep, err := c.AddFiles(env.ctx, files, 0)
	if err != nil {
		return nil, err
	}
	rep.Summary = c.Summary(len(files))
	k := &checked{c: c, rep: rep, files: files}
	k.flagFilesWithoutRows()
	return k, nil
}

// noRowsHint is the advice for an export without device rows.
const noRowsHint = "export again; for the ConfigMgr report, check that hardware inventory collects the class MDM_DevDetail_Ext01 (Windows 10 1703 or later)"

// allowEmptyFlag is the flag of every command that takes FILE patterns.
const allowEmptyFlag = "allow-empty"

// registerAllowEmpty adds --allow-empty to a command that takes FILE patterns; the root
// command's pre-run copies it into cliEnv.allowEmpty.
func registerAllowEmpty(cmd *cobra.Command) {
	cmd.Flags().Bool(allowEmptyFlag, false, "a pattern that matches no file is not an error; with no file at all, exit 0 (\"nothing to do\"): for scheduled jobs over a drop folder")
}

// errNothingToDo ends a command that was given only patterns matching no file, with
// --allow-empty: exit 0.
func errNothingToDo(args []string) error {
	return &exitError{code: exitOK, msg: "nothing to do: no files match " + strings.Join(quoteArgs(args), ", ")}
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strconv.Quote(a)
	}
	return out
}

// expandArgs expands the file arguments (globs too, for Windows shells, and ** for
// subfolders). A pattern that matches nothing is a usage error, unless --allow-empty:
// then it is skipped, and with no file left the command has nothing to do (exit 0).
// Arguments that are fragments of a path with spaces are a usage error that says to
// quote the path.
func expandArgs(env *cliEnv, args []string) ([]string, error) {
	files, err := csvreport.ExpandArgs(args, env.allowEmpty)
	var split *csvreport.SplitPathError
	var none *csvreport.NoMatchError
	switch {
	case errors.As(err, &split):
		return nil, &exitError{code: exitUsage, msg: split.Error(),
			hint: fmt.Sprintf("quote the path: %q (in cmd.exe and PowerShell too)", split.Joined)}
	case errors.As(err, &none):
		return nil, &exitError{code: exitUsage, msg: err.Error(),
			hint: "check the file name or pattern (apimport expands patterns like exports/*.csv and exports/**/*.csv itself, also on Windows); " +
				"for a drop folder that may be empty, add --allow-empty"}
	case err != nil:
		return nil, &exitError{code: exitUsage, msg: err.Error(), hint: "check the file name or pattern (apimport expands patterns like exports/*.csv itself, also on Windows)"}
	}
	if len(files) == 0 {
		return nil, errNothingToDo(args)
	}
	return files, nil
}

// flagFilesWithoutRows reports a file that was read but held no data row (a header only):
// for a scheduled job an empty export means something upstream went wrong, so it is a
// file error, not a silent success.
func (k *checked) flagFilesWithoutRows() {
	seen := make(map[string]bool, len(k.files))
	for r := range k.results() {
		seen[r.File] = true
	}
	for _, fe := range k.rep.FileErrors {
		seen[fe.File] = true
	}
	for _, f := range k.files {
		if seen[f] {
			continue
		}
		k.rep.FileErrors = append(k.rep.FileErrors, noRowsError(f))
	}
}

// noRowsError is the file error of an export that holds a header but no device rows.
func noRowsError(file string) *csvreport.FileError {
	return &csvreport.FileError{File: file, Code: "no_rows", Message: "the file has a header but no device rows", Hint: noRowsHint}
}

// openInput opens a file, or env.stdin for "-". A path that is not a regular file (a
// named pipe, a device) is refused with a *csvreport.FileError unless allowSpecial, and
// opening and every read end when env.ctx does (Ctrl-C), also on an input that blocks
// (standard input, an allowed named pipe without a writer).
func (env *cliEnv) openInput(name string, allowSpecial bool) (*csvreport.Reader, error) {
	if name == "-" {
		return csvreport.NewReaderContext(env.ctx, env.stdin, name)
	}
	return csvreport.OpenContext(env.ctx, name, csvreport.OpenOptions{AllowSpecial: allowSpecial})
}

// eachRow calls fn for every row of r until the end of the file or an error.
func eachRow(ctx context.Context, r *csvreport.Reader, fn func(csvreport.Row) error) error {
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil { // Ctrl-C inside a large file
			return ctx.Err()
		}
		row, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// printFileErrors writes file-level failures to w in the style
// "apimport: error: file:line: message" + "apimport: hint: …".
func printFileErrors(w io.Writer, errs []*csvreport.FileError) {
	for _, fe := range errs {
		loc := textsafe.Display(fe.File)
		if fe.Line > 0 {
			loc += ":" + strconv.Itoa(fe.Line)
		}
		fmt.Fprintf(w, "apimport: error: %s: %s\n", loc, textsafe.Inline(redactHashes(fe.Message)))
		if fe.Hint != "" {
			fmt.Fprintf(w, "apimport: hint: %s\n", textsafe.Inline(fe.Hint))
		}
	}
}

// printNotes writes file-level remarks (unknown columns, encoding fallbacks) to w.
func printNotes(w io.Writer, notes []csvreport.Note) {
	for _, n := range notes {
		loc := textsafe.Display(n.File)
		if n.Line > 0 {
			loc += ":" + strconv.Itoa(n.Line)
		}
		fmt.Fprintf(w, "apimport: note: %s: %s\n", loc, textsafe.Inline(redactHashes(n.Message)))
	}
}

// exitFor maps a finished report to the exit code contract: 1 when a file could not be
// read as an import file, 3 when some rows are invalid or in conflict, else 0.
func exitFor(rep *mapping.Report) error {
	switch {
	case len(rep.FileErrors) > 0:
		return &exitError{code: exitFatal}
	case rep.Summary.Invalid > 0 || rep.Summary.Conflicts > 0:
		return &exitError{code: exitRows}
	}
	return nil
}

// displaySerial is how a serial is shown in text output: "-" when empty, quoted with
// escapes when it holds control characters (a NUL from a mixed-encoding file, a line
// break from an unclosed quote) or other non-printable ones (textsafe.Display), and
// shortened when it is long enough to hold a hash.
func displaySerial(s string) string {
	if s == "" {
		return "-"
	}
	s = redactHashes(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 { // rows joined by an unclosed quote: the first is enough
		s = s[:i] + "…"
	}
	return textsafe.Display(s)
}

// jsonSerial is the serial as written in JSON output: verbatim, except that a value long
// enough to hold a hash (an unclosed quote joins whole rows into one cell) is shortened.
func jsonSerial(s string) string { return redactHashes(s) }

// redactHashes shortens what could be a hash (internal/redact, the one redaction
// helper). A malformed file can put a whole hash into a serial, group tag or message
// (an unclosed quote joins the following rows into one value); the full hash must
// never be printed.
func redactHashes(s string) string { return redact.Hashes(s) }

// plural formats "1 row", "2 rows".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
