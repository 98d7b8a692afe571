package emulator_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// TestConcurrentClients drives the emulator from several goroutines at once (run with
// -race): creates, imports, gets, lists and deletes must not lose or corrupt records.
func TestConcurrentClients(t *testing.T) {
	srv := startEmu(t, func(c *emulator.Config) {
		c.RequestLimit, c.WriteLimit = 1<<20, 1<<20
		c.PageSize = 7
	})
	const workers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				serial := fmt.Sprintf("CC-%d-%d", w, i)
				hash := base64.StdEncoding.EncodeToString(machine(serial, "Contoso", uint64(i)))
				res, b := raw(t, srv, http.MethodPost, importedPath+"/import", map[string]any{"importedWindowsAutopilotDeviceIdentities": []any{
					map[string]any{"serialNumber": serial, "hardwareIdentifier": hash}}}, i%2 == 0)
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("import %s: %d %s", serial, res.StatusCode, b)
				}
				if res, _ := raw(t, srv, http.MethodGet, "/beta/deviceManagement/windowsAutopilotDeviceIdentities?$filter=contains(serialNumber,'CC-')", nil, false); res.StatusCode != 200 {
					errs <- fmt.Errorf("list: %d", res.StatusCode)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		done := 0
		for _, r := range srv.Imported() {
			if r.State.DeviceImportStatus == emulator.StatusComplete {
				done++
			}
		}
		if done == workers*each {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d imports complete", done, workers*each)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(srv.Registered()); n != workers*each {
		t.Fatalf("%d registered, want %d", n, workers*each)
	}
	// delete everything concurrently
	var wg2 sync.WaitGroup
	for _, r := range srv.Imported() {
		wg2.Add(1)
		go func(id string) {
			defer wg2.Done()
			if res, _ := raw(t, srv, http.MethodDelete, importedPath+"/"+id, nil, false); res.StatusCode != 204 {
				t.Errorf("delete %s: %d", id, res.StatusCode)
			}
		}(r.ID)
	}
	wg2.Wait()
	if n := len(srv.Imported()); n != 0 {
		t.Fatalf("%d left", n)
	}
}
