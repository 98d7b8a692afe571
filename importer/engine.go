package importer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apimport/apimport/internal/clock"
	"github.com/apimport/apimport/internal/serial"
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
	// CleanupShare is the share of the time until the last final result that a run may
	// spend deleting its import records afterwards (plus CleanupGrace): the run ends
	// when the devices are final, not when the clean-up is; the journal keeps the rest
	// for the next run or `apimport cleanup`.
	CleanupShare = 0.2
	// CleanupGrace is the clean-up time every run may take, however quick it was.
	CleanupGrace = 2 * time.Second
)

// Mode is the kind of operation a run carries out on its items.
type Mode uint8

const (
	ModeImport  Mode = iota // register the items (import)
	ModeUpdate              // set group tag, user and display name of registered devices (update)
	ModeRemove              // deregister the devices (remove)
	ModeProfile             // wait for the deployment profiles of registered devices (devices --wait-profile)

	// ModeCorporate adds corporate device identifiers (importer/corporate.go).
	ModeCorporate
)

// Options control Run. Zero values take the defaults above.
type Options struct {
	Mode Mode
	// DeleteManaged (remove): delete the Intune managed device of an enrolled device
	// first, as Microsoft's order requires; without it such a device is refused.
	DeleteManaged bool
	// WaitProfile, when set, keeps a device that ends registered (or already
	// registered, or updated) waiting for its deployment profile assignment, for at
	// most this long: its result then carries the profile status and name. A device
	// not assigned by then gets HintProfile (a failure for the exit code).
	WaitProfile time.Duration
	// BulkDelete (remove): deregister devices without an Intune record or an assigned
	// user through the bulk deleteDevices action (up to 100 serials a request), falling
	// back to single DELETEs when the service does not offer it.
	BulkDelete bool
	// AddToGroup, when set (a group object id), adds each device that ends
	// registered, already registered or updated to the group, through its Entra device
	// object (looked up by azureActiveDirectoryDeviceId; it may appear only after the
	// registration, so it is waited for like the profile, at most GroupWait).
	AddToGroup string
	// GroupWait bounds the wait for the Entra device object (default 15 minutes).
	GroupWait      time.Duration
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
	// CleanupTimeout, when set, replaces the clean-up budget (CleanupShare of the time
	// to the last result plus CleanupGrace) by a fixed duration.
	CleanupTimeout time.Duration
	Tenant         string // for the summary only
	// Clock is the engine's time (tests pass a clock.Fake); nil is the system clock.
	Clock clock.Clock
	// Progress, when set, is called from the engine's goroutine after each event.
	Progress func(Progress)
}

// Progress is a snapshot for a progress line.
type Progress struct {
	Total, Done, Submitted, Outstanding, Deleted int
	// Waiting: registered devices waiting for their profile or group (WaitProfile,
	// AddToGroup).
	Waiting int
	// PollFailures counts the polls in a row that could not read Graph.
	PollFailures int
}

func (o *Options) defaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = defaultChunk(o.Mode)
	}
	o.ChunkSize = min(o.ChunkSize, maxChunk(o.Mode))
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
	o.PollMax = max(o.PollMax, o.PollMin)
	if o.GroupWait <= 0 {
		o.GroupWait = 15 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
}

// phase is where a device is in the state machine. A device moves only through
// engine.move, along the edges in transitions; it ends in phaseDone, entered only by
// engine.finish, which emits its one result.
type phase uint8

const (
	phaseNew        phase = iota // read, not decided yet
	phaseQueued                  // to be posted (e.queue or e.splits)
	phasePosting                 // in an import POST in flight
	phaseProcessing              // has an import record (cur) that is not final yet
	phaseUpdating                // updateDeviceProperties queued or in flight
	phaseProfile                 // registered; waiting for its deployment profile (WaitProfile)
	phaseDone                    // its result was emitted
)

var phaseNames = [...]string{"new", "queued", "posting", "processing", "updating", "profile", "done"}

func (p phase) String() string { return phaseNames[p] }

