package emulator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/apimport/apimport/graph/emulator"
)

func seedDevices(n int, prefix string) []emulator.Device {
	out := make([]emulator.Device, n)
	for i := range out {
		out[i] = emulator.Device{SerialNumber: fmt.Sprintf("%s%06d", prefix, i), Manufacturer: "Contoso", Model: "M1", GroupTag: "T"}
	}
	return out
}

func TestSDKListPaging(t *testing.T) {
	tests := []struct {
		name      string
		devices   int
		pageSize  int
		top       int32
		wantPages int
	}{
		{"empty", 0, 1000, 0, 1},
		{"one short page", 10, 1000, 0, 1},
		{"exact page", 1000, 1000, 0, 1},
		{"three pages", 2500, 1000, 0, 3},
		{"top shrinks pages", 25, 1000, 10, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startEmu(t, func(c *emulator.Config) {
				c.PageSize = tt.pageSize
				c.Seed = &emulator.State{Registered: seedDevices(tt.devices, "PG")}
			})
			c := defaultSDK(t, srv)
			ctx := context.Background()
			var cfg *devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration
			if tt.top > 0 {
				top := tt.top
				cfg = &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration{
					QueryParameters: &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetQueryParameters{Top: &top}}
			}
			page, err := c.dm.WindowsAutopilotDeviceIdentities().Get(ctx, cfg)
			if err != nil {
				t.Fatal(describe(err))
			}
			it, err := core.NewPageIterator[models.WindowsAutopilotDeviceIdentityable](page, c.adapter, models.CreateWindowsAutopilotDeviceIdentityCollectionResponseFromDiscriminatorValue)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			if err := it.Iterate(ctx, func(d models.WindowsAutopilotDeviceIdentityable) bool {
				if seen[*d.GetSerialNumber()] {
					t.Errorf("serial %s listed twice", *d.GetSerialNumber())
				}
				seen[*d.GetSerialNumber()] = true
				return true
			}); err != nil {
				t.Fatal(describe(err))
			}
			if len(seen) != tt.devices {
				t.Fatalf("listed %d devices, want %d", len(seen), tt.devices)
			}
			pages := 0
			for _, e := range srv.Requests() {
				if strings.HasSuffix(e.Path, "/windowsAutopilotDeviceIdentities") && e.Method == http.MethodGet {
					pages++
				}
			}
			if pages != tt.wantPages {
				t.Fatalf("%d page requests, want %d", pages, tt.wantPages)
			}
		})
	}
}

