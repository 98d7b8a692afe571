package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/graph"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/spill"
	"github.com/apimport/apimport/internal/textsafe"
	"github.com/apimport/apimport/mapping"
)

func init() { registerCommand(newImportCmd) }

type importOptions struct {
	rowFlags
	authFlags
	dryRun         bool
	offline        bool
	chunkSize      int
	concurrency    int
	wait           time.Duration
	updateExisting bool
	noSync         bool
	journal        string
	json           bool
	report         string
	maxDevices     int
	pollMin        time.Duration
	waitProfile    time.Duration
	addToGroup     string
	corporate      bool // --corporate-identifiers (corporate.go)
	html           htmlFlag
}

func newImportCmd(env *cliEnv) *cobra.Command {
	opts := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [flags] FILE...",
		Short: "Register the devices of exports in Windows Autopilot through Microsoft Graph",
		Long: `Import reads every FILE like 'check', then registers the valid devices in the
tenant: it looks them up first (already registered devices are not sent again),
posts the others with the bulk import action in chunks, waits until each import
record is final, deletes the import records it created, and triggers one Autopilot
sync. Invalid, duplicate and conflicting rows are never sent.

Every remote write is announced in a journal first (default: per tenant in the
user configuration directory), so a run that is killed or times out can be started
again: it collects what the earlier run submitted and never posts a device twice.

Results per row: registered, already_registered, updated, rejected (with the
service's error code and a hint), timeout, failed, invalid, duplicate, conflict,
interrupted (the run stopped early: Ctrl-C, an authentication or journal failure;
the import id, when there is one, is collected by the next run of the same command).
--dry-run plans with read-only calls: new, already_registered, update, pending.

With --corporate-identifiers the FILEs are corporate device identifiers for Windows
Autopilot device preparation (the portal's headerless manufacturer,model,serial
lines, or Manufacturer, Model and Serial Number columns without a hash; a hash
export is refused, as a corporate file is without the flag). They are checked like
'check' does, searched first with the beta searchExistingIdentities action (a POST
that only reads: present means already_registered, nothing posted; --dry-run stops
there), and the others added with importDeviceIdentityList in chunks of 500
(--chunk-size up to 5,000, the portal's rows per file; a request stays under 5 MB),
never overwriting. Results: registered, already_registered, rejected (the service
answered status false), failed, invalid, duplicate, conflict. Journal, --json,
--report and exit codes as above; no sync. Corporate identifiers only matter when
personal enrollment is blocked, and an Autopilot-registered device gets its
Autopilot profile instead.

Authentication (--auth): client-secret (secret in $AZURE_CLIENT_SECRET or
--client-secret-file), certificate, managed-identity, workload-identity,
device-code, azure-cli, environment. The application needs the Graph permission
` + graph.RequiredPermission + ` (--dry-run needs only
` + graph.ReadPermission + `). --tenant-id and --client-id default to
$AZURE_TENANT_ID and $AZURE_CLIENT_ID.

The run ends when every device has its result: deleting the import records it
created may take a fifth of that time more; what is left stays in the journal, and
the next run with that journal deletes it first (or 'apimport cleanup').

If any input file cannot be read, import sends nothing (exit 1): fix or remove the
file named in the error, then run again. --report, --journal and the input files
are checked before the first request.

Memory: the hashes, and past 1,000 rows the result lines, wait in a private
temporary file (mode 0600 in $TMPDIR or %TEMP%; unlinked at once on Linux and
macOS, deleted at the end on Windows). The Go heap is held near 128 MiB up to about
100,000 devices, more for more; $GOMEMLIMIT overrides that (e.g. GOMEMLIMIT=off).

Output: a table on stdout in input order (aligned with a header on a terminal,
tab-separated with a header line when piped) or JSON Lines with --json: one
{"message_type":"device",...} per input row as soon as it is final, then one
{"message_type":"summary",...} (with file_errors). --report FILE writes every field
of the JSON device line as CSV, in input order. Progress goes to stderr: redrawn on
a terminal, otherwise one line every 10 seconds.

` + exitCodesHelp,
		Example: `  apimport import --dry-run --offline AutopilotHWID.csv
  apimport import --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --dry-run exports/*.csv
  apimport import --auth managed-identity --expect-tenant $TID --group-tag Sales --json report.csv > result.jsonl
  apimport import --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --corporate-identifiers corporate-ids.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd); err != nil {
				return err
			}
			return runImport(env, opts, args)
		},
	}
	opts.rowFlags.register(cmd)
	opts.authFlags.register(cmd, "required unless --dry-run --offline")
	f := cmd.Flags()
	f.BoolVar(&opts.dryRun, "dry-run", false, "plan only: read the tenant, write nothing")
	f.BoolVar(&opts.offline, "offline", false, "with --dry-run: do not contact the tenant at all")
	f.IntVar(&opts.chunkSize, "chunk-size", importer.DefaultChunkSize, fmt.Sprintf("devices per import request (1-%d; with --corporate-identifiers 1-%d, default %d)",
		importer.MaxChunkSize, importer.MaxCorporateChunk, importer.DefaultCorporateChunk))
	f.BoolVar(&opts.corporate, "corporate-identifiers", false, "the FILEs are corporate device identifiers (manufacturer,model,serial) for Autopilot device preparation: add them instead of registering hashes")
	f.IntVar(&opts.concurrency, "concurrency", importer.DefaultConcurrency, "import requests in flight at once (1-8)")
	f.DurationVar(&opts.wait, "wait", importer.DefaultWait, "how long to wait for imports to finish; unfinished ones are collected by the next run")
	f.BoolVar(&opts.updateExisting, "update-existing", false, "update group tag/user of devices already registered with other values")
	f.BoolVar(&opts.noSync, "no-sync", false, "do not trigger an Autopilot sync after registering")
	f.StringVar(&opts.journal, "journal", "", "journal `FILE` (default: <user config dir>/apimport/journal-<tenant>.jsonl)")
	f.BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	f.StringVar(&opts.report, "report", "", "also write the results as CSV to `FILE` (mode 0600)")
	f.DurationVar(&opts.waitProfile, "wait-profile", 0, "after registering, wait up to `DURATION` for each device's deployment profile assignment (exit 3 if one is not assigned by then)")
	f.StringVar(&opts.addToGroup, "add-to-group", "", "after registering, add each device's Entra device to this `GROUP` (name or object id); needs GroupMember.ReadWrite.All and Device.ReadWrite.All (a user: Device.Read.All)")
	f.IntVar(&opts.maxDevices, "max-devices", 0, "refuse to import more than `N` devices (0: no limit)")
	f.DurationVar(&opts.pollMin, "poll-min", 0, "shortest poll interval (default 2s; for tests and rehearsals)")
	_ = f.MarkHidden("poll-min")
	opts.html.register(cmd)
	return cmd
}

func (o *importOptions) validate(cmd *cobra.Command) error {
	if o.offline && !o.dryRun {
		return usageErrorf("--offline works only with --dry-run (an import needs the tenant)")
	}
	if err := o.authFlags.validate(!(o.dryRun && o.offline), ", or plan offline with --dry-run --offline"); err != nil {
		return err
	}
	if o.corporate {
		if err := o.validateCorporate(cmd); err != nil {
			return err
		}
	} else if o.chunkSize < 1 || o.chunkSize > importer.MaxChunkSize {
		return usageErrorf("--chunk-size must be between 1 and %d", importer.MaxChunkSize)
	}
	if o.concurrency < 1 || o.concurrency > 8 {
		return usageErrorf("--concurrency must be between 1 and 8")
	}
	if o.wait <= 0 {
		return usageErrorf("--wait must be positive")
	}
	if o.maxDevices < 0 {
		return usageErrorf("--max-devices must not be negative")
	}
	if err := checkWritable("--report", o.report); err != nil {
		return err
	}
	if err := o.html.validate(); err != nil {
		return err
	}
	if err := checkJournalPath(o.journal); err != nil {
		return err
	}
	return nil
}

func runImport(env *cliEnv, o *importOptions, args []string) (retErr error) {
	mopts := o.options()
	mopts.KeepHardware = true
	if !o.corporate {
		// The hashes wait in a private spill file, not in memory, until they are posted.
		st, err := spill.New("")
		if err != nil {
			return &exitError{code: exitFatal, msg: err.Error(), hint: "check that the temporary folder (TMPDIR, TEMP) exists and is writable"}
		}
		defer st.Close()
		mopts.Spill = st
	}
	var rep *mapping.Report
	var err error
	reported := false
	defer func() {
		// A run that stops before its reporters ran still replaces the --report file,
		// so that a scheduled job never mails yesterday's report as today's.
		if o.report != "" && !reported && retErr != nil {
			var results []mapping.Result
			if rep != nil {
				results = rep.Results
			}
			writeStoppedReport(o.report, results, retErr)
		}
	}()
	if o.corporate {
		rep, err = checkCorporateInputs(env, args, mopts)
	} else {
		rep, _, err = checkInputs(env, args, mopts)
	}
	if err != nil {
		return err
	}
	if !o.json {
		printNotes(env.stderr, rep.Notes)
	}
	printFileErrors(env.stderr, rep.FileErrors)
	if len(rep.FileErrors) > 0 {
		return &exitError{code: exitFatal, msg: fmt.Sprintf("nothing was imported because %s could not be read", plural(len(rep.FileErrors), "input file")),
			hint: "fix or remove the files named above and run again"}
	}
	if o.maxDevices > 0 && rep.Summary.Devices > o.maxDevices {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%d devices to register exceed --max-devices %d", rep.Summary.Devices, o.maxDevices),
			hint: "raise --max-devices if this is intended"}
	}
	offline, items := splitResults(rep.Results)
	if o.corporate {
		offline, items = corporateItems(rep.Results)
	}
	env.limitMemory(len(items))

	eopts := importer.Options{DryRun: o.dryRun, Offline: o.offline, ChunkSize: o.chunkSize, Concurrency: o.concurrency,
		Wait: o.wait, UpdateExisting: o.updateExisting, NoSync: o.noSync, PollMin: o.pollMin, WaitProfile: o.waitProfile}
	if o.corporate {
		eopts.Mode = importer.ModeCorporate
	}
	var svc importer.Service
	if !o.offline {
		client, info, err := o.connect(env, o.dryRun)
		if err != nil {
			return err
		}
		svc = client
		eopts.Tenant = info.TenantID
		verb := "importing into"
		if o.dryRun {
			verb = "planning an import into"
		}
		fmt.Fprintf(env.stderr, "apimport: %s tenant %s\n", verb, info.TenantID)
		if o.dryRun {
			fmt.Fprintln(env.stderr, "apimport: dry run: read-only requests, nothing is written")
		}
		if o.addToGroup != "" {
			if !o.dryRun { // a dry run only reads: it names the group it would use
				if err := checkGroupPermissions(info); err != nil {
					return err
				}
			}
			g, err := client.ResolveGroup(env.ctx, o.addToGroup)
			if err != nil {
				return err
			}
			if g.Dynamic {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("the group %q has dynamic membership: members cannot be added by hand", g.DisplayName),
					hint: "its membership rule adds the devices (e.g. on the group tag); drop --add-to-group or name an assigned group"}
			}
			eopts.AddToGroup = g.ID
			fmt.Fprintf(env.stderr, "apimport: devices will be added to the group %s (%s)\n", textsafe.Inline(g.DisplayName), g.ID)
		}
		jn, st, err := o.openJournal(env, info.TenantID)
		if err != nil {
			return err
		}
		if jn != nil {
			defer jn.Close()
			eopts.Journal = jn
		}
		eopts.PlanJournal = st
	}

	out := newImportOutput(env, o, rep.Results)
	defer out.rows.close() // also when the run stops early (out.close closes it too)
	offlineCounts := map[string]int{}
	for _, r := range offline {
		d := offlineResult(r)
		offlineCounts[d.Result]++
		out.device(d)
	}
	// The check results are not needed during the run (the items carry what it needs,
	// the reporters their order): let them go, a large import holds 100,000.
	rows := len(rep.Results)
	rep.Results, offline = nil, nil
	eopts.Progress = out.progress.update
	sum, runErr := importer.Run(env.ctx, svc, items, eopts, out.device)
	out.progress.done()
	writeMemProfile(env.stderr, items, rep, out)
	if runErr != nil && errors.Is(runErr, importer.ErrDuplicateItem) {
		return runErr // a bug: nothing was sent
	}
	for res, n := range offlineCounts {
		sum.Counts[res] += n
	}
	sum.Rows = rows
	out.rep.summary(runSummary{RunSummary: sum, DryRun: o.dryRun, FileErrors: len(rep.FileErrors)})
	reported = true
	if err := out.close(); err != nil {
		return &exitError{code: exitFatal, msg: err.Error()}
	}
	if runErr != nil {
		if len(sum.Leftover) > 0 && (errors.Is(runErr, importer.ErrInterrupted) || errors.Is(runErr, context.Canceled)) {
			fmt.Fprintf(env.stderr, "apimport: %d import records are left for the next run (journal %s):\n", len(sum.Leftover), sum.Journal)
			for _, id := range sum.Leftover {
				fmt.Fprintf(env.stderr, "apimport:   %s\n", id)
			}
		}
		if code, hint := classify(runErr); code == exitFatal && sum.Journal != "" {
			if hint != "" {
				hint += "; then "
			}
			return &exitError{code: exitFatal, msg: runErr.Error(),
				hint: hint + "run the same command again: the journal " + sum.Journal + " lets it pick up where this run stopped"}
		}
		return runErr
	}
	for r, n := range sum.Counts {
		switch r {
		case importer.ResultInvalid, importer.ResultConflict, importer.ResultRejected, importer.ResultTimeout, importer.ResultFailed:
			if n > 0 {
				return &exitError{code: exitRows}
			}
		}
	}
	if out.unassigned > 0 {
		return &exitError{code: exitRows}
	}
	return nil
}

// checkGroupPermissions refuses, before anything is sent, a token that cannot add
// devices to groups (GroupMember.ReadWrite.All or Group.ReadWrite.All, and
// Device.Read.All or Device.ReadWrite.All). Tokens without visible roles or scopes
// (opaque tokens) are not judged here.
func checkGroupPermissions(info graph.TokenInfo) error {
	have := map[string]bool{}
	for _, r := range append(append([]string{}, info.Roles...), info.Scopes...) {
		have[strings.ToLower(r)] = true
	}
	if len(have) == 0 {
		return nil
	}
	var missing []string
	if !have["groupmember.readwrite.all"] && !have["group.readwrite.all"] {
		missing = append(missing, "GroupMember.ReadWrite.All")
	}
	// An application needs Device.ReadWrite.All to add a device member; a user
	// Device.Read.All (lifecycle-api §6, §7).
	if len(info.Roles) > 0 && !have["device.readwrite.all"] && !have["directory.readwrite.all"] {
		missing = append(missing, "Device.ReadWrite.All")
	} else if len(info.Roles) == 0 && !have["device.read.all"] && !have["device.readwrite.all"] && !have["directory.read.all"] {
		missing = append(missing, "Device.Read.All")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("--add-to-group needs the Microsoft Graph permission %s: %w", strings.Join(missing, " and "), importer.ErrPermission)
}

// checkJournalPath refuses an explicit --journal that is a folder or whose folder does
// not exist (a typo would start an empty journal and lose what a resume needs); the
// default journal's folder is created.
func checkJournalPath(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usageErrorf("--journal %s is a folder: name a file", path)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("--journal %s: the folder %s does not exist", path, filepath.Dir(path)),
			hint: "create the folder, or name the journal an earlier run used; nothing was sent"}
	}
	return nil
}

// openJournal opens the tenant's journal for a run (locked), or reads it for a dry run.
func (o *importOptions) openJournal(env *cliEnv, tenant string) (*importer.Journal, *importer.JournalState, error) {
	path := o.journal
	if path == "" {
		var err error
		if path, err = importer.DefaultJournalPath(tenant); err != nil {
			return nil, nil, &exitError{code: exitFatal, msg: err.Error(), hint: "name a journal file with --journal"}
		}
	}
	if o.dryRun {
		// Read-only: tells this tool's unfinished imports from other tools'.
		st, err := importer.ReadJournal(path, o.binding(tenant))
		if err != nil {
			return nil, nil, err
		}
		return nil, &st, nil
	}
	jn, err := importer.OpenJournal(path, o.binding(tenant))
	if err != nil {
		return nil, nil, err
	}
	if st := jn.State(); st.Open() {
		fmt.Fprintf(env.stderr, "apimport: resuming: the journal %s holds %d import records and %d unconfirmed submissions of an earlier run\n",
			path, len(st.Leftovers()), len(st.Ambiguous))
	}
	return jn, nil, nil
}

// writeStoppedReport writes the --report of a run that stopped before sending: the
// offline findings as they are, every other row interrupted with the error and its
// hint.
func writeStoppedReport(path string, results []mapping.Result, stop error) {
	rows := make([]importer.DeviceResult, len(results))
	for i, r := range results {
		rows[i] = offlineResult(r)
		if r.Status == mapping.StatusValid && r.Device != nil {
			rows[i] = notSent(r.File, r.Line, r.Serial, stop)
		}
	}
	replaceReport(path, rows)
}

// notSent is the report row of a device a run did not send because it stopped before.
func notSent(file string, line int, serial string, stop error) importer.DeviceResult {
	_, hint := classify(stop)
	return importer.DeviceResult{File: file, Line: line, Serial: serial, Result: importer.ResultInterrupted,
		Message: "not sent: the run stopped before sending: " + stop.Error(), Hint: hint}
}

// replaceReport writes rows (in their order) as the --report file, redacted like every
// output. A failure to write it shows only as the missing file: the run already fails
// with its own error.
func replaceReport(path string, rows []importer.DeviceResult) {
	c := &csvReporter{path: path, ordered: ordered{rows: newRowStore()}}
	defer c.rows.close()
	for i, d := range rows {
		d.Serial, d.Message = jsonSerial(d.Serial), redactHashes(d.Message)
		c.rows.add(deviceLine{DeviceResult: d, pos: i})
	}
	_ = c.close()
}

// splitResults separates the offline findings (never sent) from the devices to register.
func splitResults(results []mapping.Result) (offline []mapping.Result, items []importer.Item) {
	isItem := func(r mapping.Result) bool { return r.Status == mapping.StatusValid && r.Device != nil }
	n := 0
	for _, r := range results {
		if isItem(r) {
			n++
		}
	}
	items = make([]importer.Item, 0, n) // exactly: a large import holds 100,000
	for _, r := range results {
		if !isItem(r) {
			offline = append(offline, r)
			continue
		}
		d := r.Device
		items = append(items, importer.Item{File: r.File, Line: r.Line, Serial: r.Serial, GroupTag: d.GroupTag,
			AssignedUser: d.AssignedUser, ProductKey: d.ProductKey, Hardware: d.Hardware, LoadHardware: d.HardwareLoader()})
	}
	return offline, items
}

// offlineResult converts a finding of the offline checks into its DeviceResult.
func offlineResult(r mapping.Result) importer.DeviceResult {
	d := importer.DeviceResult{File: r.File, Line: r.Line, Serial: r.Serial, DuplicateOf: r.DuplicateOf}
	switch r.Status {
	case mapping.StatusDuplicate:
		d.Result = importer.ResultDuplicate
	case mapping.StatusConflict:
		d.Result = importer.ResultConflict
	default:
		d.Result = importer.ResultInvalid
	}
	if r.Status == mapping.StatusValid {
		d.Message = "valid row without device data (internal error)"
	}
	d.ErrorName = strings.Join(r.Codes, ",")
	var msgs []string
	for _, f := range r.Findings {
		if !f.Warning {
			msgs = append(msgs, f.Message)
		}
	}
	if len(msgs) > 0 {
		d.Message = strings.Join(msgs, "; ")
	}
	if d.Result == importer.ResultDuplicate && d.Message == "" && r.DuplicateOf != "" {
		d.Message = "duplicate of " + r.DuplicateOf
	}
	return d
}

// importOutput feeds every result to the reporters, redacted once.
type importOutput struct {
	unassigned int // devices whose profile wait ended without an assignment
	rep        reporters
	order      inputOrder
	rows       *rowStore // the lines of the reporters that write them at the end (nil: none)
	progress   *progressPrinter
}

func newImportOutput(env *cliEnv, o *importOptions, results []mapping.Result) *importOutput {
	order := inputOrder{}
	for i, r := range results {
		order.add(r.File, r.Line, i)
	}
	out := newRunOutput(env, o.json, o.report, order)
	if o.html.enabled() {
		out.add(newHTMLReporter(&o.html, o.dryRun, results))
	}
	return out
}

// newRunOutput sets up the reporters of a run over the tenant (import, update, remove).
func newRunOutput(env *cliEnv, jsonOut bool, report string, order inputOrder) *importOutput {
	out := &importOutput{order: order}
	if jsonOut {
		out.add(newJSONReporter(env.stdout))
	} else {
		out.add(&textReporter{out: bufio.NewWriter(env.stdout), stderr: env.stderr, tty: env.isTerminal(env.stdout)})
	}
	if report != "" {
		out.add(&csvReporter{path: report})
	}
	out.progress = newProgressPrinter(env.stderr, env.isTerminal(env.stderr) && !jsonOut, env.progressInterval())
	return out
}

func (p *importOutput) device(d importer.DeviceResult) {
	// A malformed row can carry a whole hash in its serial (and so in its message):
	// every output (JSON, table, CSV report) gets the shortened text, as in check.
	d.Serial = jsonSerial(d.Serial)
	d.Message, d.Hint, d.GroupTag = redactHashes(d.Message), redactHashes(d.Hint), redactHashes(d.GroupTag)
	d.ErrorName, d.DuplicateOf = redactHashes(d.ErrorName), redactHashes(d.DuplicateOf)
	if d.ProfileStatus != "" && !importer.ProfileAssigned(d.ProfileStatus) || d.Group == "pending" {
		p.unassigned++
	}
	line := deviceLine{DeviceResult: d, pos: p.order.pos(d.File, d.Line)}
	if p.rows != nil {
		p.rows.add(line)
	}
	p.rep.device(line)
}

// add adds a reporter; one that writes the lines in input order at the end (embeds
// ordered) shares the run's rowStore.
func (p *importOutput) add(r reporter) {
	if o, ok := r.(interface{ useRows(*rowStore) }); ok {
		if p.rows == nil {
			p.rows = newRowStore()
		}
		o.useRows(p.rows)
	}
	p.rep = append(p.rep, r)
}

// close closes the reporters, then the rowStore.
func (p *importOutput) close() error {
	defer p.rows.close()
	return p.rep.close()
}
