package importer

import (
	"context"
	"errors"
	"time"
)

// sync triggers one Autopilot sync after registrations, updates or removals (a sync
// speeds deregistration up), unless the last one is recent.
func (e *engine) sync(ctx context.Context) {
	if e.opts.NoSync || e.synced || e.opts.Mode == ModeCorporate {
		return // corporate identifiers are not Autopilot registrations: nothing to sync
	}
	// Devices waiting for their profile are registered too (their results are held).
	if e.sum.Counts[ResultRegistered]+e.sum.Counts[ResultUpdated]+e.sum.Counts[ResultRemoved]+len(e.profiling) == 0 {
		return
	}
	e.synced = true
	info, err := e.svc.GetSyncInfo(ctx)
	// The service's 10 minutes count from the last sync call (lastManualSyncTriggerDateTime),
	// which can be later than the last finished sync.
	last := info.LastSync
	if info.LastManualSync.After(last) {
		last = info.LastManualSync
	}
	if err == nil && !last.IsZero() && e.now().Sub(last) < SyncMinInterval {
		e.sum.Sync = "skipped: last sync " + e.now().Sub(last).Round(time.Second).String() + " ago"
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
