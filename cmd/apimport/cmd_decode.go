package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/internal/textsafe"
)

func init() { registerCommand(newDecodeCmd) }

type decodeOptions struct {
	json         bool
	allowSpecial bool
}

func newDecodeCmd(env *cliEnv) *cobra.Command {
	opts := &decodeOptions{}
	cmd := &cobra.Command{
		Use:   "decode [flags] FILE...",
		Short: "Show the fields inside each row's hardware hash and whether it verifies",
		Long: `Decode reads every FILE and, for each row, decodes the 4K hardware hash: serial,
manufacturer, model, SKU, family, SMBIOS UUID, MAC addresses, disk serials, TPM
version, a digest of the TPM endorsement key, product key ID, and a verdict (layout,
SHA-256 trailer, required fields). The hash itself is never printed: a short
fingerprint stands in for it. Nothing is sent anywhere.

Exit codes: 0 every hash verifies, 3 some do not, 1 a file unreadable, 2 usage.`,
		Example: `  apimport decode AutopilotHWID.csv
  apimport decode --json export.csv | jq .fields.model`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDecode(env, opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "write JSON Lines to stdout")
	registerAllowEmpty(cmd)
	registerAllowSpecial(cmd, &opts.allowSpecial)
	return cmd
}

type decodeProblem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
}

