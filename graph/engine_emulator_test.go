package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/importer"
	"github.com/apimport/apimport/importer/importertest"
	"github.com/apimport/apimport/internal/serial"
)

// emuRows builds n valid rows with real hashes (hwhash.Device.Encode).
func emuRows(n int, prefix string) []importer.Item {
	rows := make([]importer.Item, n)
	for i := range rows {
		serial := fmt.Sprintf("%s-%05d", prefix, i)
		raw := hwhash.Device{Serial: serial, Manufacturer: "Contoso", Model: "Laptop 7"}.Encode()
		rows[i] = importer.Item{File: "fleet.csv", Line: i + 2, Serial: serial, GroupTag: "Fleet", Hardware: raw}
	}
	return rows
}

func emuOpts() importer.Options {
	return importer.Options{PollMin: 20 * time.Millisecond, PollMax: 200 * time.Millisecond, Wait: 30 * time.Second}
}

// effectivePosts counts, per serial, the import POSTs that took effect (answered 200,
// including those whose connection was dropped after processing).
func effectivePosts(log []emulator.LogEntry) map[string]int {
	m := map[string]int{}
	for _, e := range log {
		if e.Method == "POST" && strings.HasSuffix(strings.ToLower(e.Path), "/import") && e.Status == 200 {
			for _, s := range e.Serials {
				m[serial.Key(s)]++
			}
		}
	}
	return m
}

// assertAllRegistered reports every result that is not registered.
func assertAllRegistered(t *testing.T, res *importertest.Collector) {
	t.Helper()
	for _, d := range res.Results() {
		if d.Result != importer.ResultRegistered {
			t.Errorf("%+v", d)
		}
	}
}

func runEmu(t *testing.T, svc importer.Service, rows []importer.Item, opts importer.Options) (*importertest.Collector, importer.RunSummary) {
	t.Helper()
	var c importertest.Collector
	sum, err := importer.Run(context.Background(), svc, rows, opts, c.Emit)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	c.AssertOneResultPerRow(t, len(rows))
	return &c, sum
}

