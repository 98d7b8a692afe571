package importer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apimport/apimport/mapping"
)

// Engine defaults.
const (
	// DefaultChunkSize is the number of devices per import POST. The service documents no
	// maximum per call (UNCONFIRMED); the portal accepts 500 rows per file. 100 keeps a
	// chunk well inside that, keeps a 400 answer cheap to bisect and still needs only
	// 100 writes for 10,000 devices (one throttle window of the stricter Intune bucket).
	DefaultChunkSize = 100
	// MaxChunkSize is the largest chunk accepted (the portal's per-file limit).
	MaxChunkSize = 500
	// DefaultConcurrency is the number of writes in flight at once.
	DefaultConcurrency = 2
	// DefaultWait is how long to wait for import records to reach a final state.
	DefaultWait = 30 * time.Minute
	// DefaultLookupThreshold: above this many devices the pre-check lists the tenant once
	// instead of one FindDevices request per serial.
	DefaultLookupThreshold = 50
	// DefaultMaxAttempts bounds the imports of one device (640 StorageError re-imports,
	// throttled or reconciled-as-missing POSTs).
	DefaultMaxAttempts = 3
	// SyncMinInterval is the service's limit between two syncs.
	SyncMinInterval = 10 * time.Minute
)

// Options control Run. Zero values take the defaults above.
type Options struct {
	DryRun         bool // plan only: read-only calls, nothing written
	Offline        bool // with DryRun: no tenant reads at all
	ChunkSize      int
	Concurrency    int
	Wait           time.Duration // deadline for final states, from the start of the run
	UpdateExisting bool          // update group tag/user of registered devices that differ
	NoSync         bool
	Journal        *Journal // nil: no journal (tests, dry runs)
	// PlanJournal is what a dry run knows of earlier runs (ReadJournal); it tells this
	// tool's pending imports from others'. Ignored unless DryRun.
	PlanJournal     *JournalState
	LookupThreshold int
	MaxAttempts     int
	PollMin         time.Duration // shortest poll interval (default 2s)
	PollMax         time.Duration // longest poll interval (default 30s)
	CleanupTimeout  time.Duration // how long clean-up may run after the last final state (default 10m)
	Tenant          string        // for the summary only
	// Progress, when set, is called from the engine's goroutine after each event.
	Progress func(Progress)
}

// Progress is a snapshot for a progress line.
type Progress struct {
	Total, Done, Submitted, Outstanding, Deleted int
}

