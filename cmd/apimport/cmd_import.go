package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/apimport/apimport/graph"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/mapping"
)

func init() { registerCommand(newImportCmd) }

type importOptions struct {
	rowFlags
	auth           string
	secretFile     string
	certificate    string
	tenantID       string
	clientID       string
	cloud          string
	graphURL       string
	authorityURL   string
	caFile         string
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
	expectTenant   string
	maxDevices     int
	pollMin        time.Duration
	limits         graph.Limits
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

Authentication (--auth): client-secret (secret in $AZURE_CLIENT_SECRET or
--client-secret-file), certificate, managed-identity, workload-identity,
device-code, azure-cli, environment. The application needs the Graph permission
` + graph.RequiredPermission + ` (--dry-run needs only
` + graph.ReadPermission + `). --tenant-id and --client-id default to
$AZURE_TENANT_ID and $AZURE_CLIENT_ID.

Output: a table on stdout (text) or JSON Lines with --json: one
{"message_type":"device",...} per input row as soon as it is final, then one
{"message_type":"summary",...}. Progress goes to stderr when it is a terminal.

` + exitCodesHelp,
		Example: `  apimport import --dry-run --offline AutopilotHWID.csv
  apimport import --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --dry-run exports/*.csv
  apimport import --auth managed-identity --expect-tenant $TID --group-tag Sales --json report.csv > result.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd); err != nil {
				return err
			}
			return runImport(env, opts, args)
		},
	}
	opts.rowFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.auth, "auth", "", "authentication `mode`: "+strings.Join(graph.AuthModes, "|")+" (required unless --dry-run --offline)")
	f.StringVar(&opts.secretFile, "client-secret-file", "", "read the client secret from `FILE` (default: $AZURE_CLIENT_SECRET)")
	f.StringVar(&opts.certificate, "certificate", "", "client certificate `FILE` (PEM or PFX; password in $AZURE_CLIENT_CERTIFICATE_PASSWORD)")
	f.StringVar(&opts.tenantID, "tenant-id", "", "Entra tenant `ID` (default: $AZURE_TENANT_ID)")
	f.StringVar(&opts.clientID, "client-id", "", "application (client) `ID` (default: $AZURE_CLIENT_ID)")
	f.StringVar(&opts.cloud, "cloud", "", "Microsoft cloud: "+strings.Join(graph.CloudNames(), "|")+" (default global)")
	f.StringVar(&opts.graphURL, "graph-url", "", "Graph root `URL` override (private endpoint, emulator)")
	f.StringVar(&opts.authorityURL, "authority-url", "", "Entra authority `URL` override")
	f.StringVar(&opts.caFile, "ca-file", "", "extra trusted CA certificates (PEM `FILE`), e.g. for a TLS-inspecting proxy")
	f.BoolVar(&opts.dryRun, "dry-run", false, "plan only: read the tenant, write nothing")
	f.BoolVar(&opts.offline, "offline", false, "with --dry-run: do not contact the tenant at all")
	f.IntVar(&opts.chunkSize, "chunk-size", importer.DefaultChunkSize, fmt.Sprintf("devices per import request (1-%d)", importer.MaxChunkSize))
	f.IntVar(&opts.concurrency, "concurrency", importer.DefaultConcurrency, "import requests in flight at once (1-8)")
	f.DurationVar(&opts.wait, "wait", importer.DefaultWait, "how long to wait for imports to finish; unfinished ones are collected by the next run")
	f.BoolVar(&opts.updateExisting, "update-existing", false, "update group tag/user of devices already registered with other values")
	f.BoolVar(&opts.noSync, "no-sync", false, "do not trigger an Autopilot sync after registering")
	f.StringVar(&opts.journal, "journal", "", "journal `FILE` (default: <user config dir>/apimport/journal-<tenant>.jsonl)")
	f.BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	f.StringVar(&opts.report, "report", "", "also write the results as CSV to `FILE` (mode 0600)")
	f.StringVar(&opts.expectTenant, "expect-tenant", "", "refuse to run unless the token is for this tenant `ID`")
	f.IntVar(&opts.maxDevices, "max-devices", 0, "refuse to import more than `N` devices (0: no limit)")
	f.DurationVar(&opts.pollMin, "poll-min", 0, "shortest poll interval (default 2s; for tests and rehearsals)")
	f.IntVar(&opts.limits.Writes, "write-limit", 0, "client write budget per throttle window (default 100)")
	f.IntVar(&opts.limits.Requests, "request-limit", 0, "client request budget per throttle window (default 1000)")
	f.DurationVar(&opts.limits.Window, "throttle-window", 0, "client throttle window (default 20s)")
	for _, name := range []string{"poll-min", "write-limit", "request-limit", "throttle-window"} {
		_ = f.MarkHidden(name)
	}
	return cmd
}

func (o *importOptions) validate(cmd *cobra.Command) error {
	if o.offline && !o.dryRun {
		return usageErrorf("--offline works only with --dry-run (an import needs the tenant)")
	}
	if o.auth == "" && !(o.dryRun && o.offline) {
		return &exitError{code: exitUsage, msg: "--auth is required", hint: "choose one of " + strings.Join(graph.AuthModes, ", ") + ", or plan offline with --dry-run --offline"}
	}
	if o.auth != "" && !slices.Contains(graph.AuthModes, o.auth) {
		return usageErrorf("--auth %q is not one of %s", o.auth, strings.Join(graph.AuthModes, ", "))
	}
	if o.chunkSize < 1 || o.chunkSize > importer.MaxChunkSize {
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
	if o.secretFile != "" && o.auth != graph.AuthClientSecret {
		return usageErrorf("--client-secret-file can't be combined with --auth %s", o.auth)
	}
	if o.certificate != "" && o.auth != graph.AuthCertificate {
		return usageErrorf("--certificate can't be combined with --auth %s", o.auth)
	}
	if o.tenantID == "" {
		o.tenantID = os.Getenv("AZURE_TENANT_ID")
	}
	if o.clientID == "" {
		o.clientID = os.Getenv("AZURE_CLIENT_ID")
	}
	return nil
}

func runImport(env *cliEnv, o *importOptions, args []string) error {
	mopts := o.options()
	mopts.KeepHardware = true
	rep, _, err := checkInputs(env, args, mopts)
	if err != nil {
		return err
	}
	if !o.json {
		printNotes(env.stderr, rep.Notes)
	}
	printFileErrors(env.stderr, rep.FileErrors)
	if len(rep.FileErrors) > 0 {
		return &exitError{code: exitFatal, msg: "nothing was imported because some input could not be read",
			hint: "fix or remove the files named above and run again"}
	}
	if o.maxDevices > 0 && rep.Summary.Devices > o.maxDevices {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%d devices to register exceed --max-devices %d", rep.Summary.Devices, o.maxDevices),
			hint: "raise --max-devices if this is intended"}
	}

	eopts := importer.Options{DryRun: o.dryRun, Offline: o.offline, ChunkSize: o.chunkSize, Concurrency: o.concurrency,
		Wait: o.wait, UpdateExisting: o.updateExisting, NoSync: o.noSync, PollMin: o.pollMin}
	var svc importer.Service
	if !o.offline {
		client, info, err := connect(env, o)
		if err != nil {
			return err
		}
		svc = client
		eopts.Tenant = info.TenantID
		fmt.Fprintf(env.stderr, "apimport: importing into tenant %s\n", info.TenantID)
		if o.dryRun {
			fmt.Fprintln(env.stderr, "apimport: dry run: read-only requests, nothing is written")
		}
		path := o.journal
		if path == "" {
			if path, err = importer.DefaultJournalPath(info.TenantID); err != nil {
				return &exitError{code: exitFatal, msg: err.Error(), hint: "name a journal file with --journal"}
			}
		}
		if o.dryRun {
			// Read-only: tells this tool's unfinished imports from other tools'.
			st, err := importer.ReadJournal(path)
			if err != nil {
				return &exitError{code: exitFatal, msg: err.Error()}
			}
			eopts.PlanJournal = &st
		} else {
			jn, err := importer.OpenJournal(path)
			if err != nil {
				hint := "move the journal aside only if no other run uses it"
				if errors.Is(err, importer.ErrJournalLocked) {
					hint = "another import into this tenant is running; wait for it or use a different --journal"
				}
				return &exitError{code: exitFatal, msg: err.Error(), hint: hint}
			}
			defer jn.Close()
			eopts.Journal = jn
			if st := jn.State(); st.Open() {
				fmt.Fprintf(env.stderr, "apimport: resuming: the journal %s holds %d import records and %d unconfirmed submissions of an earlier run\n",
					path, len(st.Leftovers()), len(st.Ambiguous))
			}
		}
	}

	pr := newImportPrinter(env, o, rep.Results)
	eopts.Progress = pr.progress
	sum, runErr := importer.Run(env.ctx, svc, rep.Results, eopts, pr.device)
	pr.finish(sum, o.dryRun)
	if err := pr.flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if o.report != "" {
		if err := writeReportCSV(o.report, pr.all); err != nil {
			return &exitError{code: exitFatal, msg: err.Error()}
		}
	}
	if runErr != nil {
		return importRunError(env, runErr, sum, o.dryRun)
	}
	for _, r := range pr.all {
		switch r.Result {
		case importer.ResultInvalid, importer.ResultConflict, importer.ResultRejected, importer.ResultTimeout, importer.ResultFailed:
			return &exitError{code: exitRows}
		}
	}
	return nil
}

// connect builds the credential and client and checks the token before any Graph call.
func connect(env *cliEnv, o *importOptions) (*graph.Client, graph.TokenInfo, error) {
	cred, err := graph.NewCredential(graph.AuthConfig{Mode: o.auth, Cloud: o.cloud, AuthorityURL: o.authorityURL,
		TenantID: o.tenantID, ClientID: o.clientID, ClientSecretFile: o.secretFile, CertificateFile: o.certificate,
		CAFile: o.caFile, Prompt: env.stderr})
	if err != nil {
		return nil, graph.TokenInfo{}, &exitError{code: exitAuth, msg: err.Error()}
	}
	client, err := graph.NewClient(cred, graph.ClientConfig{Cloud: o.cloud, GraphURL: o.graphURL, CAFile: o.caFile, Limits: o.limits,
		Logger:    graph.DebugLogger(os.Getenv("APIMPORT_DEBUG"), env.stderr), // APIMPORT_DEBUG=api: one line per request, Authorization redacted
		UserAgent: "apimport/" + version()})
	if err != nil {
		return nil, graph.TokenInfo{}, &exitError{code: exitUsage, msg: err.Error()}
	}
	info, err := client.PreflightFor(env.ctx, o.dryRun)
	if o.expectTenant != "" && (err == nil || info.TenantID != "") && !strings.EqualFold(o.expectTenant, info.TenantID) {
		return nil, info, &exitError{code: exitAuth, msg: fmt.Sprintf("the token is for tenant %s, not the expected %s", info.TenantID, o.expectTenant),
			hint: "check --tenant-id and the credentials; nothing was sent"}
	}
	if err != nil {
		if env.ctx.Err() != nil {
			return nil, info, env.ctx.Err()
		}
		switch {
		case errors.Is(err, graph.ErrMissingPermission):
			return nil, info, &exitError{code: exitAuth, msg: err.Error(),
				hint: "in Entra ID: App registrations > API permissions > add Microsoft Graph application permission " + neededPermission(o.dryRun) + " and grant admin consent"}
		case importer.IsAuth(err):
			return nil, info, &exitError{code: exitAuth, msg: err.Error(), hint: "check --tenant-id, --client-id and the secret or certificate"}
		}
		return nil, info, &exitError{code: exitAuth, msg: err.Error(), hint: "check the network path to the authority (proxy: HTTPS_PROXY) and the credentials"}
	}
	return client, info, nil
}

// neededPermission names the Graph permission a run needs: a dry run only reads.
func neededPermission(dryRun bool) string {
	if dryRun {
		return graph.ReadPermission + " (or " + graph.RequiredPermission + ")"
	}
	return graph.RequiredPermission
}

func importRunError(env *cliEnv, err error, sum importer.RunSummary, dryRun bool) error {
	if errors.Is(err, importer.ErrInterrupted) || errors.Is(err, context.Canceled) {
		if len(sum.Leftover) > 0 {
			fmt.Fprintf(env.stderr, "apimport: %d import records are left for the next run (journal %s):\n", len(sum.Leftover), sum.Journal)
			for _, id := range sum.Leftover {
				fmt.Fprintf(env.stderr, "apimport:   %s\n", id)
			}
		}
		return context.Canceled
	}
	if importer.IsAuth(err) {
		return &exitError{code: exitAuth, msg: err.Error(), hint: "the token was refused; check the permission " + neededPermission(dryRun) + " and the tenant"}
	}
	hint := ""
	if sum.Journal != "" {
		hint = "run the same command again: the journal " + sum.Journal + " lets it pick up where this run stopped"
	}
	return &exitError{code: exitFatal, msg: err.Error(), hint: hint}
}

// importPrinter writes device results as they come (JSON) or collects them for the table.
type importPrinter struct {
	env       *cliEnv
	json      bool
	out       *bufio.Writer
	enc       *json.Encoder
	all       []importer.DeviceResult
	tty       bool // progress on stderr
	stdoutTTY bool // table header and alignment
	lastProg  time.Time
	progLen   int
	order     map[string]int // "file\x00line" -> input position
}

func newImportPrinter(env *cliEnv, o *importOptions, results []mapping.Result) *importPrinter {
	p := &importPrinter{env: env, json: o.json, out: bufio.NewWriter(env.stdout), order: make(map[string]int, len(results))}
	for i, r := range results {
		p.order[r.File+"\x00"+strconv.Itoa(r.Line)] = i
	}
	p.enc = json.NewEncoder(p.out)
	if f, ok := env.stderr.(*os.File); ok && !o.json && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	if f, ok := env.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.stdoutTTY = true
	}
	return p
}

type jsonDevice struct {
	MessageType string `json:"message_type"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Serial      string `json:"serial"`
	Result      string `json:"result"`
	GroupTag    string `json:"group_tag,omitempty"`
	// The contract's fields are always present (0 or "" when none), for scripts.
	ErrorCode      int    `json:"error_code"`
	ErrorName      string `json:"error_name"`
	Message        string `json:"message,omitempty"`
	Hint           string `json:"hint"`
	ImportID       string `json:"import_id"`
	RegistrationID string `json:"registration_id,omitempty"`
	DuplicateOf    string `json:"duplicate_of,omitempty"`
}

func (p *importPrinter) device(d importer.DeviceResult) {
	// A malformed row can carry a whole hash in its serial (and so in its message):
	// every output (JSON, table, CSV report) gets the shortened text, as in check.
	d.Serial = jsonSerial(d.Serial)
	d.Message, d.Hint, d.GroupTag = redactHashes(d.Message), redactHashes(d.Hint), redactHashes(d.GroupTag)
	d.ErrorName, d.DuplicateOf = redactHashes(d.ErrorName), redactHashes(d.DuplicateOf)
	p.all = append(p.all, d)
	if p.json {
		_ = p.enc.Encode(jsonDevice{MessageType: "device", File: d.File, Line: d.Line, Serial: d.Serial, Result: d.Result,
			GroupTag: d.GroupTag, ErrorCode: d.ErrorCode, ErrorName: d.ErrorName, Message: d.Message, Hint: d.Hint,
			ImportID: d.ImportID, RegistrationID: d.RegistrationID, DuplicateOf: d.DuplicateOf})
		_ = p.out.Flush() // each row as soon as it is final
	}
}

func (p *importPrinter) progress(pg importer.Progress) {
	if !p.tty || time.Since(p.lastProg) < 200*time.Millisecond && pg.Done < pg.Total {
		return
	}
	p.lastProg = time.Now()
	line := fmt.Sprintf("apimport: %d/%d rows done, %d submitted, %d processing, %d records cleaned up", pg.Done, pg.Total, pg.Submitted, pg.Outstanding, pg.Deleted)
	pad := ""
	if n := p.progLen - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.progLen = len(line)
	fmt.Fprintf(p.env.stderr, "\r%s%s", line, pad)
}

type jsonImportSummary struct {
	MessageType string         `json:"message_type"`
	DryRun      bool           `json:"dry_run"`
	Tenant      string         `json:"tenant,omitempty"`
	Rows        int            `json:"rows"`
	Results     map[string]int `json:"results"`
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

func (p *importPrinter) finish(sum importer.RunSummary, dryRun bool) {
	if p.tty && p.progLen > 0 {
		fmt.Fprintf(p.env.stderr, "\r%s\r", strings.Repeat(" ", p.progLen))
	}
	if p.json {
		_ = p.enc.Encode(jsonImportSummary{MessageType: "summary", DryRun: dryRun, Tenant: sum.Tenant, Rows: sum.Rows,
			Results: sum.Counts, Requests: sum.Requests, ReqFinal: sum.RequestsFinal, Writes: sum.Writes, Throttled: sum.Throttled, Posts: sum.Posts,
			Polls: sum.Polls, Deleted: sum.Deleted, Leftover: sum.Leftover, Sync: sum.Sync,
			FinalS: round3(sum.Final.Seconds()), ElapsedS: round3(sum.Elapsed.Seconds()), Journal: sum.Journal})
		return
	}
	// The table follows the input order (results arrive offline findings first).
	rows := append([]importer.DeviceResult(nil), p.all...)
	pos := func(r importer.DeviceResult) int { return p.order[r.File+"\x00"+strconv.Itoa(r.Line)] }
	sort.SliceStable(rows, func(i, j int) bool { return pos(rows[i]) < pos(rows[j]) })
	// Aligned with a header on a terminal; plain tab-separated rows otherwise (scripts).
	if p.stdoutTTY {
		tw := tabwriter.NewWriter(p.out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ROW\tSERIAL\tRESULT\tDETAIL")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\n", r.File, r.Line, displaySerial(r.Serial), r.Result, detail(r))
		}
		tw.Flush()
	} else {
		for _, r := range rows {
			fmt.Fprintf(p.out, "%s:%d\t%s\t%s\t%s\n", r.File, r.Line, displaySerial(r.Serial), r.Result, detail(r))
		}
	}
	keys := make([]string, 0, len(sum.Counts))
	for k := range sum.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", sum.Counts[k], k)
	}
	fmt.Fprintf(p.out, "%d rows: %s; %d requests (%d throttled), all final after %s, %s in total\n",
		sum.Rows, strings.Join(parts, ", "), sum.Requests, sum.Throttled, sum.Final.Round(100*time.Millisecond), sum.Elapsed.Round(100*time.Millisecond))
	if sum.Sync != "" {
		fmt.Fprintf(p.env.stderr, "apimport: autopilot sync: %s\n", sum.Sync)
	}
	if len(sum.Leftover) > 0 {
		fmt.Fprintf(p.env.stderr, "apimport: %d import records are left for the next run (journal %s)\n", len(sum.Leftover), sum.Journal)
	}
}

func (p *importPrinter) flush() error { return p.out.Flush() }

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
	if (r.Result == importer.ResultTimeout || r.Result == importer.ResultInterrupted) && r.ImportID != "" {
		parts = append(parts, "import id "+r.ImportID)
	}
	return strings.Join(parts, "; ")
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// writeReportCSV writes every result to path (mode 0600), replacing it atomically.
func writeReportCSV(path string, rows []importer.DeviceResult) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"file", "line", "serial", "result", "error_code", "error_name", "message", "hint", "import_id", "registration_id"})
	for _, r := range rows {
		code := ""
		if r.ErrorCode != 0 {
			code = strconv.Itoa(r.ErrorCode)
		}
		_ = w.Write([]string{r.File, strconv.Itoa(r.Line), csvSafe(r.Serial), r.Result, code, r.ErrorName, r.Message, r.Hint, r.ImportID, r.RegistrationID})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// csvSafe keeps a serial from being read as a formula by spreadsheet programs.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}
