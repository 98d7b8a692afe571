package graph

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/importer"
)

// The client's corporate identifier calls against the emulator: shapes, status per
// identifier, the 400 for a malformed identifier, search as a read (Read.All suffices,
// not counted as a write), list and delete.
func TestCorporateIdentitiesClient(t *testing.T) {
	srv := startEmulator(t, nil)
	ctx := context.Background()
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ids := []string{"Microsoft,Surface Laptop 5,SN1", "Contoso,Laptop 7,SN2"}
	srv.SetIdentityRefusals("contoso, laptop 7 ,sn2")
	got, err := c.ImportDeviceIdentityList(ctx, ids, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Status || got[0].ID == "" || got[1].Status || got[0].Identifier != ids[0] || got[0].Type != "manufacturerModelSerial" {
		t.Fatalf("import answer %+v", got)
	}
	// Again, overwrite off: present → status false, nothing added.
	got, err = c.ImportDeviceIdentityList(ctx, ids[:1], false)
	if err != nil || len(got) != 1 || got[0].Status {
		t.Fatalf("second import: %v %+v", err, got)
	}
	// Malformed: 400 with the service's message, nothing stored.
	_, err = c.ImportDeviceIdentityList(ctx, []string{"A,B,C", "A,,D"}, false)
	var ae *importer.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "Invalid Device Identifier parameter found for 1 import records!") || IsAmbiguous(err) {
		t.Fatalf("malformed: %v", err)
	}
	// Search with a read-only token: found, case-insensitively, and not a write.
	rc := emuClient(t, srv, &stubCred{token: srv.IssueToken([]string{emulator.RoleRead}, time.Hour)}, nil)
	found, err := rc.SearchExistingIdentities(ctx, []string{"MICROSOFT,surface laptop 5,sn1", "Contoso,Laptop 7,SN2", "A,B,C"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Identifier != ids[0] || found[0].EnrollmentState != "notContacted" {
		t.Fatalf("search %+v", found)
	}
	if s := rc.Stats(); s.Writes != 0 || s.Requests != 1 {
		t.Errorf("search stats %+v", s)
	}
	if _, err := rc.ImportDeviceIdentityList(ctx, ids, false); !errors.Is(err, importer.ErrPermission) {
		t.Errorf("import with Read.All: %v", err)
	}
	for _, e := range srv.Requests() {
		if strings.HasSuffix(e.Path, "/searchExistingIdentities") && e.Write {
			t.Errorf("search logged as a write: %+v", e)
		}
	}
	var listed []importer.DeviceIdentity
	if err := c.ListImportedDeviceIdentities(ctx, func(d importer.DeviceIdentity) bool { listed = append(listed, d); return true }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].ID == "" {
		t.Fatalf("list %+v", listed)
	}
	if err := c.DeleteImportedDeviceIdentity(ctx, listed[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteImportedDeviceIdentity(ctx, listed[0].ID); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if n := len(srv.Identities()); n != 0 {
		t.Errorf("%d identities left", n)
	}
}

// The v1.0 endpoint has no importedDeviceIdentities (beta only, lifecycle-api.md §5).
func TestCorporateIdentitiesBetaOnly(t *testing.T) {
	srv := startEmulator(t, nil)
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ri, err := c.v1Request(abs.GET, "/deviceManagement/importedDeviceIdentities")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	err = c.getJSON(context.Background(), ri, &out)
	var ae *importer.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "importedDeviceIdentities") {
		t.Fatalf("v1.0: %v", err)
	}
}
