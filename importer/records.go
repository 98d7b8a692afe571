package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apimport/apimport/internal/serial"
)

// finalsBatch bounds the journal entries written (and held) at once: a listing near
// the end of a large import finds 100,000 records final together.
const finalsBatch = 1000

// finals records final states (journal first), emits results and queues clean-up, in
// batches of finalsBatch.
func (e *engine) finals(ctx context.Context, recs []ImportRecord) error {
	for len(recs) > finalsBatch {
		if err := e.finalsOf(ctx, recs[:finalsBatch]); err != nil {
			return err
		}
		recs = recs[finalsBatch:]
	}
	return e.finalsOf(ctx, recs)
}

func (e *engine) finalsOf(ctx context.Context, recs []ImportRecord) error {
	if len(recs) == 0 {
		return nil
	}
	now := e.now()
	entries := make([]JournalEntry, 0, len(recs))
	for _, rec := range recs {
		if t := e.track[rec.ID]; t != nil && !t.final && t.ours {
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
		e.markFinal(t)
		if age := now.Sub(t.submitted); t.submitted != e.start && age > 0 && (e.upper == 0 || age < e.upper) {
			e.upper = age
		}
		if t.ours {
			if t.dev == nil {
				e.leftovers = append(e.leftovers, rec.ID)
			} else {
				e.toDelete = append(e.toDelete, rec.ID)
			}
		}
		if d := t.dev; d != nil && d.cur == t && d.phase == phaseProcessing {
			if err := e.applyFinal(ctx, d, rec); err != nil {
				return err
			}
		}
	}
	e.progress()
	return nil
}

// outcome is the result a final record gives its device, and whether the device is
// imported again instead (a 640 StorageError on a record of ours, attempts left). The
// dry run and the real run both decide through it.
func (e *engine) outcome(d *devState, rec ImportRecord) (DeviceResult, bool) {
	result, hint, retry := classify(rec)
	ours := d.cur != nil && d.cur.ours
	if retry && !(ours && d.attempts < e.opts.MaxAttempts) {
		if d.attempts < e.opts.MaxAttempts {
			hint = HintStorageOnce // not tried several times: a foreign record
		}
		retry = false
	}
	r := e.result(d, result)
	r.ErrorCode, r.ErrorName, r.Hint = rec.ErrorCode, rec.ErrorName, hint
	r.RegistrationID = rec.RegistrationID
	r.ImportID = rec.ID
	switch {
	case rec.Status == ImportError && result == ResultRejected && hint == "":
		r.Message = "the service rejected the device"
	case result == ResultAlreadyRegistered:
		r.Message = "the service reports the device already registered in this tenant"
	case !ours && result == ResultRegistered:
		r.Message = "registered by an import another tool started"
	}
	return r, retry
}

// applyFinal gives d its result for a final record, or imports it again after a 640
// StorageError (deleting the failed record first).
func (e *engine) applyFinal(ctx context.Context, d *devState, rec ImportRecord) error {
	r, retry := e.outcome(d, rec)
	if retry {
		err := e.svc.DeleteImported(ctx, rec.ID)
		if err == nil {
			e.sum.Deleted++
			if err := e.journal(JournalEntry{Type: JournalDeleted, ID: rec.ID, Serial: rec.Serial}); err != nil {
				return err
			}
			e.dropDelete(rec.ID)
			e.move(d, phaseQueued)
			return nil
		}
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		// Could not delete: report instead of risking a second live record.
		r.Hint = HintStorageOnce
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

// posted handles the answer to an import POST.
func (e *engine) posted(ctx context.Context, r jobResult) error {
	now := e.now()
	if r.err == nil {
		bySerial := map[string]ImportRecord{}
		for _, rec := range r.recs {
			bySerial[serial.Key(rec.Serial)] = rec
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
			e.process(d, &tracked{id: rec.ID, serial: d.item.Serial, ours: true, submitted: now, chunk: r.chunk})
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
		return e.finals(ctx, finals)
	}
	if ctx.Err() != nil {
		return nil // the intent stays in the journal unless it was never sent
	}
	if IsAuth(r.err) {
		return r.err
	}
	var ae *APIError
	if !errors.As(r.err, &ae) || !definitelyNotCreated(r.err) {
		// Ambiguous: the POST may have created records.
		return e.reconcile(ctx, r.devs, r.chunk)
	}
	switch {
	case ae.StatusCode == 429:
		e.requeueThrottled(r.devs, r.err)
	case ae.StatusCode == 400 && len(r.devs) > 1:
		e.splitChunk(r.devs)
	default:
		e.failChunk(r.devs, r.err, ae.Code)
	}
	return nil
}

// requeueThrottled queues a chunk refused with 429 beyond the client's retries again
// (nothing was created); a device throttled MaxAttempts times fails.
func (e *engine) requeueThrottled(devs []*devState, err error) {
	for _, d := range devs {
		if d.attempts >= e.opts.MaxAttempts {
			res := e.result(d, ResultFailed)
			res.Message = "import throttled repeatedly: " + err.Error()
			e.finish(d, res)
			continue
		}
		e.move(d, phaseQueued)
	}
}

// splitChunk posts the halves of a chunk refused with 400 on their own: one bad device
// fails a whole chunk, and halving isolates it. The refused POST created nothing.
func (e *engine) splitChunk(devs []*devState) {
	half := len(devs) / 2
	for _, d := range devs {
		d.attempts--
		e.setPhase(d, phaseQueued) // into a split, not the queue
	}
	e.splits = append(e.splits, devs[:half], devs[half:])
}

// failChunk fails every device of a chunk the service refused for good.
func (e *engine) failChunk(devs []*devState, err error, code string) {
	for _, d := range devs {
		res := e.result(d, ResultFailed)
		res.Message, res.ErrorName = err.Error(), code
		e.finish(d, res)
	}
}

// reconcile lists the tenant's import records after an ambiguous POST: records found for
// the chunk's serials are adopted (journal first); the others are queued again.
func (e *engine) reconcile(ctx context.Context, devs []*devState, chunk string) error {
	found, err := e.newRecordsOf(ctx, devs)
	if err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		// Cannot tell what exists: never re-post blindly; report.
		for _, d := range devs {
			res := e.result(d, ResultFailed)
			res.Message = "the import request failed and its outcome could not be checked: " + err.Error()
			res.Hint = "run again later: the next run reconciles the journal before posting"
			e.finish(d, res)
		}
		return nil
	}
	now := e.now()
	var entries []JournalEntry
	for _, d := range devs {
		rec, ok := found[d.key]
		entry := JournalEntry{Type: JournalAdopt, Chunk: chunk, Serial: d.item.Serial}
		if ok {
			entry.ID = rec.ID
		}
		entries = append(entries, entry)
	}
	if err := e.journal(entries...); err != nil {
		return err
	}
	var finals []ImportRecord
	for _, d := range devs {
		rec, ok := found[d.key]
		if !ok {
			// The POST created nothing: it does not count against the imports a 640
			// may take (attempts), only against the POSTs that fail (emptyPosts).
			d.attempts--
			d.emptyPosts++
			if d.emptyPosts >= e.opts.MaxAttempts {
				res := e.result(d, ResultFailed)
				res.Message = "the import request failed repeatedly and created no record"
				e.finish(d, res)
				continue
			}
			e.move(d, phaseQueued)
			continue
		}
		e.process(d, &tracked{id: rec.ID, serial: d.item.Serial, ours: true, submitted: now, seen: true})
		e.submitted++
		if rec.Final() {
			finals = append(finals, rec)
		}
	}
	return e.finals(ctx, finals)
}

// newRecordsOf lists the import records and returns, per serial of devs, a record this
// run may have created: not the journal's, not tracked, not in the tenant at the
// pre-check (another tool's or an earlier run's older record). A processing record is
// preferred to a final one.
func (e *engine) newRecordsOf(ctx context.Context, devs []*devState) (map[string]ImportRecord, error) {
	want := map[string]bool{}
	for _, d := range devs {
		want[d.key] = true
	}
	found := map[string]ImportRecord{}
	before := e.svc.Stats().Requests
	n := 0
	err := e.svc.ListImported(ctx, func(rec ImportRecord) bool {
		n++
		k := serial.Key(rec.Serial)
		if !want[k] {
			return true
		}
		if e.owned(rec.ID) || e.track[rec.ID] != nil || e.before[rec.ID] {
			return true
		}
		if prev, ok := found[k]; !ok || prev.Final() && !rec.Final() {
			found[k] = rec
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	e.noteListCost(e.svc.Stats().Requests-before, n)
	return found, nil
}

// vanished handles a record that polls no longer find although it was seen, not
// final, before (someone else deleted it). Nothing documents that a record can be
// missing from a read after it was seen, so the rule is conservative: the device is
// posted again only when it is not registered and no other new import record of its
// serial exists (which is adopted instead).
func (e *engine) vanished(ctx context.Context, t *tracked) error {
	e.markFinal(t)
	if t.ours {
		if err := e.journal(JournalEntry{Type: JournalDeleted, ID: t.id, Serial: t.serial, Message: "vanished"}); err != nil {
			return err
		}
	}
	d := t.dev
	if d == nil || d.cur != t || d.phase != phaseProcessing {
		return nil
	}
	found, err := e.svc.FindDevices(ctx, d.item.Serial)
	if err == nil && len(found) == 0 {
		var recs map[string]ImportRecord
		if recs, err = e.newRecordsOf(ctx, []*devState{d}); err == nil {
			if rec, ok := recs[d.key]; ok {
				if err := e.journal(JournalEntry{Type: JournalAdopt, ID: rec.ID, Serial: d.item.Serial}); err != nil {
					return err
				}
				e.process(d, &tracked{id: rec.ID, serial: d.item.Serial, ours: t.ours, submitted: e.now(), seen: true})
				if rec.Final() {
					return e.finals(ctx, []ImportRecord{rec})
				}
				return nil
			}
		}
	}
	switch {
	case err != nil:
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		r := e.result(d, ResultFailed)
		r.Message = "the import record disappeared and the device lookup failed: " + err.Error()
		e.finish(d, r)
	case len(found) > 0:
		r := e.result(d, ResultRegistered)
		r.RegistrationID = found[0].ID
		r.Message = "the import record was removed by someone else; the device is registered"
		e.finish(d, r)
	case d.attempts >= e.opts.MaxAttempts:
		r := e.result(d, ResultFailed)
		r.Message = "the import record disappeared before it was final and the device is not registered"
		e.finish(d, r)
	default:
		e.move(d, phaseQueued)
	}
	return nil
}

// updated handles the answer to updateDeviceProperties.
func (e *engine) updated(ctx context.Context, d *devState, err error) error {
	if err != nil {
		return e.writeFailed(ctx, d, "updating the registered device: ", err)
	}
	res := e.result(d, ResultUpdated)
	res.RegistrationID = d.reg.ID
	res.Message = fmt.Sprintf("was group tag %q, user %q", d.reg.GroupTag, d.reg.UserPrincipalName)
	if len(d.write.changes) > 0 {
		res.Message = strings.Join(d.write.changes, "; ")
	}
	e.finish(d, res)
	e.sum.Updated++
	return nil
}

// writeFailed handles a failed update or removal: authentication stops the run, a
// cancelled one leaves the device to interruptRest, anything else fails the device.
func (e *engine) writeFailed(ctx context.Context, d *devState, what string, err error) error {
	if IsAuth(err) {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	res := e.result(d, ResultFailed)
	res.RegistrationID = d.reg.ID
	res.Message = what + err.Error()
	e.finish(d, res)
	return nil
}

func (e *engine) noteListCost(reqs, records int) {
	if reqs <= 0 {
		reqs = 1 + records/100
	}
	e.listCost = reqs
}
