package importer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/apimport/apimport/internal/clock"
)

type jobKind int

const (
	jobImport jobKind = iota
	jobDelete
	jobUpdate
	jobRemove
	jobRemoveBulk
	jobIdentities // corporate identifiers: one importDeviceIdentityList POST
)

// bulkDeleteMax is the number of serials per deleteDevices request (community clients
// use chunks of at most 100; no limit is documented).
const bulkDeleteMax = 100

type job struct {
	kind  jobKind
	chunk string
	devs  []*devState
	ids   []string // delete
	upd   DeviceUpdate
	regID string    // update
	until time.Time // delete: the end of the clean-up budget
}

type jobResult struct {
	job
	recs    []ImportRecord
	err     error
	deleted []string
	delErr  map[string]error
	states  map[string]string // jobRemoveBulk: deletionState by serial key
	idents  []DeviceIdentity  // jobIdentities: the service's answer
}

// deleteBatch is the number of deletions per job: small, so that a job in flight when
// the clean-up budget runs out ends soon after.
const deleteBatch = 5

// pool is the workers that send the writes, and what the loop knows of them.
type pool struct {
	jobs      chan job
	results   chan jobResult
	cancel    context.CancelFunc
	inflight  int // jobs sent, result not handled
	importing int // import jobs among them
}

// loopState is what the phases of the loop share.
type loopState struct {
	deadline     time.Time
	cleanupUntil time.Time // zero until every device is final
	timedOut     bool
	fatal        error
}

// loop submits, updates, polls and cleans up until every device is final and the
// clean-up budget is spent (or nothing is left to delete). Each turn: dispatch work to
// the workers, check whether the run is over, handle the deadline, wait for one event.
func (e *engine) loop(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	p := &pool{jobs: make(chan job), results: make(chan jobResult, e.opts.Concurrency), cancel: cancel}
	for range e.opts.Concurrency {
		go e.worker(wctx, p.jobs, p.results)
	}
	defer func() {
		close(p.jobs)
		cancel()
	}()
	ls := &loopState{deadline: e.start.Add(e.opts.Wait)}
	for {
		stopping := ls.fatal != nil || ctx.Err() != nil
		if !stopping {
			e.startCleanup(ctx, p, ls)
			e.dispatch(p, ls)
		}
		if p.inflight == 0 {
			if stopping {
				if ls.fatal != nil {
					return ls.fatal
				}
				return ctx.Err()
			}
			if e.over(ls) {
				return nil
			}
			if e.deadlinePassed(ls) {
				e.timeoutAll()
				ls.timedOut = true
				continue
			}
		}
		if err := e.wait(ctx, p, ls, stopping); err != nil && ls.fatal == nil {
			ls.fatal = err
			p.cancel()
		}
		e.progress()
	}
}

// startCleanup opens the clean-up phase once every device is final and no import is in
// flight: it may last CleanupShare of the time to the last result plus CleanupGrace
// (or Options.CleanupTimeout). The Autopilot sync comes first: it needs one write, and
// the deletions then use the whole write budget, so a sync after them would wait for
// the throttle window to free (up to 20 s past the clean-up budget).
func (e *engine) startCleanup(ctx context.Context, p *pool, ls *loopState) {
	if !ls.cleanupUntil.IsZero() || !e.allSettled() || p.importing > 0 {
		return
	}
	e.sync(ctx)        // also before the profile wait: a sync is what assigns profiles sooner
	settled := e.now() // the last import result, or the moment the last device began its profile wait
	budget := time.Duration(float64(settled.Sub(e.start))*CleanupShare) + CleanupGrace
	if e.opts.CleanupTimeout > 0 {
		budget = e.opts.CleanupTimeout
	}
	ls.cleanupUntil = e.now().Add(budget)
}

// over reports whether the run is done: every device final, and the clean-up finished
// or out of time (what is left stays in the journal).
func (e *engine) over(ls *loopState) bool {
	if ls.cleanupUntil.IsZero() || len(e.profiling) > 0 {
		return false
	}
	return len(e.leftovers)+len(e.toDelete) == 0 || !e.now().Before(ls.cleanupUntil)
}

// deadlinePassed reports whether --wait ran out with records still outstanding (or
// devices waiting to be posted again) and nothing in flight.
func (e *engine) deadlinePassed(ls *loopState) bool {
	if e.now().Before(ls.deadline) || len(e.queue) > 0 {
		return false
	}
	return !ls.timedOut || len(e.open) > 0 && !e.allDone()
}

