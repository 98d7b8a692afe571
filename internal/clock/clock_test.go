package clock

import (
	"testing"
	"time"
)

func TestFakeTimerMovesTheClockToItsDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tm := f.NewTimer(90 * time.Second)
	got := <-tm.C()
	if want := start.Add(90 * time.Second); !got.Equal(want) || !f.Now().Equal(want) {
		t.Fatalf("fired at %v, clock %v; want %v", got, f.Now(), want)
	}
	f.Advance(time.Second)
	if want := start.Add(91 * time.Second); !f.Now().Equal(want) {
		t.Fatalf("clock %v after Advance, want %v", f.Now(), want)
	}
}

func TestFakeNeverGoesBack(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	f.Advance(time.Minute)
	f.Advance(-time.Hour)
	<-f.NewTimer(-time.Second).C()
	if !f.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("clock moved back to %v", f.Now())
	}
	if _, ok := Clock(f).(Simulated); !ok {
		t.Fatal("the fake clock does not say it is simulated")
	}
	if _, ok := Clock(System{}).(Simulated); ok {
		t.Fatal("the system clock says it is simulated")
	}
}
