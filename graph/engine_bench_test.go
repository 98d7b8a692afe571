package graph

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/importer"
)

// Benchmarks of the import of a fleet through the emulator (N = $APIMPORT_BENCH_N,
// default 10,000), one run per iteration: run them with -benchtime=1x, e.g.
//
//	go test ./graph -run '^$' -bench 'BenchmarkImportFleet' -benchtime=1x -timeout 30m
//
// Two emulator configurations:
//
//   - throttle-bound: the documented budget rate (100 writes/1000 requests per 20 s)
//     with its window and limits divided by 10 (10 writes/100 requests per 2 s), and a
//     2 s processing delay. The write budget dominates: 100 chunks need 10 windows.
//   - time-scaled: everything 10× faster (100 writes/1000 requests per 2 s, processing
//     delay 3 s = 30 s real, the PowerShell strategy polls every 1.5 s = 15 s real), so
//     that the one-POST-per-device strategy finishes in minutes (10,000 writes at 50/s).
//
// Reported metrics: final_s (until every device is final), lb_s (the lower bound:
// (ceil(ceil(N/chunk)/writes per window) - 1) windows + processing delay), x_lb, requests
// until final, min_requests (imports + pre-check reads + one listing of N records) and
// x_min. Clean-up (N deletes, the same for every strategy) is not part of final_s; the
// engine runs are given no clean-up time and the figure is computed.

type benchConfig struct {
	name     string
	window   time.Duration
	writes   int
	requests int
	delay    time.Duration
	psPoll   time.Duration
}

var (
	benchThrottleBound = benchConfig{"throttle-bound", 2 * time.Second, 10, 100, 2 * time.Second, 1500 * time.Millisecond}
	benchTimeScaled    = benchConfig{"time-scaled", 2 * time.Second, 100, 1000, 3 * time.Second, 1500 * time.Millisecond}
)

func benchN() int {
	if v, err := strconv.Atoi(os.Getenv("APIMPORT_BENCH_N")); err == nil && v > 0 {
		return v
	}
	return 10000
}

func benchSetup(b *testing.B, bc benchConfig) (*emulator.Server, *Client) {
	b.Helper()
	srv, err := emulator.Start(emulator.Config{ProcessingDelay: emulator.Duration(bc.delay), WriteLimit: bc.writes,
		RequestLimit: bc.requests, ThrottleWindow: emulator.Duration(bc.window), LogMemory: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	env := map[string]string{EnvClientSecret: srv.ClientSecret}
	cred, err := NewCredential(AuthConfig{Mode: AuthClientSecret, AuthorityURL: srv.AuthorityURL,
		TenantID: srv.TenantID, ClientID: srv.ClientID, CAFile: srv.CAFile, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClient(cred, ClientConfig{GraphURL: srv.GraphURL, CAFile: srv.CAFile,
		Limits: Limits{Window: bc.window, Writes: bc.writes, Requests: bc.requests}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Preflight(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv, c
}

func lowerBound(bc benchConfig, n, chunk int) (time.Duration, int) {
	writes := (n + chunk - 1) / chunk
	windows := (writes + bc.writes - 1) / bc.writes
	lb := time.Duration(windows-1)*bc.window + bc.delay
	minReq := writes + 2 + (n+999)/1000 // imports, pre-check (devices, import records), one listing
	return lb, minReq
}

func BenchmarkImportFleet(b *testing.B) {
	n := benchN()
	for _, bc := range []benchConfig{benchThrottleBound, benchTimeScaled} {
		b.Run("engine/"+bc.name, func(b *testing.B) {
			rows := emuRows(n, "BENCH")
			for i := 0; i < b.N; i++ {
				_, c := benchSetup(b, bc)
				opts := importer.Options{ChunkSize: importer.DefaultChunkSize, Concurrency: importer.DefaultConcurrency, NoSync: true,
					PollMin: 200 * time.Millisecond, PollMax: 3 * time.Second, Wait: 10 * time.Minute,
					CleanupTimeout: time.Nanosecond}
				b.StartTimer()
				sum, err := importer.Run(context.Background(), c, rows, opts, nil)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if sum.Counts[importer.ResultRegistered] != n {
					b.Fatalf("registered %d of %d: %v", sum.Counts[importer.ResultRegistered], n, sum.Counts)
				}
				lb, minReq := lowerBound(bc, n, importer.DefaultChunkSize)
				b.ReportMetric(sum.Final.Seconds(), "final_s")
				b.ReportMetric(lb.Seconds(), "lb_s")
				b.ReportMetric(sum.Final.Seconds()/lb.Seconds(), "x_lb")
				b.ReportMetric(float64(sum.RequestsFinal), "requests")
				b.ReportMetric(float64(minReq), "min_requests")
				b.ReportMetric(float64(sum.RequestsFinal)/float64(minReq), "x_min")
				b.ReportMetric(float64(sum.Throttled), "throttled")
				b.ReportMetric(float64(sum.Polls), "polls")
				// clean-up: N deletes at the write rate
				b.ReportMetric(float64(n)/float64(bc.writes)*bc.window.Seconds(), "cleanup_s")
			}
		})
	}
	b.Run("powershell/"+benchTimeScaled.name, func(b *testing.B) {
		if os.Getenv("APIMPORT_BENCH_PS") == "0" {
			b.Skip("APIMPORT_BENCH_PS=0")
		}
		bc := benchTimeScaled
		rows := emuRows(n, "BENCH")
		for i := 0; i < b.N; i++ {
			_, c := benchSetup(b, bc)
			ctx := context.Background()
			start := time.Now()
			b.StartTimer()
			// Import-AutopilotCSV: one POST per device, in order.
			for _, r := range rows {
				d := r
				if _, err := c.Import(ctx, []importer.ImportItem{{Serial: d.Serial, GroupTag: d.GroupTag, Hardware: d.Hardware}}); err != nil {
					b.Fatal(err)
				}
			}
			// Poll: list everything every 15 s (scaled) until nothing is processing.
			for {
				time.Sleep(bc.psPoll)
				busy := 0
				if err := c.ListImported(ctx, func(r importer.ImportRecord) bool {
					if !r.Final() {
						busy++
					}
					return true
				}); err != nil {
					b.Fatal(err)
				}
				if busy == 0 {
					break
				}
			}
			final := time.Since(start)
			finalReq := c.Stats().Requests
			// Then delete every import record.
			var ids []string
			if err := c.ListImported(ctx, func(r importer.ImportRecord) bool { ids = append(ids, r.ID); return true }); err != nil {
				b.Fatal(err)
			}
			if os.Getenv("APIMPORT_BENCH_PS_DELETE") != "0" {
				for _, id := range ids {
					if err := c.DeleteImported(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			lb, _ := lowerBound(bc, n, importer.DefaultChunkSize)
			b.ReportMetric(final.Seconds(), "final_s")
			b.ReportMetric(final.Seconds()/lb.Seconds(), "x_lb")
			b.ReportMetric(float64(finalReq), "requests")
			b.ReportMetric(time.Since(start).Seconds(), "total_s")
			b.ReportMetric(math.Round(float64(c.Stats().Throttled)), "throttled")
		}
	})
}