// dispatch hands work to idle workers: submissions first, then updates, then, in the
// clean-up phase, deletions (earlier runs' records first).
func (e *engine) dispatch(p *pool, ls *loopState) {
	for p.inflight < e.opts.Concurrency {
		j, ok := e.nextJob(ls)
		if !ok {
			return
		}
		p.inflight++
		if j.kind == jobImport {
			p.importing++
		}
		p.jobs <- j
	}
}

func (e *engine) nextJob(ls *loopState) (job, bool) {
	if e.opts.Mode == ModeCorporate {
		if ij, ok := e.nextIdentityJob(); ok {
			return job{kind: jobIdentities, chunk: ij.chunk, devs: ij.devs}, true
		}
	}
	switch {
	case len(e.splits) > 0:
		devs := e.splits[0]
		e.splits = e.splits[1:]
		return e.importJob(devs), true
	case len(e.queue) > 0:
		n := min(e.opts.ChunkSize, len(e.queue))
		devs := append([]*devState(nil), e.queue[:n]...)
		e.queue = e.queue[n:]
		return e.importJob(devs), true
	case len(e.updates) > 0 && e.bulkEligible(e.updates[0]):
		var devs []*devState
		rest := e.updates[:0:0]
		for _, d := range e.updates {
			if len(devs) < bulkDeleteMax && e.bulkEligible(d) {
				devs = append(devs, d)
			} else {
				rest = append(rest, d)
			}
		}
		e.updates = rest
		return job{kind: jobRemoveBulk, devs: devs}, true
	case len(e.updates) > 0:
		d := e.updates[0]
		e.updates = e.updates[1:]
		kind := jobUpdate
		if d.write.remove {
			kind = jobRemove
		}
		return job{kind: kind, devs: []*devState{d}, upd: d.write.upd, regID: d.reg.ID}, true
	case !ls.cleanupUntil.IsZero() && e.now().Before(ls.cleanupUntil):
		var ids []string
		if len(e.leftovers) > 0 {
			n := min(deleteBatch, len(e.leftovers))
			ids, e.leftovers = append(ids, e.leftovers[:n]...), e.leftovers[n:]
		} else if len(e.toDelete) > 0 {
			n := min(deleteBatch, len(e.toDelete))
			ids, e.toDelete = append(ids, e.toDelete[:n]...), e.toDelete[n:]
		}
		if len(ids) > 0 {
			return job{kind: jobDelete, ids: ids, until: ls.cleanupUntil}, true
		}
	}
	return job{}, false
}

func (e *engine) importJob(devs []*devState) job {
	for _, d := range devs {
		e.move(d, phasePosting)
		d.attempts++
	}
	e.sum.Posts++
	return job{kind: jobImport, chunk: e.nextChunkID(), devs: devs}
}

func updateFor(it Item) DeviceUpdate {
	var u DeviceUpdate
	if it.GroupTag != "" {
		tag := it.GroupTag
		u.GroupTag = &tag
	}
	if it.AssignedUser != "" {
		upn := it.AssignedUser
		u.UserPrincipalName = &upn
	}
	return u
}

// wait blocks for one event: a worker's result, the next poll, or cancellation.
func (e *engine) wait(ctx context.Context, p *pool, ls *loopState, stopping bool) error {
	var timerC <-chan time.Time
	if next := e.nextWake(p, ls, stopping); !next.IsZero() {
		t := e.clk.NewTimer(next.Sub(e.now()))
		defer t.Stop()
		timerC = t.C()
	}
	var done <-chan struct{}
	if !stopping {
		done = ctx.Done()
	}
	if timerC == nil && p.inflight == 0 {
		if stopping {
			return nil
		}
		return errors.New("internal error: the import loop has nothing to wait for")
	}
	select {
	case r := <-p.results:
		p.inflight--
		if r.kind == jobImport {
			p.importing--
		}
		return e.handle(ctx, r)
	case <-timerC:
		return e.timerEvent(ctx, p, ls)
	case <-done:
		p.cancel()
		return nil
	}
}

