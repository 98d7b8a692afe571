package importer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func validRows(n int, prefix string) []Item {
	rows := make([]Item, n)
	for i := range rows {
		serial := fmt.Sprintf("%s%04d", prefix, i)
		rows[i] = Item{File: "in.csv", Line: i + 2, Serial: serial, GroupTag: "TAG", Hardware: []byte("hash-" + serial)}
	}
	return rows
}

// runFake runs the engine against f on f's fake clock.
func runFake(ctx context.Context, f *fakeService, items []Item, opts Options, emit func(DeviceResult)) (RunSummary, error) {
	if f == nil {
		return Run(ctx, nil, items, opts, emit)
	}
	if opts.Clock == nil {
		opts.Clock = f.clk
	}
	return Run(ctx, f, items, opts, emit)
}

// fastOpts keeps polling quick for tests.
func fastOpts() Options {
	return Options{PollMin: 5 * time.Millisecond, PollMax: 40 * time.Millisecond, Wait: 10 * time.Second, NoSync: true}
}

type collector struct {
	mu  sync.Mutex
	out []DeviceResult
}

func (c *collector) emit(d DeviceResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, d)
}

func (c *collector) bySerial(t *testing.T) map[string]DeviceResult {
	t.Helper()
	m := map[string]DeviceResult{}
	for _, d := range c.out {
		if _, dup := m[d.Serial+"#"+fmt.Sprint(d.Line)]; dup {
			t.Fatalf("row %s:%d emitted twice", d.File, d.Line)
		}
		m[d.Serial+"#"+fmt.Sprint(d.Line)] = d
	}
	return m
}

func resultOf(c *collector, serial string) DeviceResult {
	for _, d := range c.out {
		if d.Serial == serial {
			return d
		}
	}
	return DeviceResult{}
}

func assertOneResultPerRow(t *testing.T, rows []Item, c *collector) {
	t.Helper()
	if len(c.out) != len(rows) {
		t.Fatalf("emitted %d results for %d rows", len(c.out), len(rows))
	}
	seen := map[int]bool{}
	for _, d := range c.out {
		if seen[d.Line] {
			t.Fatalf("line %d emitted twice", d.Line)
		}
		seen[d.Line] = true
	}
}

func assertNoDoublePost(t *testing.T, f *fakeService, allowed map[string]int) {
	t.Helper()
	for s, n := range f.postCounts() {
		if n > 1+allowed[s] {
			t.Errorf("serial %s posted %d times", s, n)
		}
	}
}

func TestRunRegistersNewDevices(t *testing.T) {
	for _, n := range []int{3, 120} { // FindDevices path and listing path
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newFake(20 * time.Millisecond)
			rows := validRows(n, "SN")
			var c collector
			opts := fastOpts()
			opts.ChunkSize = 50
			sum, err := runFake(context.Background(), f, rows, opts, c.emit)
			if err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			for _, d := range c.out {
				if d.Result != ResultRegistered || d.ImportID == "" || d.RegistrationID == "" {
					t.Fatalf("result %+v", d)
				}
			}
			if got, want := sum.Posts, (n+49)/50; got != want {
				t.Errorf("posts = %d, want %d", got, want)
			}
			if f.remaining() != 0 {
				t.Errorf("%d import records left after clean-up", f.remaining())
			}
			if sum.Deleted != n {
				t.Errorf("deleted %d, want %d", sum.Deleted, n)
			}
			assertNoDoublePost(t, f, nil)
		})
	}
}

