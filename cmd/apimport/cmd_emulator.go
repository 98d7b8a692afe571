package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/graph/emulator"
)

func init() { registerCommand(newEmulatorCmd) }

type emulatorOptions struct {
	addr            string
	config          string
	state           string
	log             string
	dir             string
	processingDelay time.Duration
	visibilityDelay time.Duration
	profileDelay    time.Duration
	enrolledSerials []string
	allowRemote     bool
}

func newEmulatorCmd(env *cliEnv) *cobra.Command {
	opts := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator [flags]",
		Short: "Run a local Microsoft Graph and Entra ID emulator for rehearsals and tests",
		Long: `Emulator serves, over HTTPS on a loopback address, the parts of Microsoft Graph
(Autopilot import, registered devices and their removal, beta sync, $batch,
throttling, beta deployment profiles with per-device assignment status,
/organization, Entra devices and groups, Intune managed devices) and of the
Entra ID token endpoint that apimport uses, so that an import job can be rehearsed
without a tenant. It prints the connection details on stdout, one "key: value"
line each, then serves until interrupted:

  graph_url, authority_url, tenant_id, client_id, client_secret, ca_file

The client secret is a throwaway secret of the emulator. Point apimport (or any
Graph client) at graph_url and authority_url and trust ca_file. With --dir the CA,
tenant, client and secret stay the same across restarts.

--config reads a JSON file; its keys are listed in
'go doc github.com/apimport/apimport/graph/emulator'. Flags override the file.`,
		Example: `  apimport emulator --processing-delay 2s --state emu-state.json --log emu-requests.jsonl
  apimport emulator --config emulator.json --dir ~/.apimport-emulator`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEmulator(env, cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:0", "listen address (loopback only unless --allow-remote)")
	f.StringVar(&opts.config, "config", "", "JSON configuration `file`")
	f.StringVar(&opts.state, "state", "", "persist the emulated tenant in this `file` (reloaded at start)")
	f.StringVar(&opts.log, "log", "", "append a JSON Lines request log to this `file`")
	f.StringVar(&opts.dir, "dir", "", "keep the CA, keys, tenant and secret in this `directory` across restarts")
	f.DurationVar(&opts.processingDelay, "processing-delay", 5*time.Second, "time before an import record reports complete or error")
	f.DurationVar(&opts.visibilityDelay, "visibility-delay", 0, "hide a new import record from GET, list and $batch for this long (rehearses a service that shows records late)")
	f.DurationVar(&opts.profileDelay, "profile-delay", 30*time.Second, "time from a deployment profile targeting a device to its assignment (notAssigned, pending at half, then assigned)")
	f.StringSliceVar(&opts.enrolledSerials, "enrolled-serials", nil, "treat these `serials` (comma-separated, repeatable) as enrolled in Intune: their registered devices get a managed device")
	f.BoolVar(&opts.allowRemote, "allow-remote", false, "allow a non-loopback --addr")
	return cmd
}

func runEmulator(env *cliEnv, cmd *cobra.Command, opts *emulatorOptions) error {
	cfg := emulator.DefaultConfig()
	if opts.config != "" {
		var err error
		if cfg, err = emulator.LoadConfig(opts.config); err != nil {
			return usageErrorf("%v", err)
		}
	}
	flags := cmd.Flags()
	if flags.Changed("addr") || cfg.Addr == "" {
		cfg.Addr = opts.addr
	}
	if flags.Changed("state") {
		cfg.StateFile = opts.state
	}
	if flags.Changed("log") {
		cfg.LogFile = opts.log
	}
	if flags.Changed("dir") {
		cfg.Dir = opts.dir
	}
	if flags.Changed("processing-delay") {
		if opts.processingDelay <= 0 {
			return usageErrorf("--processing-delay must be positive, got %s", opts.processingDelay)
		}
		cfg.ProcessingDelay = emulator.Duration(opts.processingDelay)
	}
	if flags.Changed("visibility-delay") {
		if opts.visibilityDelay < 0 {
			return usageErrorf("--visibility-delay must not be negative, got %s", opts.visibilityDelay)
		}
		cfg.VisibilityDelay = emulator.Duration(opts.visibilityDelay)
	}
	if flags.Changed("profile-delay") {
		if opts.profileDelay <= 0 {
			return usageErrorf("--profile-delay must be positive, got %s", opts.profileDelay)
		}
		cfg.ProfileDelay = emulator.Duration(opts.profileDelay)
	}
	if flags.Changed("enrolled-serials") {
		cfg.EnrolledSerials = append(cfg.EnrolledSerials, opts.enrolledSerials...)
	}
	if !opts.allowRemote {
		if err := emulator.CheckLoopback(cfg.Addr); err != nil {
			return usageErrorf("%v; pass --allow-remote to listen there anyway", err)
		}
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer srv.Close()
	if err := srv.WriteInfo(env.stdout); err != nil {
		return err
	}
	fmt.Fprintln(env.stderr, "apimport: emulator serving; press Ctrl-C to stop")
	<-env.ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping the emulator: %w", err)
	}
	return nil
}
