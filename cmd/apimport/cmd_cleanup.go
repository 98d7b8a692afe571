package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/importer"
)

func init() { registerCommand(newCleanupCmd) }

type cleanupOptions struct {
	authFlags
	journal string
	dryRun  bool
	json    bool
	html    htmlFlag
}

func newCleanupCmd(env *cliEnv) *cobra.Command {
	opts := &cleanupOptions{}
	cmd := &cobra.Command{
		Use:   "cleanup --journal FILE [flags]",
		Short: "Delete the import records an earlier import left in the tenant",
		Long: `Cleanup deletes the import records (importedWindowsAutopilotDeviceIdentities) that
earlier 'apimport import' runs created and did not delete yet: an import ends when
every device has its result and leaves the rest of its clean-up in its journal.
Only the journal's own records are candidates; another tool's records are never
touched. A record still processing is left for the next import run, which collects
its result. Unconfirmed submissions are settled only by an import run with their input.

Deletions go at the client's write limit; Ctrl-C stops at once and the journal keeps
what is left. --dry-run reads the records (GET only) and lists what would be deleted.

Output: one line per record (deleted, would_delete, processing, gone, failed) and a
summary; with --json, JSON Lines {"message_type":"record",...} and
{"message_type":"summary",...}.

` + exitCodesHelp,
		Example: `  apimport cleanup --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --journal journal.jsonl
  apimport cleanup --auth managed-identity --journal /data/journal.jsonl --dry-run --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.authFlags.validate(true, ""); err != nil {
				return err
			}
			return runCleanup(env, opts)
		},
	}
	opts.authFlags.register(cmd, "required")
	f := cmd.Flags()
	f.StringVar(&opts.journal, "journal", "", "journal `FILE` of the import runs (default: <user config dir>/apimport/journal-<tenant>.jsonl)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "list what would be deleted; write nothing")
	f.BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	opts.html.register(cmd)
	return cmd
}

type jsonCleanupRecord struct {
	MessageType string `json:"message_type"`
	ID          string `json:"id"`
	Serial      string `json:"serial"`
	Result      string `json:"result"`
	Message     string `json:"message,omitempty"`
}

type jsonCleanupSummary struct {
	MessageType string         `json:"message_type"`
	DryRun      bool           `json:"dry_run"`
	Tenant      string         `json:"tenant"`
	Journal     string         `json:"journal"`
	Records     int            `json:"records"`
	Results     map[string]int `json:"results"`
	Unconfirmed int            `json:"unconfirmed_submissions"`
	Requests    int            `json:"requests"`
	Writes      int            `json:"writes"`
	ElapsedS    float64        `json:"elapsed_s"`
}

func runCleanup(env *cliEnv, o *cleanupOptions) error {
	if err := o.html.validate(); err != nil {
		return err
	}
	page := &cleanupHTML{h: &o.html}
	if o.journal != "" {
		if st, err := os.Stat(o.journal); err != nil || st.IsDir() {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("--journal %s is not a journal file", o.journal), hint: "name the journal file the import runs used"}
		}
	}
	client, info, err := o.connect(env, o.dryRun)
	if err != nil {
		return err
	}
	path := o.journal
	if path == "" {
		if path, err = importer.DefaultJournalPath(info.TenantID); err != nil {
			return &exitError{code: exitFatal, msg: err.Error(), hint: "name the journal with --journal"}
		}
	}
	var jn *importer.Journal
	var st importer.JournalState
	if o.dryRun {
		if st, err = importer.ReadJournal(path, o.binding(info.TenantID)); err != nil {
			return err
		}
	} else {
		if jn, err = importer.OpenJournal(path, o.binding(info.TenantID)); err != nil {
			return err
		}
		defer jn.Close()
	}
	fmt.Fprintf(env.stderr, "apimport: cleaning up import records of tenant %s (journal %s)\n", info.TenantID, path)
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	emit := func(r importer.CleanupResult) {
		page.add(r)
		msg := redactHashes(r.Message)
		if o.json {
			_ = enc.Encode(jsonCleanupRecord{MessageType: "record", ID: r.ID, Serial: jsonSerial(r.Serial), Result: r.Result, Message: msg})
			_ = out.Flush()
			return
		}
		line := fmt.Sprintf("%s\t%s\t%s", r.ID, displaySerial(r.Serial), r.Result)
		if msg != "" {
			line += "\t" + msg
		}
		fmt.Fprintln(out, line)
	}
	sum, runErr := importer.Cleanup(env.ctx, client, jn, st, o.dryRun, nil, emit)
	if o.json {
		_ = enc.Encode(jsonCleanupSummary{MessageType: "summary", DryRun: o.dryRun, Tenant: info.TenantID, Journal: path,
			Records: sum.Records, Results: sum.Counts, Unconfirmed: sum.Unconfirmed, Requests: sum.Requests, Writes: sum.Writes,
			ElapsedS: round3(sum.Elapsed.Seconds())})
	} else {
		counts := countsText(sum.Counts)
		if counts == "" {
			counts = "nothing to do"
		}
		fmt.Fprintf(out, "%s: %s; %d requests, %s\n", plural(sum.Records, "import record"), counts, sum.Requests, sum.Elapsed.Round(100*time.Millisecond))
		if sum.Unconfirmed > 0 {
			fmt.Fprintf(env.stderr, "apimport: %s: run the import again with the same input to settle them\n", plural(sum.Unconfirmed, "unconfirmed submission"))
		}
	}
	if o.html.enabled() {
		if err := page.write(o.dryRun, info.TenantID, path, sum); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if sum.Counts[importer.CleanupFailed] > 0 {
		return &exitError{code: exitRows, hint: "the failed records stay in the journal; run cleanup again later"}
	}
	return nil
}