func TestRunErrorCodes(t *testing.T) {
	tests := []struct {
		name    string
		codes   []int
		want    string
		hint    string
		posts   int
		errCode int
		errName string
	}{
		{"806 already assigned", []int{806}, ResultAlreadyRegistered, "", 1, 806, "ZtdDeviceAlreadyAssigned"},
		{"808 other tenant", []int{808}, ResultRejected, HintOtherTenant, 1, 808, "ZtdDeviceAssignedToOtherTenant"},
		{"802 bad hash", []int{802}, ResultRejected, HintInvalidHash, 1, 802, "InvalidZtdHardwareHash"},
		{"807 duplicated", []int{807}, ResultRejected, HintDuplicated, 1, 807, "ZtdDeviceDuplicated"},
		{"unknown code verbatim", []int{999}, ResultRejected, "", 1, 999, "SomethingNew"},
		{"640 then success", []int{640}, ResultRegistered, "", 2, 0, ""},
		{"640 three times", []int{640, 640, 640}, ResultRejected, HintStorage, 3, 640, "StorageError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5 * time.Millisecond)
			rows := validRows(2, "E")
			f.outcome["E0000"] = tt.codes
			var c collector
			if _, err := runFake(context.Background(), f, rows, fastOpts(), c.emit); err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			d := resultOf(&c, "E0000")
			if d.Result != tt.want || d.Hint != tt.hint || d.ErrorCode != tt.errCode || d.ErrorName != tt.errName {
				t.Errorf("got %+v", d)
			}
			if got := f.postCounts()["E0000"]; got != tt.posts {
				t.Errorf("posted %d times, want %d", got, tt.posts)
			}
			if other := resultOf(&c, "E0001"); other.Result != ResultRegistered {
				t.Errorf("other device %+v", other)
			}
			if f.remaining() != 0 {
				t.Errorf("%d records left", f.remaining())
			}
		})
	}
}

func TestRunDryRun(t *testing.T) {
	f := newFake(time.Hour)
	rows := validRows(5, "D")
	rows[1].GroupTag = "NEWTAG"
	f.devices["D0000"] = AutopilotDevice{ID: "d0", Serial: "D0000", GroupTag: "TAG"}
	f.devices["D0001"] = AutopilotDevice{ID: "d1", Serial: "D0001", GroupTag: "OLD"}
	f.imports["x"] = &fakeRecord{rec: ImportRecord{ID: "x", Serial: "d0002", Status: ImportUnknown}, created: f.clk.Now()}
	f.imports["y"] = &fakeRecord{rec: ImportRecord{ID: "y", Serial: "D0003", Status: ImportError, ErrorCode: 802}, created: f.clk.Now()}
	for _, threshold := range []int{1, 100} {
		t.Run(fmt.Sprint("threshold ", threshold), func(t *testing.T) {
			before := f.Stats()
			var c collector
			opts := fastOpts()
			opts.DryRun = true
			opts.LookupThreshold = threshold
			if _, err := runFake(context.Background(), f, rows, opts, c.emit); err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			// D0001 differs: without --update-existing the real run leaves it alone, and
			// so does the plan.
			want := map[string]string{"D0000": ResultAlreadyRegistered, "D0001": ResultAlreadyRegistered, "D0002": ResultPending, "D0003": ResultNew, "D0004": ResultNew}
			for s, w := range want {
				if got := resultOf(&c, s); got.Result != w {
					t.Errorf("%s: %+v, want %s", s, got, w)
				}
			}
			if w := f.Stats().Writes - before.Writes; w != 0 {
				t.Errorf("dry run wrote %d times", w)
			}
		})
	}
	t.Run("offline", func(t *testing.T) {
		var c collector
		opts := fastOpts()
		opts.DryRun, opts.Offline = true, true
		if _, err := runFake(context.Background(), nil, rows, opts, c.emit); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.out {
			if d.Result != ResultNew {
				t.Errorf("%+v", d)
			}
		}
	})
}

func TestRunUpdateExisting(t *testing.T) {
	for _, update := range []bool{false, true} {
		t.Run(fmt.Sprint(update), func(t *testing.T) {
			f := newFake(0)
			rows := validRows(2, "U")
			f.devices["U0000"] = AutopilotDevice{ID: "d0", Serial: "U0000", GroupTag: "OLD"}
			f.devices["U0001"] = AutopilotDevice{ID: "d1", Serial: "U0001", GroupTag: "TAG"}
			var c collector
			opts := fastOpts()
			opts.UpdateExisting = update
			if _, err := runFake(context.Background(), f, rows, opts, c.emit); err != nil {
				t.Fatal(err)
			}
			d0, d1 := resultOf(&c, "U0000"), resultOf(&c, "U0001")
			want := ResultAlreadyRegistered
			if update {
				want = ResultUpdated
			}
			if d0.Result != want || d1.Result != ResultAlreadyRegistered {
				t.Errorf("got %+v / %+v", d0, d1)
			}
			if update != (f.devices["U0000"].GroupTag == "TAG") {
				t.Errorf("tag now %q", f.devices["U0000"].GroupTag)
			}
			if len(f.posted) != 0 {
				t.Errorf("registered devices were posted: %v", f.posted)
			}
		})
	}
}