func (o *Options) defaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize > MaxChunkSize {
		o.ChunkSize = MaxChunkSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.LookupThreshold <= 0 {
		o.LookupThreshold = DefaultLookupThreshold
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.PollMin <= 0 {
		o.PollMin = 2 * time.Second
	}
	if o.PollMax <= 0 {
		o.PollMax = 30 * time.Second
	}
	if o.PollMax < o.PollMin {
		o.PollMax = o.PollMin
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 10 * time.Minute
	}
}

// devState is one valid input device.
type devState struct {
	res      mapping.Result
	key      string
	item     ImportItem
	attempts int // POSTs that may have created a record
	done     bool
	cur      *tracked
	reg      *AutopilotDevice // registered device found by the pre-check
}

// tracked is one import record being polled.
type tracked struct {
	id        string
	serial    string
	dev       *devState // nil for a leftover of an earlier run that is not in this input
	ours      bool      // created by this tool (journal): ours to delete
	submitted time.Time
	checked   time.Time // last poll that saw it not final
	misses    int       // polls that did not find it
	final     bool
	chunk     string // the chunk it was posted in ("" when adopted)
}

type jobKind int

const (
	jobImport jobKind = iota
	jobDelete
	jobUpdate
)

type job struct {
	kind  jobKind
	chunk string
	devs  []*devState
	ids   []string // delete
	upd   DeviceUpdate
}

type jobResult struct {
	job
	recs    []ImportRecord
	err     error
	deleted []string
	delErr  map[string]error
}

type engine struct {
	svc  Service
	opts Options
	emit func(DeviceResult)
	jn   *Journal

	start   time.Time
	runID   string
	chunkNo int
	sum     RunSummary

	devs      []*devState
	byKey     map[string]*devState
	queue     []*devState   // to post
	splits    [][]*devState // halves of a chunk refused with 400, posted as they are
	updates   []*devState   // to update (--update-existing)
	track     map[string]*tracked
	toDelete  []string
	emitted   int
	total     int
	submitted int
	lastFinal time.Time

	// poll timing: lower/upper bounds of the observed processing time.
	lower, upper time.Duration
	lastPoll     time.Time
	finalStats   Stats           // service counters when the last result was emitted
	probedFinal  map[string]bool // chunks a probe saw final: their records wait for the next full poll
	listCost     int
	listedCount  int
	// before holds the ids of the import records in the tenant at the pre-check: none
	// of them can be the outcome of a POST of this run.
	before map[string]bool
}

// Run registers the valid devices among results and emits exactly one DeviceResult per
// input row: offline findings (invalid, duplicate, conflict) first, then each device as
// soon as its result is final. With opts.DryRun it only plans (read-only calls; none at
// all with opts.Offline) and emits new/already_registered/update/pending.
//
// Run returns an error for what stops the whole run: authentication or permission
// failures (IsAuth), a journal write failure, a failed pre-check, or cancellation (the
// error then wraps ErrInterrupted and the context's error; the summary lists the import
// records left for the next run). Even then every row gets its one DeviceResult: the
// devices without a final state are emitted as ResultInterrupted (with their import id
// when a record exists), and the journal keeps what the next run resumes.
func Run(ctx context.Context, svc Service, rows []mapping.Result, opts Options, emit func(DeviceResult)) (RunSummary, error) {
	opts.defaults()
	if emit == nil {
		emit = func(DeviceResult) {}
	}
	e := &engine{svc: svc, opts: opts, emit: emit, jn: opts.Journal, start: time.Now(),
		byKey: map[string]*devState{}, track: map[string]*tracked{}, probedFinal: map[string]bool{}}
	e.runID = strconv.FormatInt(e.start.UnixNano(), 36)
	e.sum = RunSummary{Rows: len(rows), Counts: map[string]int{}, Tenant: opts.Tenant}
	if e.jn != nil {
		e.sum.Journal = e.jn.Path()
	}
	var before Stats
	if svc != nil {
		before = svc.Stats()
	}
	err := e.run(ctx, rows)
	if err != nil {
		e.interruptRest(ctx)
	}
	if svc != nil {
		after := svc.Stats()
		e.sum.Requests = after.Requests - before.Requests
		e.sum.Writes = after.Writes - before.Writes
		e.sum.Throttled = after.Throttled - before.Throttled
		if e.finalStats.Requests > 0 {
			e.sum.RequestsFinal = e.finalStats.Requests - before.Requests
			e.sum.WritesFinal = e.finalStats.Writes - before.Writes
		}
	}
	if e.jn != nil && !opts.DryRun {
		st := e.jn.State()
		e.sum.Leftover = st.Leftovers()
		if err == nil && !st.Open() {
			if cerr := e.jn.Compact(); cerr != nil {
				err = cerr
			}
		}
	}
	if e.lastFinal.IsZero() {
		e.lastFinal = time.Now()
	}
	e.sum.Final = e.lastFinal.Sub(e.start)
	e.sum.Elapsed = time.Since(e.start)
	return e.sum, err
}

func (e *engine) result(d DeviceResult) {
	e.sum.Counts[d.Result]++
	e.emitted++
	e.lastFinal = time.Now()
	if e.svc != nil {
		e.finalStats = e.svc.Stats()
	}
	e.emit(d)
	e.progress()
}

func (e *engine) progress() {
	if e.opts.Progress == nil {
		return
	}
	out := 0
	for _, t := range e.track {
		if !t.final {
			out++
		}
	}
	e.opts.Progress(Progress{Total: e.total, Done: e.emitted, Submitted: e.submitted, Outstanding: out, Deleted: e.sum.Deleted})
}

func (e *engine) deviceResult(d *devState, result string) DeviceResult {
	r := DeviceResult{File: d.res.File, Line: d.res.Line, Serial: d.res.Serial, Result: result, GroupTag: d.item.GroupTag}
	if d.cur != nil {
		r.ImportID = d.cur.id
	}
	return r
}

func (e *engine) finish(d *devState, r DeviceResult) {
	if d.done {
		return
	}
	d.done = true
	e.result(r)
}

func (e *engine) run(ctx context.Context, rows []mapping.Result) error {
	e.total = len(rows)
	// 1. Offline findings first; they are never sent.
	for _, r := range rows {
		if r.Status != mapping.StatusValid || r.Device == nil {
			d := offlineResult(r)
			if r.Status == mapping.StatusValid {
				d.Result, d.Message = ResultInvalid, "valid row without device data (internal error)"
			}
			e.result(d)
			continue
		}
		key := SerialKey(r.Serial)
		if first, ok := e.byKey[key]; ok {
			e.result(DeviceResult{File: r.File, Line: r.Line, Serial: r.Serial, Result: ResultDuplicate,
				ErrorName: mapping.CodeDuplicate, DuplicateOf: fmt.Sprintf("%s:%d", first.res.File, first.res.Line),
				Message: "serial already listed at " + fmt.Sprintf("%s:%d", first.res.File, first.res.Line)})
			continue
		}
		dev := r.Device
		d := &devState{res: r, key: key, item: ImportItem{Serial: r.Serial, GroupTag: dev.GroupTag,
			AssignedUser: dev.AssignedUser, ProductKey: dev.ProductKey, Hardware: dev.Hardware}}
		e.byKey[key] = d
		e.devs = append(e.devs, d)
	}
	if e.opts.DryRun {
		return e.plan(ctx)
	}
	if e.opts.Offline {
		return errors.New("an import needs the tenant: --offline works only with --dry-run")
	}
	if e.svc == nil {
		return errors.New("no Graph service")
	}
	for _, d := range e.devs {
		if len(d.item.Hardware) == 0 {
			e.finish(d, DeviceResult{File: d.res.File, Line: d.res.Line, Serial: d.res.Serial, Result: ResultFailed,
				Message: "no hardware hash bytes (checked without KeepHardware)"})
		}
	}
	// 2. Tenant pre-check, journal reconciliation.
	pc, err := e.precheck(ctx, e.devs)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	if err := e.decide(ctx, pc); err != nil {
		return e.stopErr(ctx, err)
	}
	// 3. Submit, poll, clean up.
	if err := e.loop(ctx); err != nil {
		return e.stopErr(ctx, err)
	}
	// 4. Sync.
	e.sync(ctx)
	return nil
}

func (e *engine) stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	return err
}

// interruptRest emits ResultInterrupted for every device still without a result when
// the run stops early (cancellation, authentication failure, journal write failure…),
// so every input row still ends in exactly one reported state. The import id, when
// the device has a record, names what the next run collects. The journal is left as
// it is: the next run resumes from it. The run's Final time and request counts until
// final are not moved by these results.
func (e *engine) interruptRest(ctx context.Context) {
	msg, hint := "the run was interrupted before this device had its result", HintInterrupted
	if ctx.Err() == nil {
		msg, hint = "the run stopped on an error (reported at the end) before this device had its result", HintStopped
	}
	switch {
	case e.opts.DryRun:
		hint = HintInterruptedPlan
	case e.jn == nil:
		hint = "run the command again"
	}
	lastFinal, finalStats := e.lastFinal, e.finalStats
	for _, d := range e.devs {
		if d.done {
			continue
		}
		r := e.deviceResult(d, ResultInterrupted)
		r.Message, r.Hint = msg, hint
		e.finish(d, r)
	}
	e.lastFinal, e.finalStats = lastFinal, finalStats
}

