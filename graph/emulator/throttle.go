package emulator

import (
	"math"
	"time"
)

// bucket is one app's throttle state in the tenant.
type bucket struct {
	reqs, writes       []time.Time // sliding mode: times inside the window
	fixedStart         time.Time   // fixed mode
	fixedReq, fixedWri int
}

// admit decides whether a request may proceed. It returns retry > 0 when throttled.
func (s *Server) admitLocked(key string, write bool) (ok bool, retry time.Duration) {
	b := s.buckets[key]
	if b == nil {
		b = &bucket{}
		s.buckets[key] = b
	}
	now := s.clock()
	win := s.cfg.ThrottleWindow.D()
	rl, wl := s.cfg.RequestLimit, s.cfg.WriteLimit
	countThrottled := s.cfg.CountThrottled == nil || *s.cfg.CountThrottled
	if s.cfg.ThrottleMode == "fixed" {
		if b.fixedStart.IsZero() || !now.Before(b.fixedStart.Add(win)) {
			b.fixedStart, b.fixedReq, b.fixedWri = now, 0, 0
		}
		if b.fixedReq >= rl || (write && b.fixedWri >= wl) {
			if countThrottled {
				b.fixedReq++
			}
			return false, b.fixedStart.Add(win).Sub(now)
		}
		b.fixedReq++
		if write {
			b.fixedWri++
		}
		return true, 0
	}
	cut := now.Add(-win)
	b.reqs = prune(b.reqs, cut)
	b.writes = prune(b.writes, cut)
	if len(b.reqs) >= rl {
		retry = b.reqs[len(b.reqs)-rl].Add(win).Sub(now)
	}
	if write && len(b.writes) >= wl {
		if r := b.writes[len(b.writes)-wl].Add(win).Sub(now); r > retry {
			retry = r
		}
	}
	if retry > 0 || (len(b.reqs) >= rl) || (write && len(b.writes) >= wl) {
		if countThrottled {
			b.reqs = append(b.reqs, now)
		}
		if retry <= 0 {
			retry = time.Millisecond
		}
		return false, retry
	}
	b.reqs = append(b.reqs, now)
	if write {
		b.writes = append(b.writes, now)
	}
	return true, 0
}

func prune(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	if i == 0 {
		return ts
	}
	if i > len(ts)/2 && cap(ts) > 64 {
		return append(ts[:0:0], ts[i:]...) // let the old array go
	}
	return ts[i:]
}

// retryAfterSeconds turns a wait into the Retry-After value (whole seconds, at least 1).
func (s *Server) retryAfterSeconds(d time.Duration) int {
	if s.cfg.RetryAfterSeconds > 0 {
		return s.cfg.RetryAfterSeconds
	}
	n := int(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return n
}
