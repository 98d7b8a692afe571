package clock

import (
	"testing"
	"time"
)

func TestFakeTimerJumpsToDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tm := f.NewTimer(90 * time.Second)
	got := <-tm.C()
	if want := start.Add(90 * time.Second); !got.Equal(want) || !f.Now().Equal(want) {
		t.Fatalf("fired at %v, clock %v; want %v", got, f.Now(), want)
	}
	if tm.Stop() {
		t.Fatal("Stop after firing reported an active timer")
	}
}

func TestFakeTimerStoppedNeverMovesTheClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tm := f.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	// A later timer still fires; the stopped one never moved the clock.
	<-f.NewTimer(time.Second).C()
	if got := f.Now(); !got.Equal(start.Add(time.Second)) {
		t.Fatalf("clock %v after a stopped 1h timer and a 1s timer", got)
	}
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
}

func TestFakeNeverGoesBack(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	f.Advance(time.Minute)
	<-f.NewTimer(-time.Second).C()
	if !f.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("clock moved back to %v", f.Now())
	}
}