// nextWake is when the loop must look again by itself: the next poll of the import
// records or of the parked devices' profiles, whichever comes first; zero when only a
// worker's result (or cancellation) can move the run on. Under a simulated clock calls
// take no time: time passes only when nothing is in flight (engine tests are then
// deterministic).
func (e *engine) nextWake(p *pool, ls *loopState, stopping bool) time.Time {
	if _, simulated := e.clk.(clock.Simulated); stopping || simulated && p.inflight > 0 {
		return time.Time{}
	}
	var next time.Time
	if !ls.timedOut && len(e.open) > 0 && !e.allSettled() {
		submitting := len(e.queue) > 0 || len(e.splits) > 0 || p.importing > 0
		next = e.nextPoll(submitting)
		if next.After(ls.deadline) && len(e.queue) == 0 {
			next = ls.deadline
		}
	}
	if pn := e.nextProfilePoll(); !pn.IsZero() && (next.IsZero() || pn.Before(next)) {
		next = pn
	}
	return next
}

// timerEvent polls what is due: the parked devices' profiles, then the import records.
func (e *engine) timerEvent(ctx context.Context, p *pool, ls *loopState) error {
	if pn := e.nextProfilePoll(); !pn.IsZero() && !e.now().Before(pn) {
		if err := e.pollProfiles(ctx); err != nil {
			return err
		}
	}
	if e.allSettled() {
		return nil
	}
	return e.pollEvent(ctx, p, ls)
}

// pollEvent polls the due records; at the deadline it takes one last look at every
// outstanding record and times out the rest.
func (e *engine) pollEvent(ctx context.Context, p *pool, ls *loopState) error {
	out := e.outstanding()
	if !e.now().Before(ls.deadline) && len(e.queue) == 0 {
		if p.inflight > 0 {
			return nil
		}
		if len(out) > 0 {
			// One last look, bounded: the deadline is kept even when Graph is down.
			lctx, cancel := context.WithTimeout(ctx, max(e.opts.PollMax, 30*time.Second))
			err := e.poll(lctx, out, true, false)
			cancel()
			if err != nil && ctx.Err() == nil && !IsAuth(err) {
				e.pollFailures, e.lastPollErr = e.pollFailures+1, err
			} else if err != nil {
				return err
			}
			if e.pollFailures > 0 {
				// Graph could not be read at the end: the devices are not timed out
				// (nothing is known of them); the run stops with the error.
				return fmt.Errorf("reading the import records failed %d times in a row, the last at the deadline: %w", e.pollFailures, e.lastPollErr)
			}
		}
		e.timeoutAll()
		ls.timedOut = true
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	submitting := len(e.queue) > 0 || len(e.splits) > 0 || p.importing > 0
	return e.poll(ctx, out, false, submitting)
}

// handle applies a worker's result.
func (e *engine) handle(ctx context.Context, r jobResult) error {
	if errors.Is(r.err, ErrJournalWrite) || errors.Is(r.err, ErrLocal) {
		return r.err
	}
	switch r.kind {
	case jobImport:
		return e.posted(ctx, r)
	case jobDelete:
		e.sum.Deleted += len(r.deleted)
		for _, err := range r.delErr {
			if IsAuth(err) {
				return err
			}
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				e.sum.DeleteErrors++ // left in the journal: the next run deletes it
			}
		}
		e.progress()
	case jobRemoveBulk:
		return e.removedBulk(ctx, r)
	case jobIdentities:
		return e.identitiesPosted(ctx, identityAnswer{identityJob: identityJob{chunk: r.chunk, devs: r.devs}, got: r.idents, err: r.err})
	case jobUpdate, jobRemove:
		if e.opts.Mode == ModeImport {
			return e.updated(ctx, r.devs[0], r.err)
		}
		return e.written(ctx, r.devs[0], r.err)
	}
	return nil
}