func TestSDKListImportedPagingWithDeletes(t *testing.T) {
	var imported []emulator.ImportedIdentity
	for i := 0; i < 30; i++ {
		imported = append(imported, emulator.ImportedIdentity{SerialNumber: fmt.Sprintf("IMP%03d", i), HardwareIdentifier: []byte{1, 2, 3}})
	}
	srv := startEmu(t, func(c *emulator.Config) {
		c.PageSize = 10
		c.Seed = &emulator.State{Imported: imported}
	})
	c := defaultSDK(t, srv)
	ctx := context.Background()
	page, err := c.dm.ImportedWindowsAutopilotDeviceIdentities().Get(ctx, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	it, err := core.NewPageIterator[models.ImportedWindowsAutopilotDeviceIdentityable](page, c.adapter, models.CreateImportedWindowsAutopilotDeviceIdentityCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	// deleting each record while iterating must neither skip nor repeat records
	if err := it.Iterate(ctx, func(r models.ImportedWindowsAutopilotDeviceIdentityable) bool {
		if want := fmt.Sprintf("IMP%03d", n); *r.GetSerialNumber() != want {
			t.Errorf("item %d is %s, want %s", n, *r.GetSerialNumber(), want)
		}
		n++
		if err := c.dm.ImportedWindowsAutopilotDeviceIdentities().ByImportedWindowsAutopilotDeviceIdentityId(*r.GetId()).Delete(ctx, nil); err != nil {
			t.Errorf("delete: %v", describe(err))
		}
		return true
	}); err != nil {
		t.Fatal(describe(err))
	}
	if n != 30 || len(srv.Imported()) != 0 {
		t.Fatalf("iterated %d, %d left", n, len(srv.Imported()))
	}
}

func TestSDKFilter(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{
			{SerialNumber: "ABC123"}, {SerialNumber: "XABC1234"}, {SerialNumber: "abc999"}, {SerialNumber: "ZZZ"}, {SerialNumber: "O'BRIEN-1"},
		}}
	})
	c := defaultSDK(t, srv)
	list := func(filter string) ([]string, error) {
		page, err := c.dm.WindowsAutopilotDeviceIdentities().Get(context.Background(), &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration{
			QueryParameters: &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetQueryParameters{Filter: &filter}})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, d := range page.GetValue() {
			out = append(out, *d.GetSerialNumber())
		}
		return out, nil
	}
	tests := []struct {
		filter string
		want   string // joined serials; "" with wantStatus
		status int
	}{
		{"contains(serialNumber,'ABC123')", "ABC123,XABC1234", 0},
		{"contains(serialNumber,'abc')", "ABC123,XABC1234,abc999", 0},
		{"contains( serialNumber , 'ZZZ' )", "ZZZ", 0},
		{"contains(serialNumber,'O''BRIEN')", "O'BRIEN-1", 0},
		{"contains(serialNumber,'nothing')", "", 0},
		{"serialNumber eq 'ABC123'", "", 400},
		{"startswith(serialNumber,'ABC')", "", 400},
		{"contains(groupTag,'T')", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := list(tt.filter)
			if tt.status != 0 {
				status, code, msg := odata(t, err)
				if status != tt.status || code != "BadRequest" {
					t.Fatalf("status %d code %s, want %d BadRequest", status, code, tt.status)
				}
				if strings.Contains(tt.filter, " eq ") {
					intuneMessage(t, msg) // the eq rejection comes from Intune (§1.3/§1.6)
				}
				return
			}
			if err != nil {
				t.Fatal(describe(err))
			}
			if strings.Join(got, ",") != tt.want {
				t.Fatalf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestSDKSelectIs500(t *testing.T) {
	srv := startEmu(t, nil)
	c := defaultSDK(t, srv)
	_, err := c.dm.WindowsAutopilotDeviceIdentities().Get(context.Background(), &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetRequestConfiguration{
		QueryParameters: &devicemanagement.WindowsAutopilotDeviceIdentitiesRequestBuilderGetQueryParameters{Select: []string{"serialNumber"}}})
	if status, _, msg := odata(t, err); status != 500 {
		t.Fatalf("status %d, want 500", status)
	} else {
		intuneMessage(t, msg)
	}
}

func TestSDKUpdateDeviceProperties(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.Seed = &emulator.State{Registered: []emulator.Device{{ID: "dev-1", SerialNumber: "SN1", GroupTag: "Old", UserPrincipalName: "a@x.example"}}}
	})
	c := defaultSDK(t, srv)
	body := devicemanagement.NewWindowsAutopilotDeviceIdentitiesItemUpdateDevicePropertiesPostRequestBody()
	tag, name := "New", "PC-1"
	body.SetGroupTag(&tag)
	body.SetDisplayName(&name)
	if err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId("dev-1").UpdateDeviceProperties().Post(context.Background(), body, nil); err != nil {
		t.Fatal(describe(err))
	}
	d := srv.Registered()[0]
	if d.GroupTag != "New" || d.DisplayName != "PC-1" || d.UserPrincipalName != "a@x.example" {
		t.Fatalf("after update: %+v", d)
	}
	assign := devicemanagement.NewWindowsAutopilotDeviceIdentitiesItemAssignUserToDevicePostRequestBody()
	upn, addr := "b@x.example", "Bee"
	assign.SetUserPrincipalName(&upn)
	assign.SetAddressableUserName(&addr)
	if err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId("dev-1").AssignUserToDevice().Post(context.Background(), assign, nil); err != nil {
		t.Fatal(describe(err))
	}
	if d := srv.Registered()[0]; d.UserPrincipalName != upn || d.AddressableUserName != addr || d.GroupTag != "New" {
		t.Fatalf("after assign: %+v", d)
	}
	if err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId("dev-1").UnassignUserFromDevice().Post(context.Background(), nil); err != nil {
		t.Fatal(describe(err))
	}
	if d := srv.Registered()[0]; d.UserPrincipalName != "" || d.AddressableUserName != "" {
		t.Fatalf("after unassign: %+v", d)
	}
	err := c.dm.WindowsAutopilotDeviceIdentities().ByWindowsAutopilotDeviceIdentityId("missing").UpdateDeviceProperties().Post(context.Background(), body, nil)
	if status, code, _ := odata(t, err); status != 404 || code != "ResourceNotFound" {
		t.Fatalf("missing device: %d %s", status, code)
	}
}

// rawSend sends a request the v1.0 SDK has no builder for (beta sync), never retried
// (go-libraries.md §1.3).
func rawSend(c sdk, method abs.HttpMethod, path string) error {
	ri := abs.NewRequestInformation()
	ri.Method = method
	u, _ := url.Parse(strings.TrimSuffix(c.adapter.GetBaseUrl(), "/v1.0") + path)
	ri.SetUri(*u)
	ri.AddRequestOptions([]abs.RequestOption{&khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }}})
	return c.adapter.SendNoContent(context.Background(), ri, abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
}

func TestSDKBetaSync(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	srv := startEmu(t, func(c *emulator.Config) { c.SyncDuration = emulator.Duration(time.Minute) })
	srv.SetClock(func() time.Time { return now })
	c := defaultSDK(t, srv)
	steps := []struct {
		name    string
		advance time.Duration
		path    string
		status  int // 0 = 204
	}{
		{"first sync", 0, "/beta/deviceManagement/windowsAutopilotSettings/sync", 0},
		{"while running", 30 * time.Second, "/beta/deviceManagement/windowsAutopilotSettings/sync", 409},
		{"within cooldown", time.Minute, "/beta/deviceManagement/windowsAutopilotSettings/sync", 429},
		{"still within cooldown", 8 * time.Minute, "/beta/deviceManagement/windowsAutopilotSettings/sync", 429},
		{"after cooldown", 31 * time.Second, "/beta/deviceManagement/windowsAutopilotSettings/sync", 0},
		{"v1.0 has no settings", 0, "/v1.0/deviceManagement/windowsAutopilotSettings/sync", 400},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		err := rawSend(c, abs.POST, st.path)
		if st.status == 0 {
			if err != nil {
				t.Fatalf("%s: %v", st.name, describe(err))
			}
			continue
		}
		status, _, _ := odata(t, err)
		if status != st.status {
			t.Fatalf("%s: status %d, want %d", st.name, status, st.status)
		}
	}
	// settings reflect the finished first sync and the running second one
	hc := srv.HTTPClient()
	req, _ := http.NewRequest(http.MethodGet, srv.GraphURL+"/beta/deviceManagement/windowsAutopilotSettings", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleRead}, time.Hour))
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		LastSync   time.Time `json:"lastSyncDateTime"`
		LastManual time.Time `json:"lastManualSyncTriggerDateTime"`
		Status     string    `json:"syncStatus"`
	}
	if err := decodeJSON(res, &set); err != nil {
		t.Fatal(err)
	}
	if set.Status != "inProgress" || !set.LastManual.Equal(now) || !set.LastSync.Equal(time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC)) {
		t.Fatalf("settings %+v", set)
	}
}
