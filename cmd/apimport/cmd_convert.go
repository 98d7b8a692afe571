package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"golang.org/x/text/encoding/charmap"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/internal/cancelio"
	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
)

func init() { registerCommand(newConvertCmd) }

// portalMaxRows is the Intune portal's limit of devices per import file (add-devices.md).
const portalMaxRows = 500

// Codes convert adds to rows that the portal file cannot carry.
const (
	codeNotANSI       = "not_ansi"        // a value has characters Windows-1252 cannot represent
	codeNotPortalSafe = "not_portal_safe" // a value has a comma or quote, which the unquoted portal CSV cannot carry
)

type convertOptions struct {
	rowFlags
	output string
}

func newConvertCmd(env *cliEnv) *cobra.Command {
	opts := &convertOptions{}
	cmd := &cobra.Command{
		Use:   "convert [flags] FILE...",
		Short: "Write the Intune portal import CSV for the valid devices",
		Long: `Convert checks every FILE like 'apimport check' and writes the valid devices as the
Intune admin center import file: header "Device Serial Number,Windows Product ID,
Hardware Hash" (plus ",Group Tag" / ",Group Tag,Assigned User" when used), no quotes,
CRLF line ends, ANSI (Windows-1252). Invalid, duplicate and conflicting rows are
left out and reported on stderr.

The portal takes at most 500 devices per file: with more, -o devices.csv writes
devices-001.csv, devices-002.csv, ... in input order. Without -o the file goes to
standard output (500 devices at most). Files are written whole or not at all
(mode 0600). Every input is read twice, so a named pipe can only be given as
standard input (-).

Corporate identifier files (Windows Autopilot device preparation: headerless
manufacturer,model,serial lines, or Manufacturer, Model and Serial Number columns
without a hash) are recognised by content and written as the portal's corporate
identifier file: no header, one manufacturer,model,serial per line, CRLF, UTF-8
without BOM, at most 5,000 rows and 5 MB per file (numbered files the same way).
Hash exports and corporate identifier files cannot be converted together.

` + exitCodesHelp,
		Example: `  apimport convert -o intune-import.csv ConfigMgr-report.csv
  apimport convert --group-tag Kiosk -o kiosk.csv hashes/*.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConvert(env, opts, args)
		},
	}
	opts.rowFlags.register(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to `PATH` (numbered PATH-001.csv, … when over 500 devices)")
	return cmd
}

func runConvert(env *cliEnv, opts *convertOptions, args []string) error {
	if opts.output != "" && opts.output != "-" {
		// Say so before reading every input, not after.
		dir := filepath.Dir(opts.output)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("output folder %s does not exist", textsafe.Display(dir)),
				hint: "create the folder first, or give another -o path"}
		}
		if st, err := os.Stat(opts.output); err == nil && st.IsDir() {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("output %s is a folder", textsafe.Display(opts.output)),
				hint: "give a file name, e.g. -o " + textsafe.Display(filepath.Join(opts.output, "intune-import.csv"))}
		}
	}
	// The inputs are read twice (the hashes are not kept in memory), so standard input
	// is read once into memory first, and a named pipe can only be given that way.
	if opts.allowSpecial {
		if err := refuseSpecialForConvert(env, args); err != nil {
			return err
		}
	}
	var stdinData []byte
	fromStdin := slices.Contains(args, "-")
	if fromStdin {
		in := cancelio.NewReader(env.ctx, env.stdin) // Ctrl-C ends a read that blocks
		data, err := io.ReadAll(in)
		in.Close()
		if err != nil {
			if env.ctx.Err() != nil {
				return env.ctx.Err()
			}
			return fmt.Errorf("reading standard input: %w", err)
		}
		stdinData = data
		e := *env
		e.stdin = bytes.NewReader(stdinData)
		env = &e
	}
	// Convert keeps the results (about 350 bytes a row, no hashes) because rows the
	// portal file cannot carry change status below.
	rep, files, err := checkInputs(env, args, opts.options())
	if err != nil {
		return err
	}
	if opts.output != "" && opts.output != "-" {
		for _, f := range files {
			if f != "-" && sameFile(f, opts.output) {
				return usageErrorf("output %s is also an input file", textsafe.Display(opts.output))
			}
		}
	}
	// Corporate identifier lists (recognised by content) make another portal file.
	corp, err := (&checked{rep: rep, files: files}).corporate(env, opts.options())
	if err != nil {
		return err
	}
	if corp != nil {
		if rep.Summary.Files > 0 {
			return usageErrorf("convert either hardware-hash exports or corporate identifier files: the portal takes them as different files")
		}
		return convertCorporate(env, opts.output, corp)
	}
	checkPortalSafe(rep)
	printNotes(env.stderr, rep.Notes)
	printFileErrors(env.stderr, rep.FileErrors)
	writeCheckText(env.stderr, rep.Summary, slices.Values(rep.Results))

	valid := make(map[rowKey]*mapping.Device)
	var order []*mapping.Device
	hasTag, hasUser := false, false
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Status != mapping.StatusValid || r.Device == nil {
			continue
		}
		valid[rowKey{r.File, r.Line}] = r.Device
		order = append(order, r.Device)
		hasTag = hasTag || r.Device.GroupTag != ""
		hasUser = hasUser || r.Device.AssignedUser != ""
	}
	if len(order) == 0 {
		fmt.Fprintln(env.stderr, "apimport: error: no valid devices to write")
		if err := exitFor(rep); err != nil {
			return err
		}
		return &exitError{code: exitRows}
	}
	if opts.output == "" && len(order) > portalMaxRows {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%d valid devices, more than the portal's %d per file", len(order), portalMaxRows),
			hint: "use -o PATH to write numbered files of 500 devices"}
	}
	header := "Device Serial Number,Windows Product ID,Hardware Hash"
	if hasUser {
		header += ",Group Tag,Assigned User"
	} else if hasTag {
		header += ",Group Tag"
	}

	w := newChunkWriter(env.stdout, opts.output, len(order), header)
	defer w.abort()
	written := 0
	enc := charmap.Windows1252.NewEncoder()
	// Second pass: the hashes were not kept in memory during the check.
	if fromStdin {
		env.stdin = bytes.NewReader(stdinData) // env is runConvert's own copy
	}
	for _, f := range files {
		if err := env.ctx.Err(); err != nil {
			return err
		}
		if err := convertFile(env, f, valid, hasTag, hasUser, func(line string) error {
			b, err := enc.String(line)
			if err != nil { // checked before; only a changed file gets here
				return fmt.Errorf("%s: a value cannot be written as ANSI: %w", textsafe.Display(f), err)
			}
			written++
			return w.writeRow([]byte(b))
		}); err != nil {
			return err
		}
	}
	if written != len(order) {
		return fmt.Errorf("wrote %d of %d devices: an input file changed while it was converted", written, len(order))
	}
	paths, err := w.commit()
	if err != nil {
		return err
	}
	if len(paths) > 0 {
		shown := make([]string, len(paths))
		for i, p := range paths {
			shown[i] = textsafe.Display(p)
		}
		fmt.Fprintf(env.stderr, "apimport: wrote %d devices to %s\n", written, strings.Join(shown, ", "))
		for _, stale := range w.staleChunks() {
			fmt.Fprintf(env.stderr, "apimport: warning: %s is left from an earlier run and was not rewritten: delete it before uploading\n", textsafe.Display(stale))
		}
	}
	return exitFor(rep)
}

// refuseSpecialForConvert refuses inputs that are not regular files even with
// --allow-special-files: convert reads every input twice, and a named pipe gives its
// data once.
func refuseSpecialForConvert(env *cliEnv, args []string) error {
	files, err := expandArgs(env, args)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f == "-" {
			continue
		}
		if st, err := os.Stat(f); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("%s is %s: convert reads every input twice, so it cannot read it directly", textsafe.Display(f), cancelio.Kind(st.Mode())),
				hint: "give it as standard input: apimport convert -o OUT.csv - < " + textsafe.Display(f)}
		}
	}
	return nil
}

type rowKey struct {
	file string
	line int
}

// checkPortalSafe turns valid rows whose values the portal file cannot carry into invalid
// rows with a code, keeping the summary consistent. 'apimport check' gives the same rows
// the same code as a warning (withPortalWarnings).
func checkPortalSafe(rep *mapping.Report) {
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Status != mapping.StatusValid || r.Device == nil {
			continue
		}
		code, msg := portalProblem(r.Device)
		if code == "" {
			continue
		}
		r.Status = mapping.StatusInvalid
		r.Codes = append(r.Codes, code)
		r.Findings = append(slices.Clip(r.Findings), mapping.Finding{Code: code, Message: msg})
		r.Device = nil
		rep.Summary.Valid--
		rep.Summary.Devices--
		rep.Summary.Invalid++
	}
}

// portalProblem says why the Intune portal's import file (unquoted, ANSI) cannot carry a
// device's values: code not_portal_safe or not_ansi with a message, or "" when it can.
func portalProblem(d *mapping.Device) (code, msg string) {
	for _, v := range []struct{ name, val string }{{"serial", d.Serial}, {"product ID", d.ProductKey}, {"group tag", d.GroupTag}, {"assigned user", d.AssignedUser}} {
		if strings.ContainsAny(v.val, ",\"") || strings.IndexFunc(v.val, unicode.IsControl) >= 0 {
			return codeNotPortalSafe, fmt.Sprintf("the %s %q has a comma, quote or control character, which the portal's unquoted CSV cannot carry; "+
				"correct the value, or register the device with 'apimport import'", v.name, v.val)
		}
		if textsafe.IsFormula(v.val) {
			// Prefixing a quote (textsafe.CSVCell) would change the value Intune
			// registers, so the row is left out instead.
			return codeNotPortalSafe, fmt.Sprintf("the %s %q starts with a character that spreadsheet programs run as a formula "+
				"(=, +, -, @), and the portal's unquoted CSV cannot neutralise it without changing the value; "+
				"correct the value, or register the device with 'apimport import'", v.name, v.val)
		}
		if !isASCII(v.val) {
			if _, err := charmap.Windows1252.NewEncoder().String(v.val); err != nil {
				return codeNotANSI, fmt.Sprintf("the %s %q has characters that ANSI (Windows-1252) cannot represent, and the portal accepts only ANSI files; "+
					"change the value, or register the device with 'apimport import', which has no such limit", v.name, v.val)
			}
		}
	}
	return "", ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// convertFile streams one input file again and emits the portal line of each valid row.
func convertFile(env *cliEnv, path string, valid map[rowKey]*mapping.Device, hasTag, hasUser bool, emit func(string) error) error {
	r, err := env.openInput(path, false) // special files were refused before the first pass
	if err != nil {
		var fe *csvreport.FileError
		if errors.As(err, &fe) {
			return nil // already reported by the check pass
		}
		return err
	}
	defer r.Close()
	var sb strings.Builder
	return eachRow(env.ctx, r, func(row csvreport.Row) error {
		d, ok := valid[rowKey{row.File, row.Line}]
		if !ok {
			return nil
		}
		h := hwhash.Parse(row.Hash)
		if !h.Valid() || hwhash.Fingerprint(h.Raw) != d.Fingerprint {
			return fmt.Errorf("%s:%d: the hash changed while the file was converted", textsafe.Display(row.File), row.Line)
		}
		sb.Reset()
		sb.WriteString(d.Serial)
		sb.WriteByte(',')
		sb.WriteString(d.ProductKey)
		sb.WriteByte(',')
		sb.WriteString(h.CanonicalBase64()) // a hash cut short in its zero padding is written whole
		if hasTag || hasUser {
			sb.WriteByte(',')
			sb.WriteString(d.GroupTag)
		}
		if hasUser {
			sb.WriteByte(',')
			sb.WriteString(d.AssignedUser)
		}
		sb.WriteString("\r\n")
		return emit(sb.String())
	})
}

// chunkWriter writes portal files of at most portalMaxRows rows. Each file is written
// through safefile (a fresh 0600 temporary file in the same folder, renamed on commit),
// so a failed or interrupted run leaves none; standard output is written on commit.
type chunkWriter struct {
	stdout  io.Writer
	path    string
	total   int
	header  string
	rows    int
	cur     *safefile.File
	buf     *bufio.Writer
	mem     bytes.Buffer // standard output, written on commit
	files   []*safefile.File
	finals  []string
	toStdio bool
}

func newChunkWriter(stdout io.Writer, path string, total int, header string) *chunkWriter {
	return &chunkWriter{stdout: stdout, path: path, total: total, header: header, toStdio: path == "" || path == "-"}
}

func (w *chunkWriter) chunkName(n int) string {
	if w.total <= portalMaxRows {
		return w.path
	}
	ext := filepath.Ext(w.path)
	if ext == "" {
		ext = ".csv"
	}
	base := strings.TrimSuffix(w.path, filepath.Ext(w.path))
	return base + "-" + fmt.Sprintf("%03d", n) + ext
}

// staleChunks lists numbered files of the output name (name-001.csv, …) that this run
// did not write: uploading one of them would import devices of an earlier run.
func (w *chunkWriter) staleChunks() []string {
	ext := filepath.Ext(w.path)
	if ext == "" {
		ext = ".csv"
	}
	base := strings.TrimSuffix(w.path, filepath.Ext(w.path))
	matches, _ := filepath.Glob(globEscape(base) + "-[0-9][0-9][0-9]" + globEscape(ext))
	var stale []string
	for _, m := range matches {
		if !slices.Contains(w.finals, m) {
			stale = append(stale, m)
		}
	}
	return stale
}

// globEscape quotes the glob metacharacters of a literal path.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (w *chunkWriter) writeRow(line []byte) error {
	if w.toStdio {
		// Kept in memory (at most portalMaxRows rows, about 2 MB) until commit, so that
		// a failed run writes nothing to standard output either.
		if w.mem.Len() == 0 {
			w.mem.WriteString(w.header + "\r\n")
		}
		w.mem.Write(line)
		return nil
	}
	if w.cur == nil || w.rows == portalMaxRows {
		if err := w.closeCurrent(); err != nil {
			return err
		}
		final := w.chunkName(len(w.finals) + 1)
		f, err := safefile.Create(final)
		if err != nil {
			return fmt.Errorf("creating output: %w", err)
		}
		w.cur, w.buf, w.rows = f, bufio.NewWriter(f), 0
		w.files = append(w.files, f)
		w.finals = append(w.finals, final)
		w.buf.WriteString(w.header + "\r\n")
	}
	w.rows++
	_, err := w.buf.Write(line)
	return err
}

// closeCurrent flushes and closes the file being written (it is committed later),
// so that a run of many chunks does not hold them all open.
func (w *chunkWriter) closeCurrent() error {
	if w.cur == nil {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", textsafe.Display(w.cur.Name()), err)
	}
	err := w.cur.Close()
	w.cur = nil
	return err
}

// commit flushes and renames the temporary files into place and returns their paths.
func (w *chunkWriter) commit() ([]string, error) {
	if w.toStdio {
		if _, err := w.mem.WriteTo(w.stdout); err != nil {
			return nil, fmt.Errorf("writing output: %w", err)
		}
		return nil, nil
	}
	if err := w.closeCurrent(); err != nil {
		return nil, err
	}
	for _, f := range w.files {
		if err := f.Commit(); err != nil {
			return nil, err
		}
	}
	return w.finals, nil
}

// abort removes the temporary files not committed.
func (w *chunkWriter) abort() {
	for _, f := range w.files {
		f.Abort()
	}
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(sa, sb)
}
