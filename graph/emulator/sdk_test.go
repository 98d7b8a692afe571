package emulator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
)

func TestSDKCreateGetDelete(t *testing.T) {
	srv := startEmu(t, nil)
	c := defaultSDK(t, srv)
	ctx := context.Background()
	hw := machine("SN-CREATE-1", "Contoso", 1)

	created, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().Post(ctx, newImported("SN-CREATE-1", hw, "Kiosk", "user@contoso.example"), nil)
	if err != nil {
		t.Fatalf("create: %v", describe(err))
	}
	if created.GetId() == nil || *created.GetId() == "" {
		t.Fatal("created record has no id")
	}
	if st := created.GetState().GetDeviceImportStatus(); st == nil || *st != models.UNKNOWN_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS {
		t.Fatalf("new record status = %v, want unknown", st)
	}
	if len(created.GetHardwareIdentifier()) != 0 {
		t.Fatal("the created record echoes hardwareIdentifier; the service returns it empty")
	}

	got := waitFinal(t, c, *created.GetId())
	st := got.GetState()
	if *st.GetDeviceImportStatus() != models.COMPLETE_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS || *st.GetDeviceErrorCode() != 0 {
		t.Fatalf("final state = %v code %v", *st.GetDeviceImportStatus(), *st.GetDeviceErrorCode())
	}
	regID := deref(st.GetDeviceRegistrationId())
	dev, err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId(regID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get registered %s: %v", regID, describe(err))
	}
	for name, pair := range map[string][2]string{
		"serial":       {deref(dev.GetSerialNumber()), "SN-CREATE-1"},
		"manufacturer": {deref(dev.GetManufacturer()), "Contoso"},
		"model":        {deref(dev.GetModel()), "Model SN-CREATE-1"},
		"groupTag":     {deref(dev.GetGroupTag()), "Kiosk"},
		"upn":          {deref(dev.GetUserPrincipalName()), "user@contoso.example"},
	} {
		if pair[0] != pair[1] {
			t.Errorf("registered %s = %q, want %q", name, pair[0], pair[1])
		}
	}

	if err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(*created.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %v", describe(err))
	}
	_, err = c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(*created.GetId()).Get(ctx, nil)
	status, code, msg := odata(t, err)
	if status != http.StatusNotFound || code != "ResourceNotFound" {
		t.Fatalf("get after delete: %d %s", status, code)
	}
	intuneMessage(t, msg)
	err = c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(*created.GetId()).Delete(ctx, nil)
	if status, _, _ := odata(t, err); status != http.StatusNotFound {
		t.Fatalf("second delete status %d, want 404", status)
	}
	for _, e := range srv.Requests() {
		if e.Method == http.MethodPost && strings.HasPrefix(e.Path, "/v1.0/") && e.ContentEncoding != "gzip" {
			t.Errorf("SDK POST %s arrived with Content-Encoding %q, want gzip", e.Path, e.ContentEncoding)
		}
	}
	if len(srv.Registered()) != 1 || len(srv.Imported()) != 0 {
		t.Fatalf("state: %d registered, %d imported", len(srv.Registered()), len(srv.Imported()))
	}
	// registered device delete
	if err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId(regID).Delete(ctx, nil); err != nil {
		t.Fatalf("delete registered: %v", describe(err))
	}
	if n := len(srv.Registered()); n != 0 {
		t.Fatalf("%d registered after delete", n)
	}
}

