package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/deployprofile"
	"github.com/apimport/apimport/graph"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/textsafe"
)

func init() { registerCommand(newProfileJSONCmd) }

type profileJSONOptions struct {
	authFlags
	profile string
	list    bool
	outDir  string
	domain  string
	json    bool
}

func newProfileJSONCmd(env *cliEnv) *cobra.Command {
	opts := &profileJSONOptions{}
	cmd := &cobra.Command{
		Use:   "profile-json (--profile NAME|ID [-o DIR] | --list) [flags]",
		Short: "Write AutopilotConfigurationFile.json of a deployment profile (Autopilot for existing devices)",
		Long: `Profile-json writes AutopilotConfigurationFile.json for a Windows Autopilot deployment
profile: the file a Configuration Manager task sequence copies to
%WINDIR%\Provisioning\Autopilot\ of a reimaged Windows, so that OOBE follows the
profile without a registered hardware hash ("Windows Autopilot for existing devices").
It replaces ConvertTo-AutopilotConfigurationJSON of the WindowsAutopilotIntune module:
the same keys with the same types and values — CloudAssignedTenantId,
CloudAssignedTenantDomain, CloudAssignedDeviceName (the name template, if any),
CloudAssignedOobeConfig (bitmask of the OOBE settings), CloudAssignedAadServerData (a
JSON string), CloudAssignedDomainJoinMethod (0 Entra join, 1 hybrid join),
CloudAssignedForcedEnrollment, CloudAssignedLanguage (if the keyboard page is
skipped), HybridJoinSkipDCConnectivityCheck (hybrid, if set),
CloudAssignedAutopilotUpdateDisabled/Timeout, ZtdCorrelationId (the profile id),
Version 2049 and Comment_File.

The file is ASCII (any other character escaped as \uXXXX), without a byte order mark,
with CRLF line ends, as Windows needs it. Without -o it goes to stdout; -o DIR writes
DIR/AutopilotConfigurationFile.json (replaced atomically). The tenant domain is the
organization's default verified domain, as the module takes it; --domain initial takes
the *.onmicrosoft.com domain, --domain NAME another verified domain.

Only user-driven Microsoft Entra join and user-driven hybrid join profiles can be
written: self-deploying profiles and profiles that allow pre-provisioning need TPM
attestation, which the offline file cannot provide; they are refused with the reason
(exit 3). --list shows every profile, its targets and whether it can be written.

Output: with --profile, the file (also with --json: it is JSON already) or, with -o, the
path written; --json then prints {"message_type":"file",...}. With --list, a table, or
with --json JSON Lines {"message_type":"profile",...}.

Permissions (read only): DeviceManagementServiceConfig.Read.All and, for the tenant
domain, Organization.Read.All (application) or User.Read (delegated).

Exit codes: 0 written or listed; 2 usage, unknown or ambiguous --profile, -o not a
folder; 3 the profile cannot be written for existing devices; 1, 4, 130 as for import.`,
		Example: `  apimport profile-json --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --list
  apimport profile-json --auth certificate --certificate app.pem --profile "Default profile" -o .\AutopilotPackage
  apimport profile-json --auth device-code --profile 7f9e6025-1e13-45f3-bf82-a3e8c5b59eac --domain initial > AutopilotConfigurationFile.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			return runProfileJSON(env, opts)
		},
	}
	opts.authFlags.register(cmd, "required")
	f := cmd.Flags()
	f.StringVar(&opts.profile, "profile", "", "the deployment profile's display `NAME` or ID")
	f.BoolVar(&opts.list, "list", false, "list the deployment profiles instead")
	f.StringVarP(&opts.outDir, "output", "o", "", "write "+deployprofile.FileName+" into this `DIR` (default: stdout)")
	f.StringVar(&opts.domain, "domain", deployprofile.DomainDefault, "CloudAssignedTenantDomain: default|initial|a verified `DOMAIN`")
	f.BoolVar(&opts.json, "json", false, "JSON output: the file itself, {\"message_type\":\"file\"} with -o, JSON Lines with --list")
	return cmd
}

func (o *profileJSONOptions) validate() error {
	if err := o.authFlags.validate(true, ""); err != nil {
		return err
	}
	switch {
	case o.list && o.profile != "":
		return usageErrorf("--list can't be combined with --profile")
	case !o.list && strings.TrimSpace(o.profile) == "":
		return &exitError{code: exitUsage, msg: "--profile or --list is required", hint: "apimport profile-json --list shows the deployment profiles"}
	case o.list && o.outDir != "":
		return usageErrorf("-o/--output can't be combined with --list")
	}
	if o.outDir != "" {
		st, err := os.Stat(o.outDir)
		if err != nil || !st.IsDir() {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("-o %s is not a folder", textsafe.Display(o.outDir)),
				hint: "-o names the folder that gets " + deployprofile.FileName + "; create it first"}
		}
	}
	return nil
}

// connectForProfiles connects read-only and checks that the token may read profiles
// and the organization, naming both permissions when one is missing.
func connectForProfiles(env *cliEnv, a *authFlags) (*graph.Client, graph.TokenInfo, error) {
	client, info, err := a.connect(env, true)
	if err != nil {
		if errors.Is(err, graph.ErrMissingPermission) {
			if perr := graph.CheckProfileReadPermissions(info); perr != nil {
				return nil, info, perr // says what profile-json needs, not what a dry run needs
			}
		}
		return nil, info, err
	}
	if err := graph.CheckProfileReadPermissions(info); err != nil {
		return nil, info, err
	}
	return client, info, nil
}

func runProfileJSON(env *cliEnv, o *profileJSONOptions) error {
	client, _, err := connectForProfiles(env, &o.authFlags)
	if err != nil {
		return err
	}
	if o.list {
		return listProfiles(env, o, client)
	}
	p, err := findProfile(env, client, strings.TrimSpace(o.profile))
	if err != nil {
		return err
	}
	if err := deployprofile.Check(p); err != nil {
		return &exitError{code: exitRows, msg: err.Error(),
			hint: "Autopilot for existing devices supports only user-driven Microsoft Entra join and hybrid join profiles; apimport profile-json --list shows which profiles qualify"}
	}
	org, err := client.GetOrganization(env.ctx)
	if err != nil {
		return err
	}
	domain, err := org.TenantDomain(o.domain)
	if err != nil {
		return &exitError{code: exitUsage, msg: "--domain " + o.domain + ": " + err.Error()}
	}
	file, err := deployprofile.Build(p, org.ID, domain)
	if err != nil {
		return err
	}
	data := file.Encode()
	if o.outDir == "" {
		if !o.json {
			fmt.Fprintf(env.stderr, "apimport: profile %s (%s), tenant %s, domain %s\n", textsafe.Display(p.DisplayName), p.ID, org.ID, textsafe.Display(domain))
		}
		_, err := env.stdout.Write(data)
		return err
	}
	path := filepath.Join(o.outDir, deployprofile.FileName)
	if err := safefile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return &exitError{code: exitFatal, msg: err.Error()}
	}
	if o.json {
		b, _ := json.Marshal(jsonProfileFile{MessageType: "file", Path: path, ProfileID: p.ID, ProfileName: p.DisplayName,
			TenantID: org.ID, TenantDomain: domain, Bytes: len(data)})
		fmt.Fprintf(env.stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintln(env.stdout, textsafe.Display(path))
	fmt.Fprintf(env.stderr, "apimport: wrote the profile %s (%s) for tenant %s, domain %s\n", textsafe.Display(p.DisplayName), p.ID, org.ID, textsafe.Display(domain))
	return nil
}

type jsonProfileFile struct {
	MessageType  string `json:"message_type"`
	Path         string `json:"path"`
	ProfileID    string `json:"profile_id"`
	ProfileName  string `json:"profile_name"`
	TenantID     string `json:"tenant_id"`
	TenantDomain string `json:"tenant_domain"`
	Bytes        int    `json:"bytes"`
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// findProfile resolves --profile: an id (GET by id), else a display name (exact, then
// case-insensitive); no match or several are usage errors that say what exists.
func findProfile(env *cliEnv, client *graph.Client, want string) (deployprofile.Profile, error) {
	if guidRE.MatchString(want) {
		p, err := client.GetDeploymentProfile(env.ctx, want)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, importer.ErrNotFound) {
			return p, err
		}
	}
	all, err := client.ListDeploymentProfiles(env.ctx)
	if err != nil {
		return deployprofile.Profile{}, err
	}
	var exact, folded []deployprofile.Profile
	for _, p := range all {
		switch {
		case p.DisplayName == want:
			exact = append(exact, p)
		case strings.EqualFold(p.DisplayName, want):
			folded = append(folded, p)
		}
	}
	matches := exact
	if len(matches) == 0 {
		matches = folded
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		names := make([]string, 0, len(all))
		for _, p := range all {
			names = append(names, fmt.Sprintf("%q", p.DisplayName))
		}
		hint := "the tenant has no deployment profiles"
		if len(names) > 0 {
			hint = "the tenant's profiles: " + strings.Join(firstFew(names, 10), ", ") + " (apimport profile-json --list)"
		}
		return deployprofile.Profile{}, &exitError{code: exitUsage, msg: fmt.Sprintf("no deployment profile named or with id %q", want), hint: hint}
	}
	ids := make([]string, len(matches))
	for i, p := range matches {
		ids[i] = p.ID
	}
	return deployprofile.Profile{}, &exitError{code: exitUsage, msg: fmt.Sprintf("%d deployment profiles are named %q", len(matches), want),
		hint: "name the profile by its id: " + strings.Join(ids, ", ")}
}

func firstFew(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("… %d more", len(s)-n))
}

type jsonProfile struct {
	MessageType            string           `json:"message_type"`
	ID                     string           `json:"id"`
	DisplayName            string           `json:"display_name"`
	ODataType              string           `json:"odata_type"`
	Join                   string           `json:"join"` // entra-join | hybrid-join | other type
	Mode                   string           `json:"mode"` // user-driven | self-deploying
	PreprovisioningAllowed bool             `json:"preprovisioning_allowed"`
	DeviceNameTemplate     string           `json:"device_name_template"`
	Language               string           `json:"language"`
	DeviceType             string           `json:"device_type"`
	OOBEConfig             int              `json:"oobe_config"`
	Assignments            []jsonAssignment `json:"assignments"`
	Supported              bool             `json:"supported"`             // profile-json can write it
	Unsupported            string           `json:"unsupported,omitempty"` // self_deploying | preprovisioning | profile_type
	Reason                 string           `json:"reason,omitempty"`
}

type jsonAssignment struct {
	ID      string `json:"id"`
	Target  string `json:"target"` // groupAssignmentTarget, exclusionGroupAssignmentTarget, allDevicesAssignmentTarget, …
	GroupID string `json:"group_id,omitempty"`
}

func listProfiles(env *cliEnv, o *profileJSONOptions, client *graph.Client) error {
	all, err := client.ListDeploymentProfiles(env.ctx)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	w, endTable := tableWriter(out, !o.json && env.isTerminal(env.stdout))
	if !o.json {
		fmt.Fprintln(w, "ID\tNAME\tJOIN\tMODE\tPRE-PROVISIONING\tEXISTING DEVICES\tASSIGNED TO")
	}
	enc := json.NewEncoder(out)
	for _, p := range all {
		as, err := client.ListProfileAssignments(env.ctx, p.ID)
		if err != nil {
			return err
		}
		var ue *deployprofile.UnsupportedError
		errors.As(deployprofile.Check(p), &ue)
		if o.json {
			jp := jsonProfile{MessageType: "profile", ID: p.ID, DisplayName: p.DisplayName, ODataType: p.ODataType, Join: p.JoinName(),
				Mode: p.ModeName(), PreprovisioningAllowed: p.PreprovisioningAllowed, DeviceNameTemplate: p.DeviceNameTemplate,
				Language: p.Language, DeviceType: p.DeviceType, OOBEConfig: deployprofile.OOBEConfig(p.OOBE),
				Assignments: []jsonAssignment{}, Supported: ue == nil}
			if ue != nil {
				jp.Unsupported, jp.Reason = ue.Code, ue.Reason
			}
			for _, a := range as {
				jp.Assignments = append(jp.Assignments, jsonAssignment{ID: a.ID, Target: a.TargetType, GroupID: a.GroupID})
			}
			if err := enc.Encode(jp); err != nil {
				return err
			}
			continue
		}
		targets := make([]string, len(as))
		for i, a := range as {
			targets[i] = a.Describe()
		}
		if len(targets) == 0 {
			targets = []string{"nothing"}
		}
		verdict := "yes"
		if ue != nil {
			verdict = "no (" + strings.ReplaceAll(ue.Code, "_", "-") + ")"
		}
		pre := "no"
		if p.PreprovisioningAllowed {
			pre = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, textsafe.Display(p.DisplayName), p.JoinName(), p.ModeName(), pre, verdict,
			textsafe.Inline(strings.Join(targets, ", ")))
	}
	endTable()
	if !o.json {
		fmt.Fprintf(env.stderr, "apimport: %s\n", plural(len(all), "deployment profile"))
	}
	return nil
}
