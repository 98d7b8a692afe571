package importer

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCleanupEndsAtItsBudgetWhenThrottled: a deletion waiting for the client's write
// throttle when the clean-up budget ends is given up, so the run ends at the budget,
// not when the throttle window frees (issue 7: exit within 1.25x of the time to the last
// result). Before, with 1,200 devices and the default 100 writes / 20 s, the run ended
// ~20 s after the budget. The sync comes before the deletions, so it never waits for
// the budget they used up. The records not deleted stay in the journal, not as errors.
func TestCleanupEndsAtItsBudgetWhenThrottled(t *testing.T) {
	f := newFake(3 * time.Second)
	rows := validRows(40, "TB")
	opts := fastOpts()
	opts.NoSync = false
	opts.ChunkSize = 20
	opts.CleanupTimeout = 50 * time.Millisecond // real time is what a throttled call waits
	jn, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), Binding{Tenant: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	opts.Journal = jn
	// The fake cannot block on the client's throttle: emulate the waiting call with a
	// service whose DeleteImported blocks until its context ends (or 2 s real).
	svc := &throttledDeletes{fakeService: f, after: 3}
	var c collector
	opts.Clock = f.clk
	sum, err := Run(context.Background(), svc, rows, opts, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	assertOneResultPerRow(t, rows, &c)
	if sum.Counts[ResultRegistered] != len(rows) {
		t.Fatalf("results %v", sum.Counts)
	}
	if extra := sum.Elapsed - sum.Final; extra > 5*time.Second {
		t.Errorf("the run ended %v after the last result (clean-up budget %v): a throttled deletion held it", extra, opts.CleanupTimeout)
	}
	if sum.Deleted != 3 || sum.DeleteErrors != 0 || len(sum.Leftover) != len(rows)-3 {
		t.Errorf("deleted %d, delete errors %d, left %d; want 3, 0, %d", sum.Deleted, sum.DeleteErrors, len(sum.Leftover), len(rows)-3)
	}
	if sum.Sync != "called" || !svc.syncFirst {
		t.Errorf("sync %q, before the deletions %v; want called, before", sum.Sync, svc.syncFirst)
	}
	if st := jn.State(); len(st.Leftovers()) != len(rows)-3 {
		t.Errorf("the journal keeps %d records, want %d", len(st.Leftovers()), len(rows)-3)
	}
}

// throttledDeletes: after `after` deletions, DeleteImported waits like a client whose
// write budget is spent: until its context ends (the error is the context's), or 2 s of
// real time, after which the window has freed (20 s on the fake clock) and it deletes.
type throttledDeletes struct {
	*fakeService
	mu        sync.Mutex
	after, n  int
	syncFirst bool // the sync was called before the first deletion
}

func (s *throttledDeletes) DeleteImported(ctx context.Context, id string) error {
	s.mu.Lock()
	s.n++
	n := s.n
	if n == 1 {
		s.syncFirst = s.syncCount() > 0
	}
	s.mu.Unlock()
	if n > s.after {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
			s.clk.Advance(20 * time.Second)
		}
	}
	return s.fakeService.DeleteImported(ctx, id)
}

func (s *throttledDeletes) syncCount() int {
	s.fakeService.mu.Lock()
	defer s.fakeService.mu.Unlock()
	return s.syncs
}