// owned reports the journal's view.
func (e *engine) journalState() JournalState {
	if e.jn == nil && e.opts.DryRun && e.opts.PlanJournal != nil {
		return *e.opts.PlanJournal
	}
	if e.jn == nil {
		return JournalState{Records: map[string]*OwnedRecord{}, Ambiguous: map[string]string{}}
	}
	return e.jn.State()
}

func (e *engine) journal(entries ...JournalEntry) error {
	if e.jn == nil {
		return nil
	}
	return e.jn.Append(entries...)
}

// decide turns the pre-check and the journal into the work of this run.
func (e *engine) decide(ctx context.Context, pc *precheck) error {
	js := e.journalState()
	e.before = make(map[string]bool, len(pc.byID))
	for id := range pc.byID {
		e.before[id] = true
	}
	now := time.Now()
	var finals []ImportRecord
	// Leftovers of earlier runs for serials that are not in this input: finish them.
	for _, r := range js.Records {
		if r.Deleted {
			continue
		}
		if _, in := e.byKey[SerialKey(r.Serial)]; in && js.Latest(SerialKey(r.Serial)).ID == r.ID {
			continue // handled with its device below
		}
		e.adoptLeftover(r, pc, &finals, now)
	}
	var adopts []JournalEntry
	for key, chunk := range js.Ambiguous {
		if _, in := e.byKey[key]; in {
			continue
		}
		// An ambiguous POST for a serial not in this input: adopt the one record it
		// may have created, like for a serial in the input; other records of that
		// serial are another tool's.
		rec, ok := pickRecord(pc.imports[key], js)
		if !ok {
			// Nothing created: the adopt entry without id settles the intent.
			adopts = append(adopts, JournalEntry{Type: JournalAdopt, Chunk: chunk, Serial: key})
			continue
		}
		adopts = append(adopts, JournalEntry{Type: JournalAdopt, Chunk: chunk, ID: rec.ID, Serial: rec.Serial})
		e.track[rec.ID] = &tracked{id: rec.ID, serial: rec.Serial, ours: true, submitted: e.start}
		if rec.Final() {
			finals = append(finals, rec)
		}
	}
	for _, d := range e.devs {
		if d.done {
			continue
		}
		owned := js.Latest(d.key)
		if owned != nil {
			d.attempts = countOwned(js, d.key)
		}
		// An unconfirmed POST is always newer than the serial's owned records (a serial
		// is posted again only after its last record is final or gone), so what it may
		// have created decides first: adopting it is what keeps a re-run from posting
		// the serial while that import may be live.
		if chunk, amb := js.Ambiguous[d.key]; amb {
			if rec, ok := pickRecord(pc.imports[d.key], js); ok {
				adopts = append(adopts, JournalEntry{Type: JournalAdopt, Chunk: chunk, ID: rec.ID, Serial: rec.Serial})
				t := &tracked{id: rec.ID, serial: rec.Serial, dev: d, ours: true, submitted: e.start}
				e.track[rec.ID] = t
				d.cur = t
				d.attempts++
				if rec.Final() {
					finals = append(finals, rec)
				}
				continue
			}
			adopts = append(adopts, JournalEntry{Type: JournalAdopt, Chunk: chunk, Serial: d.res.Serial})
		}
		// A completed import whose device is no longer registered (deleted since by an
		// admin) is history: import the device again.
		gone := owned != nil && owned.Final && owned.Deleted && owned.Record.Status == ImportComplete && len(pc.devices[d.key]) == 0
		switch {
		case owned != nil && owned.Final && !gone:
			t := &tracked{id: owned.ID, serial: owned.Serial, dev: d, ours: true, final: true, submitted: e.start}
			e.track[owned.ID] = t
			d.cur = t
			if !owned.Deleted {
				e.toDelete = append(e.toDelete, owned.ID)
			}
			if err := e.applyFinal(ctx, d, owned.Record, false); err != nil {
				return err
			}
			continue
		case owned != nil && !owned.Deleted:
			if rec, ok := pc.byID[owned.ID]; ok {
				t := &tracked{id: owned.ID, serial: owned.Serial, dev: d, ours: true, submitted: e.start}
				e.track[owned.ID] = t
				d.cur = t
				if rec.Final() {
					finals = append(finals, rec)
				}
				continue
			}
			// The record vanished (deleted by someone else): fall through to the tenant state.
			_ = e.journal(JournalEntry{Type: JournalDeleted, ID: owned.ID, Serial: owned.Serial, Message: "not found at start"})
		}
		if reg := pc.devices[d.key]; len(reg) > 0 {
			d.reg = &reg[0]
			if differs(d.item, *d.reg) {
				if e.opts.UpdateExisting {
					e.updates = append(e.updates, d)
					continue
				}
				r := e.deviceResult(d, ResultAlreadyRegistered)
				r.RegistrationID = d.reg.ID
				r.Message = fmt.Sprintf("registered with group tag %q, user %q", d.reg.GroupTag, d.reg.UserPrincipalName)
				r.Hint = HintTagDiffers
				e.finish(d, r)
				continue
			}
			r := e.deviceResult(d, ResultAlreadyRegistered)
			r.RegistrationID = d.reg.ID
			e.finish(d, r)
			continue
		}
		if rec, ok := pendingForeign(pc.imports[d.key], js); ok {
			t := &tracked{id: rec.ID, serial: rec.Serial, dev: d, ours: false, submitted: e.start}
			e.track[rec.ID] = t
			d.cur = t
			continue
		}
		e.queue = append(e.queue, d)
	}
	if err := e.journal(adopts...); err != nil {
		return err
	}
	return e.finals(ctx, finals, now)
}