// outstanding returns the records still polled, sorted by id.
func (e *engine) outstanding() []*tracked {
	out := make([]*tracked, 0, len(e.open))
	for _, t := range e.open {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// timeoutAll gives every device still processing the timeout result; its record stays in
// the journal for the next run. Devices waiting to be posted again (a 640 seen by the last
// poll before the deadline) get the timeout result too and are not posted: nothing would
// poll their new records, and the next run posts them (their failed records are deleted).
func (e *engine) timeoutAll() {
	for _, ds := range append(append([][]*devState{}, e.splits...), e.queue) {
		for _, d := range ds {
			r := e.result(d, ResultTimeout)
			r.Hint = HintNotResubmitted
			r.Message = "not posted again before the deadline (" + e.opts.Wait.String() + ")"
			e.finish(d, r)
		}
	}
	e.splits, e.queue = nil, nil
	for _, t := range e.outstanding() {
		e.markFinal(t) // stop polling; not deleted: the record is still processing
		if d := t.dev; d != nil && d.cur == t && d.phase == phaseProcessing {
			r := e.result(d, ResultTimeout)
			r.Hint = HintTimeout
			if !t.ours {
				r.Hint = HintForeign
			}
			r.Message = "still processing after " + e.opts.Wait.String()
			e.finish(d, r)
		}
	}
}

func (e *engine) worker(ctx context.Context, jobs <-chan job, results chan<- jobResult) {
	for j := range jobs {
		r := jobResult{job: j}
		switch j.kind {
		case jobImport:
			r.recs, r.err = e.submit(ctx, j)
		case jobDelete:
			r.deleted, r.delErr, r.err = e.deleteRecords(ctx, j.ids, j.until)
		case jobUpdate, jobRemove:
			r.err = e.write(ctx, j)
		case jobRemoveBulk:
			r.states, r.err = e.removeBulk(ctx, j)
		case jobIdentities:
			a := e.sendIdentities(ctx, identityJob{chunk: j.chunk, devs: j.devs})
			r.idents, r.err = a.got, a.err
		}
		results <- r
	}
}

// write sends an update or a removal; in update and remove runs it is journalled first.
func (e *engine) write(ctx context.Context, j job) error {
	d := j.devs[0]
	if e.opts.Mode != ModeImport {
		op := "update"
		if j.kind == jobRemove {
			op = "remove"
		}
		if err := e.journal(JournalEntry{Type: JournalWrite, ID: j.regID, Serial: d.item.Serial, Message: op}); err != nil {
			return err
		}
	}
	if j.kind == jobRemove {
		return e.removeDevice(ctx, d)
	}
	return e.svc.UpdateDevice(ctx, j.regID, j.upd)
}

// submit posts one chunk: the intent is journalled before the POST, its outcome after.
func (e *engine) submit(ctx context.Context, j job) ([]ImportRecord, error) {
	serials := make([]string, len(j.devs))
	items := make([]ImportItem, len(j.devs))
	var before map[string][]string
	for i, d := range j.devs {
		serials[i] = d.item.Serial
		it, err := d.item.importItem()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLocal, err) // nothing was sent; the run stops
		}
		items[i] = it
		if ids := e.existing[d.key]; len(ids) > 0 {
			if before == nil {
				before = map[string][]string{}
			}
			before[d.key] = ids
		}
	}
	if err := e.journal(JournalEntry{Type: JournalIntent, Chunk: j.chunk, Serials: serials, Before: before, Format: journalFormat}); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// Never sent: clear the intent so the next run does not reconcile it.
		_ = e.journal(JournalEntry{Type: JournalAbandon, Chunk: j.chunk, Serials: serials})
		return nil, ctx.Err()
	}
	recs, err := e.svc.Import(ctx, items)
	if err != nil {
		if definitelyNotCreated(err) {
			_ = e.journal(JournalEntry{Type: JournalAbandon, Chunk: j.chunk, Serials: serials, Message: err.Error()})
		}
		return nil, err
	}
	ids := map[string]string{}
	for _, rec := range recs {
		if rec.ID != "" {
			ids[rec.Serial] = rec.ID
		}
	}
	if err := e.journal(JournalEntry{Type: JournalPosted, Chunk: j.chunk, Serials: serials, IDs: ids}); err != nil {
		return recs, err
	}
	return recs, nil
}

// deleteRecords deletes ids one by one until the clean-up budget ends (the rest stay
// in the journal) and journals the deletions. A deletion waiting for the client's
// throttle when the budget ends is given up (not a failure): the journal keeps the
// record, and a DELETE that did reach the service is found gone next time.
func (e *engine) deleteRecords(ctx context.Context, ids []string, until time.Time) ([]string, map[string]error, error) {
	var deleted []string
	failed := map[string]error{}
	for _, id := range ids {
		if ctx.Err() != nil {
			failed[id] = ctx.Err()
			continue
		}
		left := until.Sub(e.now())
		if left <= 0 {
			break
		}
		// A relative timeout: under a simulated clock calls take no real time.
		dctx, cancel := context.WithTimeout(ctx, left)
		err := e.svc.DeleteImported(dctx, id)
		budgetOut := dctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && budgetOut {
			break
		}
		if err != nil {
			failed[id] = err
			continue
		}
		deleted = append(deleted, id)
	}
	entries := make([]JournalEntry, len(deleted))
	for i, id := range deleted {
		entries[i] = JournalEntry{Type: JournalDeleted, ID: id}
	}
	return deleted, failed, e.journal(entries...)
}