func TestSDKImportOutcomes(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{
			Registered:         []emulator.Device{{SerialNumber: "SN-REG", Manufacturer: "Contoso"}},
			OtherTenantSerials: []string{"SN-OTHER"},
		}
	})
	c := defaultSDK(t, srv)
	dup := machine("SN-DUP", "Contoso", 1)
	noSerial := hwhash.Device{Manufacturer: "Contoso", Model: "M", OmitSerial: true}.Encode()
	noMaker := hwhash.Device{Serial: "SN-NOMAKER", Model: "M", OmitManufacturer: true}.Encode()
	badSum := machine("SN-BADSUM", "Contoso", 1)
	badSum[40] ^= 0xff
	sameSerialOtherMaker := machine("SN-REG", "Fabrikam", 2)

	tests := []struct {
		name     string
		serial   string
		hw       []byte
		wantCode int32
		wantName string
	}{
		{"new machine", "SN-NEW", machine("SN-NEW", "Contoso", 1), 0, ""},
		{"first of duplicate", "SN-DUP", dup, 0, ""},
		{"second of duplicate", "SN-DUP", dup, 807, "ZtdDeviceDuplicated"},
		{"already registered", "SN-REG", machine("SN-REG", "Contoso", 9), 806, "ZtdDeviceAlreadyAssigned"},
		{"same serial, other manufacturer", "SN-REG", sameSerialOtherMaker, 0, ""},
		{"other tenant", "SN-OTHER", machine("SN-OTHER", "Contoso", 1), 808, "ZtdDeviceAssignedToOtherTenant"},
		{"hash without serial", "SN-NOSERIAL", noSerial, 802, "InvalidZtdHardwareHash"},
		{"hash without manufacturer", "SN-NOMAKER", noMaker, 802, "InvalidZtdHardwareHash"},
		{"hash with bad checksum", "SN-BADSUM", badSum, 802, "InvalidZtdHardwareHash"},
		{"not a hash", "SN-JUNK", []byte("not a hardware hash at all"), 802, "InvalidZtdHardwareHash"},
	}
	items := make([]models.ImportedWindowsAutopilotDeviceIdentityable, len(tests))
	for i, tt := range tests {
		items[i] = newImported(tt.serial, tt.hw, "", "")
	}
	body := devicemanagement.NewImportedWindowsAutopilotDeviceIdentitiesImportPostRequestBody()
	body.SetImportedWindowsAutopilotDeviceIdentities(items)
	res, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ImportEscaped().PostAsImportPostResponse(context.Background(), body, nil)
	if err != nil {
		t.Fatalf("import: %v", describe(err))
	}
	if len(res.GetValue()) != len(tests) {
		t.Fatalf("import returned %d records for %d items", len(res.GetValue()), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := res.GetValue()[i]
			if deref(rec.GetSerialNumber()) != tt.serial {
				t.Fatalf("record %d serial %q, want %q (order not kept)", i, deref(rec.GetSerialNumber()), tt.serial)
			}
			got := waitFinal(t, c, *rec.GetId()).GetState()
			if *got.GetDeviceErrorCode() != tt.wantCode || deref(got.GetDeviceErrorName()) != firstOr(tt.wantName) {
				t.Fatalf("code %d %q, want %d %q", *got.GetDeviceErrorCode(), deref(got.GetDeviceErrorName()), tt.wantCode, tt.wantName)
			}
			wantStatus := models.COMPLETE_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS
			if tt.wantCode != 0 {
				wantStatus = models.ERROR_IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITYIMPORTSTATUS
			}
			if *got.GetDeviceImportStatus() != wantStatus {
				t.Fatalf("status %v, want %v", got.GetDeviceImportStatus().String(), wantStatus.String())
			}
			if (tt.wantCode == 0) != (deref(got.GetDeviceRegistrationId()) != "") {
				t.Fatalf("deviceRegistrationId %q with code %d", deref(got.GetDeviceRegistrationId()), tt.wantCode)
			}
		})
	}
	// 1 seeded + SN-NEW + SN-DUP + Fabrikam SN-REG
	if n := len(srv.Registered()); n != 4 {
		t.Fatalf("%d registered devices, want 4", n)
	}
}

func firstOr(s string) string { return s }

func TestSDKStorageError(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) { c.Faults.StorageError = 1 })
	c := defaultSDK(t, srv)
	rec, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().Post(context.Background(), newImported("SN-640", machine("SN-640", "Contoso", 1), "", ""), nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	st := waitFinal(t, c, *rec.GetId()).GetState()
	if *st.GetDeviceErrorCode() != 640 || deref(st.GetDeviceErrorName()) != "StorageError" {
		t.Fatalf("got %d %s, want 640 StorageError", *st.GetDeviceErrorCode(), deref(st.GetDeviceErrorName()))
	}
	// storage errors are transient: once the fault is gone the same machine imports
	srv.SetFaults(emulator.Faults{})
	rec, err = c.dm.ImportedWindowsAutopilotDeviceIdentities().Post(context.Background(), newImported("SN-640", machine("SN-640", "Contoso", 2), "", ""), nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if st := waitFinal(t, c, *rec.GetId()).GetState(); *st.GetDeviceErrorCode() != 0 {
		t.Fatalf("retry got %d", *st.GetDeviceErrorCode())
	}
}