func countOwned(js JournalState, key string) int {
	n := 0
	for _, r := range js.Records {
		if SerialKey(r.Serial) == key {
			n++
		}
	}
	return n
}

// pickRecord chooses, among a serial's records not already owned, a processing one
// first, else the last listed.
func pickRecord(recs []ImportRecord, js JournalState) (ImportRecord, bool) {
	var last ImportRecord
	found := false
	for _, r := range recs {
		if _, known := js.Records[r.ID]; known {
			continue
		}
		if !r.Final() {
			return r, true
		}
		last, found = r, true
	}
	return last, found
}

func pendingForeign(recs []ImportRecord, js JournalState) (ImportRecord, bool) {
	for _, r := range recs {
		if _, known := js.Records[r.ID]; known {
			continue
		}
		if !r.Final() {
			return r, true
		}
	}
	return ImportRecord{}, false
}

func differs(it ImportItem, reg AutopilotDevice) bool {
	if it.GroupTag != "" && it.GroupTag != reg.GroupTag {
		return true
	}
	return it.AssignedUser != "" && !strings.EqualFold(it.AssignedUser, reg.UserPrincipalName)
}

func (e *engine) adoptLeftover(r *OwnedRecord, pc *precheck, finals *[]ImportRecord, now time.Time) {
	if r.Final {
		e.toDelete = append(e.toDelete, r.ID)
		e.track[r.ID] = &tracked{id: r.ID, serial: r.Serial, ours: true, final: true, submitted: e.start}
		return
	}
	rec, ok := pc.byID[r.ID]
	if !ok {
		_ = e.journal(JournalEntry{Type: JournalDeleted, ID: r.ID, Serial: r.Serial, Message: "not found at start"})
		return
	}
	e.track[r.ID] = &tracked{id: r.ID, serial: r.Serial, ours: true, submitted: e.start}
	if rec.Final() {
		*finals = append(*finals, rec)
	}
}

// finals records final states (journal first), emits results and queues clean-up.
func (e *engine) finals(ctx context.Context, recs []ImportRecord, now time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	var entries []JournalEntry
	for _, rec := range recs {
		t := e.track[rec.ID]
		if t == nil || t.final {
			continue
		}
		if t.ours {
			entries = append(entries, JournalEntry{Type: JournalFinal, ID: rec.ID, Serial: t.serial, Status: rec.Status,
				ErrorCode: rec.ErrorCode, ErrorName: rec.ErrorName, RegistrationID: rec.RegistrationID})
		}
	}
	if err := e.journal(entries...); err != nil {
		return err
	}
	for _, rec := range recs {
		t := e.track[rec.ID]
		if t == nil || t.final {
			continue
		}
		t.final = true
		if age := now.Sub(t.submitted); t.submitted != e.start && age > 0 && (e.upper == 0 || age < e.upper) {
			e.upper = age
		}
		if t.ours {
			e.toDelete = append(e.toDelete, rec.ID)
		}
		if t.dev != nil && t.dev.cur == t {
			if err := e.applyFinal(ctx, t.dev, rec, true); err != nil {
				return err
			}
		}
	}
	e.progress()
	return nil
}

// applyFinal emits the device's result for a final record, or re-imports it after a
// 640 StorageError (deleting the failed record first).
func (e *engine) applyFinal(ctx context.Context, d *devState, rec ImportRecord, live bool) error {
	result, hint, retry := classify(rec)
	if retry && d.attempts < e.opts.MaxAttempts && d.cur != nil && d.cur.ours {
		if err := e.svc.DeleteImported(ctx, rec.ID); err != nil {
			if IsAuth(err) || ctx.Err() != nil {
				return err
			}
			// Could not delete: report instead of risking a second live record.
			retry = false
		} else {
			e.sum.Deleted++
			if err := e.journal(JournalEntry{Type: JournalDeleted, ID: rec.ID, Serial: rec.Serial}); err != nil {
				return err
			}
			e.dropDelete(rec.ID)
			d.cur = nil
			e.queue = append(e.queue, d)
			return nil
		}
	}
	if retry && d.attempts < e.opts.MaxAttempts {
		hint = HintStorageOnce // not tried several times: a foreign record, or the delete failed
	}
	r := e.deviceResult(d, result)
	r.ErrorCode, r.ErrorName, r.Hint = rec.ErrorCode, rec.ErrorName, hint
	r.RegistrationID = rec.RegistrationID
	r.ImportID = rec.ID
	if rec.Status == ImportError && result == ResultRejected && hint == "" {
		r.Message = "the service rejected the device"
	}
	if result == ResultAlreadyRegistered {
		r.Message = "the service reports the device already registered in this tenant"
	}
	if d.cur != nil && !d.cur.ours && result == ResultRegistered {
		r.Message = "registered by an import another tool started"
	}
	e.finish(d, r)
	return nil
}

func (e *engine) dropDelete(id string) {
	out := e.toDelete[:0]
	for _, x := range e.toDelete {
		if x != id {
			out = append(out, x)
		}
	}
	e.toDelete = out
}

func (e *engine) nextChunkID() string {
	e.chunkNo++
	return e.runID + "-" + strconv.Itoa(e.chunkNo)
}

