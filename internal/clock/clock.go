// Package clock gives the import engine its time: the system clock in production and
// a fake clock in tests, so that engine tests never sleep.
package clock

import (
	"runtime"
	"sync"
	"time"
)

// Clock is the engine's source of time.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (System) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time { return s.t.C }
func (s sysTimer) Stop() bool          { return s.t.Stop() }

// Fake is a clock that moves only when told to (Advance), or by itself for a waiting
// engine: a timer fires, moving the clock to its deadline, once the goroutines that
// were ready when it was created have had their turn (a discrete-event simulation:
// time passes only while everything waits for it). Work that answers at once, such as
// a fake service's reply, is seen before the clock moves. Safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.now = f.now.Add(d)
	}
}

// NewTimer returns a timer due d from now. Unless stopped first, it fires after the
// other runnable goroutines have run, and the clock then jumps to its deadline (never
// backwards).
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: f.now.Add(max(d, 0))}
	f.mu.Unlock()
	go func() {
		for range 64 {
			runtime.Gosched()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return
		}
		t.fired = true
		if t.at.After(f.now) {
			f.now = t.at
		}
		t.c <- f.now
	}()
	return t
}

type fakeTimer struct {
	c              chan time.Time
	at             time.Time
	mu             sync.Mutex
	stopped, fired bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}