// transitions lists the allowed moves; phaseDone is reached only through finish.
var transitions = map[phase][]phase{
	phaseNew:        {phaseQueued, phaseProcessing, phaseUpdating},
	phaseQueued:     {phasePosting},
	phasePosting:    {phaseProcessing, phaseQueued},
	phaseProcessing: {phaseProcessing, phaseQueued},
}

// devState is one device of the run.
type devState struct {
	item       *Item // the caller's item (not copied: a large import holds 100,000)
	key        string
	phase      phase
	attempts   int         // POSTs that may have created a record (bounds the 640 re-imports)
	emptyPosts int         // POSTs reconciled as having created nothing (bounds failing POSTs)
	cur        *tracked    // the import record that decides its result
	reg        *registered // registered device found by the pre-check
	write      *writePlan  // phaseUpdating: what to write
	parked     *parked     // phaseProfile: the result, completed when the wait ends
}

// parked is the result of a device waiting in phaseProfile.
type parked struct {
	DeviceResult
	from time.Time // when the wait began
}

// tracked is one import record being polled.
type tracked struct {
	id        string
	serial    string
	dev       *devState // nil for a leftover of an earlier run that is not in this input
	submitted time.Time
	checked   time.Time // last poll that saw it not final
	chunk     string    // the chunk it was posted in ("" when adopted)
	misses    int32     // polls after it was seen that did not find it
	ours      bool      // created by this tool (journal): ours to delete
	seen      bool      // a read (GET, batch or listing) has shown it
	final     bool
	deleted   bool // already deleted (a journal's final record)
}

type engine struct {
	svc   Service
	opts  Options
	clk   clock.Clock
	emit  func(DeviceResult)
	jn    *Journal
	start time.Time
	runID string
	sum   RunSummary

	devs   []*devState
	byKey  map[string]*devState
	queue  []*devState   // phaseQueued, in input order
	splits [][]*devState // phaseQueued: halves of a chunk refused with 400, posted as they are
	// updates are phaseUpdating devices not yet sent.
	updates []*devState
	track   map[string]*tracked
	// open holds the tracked records that are not final (what polls read): kept in
	// step by trackRecord and markFinal so that per-event work (progress, the next
	// poll) does not scan every record the run has seen.
	open            map[string]*tracked
	toDelete        []string // this run's final records, deleted after the last result
	leftovers       []string // earlier runs' final records: deleted before this run's own
	chunkNo         int
	done            int // devices in phaseDone
	submitted       int
	lastFinal       time.Time
	bug             error       // first invalid transition (a bug): Run returns it
	profiling       []*devState // phaseProfile devices
	pollFailures    int         // polls in a row that failed
	lastPollErr     error
	synced          bool // the sync ran (when every import was final)
	noBulk          bool // the bulk deleteDevices action was refused: single DELETEs
	lastProfilePoll time.Time
	profileStep     time.Duration

	// poll timing: lower/upper bounds of the observed processing time.
	lower, upper time.Duration
	lastPoll     time.Time
	finalStats   Stats           // service counters when the last result was emitted
	probedFinal  map[string]bool // chunks a probe saw final: their records wait for the next full poll
	listCost     int
	// before holds the ids of the import records of this input's serials that were in
	// the tenant at the pre-check and are not the journal's: none of them can be the
	// outcome of a POST of this run.
	before map[string]bool
	// existing holds, per serial key of this input, the ids of its import records at
	// the pre-check: an intent journals them (Before) so that a later run never adopts
	// one of them as the outcome of its POST.
	existing map[string][]string
}

// ErrDuplicateItem: two items share a serial key. Package mapping never produces
// them (it reports such rows as duplicate or conflict); the engine refuses them
// before sending anything rather than decide which one to register.
var ErrDuplicateItem = errors.New("two items share a serial")

