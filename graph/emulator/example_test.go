package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// Example starts an emulator with one registered device and lists it with a plain HTTP
// client that trusts the emulator's CA.
func Example() {
	cfg := emulator.DefaultConfig()
	cfg.ProcessingDelay = emulator.Duration(50 * time.Millisecond)
	cfg.Seed = &emulator.State{Registered: []emulator.Device{{SerialNumber: "PF3ABC12", Manufacturer: "Contoso", GroupTag: "Kiosk"}}}
	srv, err := emulator.Start(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.GraphURL+"/v1.0/deviceManagement/windowsAutopilotDeviceIdentities", nil)
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken([]string{emulator.RoleRead}, time.Hour))
	res, err := srv.HTTPClient().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var page struct {
		Value []struct {
			SerialNumber string `json:"serialNumber"`
			GroupTag     string `json:"groupTag"`
		} `json:"value"`
	}
	_ = json.NewDecoder(res.Body).Decode(&page)
	fmt.Println(res.StatusCode, page.Value[0].SerialNumber, page.Value[0].GroupTag)
	// Output: 200 PF3ABC12 Kiosk
}
