package emulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
)

// benchServer holds 50,000 registered devices and 10,000 imported identities.
func benchServer(b *testing.B) (*emulator.Server, string) {
	b.Helper()
	imported := make([]emulator.ImportedIdentity, 10000)
	hw := machine("BENCH", "Contoso", 1)
	for i := range imported {
		imported[i] = emulator.ImportedIdentity{SerialNumber: fmt.Sprintf("IMP%06d", i), HardwareIdentifier: hw,
			State: emulator.ImportState{DeviceImportStatus: emulator.StatusComplete}}
	}
	srv := startEmu(b, func(c *emulator.Config) {
		c.RequestLimit, c.WriteLimit = 1<<30, 1<<30
		c.Seed = &emulator.State{Registered: seedDevices(50000, "BN"), Imported: imported}
	})
	return srv, srv.IssueToken([]string{emulator.RoleReadWrite}, 24*time.Hour)
}

func getPage(b *testing.B, hc *http.Client, tok, u string) (next string, n int) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
		Next  string            `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		b.Fatal(err)
	}
	return page.Next, len(page.Value)
}

// BenchmarkListRegistered50k measures paged listing of 50,000 registered devices over
// HTTPS (keep-alive), including JSON decoding on the client side.
func BenchmarkListRegistered50k(b *testing.B) {
	srv, tok := benchServer(b)
	hc := srv.HTTPClient()
	base := srv.GraphURL + "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
	b.Run("first-page", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, n := getPage(b, hc, tok, base); n != 1000 {
				b.Fatalf("page of %d", n)
			}
		}
	})
	b.Run("last-page", func(b *testing.B) {
		var last string
		for u := base; u != ""; {
			next, _ := getPage(b, hc, tok, u)
			if next == "" {
				last = u
			}
			u = next
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			getPage(b, hc, tok, last)
		}
	})
	b.Run("all-50-pages", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			total, pages := 0, 0
			for u := base; u != ""; pages++ {
				var n int
				u, n = getPage(b, hc, tok, u)
				total += n
			}
			if total != 50000 {
				b.Fatalf("listed %d", total)
			}
			b.ReportMetric(float64(pages), "pages/op")
		}
	})
	b.Run("contains-filter", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, n := getPage(b, hc, tok, base+"?$filter=contains(serialNumber,'BN049999')"); n != 1 {
				b.Fatalf("filter matched %d", n)
			}
		}
	})
}

// BenchmarkListImported10k measures one page of the 10,000 imported identities (each
// carries its 4 KB hash, so pages are about 4 MB).
func BenchmarkListImported10k(b *testing.B) {
	srv, tok := benchServer(b)
	hc := srv.HTTPClient()
	u := srv.GraphURL + "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"
	for i := 0; i < b.N; i++ {
		if _, n := getPage(b, hc, tok, u); n != 1000 {
			b.Fatalf("page of %d", n)
		}
	}
}
