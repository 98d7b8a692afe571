package importer

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitProfile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noProfile bool
		wantHint  string
	}{{"assigned", false, ""}, {"never assigned", true, HintProfile}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(5 * time.Second)
			f.profileAfter, f.noProfile = 2*time.Minute, tc.noProfile
			f.devices["W9999"] = AutopilotDevice{ID: "reg-old", Serial: "W9999"} // already registered
			rows := append(validRows(5, "W"), Item{File: "in.csv", Line: 99, Serial: "W9999", GroupTag: "", Hardware: []byte("h")})
			var c collector
			opts := fastOpts()
			opts.PollMin, opts.PollMax, opts.Wait = 2*time.Second, 30*time.Second, time.Hour
			opts.WaitProfile = 10 * time.Minute
			sum, err := runFake(context.Background(), f, rows, opts, c.emit)
			if err != nil {
				t.Fatal(err)
			}
			assertOneResultPerRow(t, rows, &c)
			for _, d := range c.out {
				if !d.Success() || d.Hint != tc.wantHint {
					t.Errorf("%+v", d)
				}
				if tc.noProfile && d.ProfileStatus != "notAssigned" || !tc.noProfile && (!ProfileAssigned(d.ProfileStatus) || d.ProfileName != "Default profile") {
					t.Errorf("%s: profile %q %q", d.Serial, d.ProfileStatus, d.ProfileName)
				}
			}
			if tc.noProfile && (sum.Final < 10*time.Minute || sum.Final > 12*time.Minute) {
				t.Errorf("without a profile the wait ended after %v, want the 10m deadline", sum.Final)
			}
			if !tc.noProfile && sum.Final > 5*time.Minute {
				t.Errorf("assigned after 2m, but the run took %v", sum.Final)
			}
			if f.remaining() != 0 {
				t.Errorf("%d import records left: clean-up must not wait for the profiles", f.remaining())
			}
		})
	}
}

func TestAddToGroup(t *testing.T) {
	f := newFake(5 * time.Second)
	f.entraAfter = time.Minute
	f.devices["G9999"] = AutopilotDevice{ID: "reg-old", Serial: "G9999", EntraDeviceID: "entra-old"} // already registered
	rows := append(validRows(4, "G"), Item{File: "in.csv", Line: 99, Serial: "G9999", Hardware: []byte("h")})
	opts := fastOpts()
	opts.PollMin, opts.PollMax, opts.Wait = 2*time.Second, 30*time.Second, time.Hour
	opts.AddToGroup = "group-1"
	var c collector
	if _, err := runFake(context.Background(), f, rows, opts, c.emit); err != nil {
		t.Fatal(err)
	}
	assertOneResultPerRow(t, rows, &c)
	for _, d := range c.out {
		if d.Group != "added" || d.Hint != "" {
			t.Errorf("%+v", d)
		}
	}
	if n := len(f.members["group-1"]); n != len(rows) {
		t.Errorf("%d members, want %d", n, len(rows))
	}
	// A re-run adds nothing: every device is already a member.
	var again collector
	if _, err := runFake(context.Background(), f, rows, opts, again.emit); err != nil {
		t.Fatal(err)
	}
	for _, d := range again.out {
		if d.Group != "member" {
			t.Errorf("re-run: %+v", d)
		}
	}
	// An Entra object that never shows ends the wait with a hint.
	f2 := newFake(5 * time.Second)
	f2.entraAfter = 24 * time.Hour
	opts.GroupWait = 10 * time.Minute
	var c2 collector
	if _, err := runFake(context.Background(), f2, validRows(2, "H"), opts, c2.emit); err != nil {
		t.Fatal(err)
	}
	for _, d := range c2.out {
		if d.Group != "pending" || d.Hint != HintGroupPending {
			t.Errorf("no Entra object: %+v", d)
		}
	}
}

func TestSyncComesBeforeTheProfileWait(t *testing.T) {
	f := newFake(5 * time.Second)
	f.profileAfter = 5 * time.Minute
	opts := fastOpts()
	opts.NoSync = false
	opts.PollMin, opts.PollMax, opts.Wait = 2*time.Second, 30*time.Second, time.Hour
	opts.WaitProfile = 20 * time.Minute
	start := f.clk.Now()
	var c collector
	sum, err := runFake(context.Background(), f, validRows(3, "S"), opts, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if f.syncs != 1 || sum.Sync != "called" {
		t.Fatalf("%d syncs, summary %q", f.syncs, sum.Sync)
	}
	if at := f.sync.LastSync.Sub(start); at > time.Minute {
		t.Errorf("the sync came %v after the start: after the profile wait, not when the imports were final", at)
	}
}

func TestGraphDownAtTheDeadlineIsAnErrorNotATimeout(t *testing.T) {
	f := newFake(time.Hour) // never final
	down := false
	f.importHook = func(items []ImportItem, created bool) error {
		if created {
			down = true // Graph goes away right after the POST
		}
		return nil
	}
	unreachable := &HostError{Host: "graph.example", Class: ErrNetwork, Err: errors.New("connection refused")}
	f.getHook = func() error {
		if down {
			return unreachable
		}
		return nil
	}
	f.listHook = f.getHook
	var failures int
	opts := fastOpts()
	opts.PollMin, opts.PollMax, opts.Wait = 2*time.Second, 30*time.Second, 5*time.Minute
	opts.Progress = func(p Progress) { failures = max(failures, p.PollFailures) }
	var c collector
	rows := validRows(3, "D")
	_, err := runFake(context.Background(), f, rows, opts, c.emit)
	if !errors.Is(err, ErrNetwork) {
		t.Fatalf("err = %v, want the network failure", err)
	}
	assertOneResultPerRow(t, rows, &c)
	for _, d := range c.out {
		if d.Result != ResultInterrupted || d.ImportID == "" {
			t.Errorf("%+v: want interrupted with its import id (nothing is known of it)", d)
		}
	}
	if failures == 0 {
		t.Error("progress never showed the failing polls")
	}
}