// Run registers items (the valid devices of the input) and emits exactly one
// DeviceResult per item, each as soon as it is final. With opts.DryRun it only plans,
// through the same decisions as a real run (read-only calls; none at all with
// opts.Offline): new, update, already_registered, pending, or the result an earlier
// run's record already decided.
//
// Run returns an error for what stops the whole run: authentication or permission
// failures (IsAuth), a journal write failure (ErrJournalWrite), a failed pre-check, or
// cancellation (the error then wraps ErrInterrupted and the context's error). Even
// then every item gets its one DeviceResult: the devices without a final state are
// emitted as ResultInterrupted (with their import id when a record exists), and the
// journal keeps what the next run resumes.
func Run(ctx context.Context, svc Service, items []Item, opts Options, emit func(DeviceResult)) (RunSummary, error) {
	opts.defaults()
	if emit == nil {
		emit = func(DeviceResult) {}
	}
	e := &engine{svc: svc, opts: opts, clk: opts.Clock, emit: emit, jn: opts.Journal, devs: make([]*devState, 0, len(items)),
		byKey: make(map[string]*devState, len(items)), track: map[string]*tracked{}, open: map[string]*tracked{}, probedFinal: map[string]bool{}}
	e.start = e.clk.Now()
	e.runID = strconv.FormatInt(e.start.UnixNano(), 36)
	e.sum = RunSummary{Rows: len(items), Counts: map[string]int{}, Tenant: opts.Tenant}
	if e.jn != nil {
		e.sum.Journal = e.jn.Path()
	}
	states := make([]devState, len(items)) // one allocation, not one per device
	for i := range items {
		key := serial.Key(items[i].Serial)
		if first, dup := e.byKey[key]; dup {
			return e.sum, fmt.Errorf("%w: %s:%d and %s:%d", ErrDuplicateItem, first.item.File, first.item.Line, items[i].File, items[i].Line)
		}
		d := &states[i]
		d.item, d.key = &items[i], key
		e.byKey[key] = d
		e.devs = append(e.devs, d)
	}
	var before Stats
	if svc != nil {
		before = svc.Stats()
	}
	err := e.run(ctx)
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
		e.sum.Leftover = e.jn.Leftovers()
		if err == nil && !e.jn.Open() {
			if cerr := e.jn.Compact(); cerr != nil {
				err = cerr
			}
		}
	}
	if e.lastFinal.IsZero() {
		e.lastFinal = e.clk.Now()
	}
	e.sum.Final = e.lastFinal.Sub(e.start)
	e.sum.Elapsed = e.clk.Now().Sub(e.start)
	if err == nil && e.bug != nil {
		err = e.bug
	}
	return e.sum, err
}

func (e *engine) run(ctx context.Context) error {
	if e.opts.Mode == ModeCorporate {
		return e.runCorporate(ctx)
	}
	if e.opts.DryRun {
		return e.plan(ctx)
	}
	if e.opts.Mode != ModeImport {
		return e.runWrites(ctx)
	}
	if e.opts.Offline {
		return errors.New("an import needs the tenant: --offline works only with --dry-run")
	}
	if e.svc == nil {
		return errors.New("no Graph service")
	}
	for _, d := range e.devs {
		if !d.item.hasHardware() {
			r := e.result(d, ResultFailed)
			r.Message = "no hardware hash bytes (checked without KeepHardware)"
			e.finish(d, r)
		}
	}
	ds, err := e.survey(ctx)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	if err := e.execute(ctx, ds); err != nil {
		return e.stopErr(ctx, err)
	}
	if err := e.loop(ctx); err != nil {
		return e.stopErr(ctx, err)
	}
	return nil
}

func (e *engine) now() time.Time { return e.clk.Now() }

func (e *engine) stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	return err
}

// move is the one way a device changes phase (phaseDone excepted: see finish). It keeps
// the work lists in step with the phases.
func (e *engine) move(d *devState, to phase) {
	if !e.setPhase(d, to) {
		return
	}
	switch to {
	case phaseQueued:
		d.cur = nil
		e.queue = append(e.queue, d)
	case phaseUpdating:
		e.updates = append(e.updates, d)
	}
}

// setPhase changes d's phase along an allowed edge; any other move is a bug, which
// Run reports, and d stays where it is.
func (e *engine) setPhase(d *devState, to phase) bool {
	for _, p := range transitions[d.phase] {
		if p == to {
			d.phase = to
			return true
		}
	}
	if e.bug == nil {
		e.bug = fmt.Errorf("internal error: %s:%d moved from %s to %s", d.item.File, d.item.Line, d.phase, to)
	}
	return false
}

