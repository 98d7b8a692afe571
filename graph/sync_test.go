package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apimport/apimport/graph/emulator"
	"github.com/apimport/apimport/importer"
)

// syncStub answers the sync with statuses in order (then 204) and reports the
// last manual trigger as lastManual.
func syncStub(t *testing.T, lastManual time.Time, retryAfter string, statuses ...int) (*stubServer, *atomic.Int32) {
	t.Helper()
	var syncs atomic.Int32
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		if r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/windowsAutopilotSettings") {
			writeJSON(w, 200, map[string]any{"lastSyncDateTime": lastManual.Format(time.RFC3339),
				"lastManualSyncTriggerDateTime": lastManual.Format(time.RFC3339), "syncStatus": "completed"})
			return
		}
		i := int(syncs.Add(1))
		if i <= len(statuses) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeJSON(w, statuses[i-1], map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "Please retry again later."}})
			return
		}
		w.WriteHeader(204)
	})
	return srv, &syncs
}

// TestSyncThrottlingIsNotTooSoon: a 429 on the sync when the last manual trigger
// is over 10 minutes old is throttling: it is retried and the sync happens
// (issue 8 item 9); a 429 within 10 minutes is ErrSyncTooSoon and not retried.
func TestSyncThrottlingIsNotTooSoon(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	t.Run("throttled, then accepted", func(t *testing.T) {
		srv, syncs := syncStub(t, now.Add(-time.Hour), "0", 429, 429)
		c, _ := newTestClient(t, srv.URL, nil)
		c.clock = func() time.Time { return now }
		if err := c.Sync(context.Background()); err != nil {
			t.Fatalf("sync: %v", err)
		}
		if syncs.Load() != 3 {
			t.Errorf("%d sync calls, want 3", syncs.Load())
		}
	})
	t.Run("never a manual sync before", func(t *testing.T) {
		srv, syncs := syncStub(t, time.Time{}, "", 429)
		c, _ := newTestClient(t, srv.URL, nil)
		if err := c.Sync(context.Background()); err != nil || syncs.Load() != 2 {
			t.Fatalf("sync: %v after %d calls", err, syncs.Load())
		}
	})
	t.Run("too soon", func(t *testing.T) {
		srv, syncs := syncStub(t, now.Add(-4*time.Minute), "360", 429)
		c, _ := newTestClient(t, srv.URL, nil)
		c.clock = func() time.Time { return now }
		err := c.Sync(context.Background())
		if !errors.Is(err, importer.ErrSyncTooSoon) || errors.Is(err, importer.ErrThrottled) {
			t.Fatalf("err = %v, want ErrSyncTooSoon only", err)
		}
		if syncs.Load() != 1 {
			t.Errorf("%d sync calls, want 1", syncs.Load())
		}
	})
	t.Run("throttled to the end", func(t *testing.T) {
		srv, syncs := syncStub(t, now.Add(-time.Hour), "0", 429, 429, 429, 429, 429)
		c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.Retry.MaxRetries = 2 })
		c.clock = func() time.Time { return now }
		err := c.Sync(context.Background())
		assertOneClass(t, err, importer.ErrThrottled)
		if errors.Is(err, importer.ErrSyncTooSoon) || syncs.Load() != 3 {
			t.Errorf("err = %v after %d calls, want ErrThrottled after 3", err, syncs.Load())
		}
	})
	t.Run("Retry-After past the deadline", func(t *testing.T) {
		srv, syncs := syncStub(t, now.Add(-time.Hour), "30", 429)
		c, _ := newTestClient(t, srv.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := c.Sync(ctx)
		assertOneClass(t, err, importer.ErrThrottled)
		if d := time.Since(start); d > time.Second || syncs.Load() != 1 {
			t.Errorf("returned after %v and %d calls; want at once: the 30 s wait ends after the deadline", d, syncs.Load())
		}
	})
}

// TestEmulatorSyncThrottled: the emulator's throttled sync (sync_throttled) is
// retried into a real sync; the next call is the 10-minute rule.
func TestEmulatorSyncThrottled(t *testing.T) {
	srv := startEmulator(t, func(c *emulator.Config) {
		c.SyncThrottled = 2
		c.OmitRetryAfter = true
		c.SyncDuration = emulator.Duration(time.Millisecond)
	})
	c := emuClient(t, srv, secretCred(t, srv), nil)
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("throttled sync: %v", err)
	}
	if n := countReq(srv.Requests(), "POST", "/windowsAutopilotSettings/sync"); n != 3 {
		t.Errorf("%d sync calls, want 3 (2 throttled)", n)
	}
	if st := srv.Snapshot().Settings; st.LastManualSyncTriggerDateTime.IsZero() {
		t.Error("no sync happened")
	}
	time.Sleep(5 * time.Millisecond) // past sync_duration (1ms): completed, within the cooldown
	if err := c.Sync(ctx); !errors.Is(err, importer.ErrSyncTooSoon) {
		t.Errorf("second sync: %v, want ErrSyncTooSoon", err)
	}
}
