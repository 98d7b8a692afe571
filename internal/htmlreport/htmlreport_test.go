package htmlreport_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/internal/htmlreport"
	"github.com/apimport/apimport/internal/htmlreport/htmltest"
)

func sample() *htmlreport.Report {
	var f htmlreport.Findings
	for i := 0; i < htmlreport.MaxLocations+7; i++ {
		f.Add("hash_checksum", false, "the SHA-256 checksum does not match", "capture the hash again", fmt.Sprintf("a.csv:%d", i+2))
	}
	f.Add("product_id_ignored", true, "not a PKID", "", "a.csv:3")
	f.Add("conflict", false, `serial "X" <b>belongs</b> to 2 machines`, "keep the right row", "a.csv:99")
	var pl htmlreport.Planner
	pl.Add("new", "S1 (a.csv:2)")
	pl.Add("invalid", "S2 (a.csv:3)")
	r := &htmlreport.Report{
		Header: htmlreport.Header{Title: "apimport import", Command: "import", CommandLine: "apimport import --dry-run a.csv", DryRun: true,
			Tenant: "3f0c0000-0000-0000-0000-000000000001", When: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Version: "v1.2.3 (abc1234, 2026-03-01)"},
		Summary: htmlreport.Summary{Total: 3, TotalLabel: "rows", Counts: htmlreport.Counts(map[string]int{"new": 1, "invalid": 2, "zz_unknown": 0}, "conflict"),
			Facts: []htmlreport.Fact{{"requests", "4"}}},
		Findings: f.Groups(),
		Plan:     pl.Groups(),
		Table:    htmlreport.Table{Caption: "Every row", Columns: []htmlreport.Column{{Label: "Row"}, {Label: "Serial"}, {Label: "Result"}}},
	}
	for i, st := range []string{"new", "invalid", "invalid"} {
		r.Table.Rows = append(r.Table.Rows, htmlreport.Row{Status: st, Cells: []htmlreport.Cell{
			{Text: fmt.Sprintf("a.csv:%d", i+2), Sort: htmlreport.LocationSort("a.csv", i+2)},
			{Text: fmt.Sprintf("<script>alert(%d)</script>", i), Mono: true},
			{Text: st, Badge: true}}})
	}
	return r
}

func render(t *testing.T, r *htmlreport.Report) (string, *htmltest.Page) {
	t.Helper()
	var b bytes.Buffer
	if err := htmlreport.Render(&b, r); err != nil {
		t.Fatal(err)
	}
	p, err := htmltest.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), p
}

func TestRenderSections(t *testing.T) {
	out, p := render(t, sample())
	if len(p.External) > 0 {
		t.Errorf("external references: %v", p.External)
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %v", p.Problems)
	}
	if p.Total != 3 || p.Counts["new"] != 1 || p.Counts["invalid"] != 2 || p.Counts["conflict"] != 0 {
		t.Errorf("summary %d %v", p.Total, p.Counts)
	}
	if _, ok := p.Counts["conflict"]; !ok {
		t.Errorf("a status asked for with no rows is not shown: %v", p.Counts)
	}
	if _, ok := p.Counts["zz_unknown"]; ok {
		t.Errorf("a status with no rows shown: %v", p.Counts)
	}
	if got := p.StatusCounts(); got["new"] != 1 || got["invalid"] != 2 || len(p.RowStatus) != 3 {
		t.Errorf("rows %v", p.RowStatus)
	}
	if p.Plan["new"] != 1 || p.Plan["other"] != 1 || p.Plan["conflict"] != 0 || len(p.Plan) != 7 {
		t.Errorf("plan %v", p.Plan)
	}
	if p.Findings["error:hash_checksum"] != htmlreport.MaxLocations+7 || p.Findings["warning:product_id_ignored"] != 1 || p.Findings["error:conflict"] != 1 {
		t.Errorf("findings %v", p.Findings)
	}
	if n := len(p.FindingLocs["error:hash_checksum"]); n != htmlreport.MaxLocations {
		t.Errorf("%d locations listed, want the cap %d", n, htmlreport.MaxLocations)
	}
	if !strings.Contains(p.Text, "and 7 more") {
		t.Error("the count of locations not listed is missing")
	}
	// Errors come before warnings.
	if strings.Index(out, `data-code="product_id_ignored"`) < strings.Index(out, `data-code="conflict"`) {
		t.Error("a warning is listed before an error")
	}
	// Values are escaped, never markup.
	if strings.Contains(out, "<script>alert") || strings.Contains(out, "<b>belongs") {
		t.Error("a value was written as markup")
	}
	if !strings.Contains(p.Text, "<script>alert(1)</script>") {
		t.Error("the escaped value is not shown as text")
	}
	for _, want := range []string{"dry run", "3f0c0000-0000-0000-0000-000000000001", "v1.2.3 (abc1234, 2026-03-01)", "apimport import --dry-run a.csv", "@media print"} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Each status has a text mark besides its colour and pattern.
	if !strings.Contains(p.Text, "✗ invalid") || !strings.Contains(p.Text, "+ new") {
		t.Error("status marks missing")
	}
	if !strings.Contains(out, `aria-controls="rows-table"`) || !strings.Contains(out, `aria-live="polite"`) || !strings.Contains(out, `<label for="f-status">`) {
		t.Error("controls lack their labels or aria attributes")
	}
}

