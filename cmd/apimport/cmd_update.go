package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/serial"
	"github.com/apimport/apimport/internal/textsafe"
)

func init() {
	registerCommand(newUpdateCmd)
	registerCommand(newRemoveCmd)
}

// writeOptions are the flags of update and remove.
type writeOptions struct {
	authFlags
	serials     []string
	groupTag    string
	user        string
	displayName string
	dryRun      bool
	json        bool
	report      string
	journal     string
	// remove
	yes           bool
	deleteManaged bool
	bulk          bool
	// devices --wait-profile
	waitProfile time.Duration
	html        htmlFlag
}

func (o *writeOptions) registerCommon(cmd *cobra.Command) {
	o.authFlags.register(cmd, "required")
	f := cmd.Flags()
	f.StringArrayVar(&o.serials, "serial", nil, "the device with this serial `NUMBER` (repeatable; instead of or besides FILE)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would change per device; write nothing")
	f.BoolVar(&o.json, "json", false, "write JSON Lines to stdout")
	f.StringVar(&o.report, "report", "", "also write the results as CSV to `FILE` (mode 0600)")
	f.StringVar(&o.journal, "journal", "", "journal `FILE` (default: <user config dir>/apimport/journal-<tenant>.jsonl)")
	o.html.register(cmd)
}

func newUpdateCmd(env *cliEnv) *cobra.Command {
	o := &writeOptions{}
	cmd := &cobra.Command{
		Use:   "update [flags] [FILE...]",
		Short: "Set group tag, assigned user and display name of registered devices",
		Long: `Update sets the group tag, assigned user and display name of registered Windows
Autopilot devices (updateDeviceProperties), from CSV files — the 'apimport devices
--csv' file after editing, or any file with a serial column and Group Tag, Assigned
User or Display Name columns — or from --serial with --group-tag, --assigned-user,
--display-name (which win over the file's columns). An empty value leaves the
property as it is. Only devices whose values differ are written; the others are
'unchanged'. --dry-run shows the before and after of every device and writes nothing.

Results: updated, unchanged, not_registered (exit 3), failed, interrupted; with
--dry-run: update, unchanged, not_registered. One sync follows the updates.

` + exitCodesHelp,
		Example: `  apimport devices --auth certificate --certificate app.pem --csv devices.csv   # then edit Group Tag
  apimport update --auth certificate --certificate app.pem --dry-run devices.csv
  apimport update --auth certificate --certificate app.pem --serial CZC4100037 --group-tag Sales`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrites(env, o, args, importer.ModeUpdate)
		},
	}
	o.registerCommon(cmd)
	f := cmd.Flags()
	f.StringVar(&o.groupTag, "group-tag", "", "set this group `TAG` (wins over the file's column)")
	f.StringVar(&o.user, "assigned-user", "", "set this user `UPN` (wins over the file's column)")
	f.StringVar(&o.displayName, "display-name", "", "set this display `NAME` (wins over the file's column)")
	return cmd
}

