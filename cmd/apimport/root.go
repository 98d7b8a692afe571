package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/apimport/apimport/internal/textsafe"

	"github.com/apimport/apimport/importer"
)

// cliEnv is what every command gets: the context (cancelled on SIGINT/SIGTERM) and the
// standard streams. Tests call run with buffers.
type cliEnv struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// terminal overrides terminal detection per stream (tests of the table and the
	// progress display); nil entries are detected.
	terminal map[io.Writer]bool
	// progressEvery overrides the 10 s between progress lines off a terminal (tests).
	progressEvery time.Duration

	allowEmpty bool // --allow-empty of the command being run (see registerAllowEmpty)
	// memoryLimit sets the process's soft memory limit for a run of n devices (see
	// memlimit.go); nil in tests.
	memoryLimit func(n int)
}

// isTerminal reports whether w is a terminal (or is declared one).
func (env *cliEnv) isTerminal(w io.Writer) bool {
	if t, ok := env.terminal[w]; ok {
		return t
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (env *cliEnv) progressInterval() time.Duration {
	if env.progressEvery > 0 {
		return env.progressEvery
	}
	return 10 * time.Second
}

// commands is filled by init functions in the cmd_*.go files, one per command, so that
// commands can be added without touching this file.
var commands []func(env *cliEnv) *cobra.Command

func registerCommand(f func(env *cliEnv) *cobra.Command) { commands = append(commands, f) }

const exitCodesHelp = `Exit codes:
  0    every row valid (check/convert) or registered (import); duplicates are fine
  1    fatal: a file unreadable or not an import file; the authority or Graph
       unreachable or failing TLS (the hint names the host)
  2    usage error: flags, paths, URLs, --ca-file, the journal of another tenant
  3    finished, but some rows invalid, in conflict, rejected or timed out
  4    credentials rejected, a permission missing, or the --auth mode unavailable
  130  interrupted (SIGINT/SIGTERM)`

func newRootCmd(env *cliEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "apimport",
		Short: "Check, convert and import Windows Autopilot device exports",
		Long: `apimport reads Windows Autopilot hardware-hash exports (the Configuration Manager
"Windows Autopilot Device Information" report, Get-WindowsAutopilotInfo files,
OEM/partner CSVs), validates and dedupes the rows, converts them to the Intune
import CSV and registers the devices through Microsoft Graph.

` + exitCodesHelp,
		Version:       versionLine(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if f := cmd.Flags().Lookup(allowEmptyFlag); f != nil {
				env.allowEmpty = f.Value.String() == "true"
			}
			return checkFlagValues(cmd, args)
		},
	}
	root.SetIn(env.stdin)
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, msg: err.Error(), hint: "see '" + c.CommandPath() + " --help'"}
	})
	subs := make([]*cobra.Command, 0, len(commands))
	for _, f := range commands {
		subs = append(subs, f(env))
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	root.AddCommand(subs...)
	return root
}

// run is the whole program; main only calls os.Exit with its result.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, func(env *cliEnv) { env.stdin, env.stdout, env.stderr = stdin, stdout, stderr })
}

// runWith runs the program in an environment that mod sets up (streams, terminal
// flags, progress interval).
func runWith(ctx context.Context, args []string, mod func(*cliEnv)) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{ctx: ctx, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	mod(env)
	stderr := env.stderr
	root := newRootCmd(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	// With --json a fatal error also ends with one JSON line on stderr, for scripts.
	jsonOut := false
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Value.String() == "true" {
			jsonOut = true
		}
	}
	exit := func(code int, msg string) int {
		if jsonOut && msg != "" {
			b, _ := json.Marshal(jsonExitError{MessageType: "exit_error", Code: code, Message: msg})
			fmt.Fprintf(stderr, "%s\n", b)
		}
		return code
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, importer.ErrInterrupted) {
		fmt.Fprintln(stderr, "apimport: interrupted")
		return exit(exitInterrupted, "interrupted")
	}
	if ee := (*exitError)(nil); errors.As(err, &ee) && ee.code == exitOK { // e.g. --allow-empty and no file: nothing to do
		fmt.Fprintf(stderr, "apimport: %s\n", textsafe.Inline(ee.msg))
		return exitOK
	}
	// cobra's own argument errors (unknown command, wrong arg count) are usage errors.
	if isCobraUsageError(err) {
		fmt.Fprintf(stderr, "apimport: error: %s\napimport: hint: see 'apimport --help'\n", textsafe.Inline(err.Error()))
		return exit(exitUsage, err.Error())
	}
	code, hint := classify(err)
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "apimport: error: %s\n", textsafe.Inline(msg))
	}
	if hint != "" {
		fmt.Fprintf(stderr, "apimport: hint: %s\n", textsafe.Inline(hint))
	}
	return exit(code, err.Error())
}

type jsonExitError struct {
	MessageType string `json:"message_type"`
	Code        int    `json:"code"`
	Message     string `json:"message"`
}

// checkFlagValues refuses a flag whose value is another flag: in a scheduled job an empty
// variable (--tenant-id $TID with TID unset) makes the next flag the value and shifts every
// argument after it, so a journal or report path would be read as an input file.
func checkFlagValues(cmd *cobra.Command, _ []string) error {
	var bad *pflag.Flag
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if bad == nil && f.Value.Type() != "bool" && strings.HasPrefix(f.Value.String(), "--") {
			bad = f
		}
	})
	if bad != nil {
		return &exitError{code: exitUsage,
			msg:  fmt.Sprintf("--%s got %q as its value: its value is missing", bad.Name, bad.Value.String()),
			hint: "check that the variable or file name after --" + bad.Name + " is not empty"}
	}
	return nil
}