// process moves d to phaseProcessing with t as the record that decides its result.
func (e *engine) process(d *devState, t *tracked) {
	e.move(d, phaseProcessing)
	t.dev = d
	e.trackRecord(t)
	d.cur = t
}

// trackRecord adds t to the records of the run (and to the open ones unless final).
func (e *engine) trackRecord(t *tracked) {
	e.track[t.id] = t
	if t.final {
		delete(e.open, t.id)
	} else {
		e.open[t.id] = t
	}
}

// markFinal stops polling t.
func (e *engine) markFinal(t *tracked) {
	t.final = true
	delete(e.open, t.id)
}

// result starts d's DeviceResult.
func (e *engine) result(d *devState, result string) DeviceResult {
	r := DeviceResult{File: d.item.File, Line: d.item.Line, Serial: d.item.Serial, Result: result, GroupTag: d.item.GroupTag}
	if d.cur != nil {
		r.ImportID = d.cur.id
	}
	return r
}

// finish is the one place a device gets its result: it enters phaseDone and the
// result is emitted. A device already done is left alone.
func (e *engine) finish(d *devState, r DeviceResult) {
	if d.phase == phaseDone {
		return
	}
	if (e.opts.WaitProfile > 0 || e.opts.AddToGroup != "") && d.phase != phaseProfile && r.Success() && r.RegistrationID != "" && r.Result != ResultRemoved && !e.opts.DryRun {
		// Registered: the result waits for the profile assignment (see profile.go).
		d.phase, d.parked = phaseProfile, &parked{DeviceResult: r, from: e.now()}
		e.profiling = append(e.profiling, d)
		return
	}
	d.phase = phaseDone
	e.done++
	e.sum.Counts[r.Result]++
	e.lastFinal = e.now()
	if e.svc != nil {
		e.finalStats = e.svc.Stats()
	}
	e.emit(r)
	e.progress()
}

func (e *engine) progress() {
	if e.opts.Progress == nil {
		return
	}
	e.opts.Progress(Progress{Total: len(e.devs), Done: e.done, Submitted: e.submitted, Outstanding: len(e.open), Deleted: e.sum.Deleted,
		Waiting: len(e.profiling), PollFailures: e.pollFailures})
}

// allDone reports whether every device has its result.
func (e *engine) allDone() bool { return e.done == len(e.devs) }

// interruptRest emits ResultInterrupted for every device still without a result when
// the run stops early (cancellation, authentication failure, journal write failure…),
// so every item still ends in exactly one reported state. The import id, when the
// device has a record, names what the next run collects. The journal is left as it
// is: the next run resumes from it. The run's Final time and request counts until
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
	e.endProfileWaits("the run stopped before the deployment profile was assigned; 'apimport devices --wait-profile' waits for it alone")
	for _, d := range e.devs {
		if d.phase == phaseDone {
			continue
		}
		r := e.result(d, ResultInterrupted)
		r.Message, r.Hint = msg, hint
		e.finish(d, r)
	}
	e.lastFinal, e.finalStats = lastFinal, finalStats
}

// journalState is the journal's view of earlier runs.
func (e *engine) journalState() JournalState {
	if e.jn == nil && e.opts.DryRun && e.opts.PlanJournal != nil {
		return *e.opts.PlanJournal
	}
	if e.jn == nil {
		return emptyJournalState()
	}
	return e.jn.snapshot() // read only, until the next append: decide appends nothing
}

// owned reports whether the journal (a dry run's: the plan journal) holds record id.
func (e *engine) owned(id string) bool {
	if e.jn != nil {
		return e.jn.Owns(id)
	}
	_, ok := e.journalState().Records[id]
	return ok
}

// journal appends entries; a failure stops the run (ErrJournalWrite).
func (e *engine) journal(entries ...JournalEntry) error {
	if e.jn == nil {
		return nil
	}
	if err := e.jn.Append(entries...); err != nil {
		return fmt.Errorf("%w: %w", ErrJournalWrite, err)
	}
	return nil
}

func (e *engine) nextChunkID() string {
	e.chunkNo++
	return e.runID + "-" + strconv.Itoa(e.chunkNo)
}