type decodeFields struct {
	Serial       string   `json:"serial"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SKU          string   `json:"sku,omitempty"`
	Family       string   `json:"family,omitempty"`
	SMBIOSUUID   string   `json:"smbios_uuid,omitempty"`
	MACs         []string `json:"mac_addresses,omitempty"`
	DiskSerials  []string `json:"disk_serials,omitempty"`
	TPMVersion   string   `json:"tpm_version,omitempty"`
	TPMEKDigest  string   `json:"tpm_ek_sha256,omitempty"`
	ProductKeyID string   `json:"product_key_id,omitempty"`
	OSBuild      string   `json:"os_build,omitempty"`
	Length       int      `json:"length"`
	Used         int      `json:"used"`
	Records      int      `json:"records"`
}

type decodeRow struct {
	MessageType string          `json:"message_type"`
	File        string          `json:"file"`
	Line        int             `json:"line"`
	Serial      string          `json:"serial"`
	Fingerprint string          `json:"hash_fingerprint,omitempty"`
	Valid       bool            `json:"valid"`
	Problems    []decodeProblem `json:"problems"`
	Fields      decodeFields    `json:"fields"`
}

func runDecode(env *cliEnv, opts *decodeOptions, args []string) error {
	files, err := expandArgs(env, args)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var fileErrs []*csvreport.FileError
	rows, bad := 0, 0
	for _, f := range files {
		if err := env.ctx.Err(); err != nil {
			return err
		}
		before := rows
		err := decodeFile(env, f, opts.allowSpecial, func(row csvreport.Row) {
			d := decodeOne(row)
			rows++
			if !d.Valid {
				bad++
			}
			if opts.json {
				enc.Encode(d)
			} else {
				writeDecodeText(out, d)
			}
		})
		if ctxErr := env.ctx.Err(); ctxErr != nil { // interrupted: not a file error
			return ctxErr
		}
		var fe *csvreport.FileError
		if errors.As(err, &fe) {
			fileErrs = append(fileErrs, fe)
			if opts.json {
				enc.Encode(fileErrorJSON(fe))
			}
			continue
		}
		if err != nil {
			return err
		}
		if rows == before { // a header but no rows: as in check, an empty export is an error
			fe := noRowsError(f)
			fileErrs = append(fileErrs, fe)
			if opts.json {
				enc.Encode(fileErrorJSON(fe))
			}
		}
	}
	if !opts.json {
		printFileErrors(env.stderr, fileErrs)
		noun := "hashes"
		if rows == 1 {
			noun = "hash"
		}
		fmt.Fprintf(out, "%d %s decoded: %d verify, %d do not\n", rows, noun, rows-bad, bad)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	switch {
	case len(fileErrs) > 0:
		return &exitError{code: exitFatal}
	case bad > 0:
		return &exitError{code: exitRows}
	}
	return nil
}

// decodeFile calls fn for every row of path ("-": standard input) and writes the file's
// notes (mixed encodings, skipped report lines, …) to stderr.
func decodeFile(env *cliEnv, path string, allowSpecial bool, fn func(csvreport.Row)) error {
	r, err := env.openInput(path, allowSpecial)
	if err != nil {
		return err
	}
	defer r.Close()
	defer func() { printNotes(env.stderr, r.Notes()) }()
	return eachRow(env.ctx, r, func(row csvreport.Row) error { fn(row); return nil })
}

func decodeOne(row csvreport.Row) decodeRow {
	d := decodeRow{MessageType: "hash", File: row.File, Line: row.Line, Serial: jsonSerial(row.Serial), Problems: []decodeProblem{}}
	if strings.TrimSpace(row.Hash) == "" {
		p := decodeProblem{Code: "missing_hash", Message: "the row has no hardware hash: capture it on the device with Get-WindowsAutopilotInfo (elevated, in full Windows)"}
		if row.Problem != nil { // e.g. an unclosed quote joined the rows: the hash is elsewhere
			p = decodeProblem{Code: row.Problem.Code, Message: redactHashes(row.Problem.Message)}
		}
		d.Problems = append(d.Problems, p)
		return d
	}
	h := hwhash.Parse(row.Hash)
	d.Valid = h.Valid()
	if len(h.Raw) > 0 {
		d.Fingerprint = hwhash.Fingerprint(h.Raw)
	}
	for _, p := range h.Problems {
		d.Problems = append(d.Problems, decodeProblem{Code: p.Code, Message: p.Message, Warning: p.Warning})
	}
	i := h.Info
	d.Fields = decodeFields{
		Serial: i.Serial, Manufacturer: i.Manufacturer, Model: i.Model, SKU: i.SKU, Family: i.Family,
		SMBIOSUUID: i.SMBIOSUUID, MACs: i.MACs, DiskSerials: i.DiskSerials, TPMVersion: i.TPMVersion,
		TPMEKDigest: i.TPMEKDigest, ProductKeyID: i.ProductKeyID, OSBuild: i.OSBuild,
		Length: i.Length, Used: i.Used, Records: i.Records,
	}
	return d
}

func writeDecodeText(w io.Writer, d decodeRow) {
	verdict := "ok"
	if !d.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(w, "%s:%d: %s: %s\n", textsafe.Display(d.File), d.Line, displaySerial(d.Serial), verdict)
	f := d.Fields
	field := func(name, val string) {
		if val != "" { // decoded from the hash: any bytes, so escaped
			fmt.Fprintf(w, "  %-15s %s\n", name+":", textsafe.Inline(val))
		}
	}
	field("fingerprint", d.Fingerprint)
	field("serial", f.Serial)
	field("manufacturer", f.Manufacturer)
	field("model", f.Model)
	field("sku", f.SKU)
	field("family", f.Family)
	field("smbios uuid", f.SMBIOSUUID)
	field("mac addresses", strings.Join(f.MACs, ", "))
	field("disk serials", strings.Join(f.DiskSerials, ", "))
	field("tpm", f.TPMVersion)
	field("tpm ek sha256", f.TPMEKDigest)
	field("product key id", f.ProductKeyID)
	field("os build", f.OSBuild)
	if f.Length > 0 {
		fmt.Fprintf(w, "  %-15s %d bytes, %d used, %d records\n", "size:", f.Length, f.Used, f.Records)
	}
	for _, p := range d.Problems {
		kind := "error"
		if p.Warning {
			kind = "warning"
		}
		fmt.Fprintf(w, "  %s: %s: %s\n", kind, p.Code, textsafe.Inline(p.Message))
	}
}