func newRemoveCmd(env *cliEnv) *cobra.Command {
	o := &writeOptions{}
	cmd := &cobra.Command{
		Use:   "remove [flags] [FILE...]",
		Short: "Deregister devices from Windows Autopilot",
		Long: `Remove deregisters Windows Autopilot devices by serial, from CSV files with a
serial column or --serial, in Microsoft's order: a device still enrolled in Intune is
refused (result 'refused', exit 3) unless --delete-managed is given, which deletes its
Intune managed device first; an assigned user is unassigned; then the Autopilot
registration is deleted (one DELETE per device) and one sync follows. The Entra
device object is left alone, as Microsoft advises. A device not registered is
'not_registered' (nothing to do). Deregistration can take minutes to show.

On a terminal, remove asks for confirmation; elsewhere --yes is required. --dry-run
looks the devices up (GET only) and shows what would be removed. --bulk uses the
bulk deleteDevices action for devices with nothing to do first (no Intune record, no
user): documented, but missing from Graph's metadata, so it is used only on request
and, when refused, replaced by single DELETEs.

` + exitCodesHelp,
		Example: `  apimport remove --auth certificate --certificate app.pem --dry-run retired.csv
  apimport remove --auth managed-identity --serial CZC4100037 --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrites(env, o, args, importer.ModeRemove)
		},
	}
	o.registerCommon(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.yes, "yes", false, "do not ask for confirmation (required when not on a terminal)")
	f.BoolVar(&o.deleteManaged, "delete-managed", false, "delete the Intune managed device of an enrolled device first (Microsoft's order)")
	f.BoolVar(&o.bulk, "bulk", false, "deregister through the bulk deleteDevices action (100 serials a request; documented but unconfirmed: falls back to single DELETEs when refused)")
	return cmd
}

// serialColumns and the property columns update reads, by normalised header name.
var (
	serialColumns = []string{"serialnumber", "deviceserialnumber", "serial"}
	tagColumns    = []string{"grouptag", "orderid"}
	userColumns   = []string{"assigneduser", "userprincipalname", "assigneduserprincipalname"}
	nameColumns   = []string{"displayname"}
)

func normHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}

// readDeviceList reads the serials (and wanted properties) of a CSV file: UTF-8 with or
// without BOM, comma or semicolon separated (Excel re-saves), a header row naming a
// serial column.
func readDeviceList(path string, data []byte) ([]importer.Item, []importer.DeviceResult, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	first, _, _ := bytes.Cut(data, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, &exitError{code: exitFatal, msg: fmt.Sprintf("%s: %v", textsafe.Display(path), err), hint: "give a CSV file with a Serial Number column (e.g. from 'apimport devices --csv')"}
	}
	col := map[string]int{}
	for i, h := range header {
		if _, dup := col[normHeader(h)]; !dup {
			col[normHeader(h)] = i
		}
	}
	find := func(names []string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	si, ti, ui, ni := find(serialColumns), find(tagColumns), find(userColumns), find(nameColumns)
	if si < 0 {
		return nil, nil, &exitError{code: exitFatal, msg: fmt.Sprintf("%s: no serial column in the header", textsafe.Display(path)),
			hint: "the file needs a 'Serial Number' column (as 'apimport devices --csv' writes)"}
	}
	var items []importer.Item
	var bad []importer.DeviceResult
	line := 1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line++
		l, _ := r.FieldPos(0)
		if l > 0 {
			line = l
		}
		if err != nil {
			bad = append(bad, importer.DeviceResult{File: path, Line: line, Result: importer.ResultInvalid, ErrorName: "row_format", Message: err.Error()})
			continue
		}
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(strings.TrimPrefix(rec[i], "'")) // undo the CSV formula guard
		}
		it := importer.Item{File: path, Line: line, Serial: get(si), GroupTag: get(ti), AssignedUser: get(ui), DisplayName: get(ni)}
		if strings.Join(rec, "") == "" {
			continue
		}
		if it.Serial == "" {
			bad = append(bad, importer.DeviceResult{File: path, Line: line, Result: importer.ResultInvalid, ErrorName: "missing_serial", Message: "the row has no serial number"})
			continue
		}
		items = append(items, it)
	}
	return items, bad, nil
}

// writeItems collects the items of update/remove from the files and --serial, with the
// flags' values winning; the second of two rows with one serial is a duplicate.
func (o *writeOptions) items(env *cliEnv, args []string) ([]importer.Item, []importer.DeviceResult, error) {
	var items []importer.Item
	var offline []importer.DeviceResult
	if len(args) > 0 {
		files, err := expandArgs(env, args)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			var data []byte
			if f == "-" {
				data, err = io.ReadAll(env.stdin)
			} else {
				data, err = os.ReadFile(f)
			}
			if err != nil {
				return nil, nil, &exitError{code: exitFatal, msg: err.Error(), hint: "nothing was sent"}
			}
			its, bad, err := readDeviceList(f, data)
			if err != nil {
				return nil, nil, err
			}
			items, offline = append(items, its...), append(offline, bad...)
		}
	}
	for i, s := range o.serials {
		items = append(items, importer.Item{File: "--serial", Line: i + 1, Serial: strings.TrimSpace(s)})
	}
	if len(items)+len(offline) == 0 {
		return nil, nil, usageErrorf("no devices given: name a CSV file or use --serial")
	}
	seen := map[string]importer.Item{}
	var unique []importer.Item
	for _, it := range items {
		if o.groupTag != "" {
			it.GroupTag = o.groupTag
		}
		if o.user != "" {
			it.AssignedUser = o.user
		}
		if o.displayName != "" {
			it.DisplayName = o.displayName
		}
		k := serial.Key(it.Serial)
		if first, dup := seen[k]; dup {
			at := first.File + ":" + strconv.Itoa(first.Line)
			offline = append(offline, importer.DeviceResult{File: it.File, Line: it.Line, Serial: it.Serial, Result: importer.ResultDuplicate,
				ErrorName: "duplicate", DuplicateOf: at, Message: "serial already listed at " + at})
			continue
		}
		seen[k] = it
		unique = append(unique, it)
	}
	return unique, offline, nil
}

// runWrites runs update or remove through the engine, with the same reporters, journal
// and error contract as import.
func runWrites(env *cliEnv, o *writeOptions, args []string, mode importer.Mode) (retErr error) {
	var items []importer.Item
	var offline []importer.DeviceResult
	reported := false
	defer func() {
		// As in import: a run that stops before its reporters ran still replaces --report.
		if o.report != "" && !reported && retErr != nil {
			rows := make([]importer.DeviceResult, 0, len(items)+len(offline))
			for _, it := range items {
				rows = append(rows, notSent(it.File, it.Line, it.Serial, retErr))
			}
			replaceReport(o.report, append(rows, offline...))
		}
	}()
	if err := o.authFlags.validate(true, ""); err != nil {
		return err
	}
	if err := checkWritable("--report", o.report); err != nil {
		return err
	}
	if err := checkJournalPath(o.journal); err != nil {
		return err
	}
	if o.html.enabled() {
		if err := o.html.validate(); err != nil {
			return err
		}
	}
	items, offline, err := o.items(env, args)
	if err != nil {
		return err
	}
	env.limitMemory(len(items))
	if mode == importer.ModeRemove && !o.dryRun && !o.yes {
		if !env.isTerminal(env.stderr) {
			return &exitError{code: exitUsage, msg: "remove needs --yes when it cannot ask (not on a terminal)",
				hint: "check the list with --dry-run first, then add --yes"}
		}
	}
	client, info, err := o.connect(env, o.dryRun)
	if err != nil {
		return err
	}
	verb := map[importer.Mode]string{importer.ModeUpdate: "updating", importer.ModeRemove: "removing", importer.ModeProfile: "waiting for the deployment profiles of"}[mode]
	if o.dryRun {
		verb = "planning: " + verb
	}
	fmt.Fprintf(env.stderr, "apimport: %s %s in tenant %s\n", verb, plural(len(items), "device"), info.TenantID)
	if mode == importer.ModeRemove && !o.dryRun && !o.yes {
		fmt.Fprintf(env.stderr, "apimport: deregister %s from Windows Autopilot in tenant %s? [y/N] ", plural(len(items), "device"), info.TenantID)
		answer, _ := bufio.NewReader(env.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return &exitError{code: exitUsage, msg: "not confirmed: nothing was removed"}
		}
	}
	eopts := importer.Options{Mode: mode, DryRun: o.dryRun, DeleteManaged: o.deleteManaged, Tenant: info.TenantID, WaitProfile: o.waitProfile, NoSync: mode == importer.ModeProfile, BulkDelete: o.bulk}
	if mode != importer.ModeProfile {
		path := o.journal
		if path == "" {
			if path, err = importer.DefaultJournalPath(info.TenantID); err != nil {
				return &exitError{code: exitFatal, msg: err.Error(), hint: "name a journal file with --journal"}
			}
		}
		if o.dryRun {
			// Read-only, but a journal of another tenant is refused as in the real run.
			if _, err := importer.ReadJournal(path, o.binding(info.TenantID)); err != nil {
				return err
			}
		} else {
			jn, err := importer.OpenJournal(path, o.binding(info.TenantID))
			if err != nil {
				return err
			}
			defer jn.Close()
			eopts.Journal = jn
		}
	}
	order := inputOrder{}
	for i, it := range items {
		order.add(it.File, it.Line, i)
	}
	for i, r := range offline {
		order.add(r.File, r.Line, len(items)+i)
	}
	out := newRunOutput(env, o.json, o.report, order)
	defer out.rows.close()
	if o.html.enabled() {
		var files []string
		seen := map[string]bool{}
		for _, it := range items {
			if !seen[it.File] && it.File != "--serial" {
				seen[it.File] = true
				files = append(files, it.File)
			}
		}
		command := map[importer.Mode]string{importer.ModeUpdate: "update", importer.ModeRemove: "remove", importer.ModeProfile: "devices --wait-profile"}[mode]
		out.add(newRunHTMLReporter(&o.html, command, o.dryRun, files))
	}
	for _, r := range offline {
		out.device(r)
	}
	eopts.Progress = out.progress.update
	sum, runErr := importer.Run(env.ctx, client, items, eopts, out.device)
	out.progress.done()
	for _, r := range offline {
		sum.Counts[r.Result]++
	}
	sum.Rows = len(items) + len(offline)
	out.rep.summary(runSummary{RunSummary: sum, DryRun: o.dryRun})
	reported = true
	if err := out.close(); err != nil {
		return &exitError{code: exitFatal, msg: err.Error()}
	}
	if sum.BulkFallback {
		fmt.Fprintln(env.stderr, "apimport: the service refused the bulk deleteDevices action: the devices were removed one by one")
	}
	if runErr != nil {
		return runErr
	}
	failed := []string{importer.ResultInvalid, importer.ResultFailed, importer.ResultRefused}
	if mode != importer.ModeRemove {
		failed = append(failed, importer.ResultNotRegistered)
	}
	for _, r := range failed {
		if sum.Counts[r] > 0 {
			return &exitError{code: exitRows}
		}
	}
	if o.waitProfile > 0 && out.unassigned > 0 {
		return &exitError{code: exitRows, hint: importer.HintProfile}
	}
	return nil
}
