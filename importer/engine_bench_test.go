package importer

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// BenchmarkEngine measures the engine's own overhead: a whole run (pre-check, decide,
// submit, poll, clean-up) of n new devices against the in-memory fake service on the
// simulated clock, so nothing sleeps and the figures are CPU and memory only. Reported
// per device: ns/device, allocs/device, B/device (bytes allocated) and live-B/device (the
// peak of the live heap during the run, engine and fake service). Watch these for
// regressions; they do not include the Graph client or the network.
//
//	go test ./importer -run '^$' -bench BenchmarkEngine -benchmem               # 1k and 10k
//	go test ./importer -run '^$' -bench 'BenchmarkEngine/100k' -benchtime 3x    # 100k too
//
// The 100k sub-benchmark runs only when asked for with an explicit count (-benchtime Nx);
// with the default time-based -benchtime it is skipped so that a plain -bench run stays
// quick. `go test ./...` runs no benchmark at all.
func BenchmarkEngine(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		name := fmt.Sprintf("%dk", n/1000)
		b.Run(name, func(b *testing.B) {
			if n >= 100_000 && !explicitBenchCount() {
				b.Skip("100k devices: run with -benchtime Nx (e.g. -bench 'BenchmarkEngine/100k' -benchtime 1x)")
			}
			benchEngine(b, n)
		})
	}
}

// explicitBenchCount reports whether -benchtime was given as a count ("3x").
func explicitBenchCount() bool {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return false
	}
	v := f.Value.String()
	return v != "" && v[len(v)-1] == 'x'
}

func benchEngine(b *testing.B, n int) {
	items := benchItems(n)
	// The CLI always sets Progress (called after every event): so does the benchmark.
	// Every 512th progress call samples the live heap (as of the last collection): its
	// peak over the run, less what was live before, is the run's own memory (the
	// engine's state and the fake service's records).
	progress := 0
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	sample := func() {
		metrics.Read(live)
		peak = max(peak, live[0].Value.Uint64())
	}
	opts := Options{Wait: time.Hour, NoSync: true, CleanupTimeout: 24 * time.Hour, Progress: func(Progress) {
		if progress++; progress%512 == 0 {
			sample()
		}
	}}
	var livePerDevice float64
	var ms0, ms1 runtime.MemStats
	var elapsed time.Duration
	var mallocs, bytes uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f := newFake(3 * time.Second)
		results := 0
		runtime.GC()
		metrics.Read(live)
		base := live[0].Value.Uint64()
		peak = base
		runtime.ReadMemStats(&ms0)
		b.StartTimer()
		start := time.Now()
		sum, err := runFake(context.Background(), f, items, opts, func(DeviceResult) { results++ })
		elapsed += time.Since(start)
		b.StopTimer()
		sample()
		livePerDevice += float64(peak-base) / float64(n)
		runtime.ReadMemStats(&ms1)
		mallocs += ms1.Mallocs - ms0.Mallocs
		bytes += ms1.TotalAlloc - ms0.TotalAlloc
		if err != nil {
			b.Fatal(err)
		}
		if results != n || sum.Counts[ResultRegistered] != n || sum.Deleted != n {
			b.Fatalf("%d results, %d registered, %d deleted; want %d each", results, sum.Counts[ResultRegistered], sum.Deleted, n)
		}
		b.StartTimer()
	}
	b.StopTimer()
	per := float64(b.N) * float64(n)
	b.ReportMetric(float64(elapsed.Nanoseconds())/per, "ns/device")
	b.ReportMetric(float64(mallocs)/per, "allocs/device")
	b.ReportMetric(float64(bytes)/per, "B/device")
	b.ReportMetric(livePerDevice/float64(b.N), "live-B/device")
}

// benchItems returns n new devices with a hash-sized payload (4 KB of base64 is what a
// real export carries; the engine keeps the decoded bytes, ~3 KB).
func benchItems(n int) []Item {
	hw := make([]byte, 3000)
	items := make([]Item, n)
	for i := range items {
		s := fmt.Sprintf("BENCH%07d", i)
		items[i] = Item{File: "fleet.csv", Line: i + 2, Serial: s, GroupTag: "Fleet", Hardware: hw}
	}
	return items
}