func TestRunAmbiguousPostIsReconciled(t *testing.T) {
	tests := []struct {
		name    string
		created bool // the failure happened after the records were created
		err     error
	}{
		{"5xx after create", true, &APIError{StatusCode: 503, Message: "unavailable"}},
		{"dropped connection after create", true, errors.New("connection reset by peer")},
		{"5xx before create", false, &APIError{StatusCode: 500, Message: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5 * time.Millisecond)
			failed := false
			f.importHook = func(items []ImportItem, created bool) error {
				if created == tt.created && !failed {
					failed = true
					return tt.err
				}
				return nil
			}
			rows := validRows(10, "A")
			var c collector
			opts := fastOpts()
			opts.ChunkSize = 5
			if _, err := runFake(context.Background(), f, rows, opts, c.emit); err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			for _, d := range c.out {
				if d.Result != ResultRegistered {
					t.Errorf("%+v", d)
				}
			}
			counts := f.postCounts()
			for s, n := range counts {
				want := 1
				if !tt.created && n == 2 {
					want = 2 // nothing was created: re-posting is right
				}
				if n != want {
					t.Errorf("%s posted %d times", s, n)
				}
			}
			if f.remaining() != 0 {
				t.Errorf("%d records left", f.remaining())
			}
		})
	}
}

func TestRunThrottledAndBadRequestChunks(t *testing.T) {
	t.Run("429 beyond client retries is re-queued", func(t *testing.T) {
		f := newFake(0)
		n := 0
		f.importHook = func(items []ImportItem, created bool) error {
			if !created && n < 1 {
				n++
				return &APIError{StatusCode: 429, Code: "TooManyRequests"}
			}
			return nil
		}
		rows := validRows(4, "T")
		var c collector
		if _, err := runFake(context.Background(), f, rows, fastOpts(), c.emit); err != nil {
			t.Fatal(err)
		}
		for _, d := range c.out {
			if d.Result != ResultRegistered {
				t.Errorf("%+v", d)
			}
		}
	})
	t.Run("400 chunk is bisected to the bad device", func(t *testing.T) {
		f := newFake(0)
		f.importHook = func(items []ImportItem, created bool) error {
			for _, it := range items {
				if it.Serial == "B0005" && !created {
					return &APIError{StatusCode: 400, Code: "BadRequest", Message: "bad item"}
				}
			}
			return nil
		}
		rows := validRows(8, "B")
		var c collector
		if _, err := runFake(context.Background(), f, rows, fastOpts(), c.emit); err != nil {
			t.Fatal(err)
		}
		assertOneResultPerRow(t, rows, &c)
		for _, d := range c.out {
			want := ResultRegistered
			if d.Serial == "B0005" {
				want = ResultFailed
			}
			if d.Result != want {
				t.Errorf("%+v", d)
			}
		}
		for s, n := range f.createdCounts() {
			if n != 1 {
				t.Errorf("%s has %d import records", s, n)
			}
		}
	})
	t.Run("auth failure stops the run", func(t *testing.T) {
		f := newFake(0)
		f.importHook = func(items []ImportItem, created bool) error {
			return &APIError{StatusCode: 403, Code: "Forbidden"}
		}
		_, err := runFake(context.Background(), f, validRows(3, "F"), fastOpts(), nil)
		if !IsAuth(err) {
			t.Fatalf("err = %v, want auth", err)
		}
	})
}

