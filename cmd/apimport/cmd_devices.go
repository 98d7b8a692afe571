package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/internal/htmlreport"
	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/serial"
	"github.com/apimport/apimport/internal/textsafe"
)

func init() { registerCommand(newDevicesCmd) }

type devicesOptions struct {
	authFlags
	serials       []string
	groupTag      string
	profileStatus string
	json          bool
	csv           string
	waitProfile   time.Duration
	html          htmlFlag
}

// deviceColumns are the columns of `devices --csv`; update reads the same file back
// (Serial Number, Group Tag, Assigned User, Display Name).
var deviceColumns = []string{"Serial Number", "Manufacturer", "Model", "Group Tag", "Assigned User", "Display Name",
	"Profile Status", "Profile", "Enrollment State", "Entra Device ID", "Last Contact", "Id"}

func newDevicesCmd(env *cliEnv) *cobra.Command {
	opts := &devicesOptions{}
	cmd := &cobra.Command{
		Use:   "devices [flags] [--wait-profile DURATION FILE...]",
		Short: "List the tenant's Windows Autopilot devices",
		Long: `Devices lists the tenant's Windows Autopilot devices: serial, manufacturer, model,
group tag, assigned user, display name, deployment profile status and profile name,
enrollment state, Entra device id, last contact and id. It reads the beta endpoint
(the profile fields exist only there) through the same client, budget and retries as
every other command, page by page.

Filters: --serial (repeatable, exact), --group-tag (exact), --profile-status
(assignedInSync, assignedOutOfSync, assignedUnkownSyncState, notAssigned, pending,
failed, unknown; "assigned" matches the three assigned… values).

Output: a table (tab-separated when piped), --json JSON Lines
({"message_type":"device",...} then a summary), --csv FILE an editable CSV that
'apimport update' reads back: export, edit Group Tag / Assigned User / Display Name in a
spreadsheet, then 'apimport update --dry-run FILE' and 'apimport update FILE'.
Needs DeviceManagementServiceConfig.Read.All.

--wait-profile DURATION FILE... waits, for the devices of FILE (any CSV with a serial
column: the import file, the devices --csv file) or --serial, until each has its
deployment profile assigned (assignedInSync, assignedOutOfSync,
assignedUnkownSyncState), failed, or DURATION ran out; each device line then carries
profile_status and profile_name, and a device not assigned makes exit 3 with a hint.

` + exitCodesHelp,
		Example: `  apimport devices --auth client-secret --tenant-id $TID --client-id $CID --client-secret-file secret.txt --csv devices.csv
  apimport devices --auth managed-identity --group-tag Sales --profile-status notAssigned --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.waitProfile > 0 {
				w := &writeOptions{authFlags: opts.authFlags, serials: opts.serials, json: opts.json, waitProfile: opts.waitProfile, html: opts.html}
				return runWrites(env, w, args, importer.ModeProfile)
			}
			if len(args) > 0 {
				return usageErrorf("devices takes FILE arguments only with --wait-profile")
			}
			if err := opts.authFlags.validate(true, ""); err != nil {
				return err
			}
			if err := checkWritable("--csv", opts.csv); err != nil {
				return err
			}
			if opts.html.enabled() {
				if err := opts.html.validate(); err != nil {
					return err
				}
			}
			return runDevices(env, opts)
		},
	}
	opts.authFlags.register(cmd, "required")
	f := cmd.Flags()
	f.StringArrayVar(&opts.serials, "serial", nil, "only the device with this serial `NUMBER` (repeatable)")
	f.StringVar(&opts.groupTag, "group-tag", "", "only devices with this group `TAG`")
	f.StringVar(&opts.profileStatus, "profile-status", "", "only devices with this profile assignment `STATUS` (or \"assigned\")")
	f.BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	opts.html.register(cmd)
	f.DurationVar(&opts.waitProfile, "wait-profile", 0, "wait up to `DURATION` for the deployment profiles of the devices of FILE... or --serial")
	f.StringVar(&opts.csv, "csv", "", "also write the devices as an editable CSV `FILE` (mode 0600) that update reads back")
	return cmd
}

type jsonAutopilotDevice struct {
	MessageType     string `json:"message_type"`
	Serial          string `json:"serial"`
	Manufacturer    string `json:"manufacturer"`
	Model           string `json:"model"`
	GroupTag        string `json:"group_tag"`
	AssignedUser    string `json:"assigned_user"`
	DisplayName     string `json:"display_name"`
	ProfileStatus   string `json:"profile_status"`
	ProfileName     string `json:"profile_name"`
	EnrollmentState string `json:"enrollment_state"`
	EntraDeviceID   string `json:"entra_device_id"`
	LastContact     string `json:"last_contact,omitempty"`
	ID              string `json:"id"`
}

func deviceValues(d importer.AutopilotDevice) []string {
	last := ""
	if !d.LastContact.IsZero() && d.LastContact.Year() > 1 {
		last = d.LastContact.UTC().Format(time.RFC3339)
	}
	return []string{d.Serial, d.Manufacturer, d.Model, d.GroupTag, d.UserPrincipalName, d.DisplayName,
		d.ProfileStatus, d.ProfileName, d.EnrollmentState, d.EntraDeviceID, last, d.ID}
}

// matchesProfileStatus: "assigned" stands for the three assigned… values.
func matchesProfileStatus(want, have string) bool {
	if want == "" {
		return true
	}
	if strings.EqualFold(want, "assigned") {
		return strings.HasPrefix(have, "assigned")
	}
	return strings.EqualFold(want, have)
}

func runDevices(env *cliEnv, o *devicesOptions) error {
	client, info, err := o.connect(env, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "apimport: devices of tenant %s\n", info.TenantID)
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	table, endTable := tableWriter(out, !o.json && env.isTerminal(env.stdout))
	if !o.json {
		fmt.Fprintln(table, strings.ToUpper(strings.Join([]string{"serial", "group tag", "user", "display name", "profile status", "profile", "enrollment", "model", "id"}, "\t")))
	}
	var page *htmlreport.Report
	counts := map[string]int{}
	if o.html.enabled() {
		page = &htmlreport.Report{Header: o.html.header("apimport devices")}
		page.Header.Tenant = info.TenantID
		page.Table.Caption = "Windows Autopilot devices"
		for _, c := range []string{"Profile status", "Serial", "Group tag", "User", "Display name", "Profile", "Enrollment", "Model", "Last contact", "Id"} {
			page.Table.Columns = append(page.Table.Columns, htmlreport.Column{Label: c})
		}
	}
	var csvBuf bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	_ = cw.Write(deviceColumns)
	wanted := map[string]bool{}
	for _, s := range o.serials {
		wanted[serial.Key(s)] = true
	}
	n := 0
	seen := map[string]bool{} // one line per device, however many --serial queries find it
	emit := func(d importer.AutopilotDevice) bool {
		if seen[d.ID] {
			return true
		}
		if len(wanted) > 0 && !wanted[serial.Key(d.Serial)] || o.groupTag != "" && d.GroupTag != o.groupTag || !matchesProfileStatus(o.profileStatus, d.ProfileStatus) {
			return true
		}
		n++
		seen[d.ID] = true
		v := deviceValues(d)
		if o.json {
			_ = enc.Encode(jsonAutopilotDevice{MessageType: "device", Serial: v[0], Manufacturer: v[1], Model: v[2], GroupTag: v[3],
				AssignedUser: v[4], DisplayName: v[5], ProfileStatus: v[6], ProfileName: v[7], EnrollmentState: v[8],
				EntraDeviceID: v[9], LastContact: v[10], ID: v[11]})
			_ = out.Flush()
		} else {
			fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", displaySerial(d.Serial), textsafe.Inline(d.GroupTag),
				textsafe.Inline(d.UserPrincipalName), textsafe.Inline(d.DisplayName), d.ProfileStatus, textsafe.Inline(d.ProfileName),
				d.EnrollmentState, textsafe.Inline(d.Model), d.ID)
		}
		if page != nil {
			status := d.ProfileStatus
			if status == "" {
				status = "unknown"
			}
			counts[status]++
			row := htmlreport.Row{Status: status, Cells: []htmlreport.Cell{{Text: status, Badge: true}}}
			for _, i := range []int{0, 3, 4, 5, 7, 8, 2, 10, 11} {
				row.Cells = append(row.Cells, htmlreport.Cell{Text: v[i], Mono: i == 0 || i == 11})
			}
			page.Table.Rows = append(page.Table.Rows, row)
		}
		if o.csv != "" {
			for i := range v {
				v[i] = textsafe.CSVCell(v[i])
			}
			_ = cw.Write(v)
		}
		return true
	}
	if len(o.serials) > 0 {
		// One server-side contains() per serial (documented to work; eq is refused),
		// exact match on our side.
		queried := map[string]bool{}
		for _, s := range o.serials {
			if queried[serial.Key(s)] {
				continue
			}
			queried[serial.Key(s)] = true
			filter := "contains(serialNumber,'" + strings.ReplaceAll(strings.TrimSpace(s), "'", "''") + "')"
			if err := client.ListDevicesDetailed(env.ctx, filter, emit); err != nil {
				return err
			}
		}
	} else if err := client.ListDevicesDetailed(env.ctx, "", emit); err != nil {
		return err
	}
	endTable()
	if o.json {
		_ = enc.Encode(map[string]any{"message_type": "summary", "tenant": info.TenantID, "devices": n})
	} else {
		fmt.Fprintf(out, "%s\n", plural(n, "device"))
	}
	if page != nil {
		page.Summary = htmlreport.Summary{Total: n, TotalLabel: "devices"}
		for st, c := range counts {
			page.Summary.Counts = append(page.Summary.Counts, htmlreport.Count{Status: st, N: c})
		}
		sort.Slice(page.Summary.Counts, func(i, j int) bool { return page.Summary.Counts[i].Status < page.Summary.Counts[j].Status })
		if err := o.html.write(page); err != nil {
			return err
		}
	}
	if o.csv != "" {
		cw.Flush()
		if err := safefile.Write(o.csv, func(w io.Writer) error { _, err := w.Write(csvBuf.Bytes()); return err }); err != nil {
			return &exitError{code: exitFatal, msg: fmt.Sprintf("writing %s: %v", o.csv, err)}
		}
		fmt.Fprintf(env.stderr, "apimport: wrote %s to %s\n", plural(n, "device"), textsafe.Display(o.csv))
	}
	return nil
}