func TestSanitizeAppliesToEveryText(t *testing.T) {
	r := sample()
	secret := strings.Repeat("QUJD", 300)
	r.Header.CommandLine += " " + secret
	r.Header.Files = []htmlreport.File{{Name: secret, Size: -1, Error: secret}}
	r.Findings[0].Message = secret
	r.Findings[0].Locations[0] = secret
	r.Table.Rows[0].Cells[1].Text = secret
	r.Table.Rows[0].Cells[0].Sort = secret
	r.Plan[0].Items[0] = secret
	r.Summary.Facts[0].Value = secret
	r.Sanitize = func(s string) string { return strings.ReplaceAll(s, secret, "REDACTED") }
	out, _ := render(t, r)
	if strings.Contains(out, secret) {
		t.Error("an unsanitized value reached the page")
	}
	if strings.Count(out, "REDACTED") < 8 {
		t.Errorf("sanitizer not applied everywhere: %d", strings.Count(out, "REDACTED"))
	}
	if r.Table.Rows[0].Cells[1].Text != secret {
		t.Error("Render changed the caller's report")
	}
}

func TestEmptyReport(t *testing.T) {
	_, p := render(t, &htmlreport.Report{Header: htmlreport.Header{Title: "apimport check", CommandLine: "apimport check x"}, Summary: htmlreport.Summary{TotalLabel: "rows"}})
	if len(p.Problems) > 0 || len(p.External) > 0 || p.Plan != nil || len(p.RowStatus) != 0 {
		t.Errorf("%v %v %v %v", p.Problems, p.External, p.Plan, p.RowStatus)
	}
	if !strings.Contains(p.Text, "No findings.") {
		t.Error("an empty findings section says nothing")
	}
}

func TestDescribeFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("hello"), 0o600)
	files := htmlreport.DescribeFiles([]string{a, "-", filepath.Join(dir, "missing.csv"), dir})
	sum := sha256.Sum256([]byte("hello"))
	if files[0].Size != 5 || files[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("%+v", files[0])
	}
	for _, f := range files[1:] {
		if f.SHA256 != "" || f.Error == "" || f.Size != -1 {
			t.Errorf("%+v", f)
		}
	}
}

func TestWriteFileIsPrivateAndAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.html")
	if err := htmlreport.WriteFile(path, sample()); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", st, err)
	}
	if err := htmlreport.WriteFile(filepath.Join(dir, "missing", "r.html"), sample()); err == nil {
		t.Fatal("no error for a missing folder")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestCSPMatchesTheScript(t *testing.T) {
	// htmltest.Parse checks the hash; a page whose script was changed must fail it.
	out, _ := render(t, sample())
	i := strings.LastIndex(out, "<script>")
	tampered := out[:i+len("<script>")] + "alert(1);" + out[i+len("<script>"):]
	p, err := htmltest.Parse(strings.NewReader(tampered))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) == 0 {
		t.Error("a changed script still matches the CSP")
	}
}

func TestExternalReferencesAreFound(t *testing.T) {
	for _, page := range []string{
		`<img src="https://example.com/x.png">`,
		`<link rel="stylesheet" href="https://cdn.example.com/a.css">`,
		`<script src="//cdn.example.com/a.js"></script>`,
		`<style>@import "x.css";</style>`,
		`<div style="background:url(http://e.com/a)"></div>`,
		`<a href="https://example.com">x</a>`,
	} {
		p, err := htmltest.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.External) == 0 {
			t.Errorf("not found in %s", page)
		}
	}
}