func TestRunTimeoutThenResumeFromJournal(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "j.jsonl")
	f := newFake(400 * time.Millisecond)
	rows := validRows(6, "W")
	jn, err := OpenJournal(jpath, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	opts := fastOpts()
	opts.Wait = 100 * time.Millisecond
	opts.Journal = jn
	sum, err := runFake(context.Background(), f, rows, opts, c.emit)
	jn.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.out {
		if d.Result != ResultTimeout || d.ImportID == "" {
			t.Errorf("%+v", d)
		}
	}
	if len(sum.Leftover) != 6 {
		t.Errorf("leftover %v", sum.Leftover)
	}
	f.clk.Advance(400 * time.Millisecond)
	jn, err = OpenJournal(jpath, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	var c2 collector
	opts.Wait = 5 * time.Second
	opts.Journal = jn
	sum, err = runFake(context.Background(), f, rows, opts, c2.emit)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c2.out {
		if d.Result != ResultRegistered {
			t.Errorf("second run: %+v", d)
		}
	}
	assertNoDoublePost(t, f, nil)
	if f.remaining() != 0 || len(sum.Leftover) != 0 {
		t.Errorf("records left: %d, leftover %v", f.remaining(), sum.Leftover)
	}
	if st := jn.State(); st.Open() {
		t.Errorf("journal not compacted: %+v", st)
	}
}

func TestRunResumesAmbiguousIntent(t *testing.T) {
	// A run killed between the intent and the POST's answer: the record exists, the
	// journal has only the intent. The next run must adopt it, not post again.
	dir := t.TempDir()
	jpath := filepath.Join(dir, "j.jsonl")
	f := newFake(0)
	rows := validRows(3, "K")
	jn, err := OpenJournal(jpath, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	if err := jn.Append(JournalEntry{Type: JournalIntent, Chunk: "old-1", Serials: []string{"K0000", "K0001"}, Format: journalFormat}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Import(context.Background(), []ImportItem{{Serial: "K0000"}}); err != nil { // K0001's POST never arrived
		t.Fatal(err)
	}
	var c collector
	opts := fastOpts()
	opts.Journal = jn
	if _, err := runFake(context.Background(), f, rows, opts, c.emit); err != nil {
		t.Fatal(err)
	}
	jn.Close()
	for _, d := range c.out {
		if d.Result != ResultRegistered {
			t.Errorf("%+v", d)
		}
	}
	assertNoDoublePost(t, f, nil)
	if f.remaining() != 0 {
		t.Errorf("%d records left", f.remaining())
	}
}

func TestRunForeignPendingIsPolledNotDeleted(t *testing.T) {
	f := newFake(30 * time.Millisecond)
	f.imports["foreign"] = &fakeRecord{rec: ImportRecord{ID: "foreign", Serial: "P0000", Status: ImportUnknown}, created: f.clk.Now()}
	var c collector
	if _, err := runFake(context.Background(), f, validRows(1, "P"), fastOpts(), c.emit); err != nil {
		t.Fatal(err)
	}
	if d := resultOf(&c, "P0000"); d.Result != ResultRegistered || d.ImportID != "foreign" {
		t.Errorf("%+v", d)
	}
	if len(f.posted) != 0 {
		t.Errorf("posted %v while a foreign import was pending", f.posted)
	}
	if _, ok := f.imports["foreign"]; !ok {
		t.Error("a record this tool did not create was deleted")
	}
}

func TestRunSync(t *testing.T) {
	tests := []struct {
		name       string
		last       time.Duration
		lastManual time.Duration // 0: never triggered by hand
		syncErr    error
		noSync     bool
		want       string
		wantCall   int
	}{
		{"called", time.Hour, 0, nil, false, "called", 1},
		{"recent sync skipped", time.Minute, 0, nil, false, "skipped", 0},
		// The 10-minute limit counts from the last sync call (a manual trigger), even
		// while the sync it started has not finished.
		{"recent manual trigger skipped", time.Hour, 2 * time.Minute, nil, false, "skipped", 0},
		{"old manual trigger", time.Hour, time.Hour, nil, false, "called", 1},
		{"429 informational", time.Hour, 0, ErrSyncTooSoon, false, "too soon", 1},
		{"409 informational", time.Hour, 0, ErrSyncInProgress, false, "in progress", 1},
		{"no sync", time.Hour, 0, nil, true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(0)
			f.sync.LastSync = f.clk.Now().Add(-tt.last)
			if tt.lastManual > 0 {
				f.sync.LastManualSync = f.clk.Now().Add(-tt.lastManual)
			}
			f.syncErr = tt.syncErr
			opts := fastOpts()
			opts.NoSync = tt.noSync
			sum, err := runFake(context.Background(), f, validRows(2, "S"), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sum.Sync, tt.want) || f.syncs != tt.wantCall {
				t.Errorf("sync %q after %d calls", sum.Sync, f.syncs)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	dir := t.TempDir()
	jn, err := OpenJournal(filepath.Join(dir, "j.jsonl"), Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	f := newFake(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	opts := fastOpts()
	opts.Journal = jn
	opts.ChunkSize = 10
	posts := 0
	f.importHook = func(items []ImportItem, created bool) error {
		if created {
			posts++
			if posts == 2 {
				cancel()
			}
		}
		return nil
	}
	sum, err := runFake(ctx, f, validRows(100, "C"), opts, nil)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if sum.Posts > 4 {
		t.Errorf("kept submitting after cancel: %d posts", sum.Posts)
	}
	if len(sum.Leftover) == 0 {
		t.Error("no leftover records reported")
	}
	ids := sum.Leftover
	sort.Strings(ids)
	if st := jn.State(); len(st.Leftovers()) != len(ids) {
		t.Errorf("journal leftovers %d, summary %d", len(st.Leftovers()), len(ids))
	}
}

// TestRunStoppedEmitsEveryRow: when the run stops early (cancelled, an authentication
// failure, a journal write failure), every row still gets exactly one result: the ones
// without a final state are interrupted, with their import id when a record exists (one
// the journal keeps for the next run), and the summary counts match the emitted results.
func TestRunStoppedEmitsEveryRow(t *testing.T) {
	tests := []struct {
		name    string
		stop    func(cancel context.CancelFunc, jn *Journal) error // called after the 2nd created chunk
		wantErr func(error) bool
		hint    string
	}{
		{"cancelled", func(cancel context.CancelFunc, _ *Journal) error { cancel(); return nil },
			func(err error) bool { return errors.Is(err, ErrInterrupted) }, HintInterrupted},
		{"auth failure", nil, IsAuth, HintStopped},
		{"journal write failure", func(_ context.CancelFunc, jn *Journal) error { jn.Close(); return nil },
			func(err error) bool {
				return err != nil && strings.Contains(err.Error(), "journal") && !IsAuth(err) && !errors.Is(err, ErrInterrupted)
			}, HintStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jn, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), Binding{})
			if err != nil {
				t.Fatal(err)
			}
			defer jn.Close()
			f := newFake(time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := fastOpts()
			opts.Journal = jn
			opts.ChunkSize = 10
			opts.Concurrency = 1
			posts := 0
			f.importHook = func(items []ImportItem, created bool) error {
				if !created && tt.stop == nil && posts == 2 {
					return &APIError{StatusCode: 403, Code: "Forbidden"}
				}
				if created {
					posts++
					if posts == 2 && tt.stop != nil {
						return tt.stop(cancel, jn)
					}
				}
				return nil
			}
			rows := validRows(60, "T")
			var c collector
			sum, err := runFake(ctx, f, rows, opts, c.emit)
			if !tt.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
			assertOneResultPerRow(t, rows, &c)
			counts := map[string]int{}
			withID := 0
			left := map[string]bool{}
			for _, id := range sum.Leftover {
				left[id] = true
			}
			for _, d := range c.out {
				counts[d.Result]++
				if d.Result != ResultInterrupted {
					continue
				}
				if d.Hint != tt.hint || d.Message == "" {
					t.Errorf("interrupted row %+v", d)
				}
				if d.ImportID != "" {
					withID++
					if !left[d.ImportID] {
						t.Errorf("%s: import id %s is not among the records left for the next run %v", d.Serial, d.ImportID, sum.Leftover)
					}
				}
			}
			total := 0
			for k, n := range sum.Counts {
				total += n
				if counts[k] != n {
					t.Errorf("summary counts %d %s, %d emitted", n, k, counts[k])
				}
			}
			if total != len(rows) {
				t.Errorf("summary counts %d results for %d rows", total, len(rows))
			}
			if counts[ResultInterrupted] < 50 {
				t.Errorf("results %v, want most devices interrupted", counts)
			}
			if withID == 0 {
				t.Error("no interrupted row names its import record")
			}
		})
	}
}

// TestRunPollingIsFrugal checks the request count until every device is final: the
// imports, the two pre-check listings and a few listings while waiting, never a GET per
// device.
func TestRunPollingIsFrugal(t *testing.T) {
	f := newFake(150 * time.Millisecond)
	rows := validRows(500, "P")
	opts := fastOpts()
	opts.ChunkSize = 50
	opts.PollMin, opts.PollMax = 50*time.Millisecond, 400*time.Millisecond
	sum, err := runFake(context.Background(), f, rows, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[ResultRegistered] != 500 {
		t.Fatalf("counts %v", sum.Counts)
	}
	listCost := 1 + 500/fakePage
	if max := 10 + 2 + 4*listCost; sum.RequestsFinal > max || sum.Polls > 5 {
		t.Errorf("%d requests in %d polls until final, want at most %d requests", sum.RequestsFinal, sum.Polls, max)
	}
	if sum.Requests != sum.RequestsFinal+500 {
		t.Errorf("clean-up used %d requests, want 500 deletes", sum.Requests-sum.RequestsFinal)
	}
}

// TestRunJournalFinals: a device whose import completed in an earlier, unfinished run is
// reported from the journal; if it has been deregistered since, it is imported again.
func TestRunJournalFinals(t *testing.T) {
	jn, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	f := newFake(0)
	f.devices["J0000"] = AutopilotDevice{ID: "d0", Serial: "J0000", GroupTag: "TAG"}
	entries := []JournalEntry{
		{Type: JournalPosted, Chunk: "old", IDs: map[string]string{"J0000": "r0", "J0001": "r1", "J0002": "r2"}},
		{Type: JournalFinal, ID: "r0", Serial: "J0000", Status: ImportComplete, RegistrationID: "d0"},
		{Type: JournalFinal, ID: "r1", Serial: "J0001", Status: ImportComplete, RegistrationID: "gone"},
		{Type: JournalFinal, ID: "r2", Serial: "J0002", Status: ImportError, ErrorCode: 808},
		{Type: JournalDeleted, ID: "r0"}, {Type: JournalDeleted, ID: "r1"}, {Type: JournalDeleted, ID: "r2"},
		{Type: JournalIntent, Chunk: "open", Serials: []string{"OTHER"}}, // keeps the journal open
	}
	if err := jn.Append(entries...); err != nil {
		t.Fatal(err)
	}
	var c collector
	opts := fastOpts()
	opts.Journal = jn
	if _, err := runFake(context.Background(), f, validRows(3, "J"), opts, c.emit); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"J0000": ResultRegistered, "J0001": ResultRegistered, "J0002": ResultRejected}
	for s, w := range want {
		if d := resultOf(&c, s); d.Result != w {
			t.Errorf("%s: %+v, want %s", s, d, w)
		}
	}
	pc := f.postCounts()
	if pc["J0000"] != 0 || pc["J0002"] != 0 || pc["J0001"] != 1 {
		t.Errorf("posts %v: only the deregistered device should be imported again", pc)
	}
}

func TestRunResumesAmbiguousRepostAfterStorageError(t *testing.T) {
	// Run 1: K0000 got 640, its record was deleted and the device re-posted (intent
	// old-2), then the run was killed before the POST's answer was journaled. The
	// re-post did create a record. Run 2 must adopt that record, not post a third time.
	dir := t.TempDir()
	jpath := filepath.Join(dir, "j.jsonl")
	f := newFake(0)
	f.outcome["K0000"] = []int{640}
	rows := validRows(1, "K")
	ctx := context.Background()
	first, err := f.Import(ctx, []ImportItem{{Serial: "K0000"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.GetImported(ctx, first[0].ID)
	if err != nil || rec.ErrorCode != 640 {
		t.Fatalf("setup: %+v %v", rec, err)
	}
	if err := f.DeleteImported(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Import(ctx, []ImportItem{{Serial: "K0000"}}); err != nil {
		t.Fatal(err)
	}
	jn, err := OpenJournal(jpath, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	err = jn.Append(
		JournalEntry{Type: JournalIntent, Chunk: "old-1", Serials: []string{"K0000"}},
		JournalEntry{Type: JournalPosted, Chunk: "old-1", Serials: []string{"K0000"}, IDs: map[string]string{"K0000": rec.ID}},
		JournalEntry{Type: JournalFinal, ID: rec.ID, Serial: "K0000", Status: ImportError, ErrorCode: 640, ErrorName: "StorageError"},
		JournalEntry{Type: JournalDeleted, ID: rec.ID, Serial: "K0000"},
		JournalEntry{Type: JournalIntent, Chunk: "old-2", Serials: []string{"K0000"}, Format: journalFormat},
	)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	opts := fastOpts()
	opts.Journal = jn
	if _, err := runFake(ctx, f, rows, opts, c.emit); err != nil {
		t.Fatal(err)
	}
	st := jn.State()
	jn.Close()
	assertOneResultPerRow(t, rows, &c)
	if d := resultOf(&c, "K0000"); d.Result != ResultRegistered {
		t.Errorf("%+v", d)
	}
	if n := f.postCounts()["K0000"]; n != 2 {
		t.Errorf("K0000 posted %d times in all, want 2 (no post in the resumed run)", n)
	}
	if f.remaining() != 0 || st.Open() {
		t.Errorf("records left: %d, journal open: %+v", f.remaining(), st)
	}
}

func TestRunReconcileIgnoresRecordsThatExistedBefore(t *testing.T) {
	// Another tool's finished import record for A0000 (808, months old) is in the
	// tenant. This run's POST fails with a 5xx before creating anything. The
	// reconciliation must not take that record for the outcome of its POST: it is
	// not ours to delete and its 808 is not this device's result.
	f := newFake(5 * time.Millisecond)
	f.outcome["A0000"] = []int{808}
	old, err := f.Import(context.Background(), []ImportItem{{Serial: "A0000"}})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * time.Millisecond)
	if rec, _ := f.GetImported(context.Background(), old[0].ID); rec.ErrorCode != 808 {
		t.Fatalf("setup: %+v", rec)
	}
	failed := false
	f.importHook = func(items []ImportItem, created bool) error {
		if !created && !failed {
			failed = true
			return &APIError{StatusCode: 500, Message: "boom"}
		}
		return nil
	}
	rows := validRows(2, "A")
	var c collector
	if _, err := runFake(context.Background(), f, rows, fastOpts(), c.emit); err != nil {
		t.Fatal(err)
	}
	assertOneResultPerRow(t, rows, &c)
	for _, d := range c.out {
		if d.Result != ResultRegistered {
			t.Errorf("%+v", d)
		}
	}
	if _, err := f.GetImported(context.Background(), old[0].ID); err != nil {
		t.Errorf("the other tool's record was deleted: %v", err)
	}
}

func TestRunStopsWhenTheCredentialFails(t *testing.T) {
	// The secret is revoked mid-run: every call fails before it is sent with the
	// credential's error. The run must stop as an authentication failure at once, not
	// poll and re-post until the deadline.
	f := newFake(5 * time.Millisecond)
	credErr := fmt.Errorf("getting a token: %w: %w", ErrCredential, errors.New("AADSTS7000215: invalid client secret"))
	calls := 0
	f.importHook = func(items []ImportItem, created bool) error {
		if !created {
			calls++
			if calls > 1 {
				return credErr
			}
		}
		return nil
	}
	f.listHook = func() error {
		if calls > 1 {
			return credErr
		}
		return nil
	}
	rows := validRows(30, "C")
	opts := fastOpts()
	opts.ChunkSize = 5
	opts.Concurrency = 1
	start := time.Now()
	_, err := runFake(context.Background(), f, rows, opts, (&collector{}).emit)
	if !IsAuth(err) {
		t.Fatalf("err = %v, want an authentication failure", err)
	}
	if calls > 3 {
		t.Errorf("%d import calls after the credential failed", calls-1)
	}
	if d := time.Since(start); d > opts.Wait/2 {
		t.Errorf("took %v", d)
	}
}

func TestRunAmbiguousLeftoverOutsideTheInput(t *testing.T) {
	// An earlier run was killed mid-POST for Z0000 (intent only); its POST created
	// imp-00002. Another tool's older record imp-00001 for the same serial is in the
	// tenant too. This run's input does not list Z0000: it must settle the intent by
	// adopting and cleaning up one record, and leave the other tool's record alone.
	for _, created := range []bool{true, false} {
		t.Run(fmt.Sprint("created ", created), func(t *testing.T) {
			f := newFake(0)
			ctx := context.Background()
			foreign, err := f.Import(ctx, []ImportItem{{Serial: "Z0000"}})
			if err != nil {
				t.Fatal(err)
			}
			if created {
				if _, err := f.Import(ctx, []ImportItem{{Serial: "Z0000"}}); err != nil {
					t.Fatal(err)
				}
			} else if err := f.DeleteImported(ctx, foreign[0].ID); err != nil {
				t.Fatal(err)
			}
			jn, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), Binding{})
			if err != nil {
				t.Fatal(err)
			}
			defer jn.Close()
			// The intent names the records of Z0000 that existed before its POST.
			if err := jn.Append(JournalEntry{Type: JournalIntent, Chunk: "old-1", Serials: []string{"Z0000"}, Format: journalFormat,
				Before: map[string][]string{"Z0000": {foreign[0].ID}}}); err != nil {
				t.Fatal(err)
			}
			opts := fastOpts()
			opts.Journal = jn
			rows := validRows(2, "Y")
			var c collector
			if _, err := runFake(ctx, f, rows, opts, c.emit); err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			if created {
				if _, err := f.GetImported(ctx, foreign[0].ID); err != nil {
					t.Errorf("the other tool's record was deleted: %v", err)
				}
				if f.remaining() != 1 {
					t.Errorf("%d records left, want only the other tool's", f.remaining())
				}
			}
			if st := jn.State(); st.Open() {
				t.Errorf("the intent was not settled: %+v", st)
			}
		})
	}
}

func TestRunStorageErrorAtTheDeadlineIsNotPostedAgain(t *testing.T) {
	// The first poll is the last one before the deadline (PollMin is longer than Wait) and
	// finds a 640: the record is deleted. Posting the device again after the deadline left
	// a record nobody polled and the run waited forever (found by scripts/rehearsal.sh).
	f := newFake(time.Millisecond)
	f.outcome["Q0001"] = []int{640}
	rows := validRows(3, "Q")
	opts := fastOpts()
	opts.PollMin, opts.PollMax = 10*time.Second, 10*time.Second
	opts.Wait = 150 * time.Millisecond
	opts.MaxAttempts = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c collector
	sum, err := runFake(ctx, f, rows, opts, c.emit)
	if err != nil {
		t.Fatalf("run: %v (hung until the context expired?)", err)
	}
	assertOneResultPerRow(t, rows, &c)
	d := resultOf(&c, "Q0001")
	if d.Result != ResultTimeout || d.Hint != HintNotResubmitted {
		t.Errorf("Q0001: %+v", d)
	}
	for _, s := range []string{"Q0000", "Q0002"} {
		if d := resultOf(&c, s); d.Result != ResultRegistered {
			t.Errorf("%s: %+v", s, d)
		}
	}
	if n := f.postCounts()["Q0001"]; n != 1 {
		t.Errorf("Q0001 posted %d times, want 1 (not again after the deadline)", n)
	}
	if f.remaining() != 0 || len(sum.Leftover) != 0 {
		t.Errorf("records left: %d, leftover %v", f.remaining(), sum.Leftover)
	}
}

func TestRunForeignStorageErrorIsNotCalledRepeated(t *testing.T) {
	// A foreign record (e.g. of a run whose journal was lost) ended with 640: it is not
	// deleted nor replaced, so the hint must not claim the error happened several times.
	f := newFake(30 * time.Millisecond)
	f.imports["foreign"] = &fakeRecord{rec: ImportRecord{ID: "foreign", Serial: "S0000", Status: ImportUnknown}, created: f.clk.Now(), code: 640}
	var c collector
	if _, err := runFake(context.Background(), f, validRows(1, "S"), fastOpts(), c.emit); err != nil {
		t.Fatal(err)
	}
	d := resultOf(&c, "S0000")
	if d.Result != ResultRejected || d.ErrorCode != 640 || d.Hint != HintStorageOnce || d.ImportID != "foreign" {
		t.Errorf("%+v", d)
	}
	if _, ok := f.imports["foreign"]; !ok || len(f.posted) != 0 {
		t.Errorf("foreign record deleted or device posted: %v", f.posted)
	}
}

// TestProgressCountsOutstandingRecords: the progress snapshot's Outstanding is the number
// of records still polled (kept as a set, not recounted over every record per event: that
// made a 100,000-device run quadratic), and drops to 0 when every device is final.
func TestProgressCountsOutstandingRecords(t *testing.T) {
	f := newFake(3 * time.Second)
	rows := validRows(250, "PR")
	opts := fastOpts()
	opts.ChunkSize = 50
	opts.PollMin, opts.PollMax = time.Second, 5*time.Second
	var snaps []Progress
	opts.Progress = func(p Progress) { snaps = append(snaps, p) }
	if _, err := runFake(context.Background(), f, rows, opts, nil); err != nil {
		t.Fatal(err)
	}
	peak := 0
	for _, p := range snaps {
		if p.Outstanding > p.Submitted || p.Outstanding < 0 {
			t.Fatalf("progress %+v: outstanding out of range", p)
		}
		peak = max(peak, p.Outstanding)
	}
	last := snaps[len(snaps)-1]
	if peak == 0 || last.Outstanding != 0 || last.Done != len(rows) || last.Deleted != len(rows) {
		t.Fatalf("peak outstanding %d, last progress %+v; want a peak > 0 and 0 outstanding, %d done and deleted at the end", peak, last, len(rows))
	}
}