// loop runs submissions, updates and deletes on a worker pool while polling.
func (e *engine) loop(ctx context.Context) error {
	jobs := make(chan job)
	results := make(chan jobResult, e.opts.Concurrency)
	wctx, cancelWorkers := context.WithCancel(ctx)
	defer cancelWorkers()
	for i := 0; i < e.opts.Concurrency; i++ {
		go e.worker(wctx, jobs, results)
	}
	defer close(jobs)
	deadline := e.start.Add(e.opts.Wait)
	inflight := 0
	var fatal error
	var cleanupUntil time.Time
	timedOut := false
	importing := 0 // import jobs in flight
	for {
		stopping := fatal != nil || ctx.Err() != nil
		// Clean-up starts once every device is final (or timed out): it never competes
		// with submissions or delays a result.
		if cleanupUntil.IsZero() && len(e.queue) == 0 && len(e.splits) == 0 && len(e.updates) == 0 && importing == 0 && len(e.outstanding()) == 0 {
			cleanupUntil = time.Now().Add(e.opts.CleanupTimeout)
		}
		// Dispatch: submissions first, then updates, then clean-up.
		for !stopping && inflight < e.opts.Concurrency {
			var j job
			switch {
			case len(e.splits) > 0:
				j = job{kind: jobImport, chunk: e.nextChunkID(), devs: e.splits[0]}
				e.splits = e.splits[1:]
				for _, d := range j.devs {
					d.attempts++
				}
				e.sum.Posts++
			case len(e.queue) > 0:
				n := min(e.opts.ChunkSize, len(e.queue))
				j = job{kind: jobImport, chunk: e.nextChunkID(), devs: append([]*devState(nil), e.queue[:n]...)}
				e.queue = e.queue[n:]
				for _, d := range j.devs {
					d.attempts++
				}
				e.sum.Posts++
			case len(e.updates) > 0:
				d := e.updates[0]
				e.updates = e.updates[1:]
				j = job{kind: jobUpdate, devs: []*devState{d}, upd: updateFor(d)}
			case len(e.toDelete) > 0 && !cleanupUntil.IsZero() && time.Now().Before(cleanupUntil):
				n := min(20, len(e.toDelete))
				j = job{kind: jobDelete, ids: append([]string(nil), e.toDelete[:n]...)}
				e.toDelete = e.toDelete[n:]
			default:
				goto dispatched
			}
			inflight++
			if j.kind == jobImport {
				importing++
			}
			jobs <- j
		}
	dispatched:
		outstanding := e.outstanding()
		allFinal := !cleanupUntil.IsZero()
		submitting := len(e.queue) > 0 || len(e.splits) > 0 || importing > 0
		if inflight == 0 {
			if stopping {
				if fatal != nil {
					return fatal
				}
				return ctx.Err()
			}
			if allFinal && (len(e.toDelete) == 0 || !time.Now().Before(cleanupUntil)) {
				return nil
			}
		}
		// After the deadline every record still outstanding times out (again, should one
		// appear after the first time: nothing polls once timedOut is set).
		if (!timedOut || len(outstanding) > 0) && !time.Now().Before(deadline) && len(e.queue) == 0 && inflight == 0 {
			e.timeoutAll()
			timedOut = true
			continue
		}
		var pollC <-chan time.Time
		var timer *time.Timer
		if !stopping && !timedOut && len(outstanding) > 0 {
			next := e.nextPoll(outstanding, submitting)
			if next.After(deadline) && len(e.queue) == 0 {
				next = deadline
			}
			timer = time.NewTimer(time.Until(next))
			pollC = timer.C
		} else if !stopping && allFinal && len(e.toDelete) > 0 && inflight == 0 {
			timer = time.NewTimer(time.Until(cleanupUntil))
			pollC = timer.C
		}
		var done <-chan struct{}
		if !stopping {
			done = ctx.Done()
		}
		select {
		case r := <-results:
			inflight--
			if r.kind == jobImport {
				importing--
			}
			if err := e.handle(ctx, r); err != nil && fatal == nil {
				fatal = err
				cancelWorkers()
			}
		case <-pollC:
			if !time.Now().Before(deadline) && len(e.queue) == 0 {
				if inflight == 0 && len(outstanding) > 0 {
					// One last look before giving up on the outstanding records.
					if err := e.poll(ctx, outstanding, true, false); err != nil && fatal == nil {
						fatal = err
					}
					if fatal == nil {
						e.timeoutAll()
						timedOut = true
					}
				}
				continue
			}
			if len(outstanding) > 0 {
				if err := e.poll(ctx, outstanding, false, submitting); err != nil && fatal == nil {
					fatal = err
					cancelWorkers()
				}
			}
		case <-done:
			cancelWorkers()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func updateFor(d *devState) DeviceUpdate {
	var u DeviceUpdate
	if d.item.GroupTag != "" {
		tag := d.item.GroupTag
		u.GroupTag = &tag
	}
	if d.item.AssignedUser != "" {
		upn := d.item.AssignedUser
		u.UserPrincipalName = &upn
	}
	return u
}

func (e *engine) outstanding() []*tracked {
	var out []*tracked
	for _, t := range e.track {
		if !t.final {
			out = append(out, t)
		}
	}
	return out
}

// timeoutAll gives every device still processing the timeout result; its record stays in
// the journal for the next run. Devices waiting to be posted again (a 640 seen by the last
// poll before the deadline) get the timeout result too and are not posted: nothing would
// poll their new records, and the next run posts them (their failed records are deleted).
func (e *engine) timeoutAll() {
	for _, ds := range append(append([][]*devState{}, e.splits...), e.queue) {
		for _, d := range ds {
			r := e.deviceResult(d, ResultTimeout)
			r.Hint = HintNotResubmitted
			r.Message = "not posted again before the deadline (" + e.opts.Wait.String() + ")"
			e.finish(d, r)
		}
	}
	e.splits, e.queue = nil, nil
	var ts []*tracked
	for _, t := range e.track {
		if !t.final {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	for _, t := range ts {
		t.final = true // stop polling; not deleted: the record is still processing
		if t.dev != nil && t.dev.cur == t {
			r := e.deviceResult(t.dev, ResultTimeout)
			r.Hint = HintTimeout
			if !t.ours {
				r.Hint = HintForeign
			}
			r.Message = "still processing after " + e.opts.Wait.String()
			e.finish(t.dev, r)
		}
	}
}

// nextPoll is when to look at the outstanding records next, never sooner than PollMin
// after the previous poll. Each record has a due time (see due). While chunks are still
// being submitted, only a probe is due: the oldest record, to learn how long processing
// takes. Afterwards the next poll is when every record is expected final, but due records
// never wait more than PollMax.
func (e *engine) nextPoll(out []*tracked, submitting bool) time.Time {
	var first, last time.Time
	for _, t := range out {
		if submitting && !e.probeWanted(t) {
			continue
		}
		d := e.due(t, submitting)
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	if first.IsZero() {
		// Nothing worth a probe while submitting: look again after the submissions.
		first = time.Now().Add(e.opts.PollMax)
		last = first
	}
	next := first
	if !submitting {
		// One poll when everything is expected final, unless that is far off: then the
		// due records are read within PollMax.
		next = last
		if last.After(time.Now().Add(e.opts.PollMax)) {
			next = first.Add(e.opts.PollMax)
		}
	}
	if floor := e.lastPoll.Add(e.opts.PollMin); next.Before(floor) {
		next = floor
	}
	return next
}

// probeWanted reports whether probing t while chunks are still being submitted can teach
// something: its chunk is not known final yet and the processing time estimate is not
// yet tight (within a tenth, or PollMin).
func (e *engine) probeWanted(t *tracked) bool {
	if t.chunk != "" && e.probedFinal[t.chunk] {
		return false
	}
	if e.upper > 0 && e.upper-e.lower <= max(e.opts.PollMin, e.upper/10) {
		return false
	}
	return true
}

// due is when a record is expected final: at the observed processing time (the shortest
// age at which a record was seen final) once known; while probing, halfway between the
// longest age seen still processing and that, to narrow the estimate; before anything
// was seen final, the age doubles between checks (PollMin, 2×, 4×… in steps of at most
// PollMax).
func (e *engine) due(t *tracked, probe bool) time.Time {
	if t.checked.IsZero() {
		if e.upper > 0 {
			if probe && e.lower > 0 && e.lower < e.upper {
				return t.submitted.Add(e.lower + (e.upper-e.lower+1)/2)
			}
			return t.submitted.Add(e.upper)
		}
		return t.submitted.Add(e.opts.PollMin)
	}
	age := t.checked.Sub(t.submitted)
	if e.upper > 0 && age < e.upper {
		return t.submitted.Add(e.upper)
	}
	step := min(max(age, e.opts.PollMin), e.opts.PollMax)
	return t.checked.Add(step)
}

// poll reads the outstanding records with whichever costs fewer requests: a batched
// GET of the due ids, or one listing of every import record in the tenant. While
// submitting (probe), only the oldest due record is read.
func (e *engine) poll(ctx context.Context, out []*tracked, all, probe bool) error {
	now := time.Now()
	var due []*tracked
	for _, t := range out {
		if all || !e.due(t, probe).After(now.Add(e.opts.PollMin/4)) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		due = out
	}
	if probe {
		var oldest *tracked
		for _, t := range due {
			if e.probeWanted(t) && (oldest == nil || t.submitted.Before(oldest.submitted)) {
				oldest = t
			}
		}
		if oldest == nil {
			return nil
		}
		due = []*tracked{oldest}
	}
	e.lastPoll = now
	e.sum.Polls++
	found := map[string]ImportRecord{}
	if len(due) <= e.listCost || e.listCost == 0 && len(due) <= 20 {
		ids := make([]string, len(due))
		for i, t := range due {
			ids[i] = t.id
		}
		m, err := e.svc.GetImportedMany(ctx, ids)
		if err != nil {
			return e.pollErr(ctx, err)
		}
		found = m
	} else {
		before := e.svc.Stats().Requests
		want := map[string]bool{}
		for _, t := range out {
			want[t.id] = true
		}
		n := 0
		err := e.svc.ListImported(ctx, func(r ImportRecord) bool {
			n++
			if want[r.ID] {
				found[r.ID] = r
			}
			return true
		})
		if err != nil {
			return e.pollErr(ctx, err)
		}
		e.noteListCost(e.svc.Stats().Requests-before, n)
		due = out
	}
	now = time.Now()
	var finals []ImportRecord
	for _, t := range due {
		rec, ok := found[t.id]
		switch {
		case !ok:
			t.misses++
			if t.misses >= 2 {
				if err := e.vanished(ctx, t); err != nil {
					return err
				}
			}
		case rec.Final():
			finals = append(finals, rec)
			if probe && t.chunk != "" {
				e.probedFinal[t.chunk] = true
			}
		default:
			t.misses = 0
			if age := now.Sub(t.submitted); t.submitted != e.start && (e.upper == 0 || age < e.upper) && age > e.lower {
				e.lower = age
			}
			t.checked = now
		}
	}
	return e.finals(ctx, finals, now)
}

func (e *engine) pollErr(ctx context.Context, err error) error {
	if IsAuth(err) || ctx.Err() != nil {
		return err
	}
	// Transient (the client already retried): poll again at the next interval.
	e.lastPoll = time.Now().Add(e.opts.PollMax - e.opts.PollMin)
	return nil
}

func (e *engine) noteListCost(reqs, records int) {
	if reqs <= 0 {
		reqs = 1 + records/100
	}
	e.listCost = reqs
	e.listedCount = records
}

// vanished handles a record that is no longer there although it was not final when seen
// last (someone else deleted it): look the device up; re-import when it is not registered.
func (e *engine) vanished(ctx context.Context, t *tracked) error {
	t.final = true
	if t.ours {
		if err := e.journal(JournalEntry{Type: JournalDeleted, ID: t.id, Serial: t.serial, Message: "vanished"}); err != nil {
			return err
		}
	}
	d := t.dev
	if d == nil || d.cur != t || d.done {
		return nil
	}
	found, err := e.svc.FindDevices(ctx, d.res.Serial)
	if err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		r := e.deviceResult(d, ResultFailed)
		r.Message = "the import record disappeared and the device lookup failed: " + err.Error()
		e.finish(d, r)
		return nil
	}
	if len(found) > 0 {
		r := e.deviceResult(d, ResultRegistered)
		r.RegistrationID = found[0].ID
		r.Message = "the import record was removed by someone else; the device is registered"
		e.finish(d, r)
		return nil
	}
	d.cur = nil
	if d.attempts >= e.opts.MaxAttempts {
		r := e.deviceResult(d, ResultFailed)
		r.Message = "the import record disappeared before it was final and the device is not registered"
		e.finish(d, r)
		return nil
	}
	e.queue = append(e.queue, d)
	return nil
}

func (e *engine) worker(ctx context.Context, jobs <-chan job, results chan<- jobResult) {
	for j := range jobs {
		r := jobResult{job: j}
		switch j.kind {
		case jobImport:
			serials := make([]string, len(j.devs))
			items := make([]ImportItem, len(j.devs))
			for i, d := range j.devs {
				serials[i] = d.res.Serial
				items[i] = d.item
			}
			if err := e.journal(JournalEntry{Type: JournalIntent, Chunk: j.chunk, Serials: serials}); err != nil {
				r.err = &journalError{err}
				break
			}
			if ctx.Err() != nil {
				r.err = ctx.Err()
				// Never sent: clear the intent so the next run does not reconcile it.
				_ = e.journal(JournalEntry{Type: JournalAbandon, Chunk: j.chunk, Serials: serials})
				break
			}
			r.recs, r.err = e.svc.Import(ctx, items)
			if r.err == nil {
				ids := map[string]string{}
				for _, rec := range r.recs {
					if rec.ID != "" {
						ids[rec.Serial] = rec.ID
					}
				}
				if err := e.journal(JournalEntry{Type: JournalPosted, Chunk: j.chunk, Serials: serials, IDs: ids}); err != nil {
					r.err = &journalError{err}
				}
			} else if definitelyNotCreated(r.err) {
				_ = e.journal(JournalEntry{Type: JournalAbandon, Chunk: j.chunk, Serials: serials, Message: r.err.Error()})
			}
		case jobDelete:
			r.delErr = map[string]error{}
			for _, id := range j.ids {
				if ctx.Err() != nil {
					r.delErr[id] = ctx.Err()
					continue
				}
				if err := e.svc.DeleteImported(ctx, id); err != nil {
					r.delErr[id] = err
					continue
				}
				r.deleted = append(r.deleted, id)
			}
			var entries []JournalEntry
			for _, id := range r.deleted {
				entries = append(entries, JournalEntry{Type: JournalDeleted, ID: id})
			}
			if err := e.journal(entries...); err != nil {
				r.err = &journalError{err}
			}
		case jobUpdate:
			r.err = e.svc.UpdateDevice(ctx, j.devs[0].reg.ID, j.upd)
		}
		results <- r
	}
}

type journalError struct{ err error }

func (j *journalError) Error() string { return j.err.Error() }
func (j *journalError) Unwrap() error { return j.err }

// definitelyNotCreated reports whether a failed POST certainly created nothing: a 4xx
// answer (the service refused it, 429 included). Everything else (5xx, a dropped
// connection, a timeout after sending) is ambiguous and must be reconciled.
func definitelyNotCreated(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != 408
	}
	return false
}

func (e *engine) handle(ctx context.Context, r jobResult) error {
	var je *journalError
	if errors.As(r.err, &je) {
		return je
	}
	switch r.kind {
	case jobImport:
		return e.handleImport(ctx, r)
	case jobDelete:
		e.sum.Deleted += len(r.deleted)
		for id, err := range r.delErr {
			if IsAuth(err) {
				return err
			}
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				e.sum.DeleteErrors++
			}
			_ = id // left in the journal: the next run deletes it
		}
		e.progress()
	case jobUpdate:
		d := r.devs[0]
		if r.err != nil {
			if IsAuth(r.err) {
				return r.err
			}
			if ctx.Err() != nil {
				return nil
			}
			res := e.deviceResult(d, ResultFailed)
			res.RegistrationID = d.reg.ID
			res.Message = "updating the registered device: " + r.err.Error()
			e.finish(d, res)
			return nil
		}
		res := e.deviceResult(d, ResultUpdated)
		res.RegistrationID = d.reg.ID
		res.Message = fmt.Sprintf("was group tag %q, user %q", d.reg.GroupTag, d.reg.UserPrincipalName)
		e.finish(d, res)
		e.sum.Updated++
	}
	return nil
}

func (e *engine) handleImport(ctx context.Context, r jobResult) error {
	now := time.Now()
	if r.err == nil {
		bySerial := map[string]ImportRecord{}
		for _, rec := range r.recs {
			bySerial[SerialKey(rec.Serial)] = rec
		}
		var finals []ImportRecord
		var missing []*devState
		for i, d := range r.devs {
			rec, ok := bySerial[d.key]
			if !ok && len(r.recs) == len(r.devs) && r.recs[i].ID != "" && r.recs[i].Serial == "" {
				rec, ok = r.recs[i], true
			}
			if !ok || rec.ID == "" {
				missing = append(missing, d)
				continue
			}
			t := &tracked{id: rec.ID, serial: d.res.Serial, dev: d, ours: true, submitted: now, chunk: r.chunk}
			e.track[rec.ID] = t
			d.cur = t
			e.submitted++
			if rec.Final() {
				finals = append(finals, rec)
			}
		}
		if len(missing) > 0 {
			// The answer did not name these serials: find out what exists before re-posting.
			if err := e.reconcile(ctx, missing, r.chunk); err != nil {
				return err
			}
		}
		return e.finals(ctx, finals, now)
	}
	if ctx.Err() != nil {
		return nil // intent stays in the journal unless it was never sent
	}
	if IsAuth(r.err) {
		return r.err
	}
	var ae *APIError
	if errors.As(r.err, &ae) && definitelyNotCreated(r.err) {
		switch {
		case ae.StatusCode == 429:
			// Throttled beyond the client's retries: nothing was created; try again later.
			for _, d := range r.devs {
				if d.attempts >= e.opts.MaxAttempts {
					res := e.deviceResult(d, ResultFailed)
					res.Message = "import throttled repeatedly: " + r.err.Error()
					e.finish(d, res)
					continue
				}
				e.queue = append(e.queue, d)
			}
		case ae.StatusCode == 400 && len(r.devs) > 1:
			// One bad device fails the whole chunk: split it to isolate it.
			half := len(r.devs) / 2
			for _, d := range r.devs {
				d.attempts--
			}
			e.splits = append(e.splits, r.devs[:half], r.devs[half:])
		default:
			for _, d := range r.devs {
				res := e.deviceResult(d, ResultFailed)
				res.Message = r.err.Error()
				if ae.Code != "" {
					res.ErrorName = ae.Code
				}
				e.finish(d, res)
			}
		}
		return nil
	}
	// Ambiguous: the POST may have created records.
	return e.reconcile(ctx, r.devs, r.chunk)
}

// reconcile lists the tenant's import records after an ambiguous POST: records found for
// the chunk's serials are adopted (journal first); the others are queued again.
func (e *engine) reconcile(ctx context.Context, devs []*devState, chunk string) error {
	want := map[string]*devState{}
	for _, d := range devs {
		want[d.key] = d
	}
	js := e.journalState()
	found := map[string]ImportRecord{}
	before := e.svc.Stats().Requests
	n := 0
	err := e.svc.ListImported(ctx, func(rec ImportRecord) bool {
		n++
		k := SerialKey(rec.Serial)
		if _, ok := want[k]; !ok {
			return true
		}
		if _, known := js.Records[rec.ID]; known {
			return true
		}
		if _, tracked := e.track[rec.ID]; tracked {
			return true
		}
		if e.before[rec.ID] {
			return true // another tool's or an earlier run's record, older than the POST
		}
		if prev, ok := found[k]; !ok || prev.Final() && !rec.Final() {
			found[k] = rec
		}
		return true
	})
	if err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		// Cannot tell what exists: never re-post blindly; report.
		for _, d := range devs {
			res := e.deviceResult(d, ResultFailed)
			res.Message = "the import request failed and its outcome could not be checked: " + err.Error()
			res.Hint = "run again later: the next run reconciles the journal before posting"
			e.finish(d, res)
		}
		return nil
	}
	e.noteListCost(e.svc.Stats().Requests-before, n)
	now := time.Now()
	var entries []JournalEntry
	var finals []ImportRecord
	for _, d := range devs {
		rec, ok := found[d.key]
		if !ok {
			entries = append(entries, JournalEntry{Type: JournalAdopt, Chunk: chunk, Serial: d.res.Serial})
			continue
		}
		entries = append(entries, JournalEntry{Type: JournalAdopt, Chunk: chunk, ID: rec.ID, Serial: d.res.Serial})
	}
	if err := e.journal(entries...); err != nil {
		return err
	}
	for _, d := range devs {
		rec, ok := found[d.key]
		if !ok {
			if d.attempts >= e.opts.MaxAttempts {
				res := e.deviceResult(d, ResultFailed)
				res.Message = "the import request failed repeatedly and created no record"
				e.finish(d, res)
				continue
			}
			e.queue = append(e.queue, d)
			continue
		}
		t := &tracked{id: rec.ID, serial: d.res.Serial, dev: d, ours: true, submitted: now}
		e.track[rec.ID] = t
		d.cur = t
		e.submitted++
		if rec.Final() {
			finals = append(finals, rec)
		}
	}
	return e.finals(ctx, finals, now)
}

// sync triggers one Autopilot sync after registrations, unless the last one is recent.
func (e *engine) sync(ctx context.Context) {
	if e.opts.NoSync {
		return
	}
	if e.sum.Counts[ResultRegistered]+e.sum.Counts[ResultUpdated] == 0 {
		return
	}
	info, err := e.svc.GetSyncInfo(ctx)
	// The service's 10 minutes count from the last sync call (lastManualSyncTriggerDateTime),
	// which can be later than the last finished sync.
	last := info.LastSync
	if info.LastManualSync.After(last) {
		last = info.LastManualSync
	}
	if err == nil && !last.IsZero() && time.Since(last) < SyncMinInterval {
		e.sum.Sync = "skipped: last sync " + time.Since(last).Round(time.Second).String() + " ago"
		return
	}
	switch err := e.svc.Sync(ctx); {
	case err == nil:
		e.sum.Sync = "called"
	case errors.Is(err, ErrSyncTooSoon):
		e.sum.Sync = "too soon"
	case errors.Is(err, ErrSyncInProgress):
		e.sum.Sync = "in progress"
	default:
		e.sum.Sync = "failed: " + err.Error()
	}
}
