package graph

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBackoffFullJitterBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: 2 * time.Second, MaxDelay: 60 * time.Second}.withDefaults()
	for attempt, ceil := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second} {
		var maxSeen time.Duration
		for i := 0; i < 200; i++ {
			d := p.backoff(attempt)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceil)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceil/2 {
			t.Errorf("attempt %d: max of 200 draws %v, jitter does not span [0, %v]", attempt, maxSeen, ceil)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxRetries != 6 || p.BaseDelay != 2*time.Second || p.MaxDelay != time.Minute {
		t.Errorf("defaults = %+v", p)
	}
	if p := (RetryPolicy{MaxRetries: -1}).withDefaults(); p.MaxRetries != 0 {
		t.Errorf("negative MaxRetries = %d, want 0", p.MaxRetries)
	}
	l := Limits{}.withDefaults()
	if l.Writes != 100 || l.Requests != 1000 || l.Window != 20*time.Second {
		t.Errorf("limits = %+v", l)
	}
}

func TestLimiterPauseAndCancel(t *testing.T) {
	l := newLimiter(Limits{Window: time.Second, Writes: 1, Requests: 10})
	l.pause(300 * time.Millisecond)
	start := time.Now()
	if err := l.acquire(context.Background(), 1, 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("acquire during a pause returned after %v", d)
	}
	if err := l.acquire(context.Background(), 1, 1); err != nil { // the one write of the window
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.acquire(ctx, 1, 1); err != context.DeadlineExceeded {
		t.Errorf("second write in the window: err = %v, want deadline exceeded", err)
	}
	// a batch bigger than the budget is clamped, not deadlocked
	l2 := newLimiter(Limits{Window: time.Second, Writes: 1, Requests: 5})
	if err := l2.acquire(context.Background(), 50, 0); err != nil {
		t.Fatal(err)
	}
}

// TestLimiterNeverExceedsBudget sends concurrent reads and writes through the
// full client and counts, on the server's clock, requests and writes in every
// window: neither may exceed the budget.
func TestLimiterNeverExceedsBudget(t *testing.T) {
	const window = time.Second
	lim := Limits{Window: window, Writes: 4, Requests: 10}
	var mu sync.Mutex
	type hit struct {
		at    time.Time
		write bool
	}
	var hits []hit
	srv := newStub(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		mu.Lock()
		hits = append(hits, hit{time.Now(), r.Method != "GET"})
		mu.Unlock()
		if r.Method == "DELETE" {
			w.WriteHeader(204)
			return
		}
		writeJSON(w, 200, importedJSON("a", "S", "complete"))
	})
	c, _ := newTestClient(t, srv.URL, func(cfg *ClientConfig) { cfg.Limits = lim })
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				var err error
				if g%2 == 0 {
					err = c.DeleteImported(context.Background(), "a")
				} else {
					_, err = c.GetImported(context.Background(), "a")
				}
				if err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	if len(hits) != 30 {
		t.Fatalf("%d requests reached the server, want 30", len(hits))
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].at.Before(hits[j].at) })
	for i := range hits {
		reqs, writes := 0, 0
		// windows of 0.9 s: tolerance for scheduling delay between the client's
		// admission and the server's clock on a loaded machine
		for j := i; j < len(hits) && hits[j].at.Sub(hits[i].at) < window*9/10; j++ {
			reqs++
			if hits[j].write {
				writes++
			}
		}
		if reqs > lim.Requests || writes > lim.Writes {
			t.Fatalf("window starting at request %d holds %d requests and %d writes; budget %d/%d", i, reqs, writes, lim.Requests, lim.Writes)
		}
	}
	// 15 writes at 4 per window need at least 3 full windows
	if span := hits[len(hits)-1].at.Sub(hits[0].at); span < 3*window*9/10 {
		t.Errorf("30 requests took %v; the budget cannot have been enforced", span)
	}
	if st := c.Stats(); st.Requests != 30 || st.Writes != 15 {
		t.Errorf("stats = %+v", st)
	}
}
