package importer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apimport/apimport/internal/clock"
)

// Clean-up results, one per import record the journal holds.
const (
	CleanupDeleted     = "deleted"      // the record was deleted
	CleanupWouldDelete = "would_delete" // dry run: it would be deleted
	CleanupProcessing  = "processing"   // still processing: left for the import run that collects it
	CleanupGone        = "gone"         // no longer in the tenant (deleted by someone else)
	CleanupFailed      = "failed"       // the deletion failed; it stays in the journal
)

// CleanupResult is the outcome for one import record.
type CleanupResult struct {
	ID      string
	Serial  string
	Result  string // Cleanup* constants
	Message string
}

// CleanupSummary counts a clean-up.
type CleanupSummary struct {
	Records     int            // records the journal held
	Counts      map[string]int // by Cleanup* result
	Unconfirmed int            // unconfirmed submissions: only an import run with their input settles them
	Requests    int
	Writes      int
	Elapsed     time.Duration
	Journal     string
}

// Cleanup deletes the import records an earlier run created and left in the tenant (the
// journal's records that are not deleted): final ones at once; ones still processing are
// read first and deleted only once final. Each deletion is journaled; with nothing left
// open the journal is compacted. With dryRun nothing is written: st is the journal read
// with ReadJournal and jn is nil. Records of other tools are never touched: only the
// journal's own records are candidates.
func Cleanup(ctx context.Context, svc Service, jn *Journal, st JournalState, dryRun bool, clk clock.Clock, emit func(CleanupResult)) (CleanupSummary, error) {
	if clk == nil {
		clk = clock.System{}
	}
	if emit == nil {
		emit = func(CleanupResult) {}
	}
	start := clk.Now()
	if jn != nil {
		st = jn.State()
	}
	sum := CleanupSummary{Counts: map[string]int{}, Unconfirmed: len(st.Ambiguous)}
	if jn != nil {
		sum.Journal = jn.Path()
	}
	before := svc.Stats()
	var err error
	for _, id := range st.sortedIDs() {
		r := st.Records[id]
		if r.Deleted {
			continue
		}
		sum.Records++
		var res CleanupResult
		res, err = cleanOne(ctx, svc, jn, r, dryRun)
		if res.Result != "" {
			sum.Counts[res.Result]++
			emit(res)
		}
		if err != nil {
			break
		}
	}
	after := svc.Stats()
	sum.Requests, sum.Writes = after.Requests-before.Requests, after.Writes-before.Writes
	sum.Elapsed = clk.Now().Sub(start)
	if err != nil {
		if ctx.Err() != nil {
			return sum, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		return sum, err
	}
	if jn != nil && !jn.Open() {
		err = jn.Compact()
	}
	return sum, err
}

// cleanOne settles one record; an error stops the clean-up (authentication, journal,
// cancellation), other failures are the record's result.
func cleanOne(ctx context.Context, svc Service, jn *Journal, r *OwnedRecord, dryRun bool) (CleanupResult, error) {
	res := CleanupResult{ID: r.ID, Serial: r.Serial}
	journal := func(e JournalEntry) error {
		if jn == nil {
			return nil
		}
		if err := jn.Append(e); err != nil {
			return fmt.Errorf("%w: %w", ErrJournalWrite, err)
		}
		return nil
	}
	if !r.Final {
		rec, err := svc.GetImported(ctx, r.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			res.Result, res.Message = CleanupGone, "no longer in the tenant"
			return res, journal(JournalEntry{Type: JournalDeleted, ID: r.ID, Serial: r.Serial, Message: "not found by cleanup"})
		case err != nil:
			if IsAuth(err) || ctx.Err() != nil {
				return CleanupResult{}, err
			}
			res.Result, res.Message = CleanupFailed, "reading the record: "+err.Error()
			return res, nil
		case !rec.Final():
			res.Result, res.Message = CleanupProcessing, "still processing: the next import run with this journal collects its result"
			return res, nil
		}
		if err := journal(JournalEntry{Type: JournalFinal, ID: rec.ID, Serial: r.Serial, Status: rec.Status, ErrorCode: rec.ErrorCode,
			ErrorName: rec.ErrorName, RegistrationID: rec.RegistrationID}); err != nil {
			return CleanupResult{}, err
		}
	}
	if dryRun {
		res.Result = CleanupWouldDelete
		return res, nil
	}
	if err := svc.DeleteImported(ctx, r.ID); err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return CleanupResult{}, err
		}
		res.Result, res.Message = CleanupFailed, err.Error()
		return res, nil
	}
	res.Result = CleanupDeleted
	return res, journal(JournalEntry{Type: JournalDeleted, ID: r.ID, Serial: r.Serial})
}