func TestEngineEmulatorRegistersNewDevices(t *testing.T) {
	for _, n := range []int{20, 130} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			// Budgets large enough that 130 clean-up deletes do not wait for a 20 s window.
			srv := startEmulator(t, func(cfg *emulator.Config) { cfg.WriteLimit, cfg.RequestLimit = 1000, 5000 })
			c := emuClient(t, srv, secretCred(t, srv), func(cc *ClientConfig) {
				cc.Limits = Limits{Window: 20 * time.Second, Writes: 1000, Requests: 5000}
			})
			rows := emuRows(n, "NEW")
			opts := emuOpts()
			opts.ChunkSize = 50
			res, sum := runEmu(t, c, rows, opts)
			for _, d := range res.Results() {
				if d.Result != importer.ResultRegistered || d.RegistrationID == "" {
					t.Errorf("%+v", d)
				}
			}
			posts := effectivePosts(srv.Requests())
			for _, r := range rows {
				if posts[serial.Key(r.Serial)] != 1 {
					t.Errorf("%s posted %d times", r.Serial, posts[serial.Key(r.Serial)])
				}
			}
			if got := len(srv.Registered()); got != n {
				t.Errorf("%d registered", got)
			}
			if left := len(srv.Imported()); left != 0 {
				t.Errorf("%d import records left", left)
			}
			if sum.Sync != "called" {
				t.Errorf("sync = %q", sum.Sync)
			}
			if sum.Requests == 0 || sum.Posts != (n+49)/50 {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

// hidingService hides some registered devices from the pre-check, as a listing that lags
// behind a registration does; the import then meets 806.
type hidingService struct {
	importer.Service
	hide map[string]bool
}

func (h hidingService) ListDevices(ctx context.Context, fn func(importer.AutopilotDevice) bool) error {
	return h.Service.ListDevices(ctx, func(d importer.AutopilotDevice) bool {
		if h.hide[serial.Key(d.Serial)] {
			return true
		}
		return fn(d)
	})
}

func (h hidingService) FindDevices(ctx context.Context, sn string) ([]importer.AutopilotDevice, error) {
	if h.hide[serial.Key(sn)] {
		return nil, nil
	}
	return h.Service.FindDevices(ctx, sn)
}

func TestEngineEmulatorVerdicts(t *testing.T) {
	srv := startEmulator(t, nil)
	c := emuClient(t, srv, secretCred(t, srv), nil)
	rows := emuRows(6, "V")
	// V-00000: registered already (hidden from the pre-check) -> 806
	if err := srv.Seed(emulator.State{Registered: []emulator.Device{{SerialNumber: "V-00000", Manufacturer: "Contoso"}},
		OtherTenantSerials: []string{"V-00001"}}); err != nil {
		t.Fatal(err)
	}
	// V-00002: a hash without a manufacturer record -> 802
	rows[2].Hardware = hwhash.Device{Serial: "V-00002", Model: "Laptop 7"}.Encode()
	svc := hidingService{Service: c, hide: map[string]bool{"V-00000": true}}
	res, _ := runEmu(t, svc, rows, emuOpts())
	want := map[string]struct {
		result string
		code   int
		hint   string
	}{
		"V-00000": {importer.ResultAlreadyRegistered, 806, ""},
		"V-00001": {importer.ResultRejected, 808, importer.HintOtherTenant},
		"V-00002": {importer.ResultRejected, 802, importer.HintInvalidHash},
		"V-00003": {importer.ResultRegistered, 0, ""},
	}
	for s, w := range want {
		d := res.ResultOf(s)
		if d.Result != w.result || d.ErrorCode != w.code || d.Hint != w.hint {
			t.Errorf("%s: %+v, want %+v", s, d, w)
		}
	}
	if left := len(srv.Imported()); left != 0 {
		t.Errorf("%d import records left (failures must be cleaned up too)", left)
	}
}

func TestEngineEmulatorStorageErrorRetried(t *testing.T) {
	srv := startEmulator(t, func(cfg *emulator.Config) {
		cfg.Faults.StorageError = 0.4
		cfg.RandomSeed = 7
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	rows := emuRows(40, "S")
	opts := emuOpts()
	opts.ChunkSize = 10
	res, _ := runEmu(t, c, rows, opts)
	posts := effectivePosts(srv.Requests())
	retried := 0
	for _, d := range res.Results() {
		n := posts[serial.Key(d.Serial)]
		switch {
		case d.Result == importer.ResultRegistered:
			if n > importer.DefaultMaxAttempts {
				t.Errorf("%s posted %d times", d.Serial, n)
			}
			if n > 1 {
				retried++
			}
		case d.Result == importer.ResultRejected && d.ErrorCode == 640:
			if n != importer.DefaultMaxAttempts || d.Hint != importer.HintStorage {
				t.Errorf("%s: %+v after %d posts", d.Serial, d, n)
			}
		default:
			t.Errorf("%+v", d)
		}
	}
	if retried == 0 {
		t.Error("no device needed a re-import: the fault rate did not bite")
	}
	if left := len(srv.Imported()); left != 0 {
		t.Errorf("%d import records left", left)
	}
}

func TestEngineEmulatorDryRunOnlyReads(t *testing.T) {
	srv := startEmulator(t, nil)
	c := emuClient(t, srv, secretCred(t, srv), nil)
	rows := emuRows(4, "DRY")
	if err := srv.Seed(emulator.State{
		Registered: []emulator.Device{{SerialNumber: "DRY-00000", Manufacturer: "Contoso", GroupTag: "Fleet"},
			{SerialNumber: "DRY-00001", Manufacturer: "Contoso", GroupTag: "Old"}},
		Imported: []emulator.ImportedIdentity{{SerialNumber: "DRY-00002", ProcessAt: time.Now().Add(time.Hour),
			State: emulator.ImportState{DeviceImportStatus: "unknown"}}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, threshold := range []int{1, 100} {
		for _, update := range []bool{false, true} {
			opts := emuOpts()
			opts.DryRun = true
			opts.LookupThreshold = threshold
			opts.UpdateExisting = update
			res, _ := runEmu(t, c, rows, opts)
			// DRY-00001 has another tag: updated only with --update-existing, in the
			// plan as in the real run.
			want := []string{importer.ResultAlreadyRegistered, importer.ResultAlreadyRegistered, importer.ResultPending, importer.ResultNew}
			if update {
				want[1] = importer.ResultUpdate
			}
			for i, w := range want {
				if d := res.ResultOf(rows[i].Serial); d.Result != w {
					t.Errorf("threshold %d, update %v: %s = %+v, want %s", threshold, update, rows[i].Serial, d, w)
				}
			}
		}
	}
	for _, e := range srv.Requests() {
		if e.Method != "GET" && !strings.Contains(e.Path, "/oauth2/") { // the token request is not a Graph write
			t.Errorf("dry run sent %s %s", e.Method, e.Path)
		}
	}
}

func TestEngineEmulatorUpdateExisting(t *testing.T) {
	srv := startEmulator(t, nil)
	c := emuClient(t, srv, secretCred(t, srv), nil)
	rows := emuRows(3, "UPD")
	if err := srv.Seed(emulator.State{Registered: []emulator.Device{{SerialNumber: "UPD-00000", Manufacturer: "Contoso", GroupTag: "Old"}}}); err != nil {
		t.Fatal(err)
	}
	opts := emuOpts()
	opts.UpdateExisting = true
	res, _ := runEmu(t, c, rows, opts)
	if d := res.ResultOf("UPD-00000"); d.Result != importer.ResultUpdated {
		t.Errorf("%+v", d)
	}
	for _, d := range srv.Registered() {
		if d.GroupTag != "Fleet" {
			t.Errorf("%s has group tag %q", d.SerialNumber, d.GroupTag)
		}
	}
	if n := effectivePosts(srv.Requests())["UPD-00000"]; n != 0 {
		t.Errorf("registered device posted %d times", n)
	}
}

// seedSyncTriggered20MinAgo seeds settings whose last manual sync trigger is 20 minutes
// old: past the documented 10-minute rule, so a 429 on the sync counts as throttling.
func seedSyncTriggered20MinAgo(t *testing.T, srv *emulator.Server) {
	t.Helper()
	if err := srv.Seed(emulator.State{Settings: &emulator.AutopilotSettings{LastSyncDateTime: time.Now().Add(-time.Hour),
		LastManualSyncTriggerDateTime: time.Now().Add(-20 * time.Minute), SyncStatus: "completed"}}); err != nil {
		t.Fatal(err)
	}
}

func TestEngineEmulatorSyncThrottled(t *testing.T) {
	// Issue 8 item 9: a throttled sync (the last manual trigger is older than 10
	// minutes) is retried within the run, so the sync happens.
	srv := startEmulator(t, func(cfg *emulator.Config) { cfg.SyncThrottled = 2; cfg.OmitRetryAfter = true })
	c := emuClient(t, srv, secretCred(t, srv), nil)
	seedSyncTriggered20MinAgo(t, srv)
	res, sum := runEmu(t, c, emuRows(2, "SY"), emuOpts())
	if sum.Sync != "called" {
		t.Errorf("sync = %q, want called after the throttling", sum.Sync)
	}
	if n := countReq(srv.Requests(), "POST", "/windowsAutopilotSettings/sync"); n != 3 {
		t.Errorf("%d sync calls, want 3", n)
	}
	assertAllRegistered(t, res)
}

func TestEngineEmulatorSyncLongCooldown(t *testing.T) {
	// A service whose cooldown outlasts the documented 10 minutes (an hour here):
	// the last trigger 20 minutes ago passes the 10-minute rule, so the 429 counts as
	// throttling; its Retry-After (40 min) is beyond MaxRetryAfter, so the sync gives
	// up at once instead of holding the run, and the devices stay registered.
	// The premise needs a Retry-After on the 10-minute 429, which the service does
	// not send by default ("RetryAfter": null): sync_cooldown_retry_after turns it on.
	srv := startEmulator(t, func(cfg *emulator.Config) {
		cfg.SyncCooldown = emulator.Duration(time.Hour)
		cfg.SyncCooldownRetryAfter = true
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	seedSyncTriggered20MinAgo(t, srv)
	start := time.Now()
	res, sum := runEmu(t, c, emuRows(2, "SY"), emuOpts())
	if sum.Sync == "called" || time.Since(start) > 30*time.Second {
		t.Errorf("sync = %q after %v", sum.Sync, time.Since(start))
	}
	if n := countReq(srv.Requests(), "POST", "/windowsAutopilotSettings/sync"); n != 1 {
		t.Errorf("%d sync calls, want 1", n)
	}
	assertAllRegistered(t, res)
}

func TestEngineEmulatorTokenExpiresMidRun(t *testing.T) {
	srv := startEmulator(t, func(cfg *emulator.Config) {
		cfg.TokenLifetime = emulator.Duration(time.Second)
		cfg.ProcessingDelay = emulator.Duration(1500 * time.Millisecond)
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	rows := emuRows(10, "TOK")
	opts := emuOpts()
	opts.ChunkSize = 5
	opts.PollMin = 300 * time.Millisecond
	res, _ := runEmu(t, c, rows, opts)
	assertAllRegistered(t, res)
	// A token can still expire between its issue and its check (the emulator's exp has
	// whole seconds, a loaded machine is slow): such a 401 must be answered by the same
	// request again with a fresh token, never surface.
	log := srv.Requests()
	for i, e := range log {
		if e.Status != 401 {
			continue
		}
		renewed := false
		for _, l := range log[i+1:] {
			if l.Method == e.Method && l.Path == e.Path && l.Status != 401 {
				renewed = true
				break
			}
		}
		if !renewed {
			t.Errorf("request refused with 401 and not renewed: %s %s", e.Method, e.Path)
		}
	}
}

func TestEngineEmulatorThrottled(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprint("omit Retry-After ", omit), func(t *testing.T) {
			srv := startEmulator(t, func(cfg *emulator.Config) {
				cfg.WriteLimit = 4
				cfg.RequestLimit = 12
				cfg.ThrottleWindow = emulator.Duration(500 * time.Millisecond)
				cfg.OmitRetryAfter = omit
			})
			// The client's own budget is generous, so the emulator's 429s are what it meets.
			c := emuClient(t, srv, secretCred(t, srv), func(cc *ClientConfig) {
				cc.Limits = Limits{Window: time.Second, Writes: 1000, Requests: 1000}
				cc.Retry = RetryPolicy{BaseDelay: 50 * time.Millisecond, MaxDelay: 500 * time.Millisecond, MaxRetries: 12, AttemptTimeout: 5 * time.Second}
			})
			rows := emuRows(12, "THR")
			opts := emuOpts()
			opts.ChunkSize = 3
			opts.NoSync = true
			res, sum := runEmu(t, c, rows, opts)
			assertAllRegistered(t, res)
			throttled := 0
			for _, e := range srv.Requests() {
				if e.Throttled {
					throttled++
				}
			}
			if throttled == 0 || sum.Throttled == 0 {
				t.Errorf("nothing was throttled (log %d, client %d): the test does not test 429", throttled, sum.Throttled)
			}
			for s, n := range effectivePosts(srv.Requests()) {
				if n != 1 {
					t.Errorf("%s posted %d times", s, n)
				}
			}
		})
	}
}

func TestEngineEmulatorFaults(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprint("drop after processing ", after), func(t *testing.T) {
			srv := startEmulator(t, func(cfg *emulator.Config) {
				cfg.RandomSeed = 3
				cfg.Faults = emulator.Faults{Error5xx: 0.08, DropConnection: 0.08, DropAfterProcessing: after, Error503: 0.04}
			})
			c := emuClient(t, srv, secretCred(t, srv), nil)
			rows := emuRows(60, "FLT")
			opts := emuOpts()
			opts.ChunkSize = 5
			res, _ := runEmu(t, c, rows, opts)
			posts := effectivePosts(srv.Requests())
			faults := 0
			for _, e := range srv.Requests() {
				if e.Fault != "" {
					faults++
				}
			}
			if faults == 0 {
				t.Fatal("no fault injected")
			}
			for _, d := range res.Results() {
				n := posts[serial.Key(d.Serial)]
				if n > 1 {
					t.Errorf("%s: %d import records created", d.Serial, n)
				}
				if d.Result != importer.ResultRegistered && d.Result != importer.ResultFailed {
					t.Errorf("%+v", d)
				}
				if d.Result == importer.ResultRegistered && n != 1 {
					t.Errorf("%s registered without an effective post", d.Serial)
				}
			}
			if left := len(srv.Imported()); left != 0 {
				// Clean-up DELETEs may be hit by faults too; what is left must be in the journal-less summary.
				t.Logf("%d import records left after faults", left)
			}
		})
	}
}
