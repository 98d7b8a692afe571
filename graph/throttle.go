package graph

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Limits is the client-side throttle budget shared by every request of one Client.
// The defaults are the documented Intune enrollment bucket per app and tenant:
// 100 writes and 1000 requests per 20 seconds (graph-api.md §3). A $batch of n
// requests spends n units of the request budget.
type Limits struct {
	Window   time.Duration // sliding window; default 20s
	Writes   int           // POST/PATCH/PUT/DELETE per window; default 100
	Requests int           // all requests per window; default 1000
}

// DefaultLimits returns the documented Intune budget.
func DefaultLimits() Limits { return Limits{Window: 20 * time.Second, Writes: 100, Requests: 1000} }

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	positiveOr(&l.Window, d.Window)
	positiveOr(&l.Writes, d.Writes)
	positiveOr(&l.Requests, d.Requests)
	return l
}

// RetryPolicy is the one retry policy of a Client (the SDK's RetryHandler is not used).
type RetryPolicy struct {
	MaxRetries    int           // retries after the first attempt; 0 = default 6, negative = none
	BaseDelay     time.Duration // backoff base when no Retry-After; default 2s
	MaxDelay      time.Duration // backoff cap; default 60s
	MaxRetryAfter time.Duration // a longer Retry-After is returned as an error, not waited; default 10m
	// AttemptTimeout bounds one HTTP attempt including reading the response; default 100s.
	AttemptTimeout time.Duration

	// Until the Graph host has answered once (the pre-flight), a connection that
	// could not be made (refused, unknown name, unreachable, connect timeout) is
	// retried at most ConnectRetries times (default 2, negative none), ConnectDelay
	// apart (default 500ms), and never after NetworkDeadline from the first
	// attempt (default 10s): a wrong or unreachable --graph-url is reported in
	// seconds. Afterwards connect failures follow MaxRetries and the backoff.
	ConnectRetries  int
	ConnectDelay    time.Duration
	NetworkDeadline time.Duration
}

// DefaultRetryPolicy returns the defaults described on RetryPolicy.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 6, BaseDelay: 2 * time.Second, MaxDelay: 60 * time.Second,
		MaxRetryAfter: 10 * time.Minute, AttemptTimeout: 100 * time.Second,
		ConnectRetries: 2, ConnectDelay: 500 * time.Millisecond, NetworkDeadline: 10 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	countOrNone(&p.MaxRetries, d.MaxRetries)
	positiveOr(&p.BaseDelay, d.BaseDelay)
	positiveOr(&p.MaxDelay, d.MaxDelay)
	p.MaxDelay = max(p.MaxDelay, p.BaseDelay)
	positiveOr(&p.MaxRetryAfter, d.MaxRetryAfter)
	positiveOr(&p.AttemptTimeout, d.AttemptTimeout)
	countOrNone(&p.ConnectRetries, d.ConnectRetries)
	positiveOr(&p.ConnectDelay, d.ConnectDelay)
	positiveOr(&p.NetworkDeadline, d.NetworkDeadline)
	return p
}

// positiveOr sets *v to d unless it is positive.
func positiveOr[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// countOrNone reads a count where 0 means the default d and a negative value none.
func countOrNone(v *int, d int) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

// backoff returns the wait before retry number attempt (0-based): full jitter,
// uniform in [0, min(MaxDelay, BaseDelay*2^attempt)].
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceil := p.BaseDelay
	for i := 0; i < attempt && ceil < p.MaxDelay; i++ {
		ceil *= 2
	}
	if ceil > p.MaxDelay {
		ceil = p.MaxDelay
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// limiter is a sliding-window budget for requests and writes, plus a global pause
// set when the service throttles (throttling is per app, so one 429 stops everyone).
type limiter struct {
	mu          sync.Mutex
	lim         Limits
	keep        time.Duration // how long an admission counts: Window plus a safety margin
	reqs        []admission
	writes      []admission
	pausedUntil time.Time
	now         func() time.Time
}

type admission struct {
	at time.Time
	n  int
}

func newLimiter(l Limits) *limiter {
	l = l.withDefaults()
	// The margin absorbs network delay between our admission and the service's
	// clock, so the service never sees more than the budget in one window.
	return &limiter{lim: l, keep: l.Window + l.Window/20, now: time.Now}
}

// acquire blocks until n requests, w of them writes, fit the budget and no pause
// is in force, then records them. It returns ctx.Err() when ctx ends first.
func (l *limiter) acquire(ctx context.Context, n, w int) error {
	n = min(max(n, 1), l.lim.Requests)
	w = min(max(w, 0), l.lim.Writes)
	for {
		l.mu.Lock()
		now := l.now()
		wait := l.pausedUntil.Sub(now)
		if wait <= 0 {
			l.reqs = prune(l.reqs, now.Add(-l.keep))
			l.writes = prune(l.writes, now.Add(-l.keep))
			wait = max(l.waitFor(l.reqs, n, l.lim.Requests, now), l.waitFor(l.writes, w, l.lim.Writes, now))
			if wait <= 0 {
				l.reqs = append(l.reqs, admission{now, n})
				if w > 0 {
					l.writes = append(l.writes, admission{now, w})
				}
				l.mu.Unlock()
				return nil
			}
		}
		l.mu.Unlock()
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// waitFor returns how long until n more units fit under limit in events.
func (l *limiter) waitFor(events []admission, n, limit int, now time.Time) time.Duration {
	if n == 0 {
		return 0
	}
	used := 0
	for _, e := range events {
		used += e.n
	}
	if used+n <= limit {
		return 0
	}
	for _, e := range events {
		used -= e.n
		if used+n <= limit {
			return e.at.Add(l.keep).Sub(now) + time.Millisecond
		}
	}
	return time.Millisecond
}

func prune(events []admission, cutoff time.Time) []admission {
	i := 0
	for i < len(events) && !events[i].at.After(cutoff) {
		i++
	}
	if i == 0 {
		return events
	}
	return append(events[:0], events[i:]...)
}

// pause stops every request for d from now (it never shortens a pause in force).
func (l *limiter) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
