package importer

import (
	"context"
	"time"
)

// nextPoll is when to look at the outstanding records next, never sooner than PollMin
// after the previous poll. Each record has a due time (see due). While chunks are still
// being submitted, only a probe is due: the oldest record, to learn how long processing
// takes. Afterwards the next poll is when every record is expected final, but due records
// never wait more than PollMax.
//
// It reads the open records in map order: only the earliest and latest due times count.
func (e *engine) nextPoll(submitting bool) time.Time {
	var first, last time.Time
	for _, t := range e.open {
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
		first = e.now().Add(e.opts.PollMax)
		last = first
	}
	next := first
	if !submitting {
		// One poll when everything is expected final, unless that is far off: then the
		// due records are read within PollMax.
		next = last
		if last.After(e.now().Add(e.opts.PollMax)) {
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
	due := e.dueRecords(out, all, probe)
	if len(due) == 0 {
		return nil
	}
	e.lastPoll = e.now()
	e.sum.Polls++
	seen, finals, listed, err := e.readRecords(ctx, due, out)
	if err != nil {
		return e.pollErr(ctx, err)
	}
	e.pollFailures, e.lastPollErr = 0, nil
	if listed {
		due = out
	}
	now := e.now()
	for _, t := range due {
		final, read := seen[t]
		switch {
		case !read:
			// A record never seen by a read may just not be visible yet (nothing
			// documents that a new record shows at once): it is waited for until
			// the deadline. One seen before and missed twice since was deleted.
			if t.seen {
				t.misses++
			}
			if t.misses >= 2 {
				if err := e.vanished(ctx, t); err != nil {
					return err
				}
			}
		case final:
			t.seen = true
			if probe && t.chunk != "" {
				e.probedFinal[t.chunk] = true
			}
		default:
			t.misses, t.seen = 0, true
			if age := now.Sub(t.submitted); t.submitted != e.start && (e.upper == 0 || age < e.upper) && age > e.lower {
				e.lower = age
			}
			t.checked = now
		}
	}
	return e.finalReads(ctx, finals)
}

// dueRecords picks the records to read: those due (all of them when none is, or when
// all is set); while probing only the oldest one worth a probe (none: nil).
func (e *engine) dueRecords(out []*tracked, all, probe bool) []*tracked {
	now := e.now()
	var due []*tracked
	for _, t := range out {
		if all || !e.due(t, probe).After(now.Add(e.opts.PollMin/4)) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		due = out
	}
	if !probe {
		return due
	}
	var oldest *tracked
	for _, t := range due {
		if e.probeWanted(t) && (oldest == nil || t.submitted.Before(oldest.submitted)) {
			oldest = t
		}
	}
	if oldest == nil {
		return nil
	}
	return []*tracked{oldest}
}

// readRecords reads due by batched GETs, or lists the tenant's import records when
// that costs fewer requests (then every one of out is read: listed is true). seen holds
// each tracked record the read found, and whether it is final; finals are the final
// ones' states.
//
// A listing near the end of a large import finds 100,000 records final at once, so
// what is kept of each is only what a result needs (see finalRead).
func (e *engine) readRecords(ctx context.Context, due, out []*tracked) (seen map[*tracked]bool, finals []finalRead, listed bool, err error) {
	if len(due) <= e.listCost || e.listCost == 0 && len(due) <= 20 {
		ids := make([]string, len(due))
		for i, t := range due {
			ids[i] = t.id
		}
		found, err := e.svc.GetImportedMany(ctx, ids)
		if err != nil {
			return nil, nil, false, err
		}
		seen = make(map[*tracked]bool, len(found))
		for _, t := range due {
			if rec, ok := found[t.id]; ok {
				if seen[t] = rec.Final(); seen[t] {
					finals = append(finals, readFinal(t, rec))
				}
			}
		}
		return seen, finals, false, nil
	}
	before := e.svc.Stats().Requests
	// out is every open record (outstanding): e.open finds them by id.
	seen = make(map[*tracked]bool, len(out))
	n := 0
	err = e.svc.ListImported(ctx, func(r ImportRecord) bool {
		n++
		if t := e.open[r.ID]; t != nil {
			if _, twice := seen[t]; twice { // a record listed twice (paging) counts once
				return true
			}
			if seen[t] = r.Final(); seen[t] {
				finals = append(finals, readFinal(t, r))
			}
		}
		return true
	})
	if err != nil {
		return nil, nil, true, err
	}
	e.noteListCost(e.svc.Stats().Requests-before, n)
	return seen, finals, true, nil
}

// finalRead is a record a read found final: what its result and the journal need,
// with t's strings rather than the read's copies (a listing near the end of a large
// import finds 100,000 records final together).
type finalRead struct {
	t              *tracked
	status         string
	errorCode      int
	errorName      string
	registrationID string
}

func readFinal(t *tracked, r ImportRecord) finalRead {
	return finalRead{t: t, status: importStatus(r.Status), errorCode: r.ErrorCode, errorName: r.ErrorName, registrationID: r.RegistrationID}
}

// finalReads hands the reads to finalsOf, finalsBatch at a time (converted a batch at a
// time, so that 100,000 reads never become 100,000 ImportRecords at once).
func (e *engine) finalReads(ctx context.Context, reads []finalRead) error {
	recs := make([]ImportRecord, 0, min(len(reads), finalsBatch))
	for len(reads) > 0 {
		n := min(len(reads), finalsBatch)
		recs = recs[:0]
		for _, f := range reads[:n] {
			recs = append(recs, ImportRecord{ID: f.t.id, Serial: f.t.serial, Status: f.status, ErrorCode: f.errorCode,
				ErrorName: f.errorName, RegistrationID: f.registrationID})
		}
		if err := e.finalsOf(ctx, recs); err != nil {
			return err
		}
		reads = reads[n:]
	}
	return nil
}

func (e *engine) pollErr(ctx context.Context, err error) error {
	if IsAuth(err) || ctx.Err() != nil {
		return err
	}
	// Transient (the client already retried): poll again at the next interval. The
	// failures are counted (progress shows them); a run whose polls still fail at the
	// deadline stops with the error instead of calling the devices timed out.
	e.pollFailures++
	e.lastPollErr = err
	e.lastPoll = e.now().Add(e.opts.PollMax - e.opts.PollMin)
	e.progress()
	return nil
}
