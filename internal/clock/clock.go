// Package clock gives the import engine its time: the system clock in production and
// a fake clock in tests, so that engine tests never sleep.
package clock

import (
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

// Simulated is implemented by clocks whose time passes only while the program waits
// for it. Under such a clock calls take no time: a program that waits for its own
// in-flight calls before it lets a timer fire runs as a deterministic discrete-event
// simulation.
type Simulated interface {
	Simulated() bool
}

// Fake is a simulated clock: it moves only when told to (Advance) or when a timer is
// created, which fires at once and moves the clock to its deadline (never backwards).
// Safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Simulated reports true.
func (f *Fake) Simulated() bool { return true }

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

// NewTimer returns a timer that has fired: the clock is at its deadline.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.now = f.now.Add(d)
	}
	c := make(chan time.Time, 1)
	c <- f.now
	return fakeTimer{c}
}

type fakeTimer struct{ c chan time.Time }

func (t fakeTimer) C() <-chan time.Time { return t.c }
func (t fakeTimer) Stop() bool          { return false }
