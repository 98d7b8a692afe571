package importer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func writeScenario() *fakeService {
	f := newFake(time.Second)
	f.devices["U0000"] = AutopilotDevice{ID: "reg-0", Serial: "U0000", GroupTag: "Old"}
	f.devices["U0001"] = AutopilotDevice{ID: "reg-1", Serial: "U0001", GroupTag: "Sales", DisplayName: "PC-1"}
	f.devices["U0002"] = AutopilotDevice{ID: "reg-2", Serial: "U0002", GroupTag: "Old", UserPrincipalName: "a@contoso.com"}
	f.managed["U0002"] = ManagedDevice{ID: "md-2", Serial: "U0002", DeviceName: "DESKTOP-2"}
	return f
}

func TestUpdateWritesOnlyWhatDiffers(t *testing.T) {
	items := []Item{
		{File: "d.csv", Line: 2, Serial: "U0000", GroupTag: "Sales"},                      // tag differs
		{File: "d.csv", Line: 3, Serial: "U0001", GroupTag: "Sales", DisplayName: "PC-1"}, // same
		{File: "d.csv", Line: 4, Serial: "U0002", DisplayName: "Kiosk-2"},                 // only the name
		{File: "d.csv", Line: 5, Serial: "U0009", GroupTag: "Sales"},                      // not registered
	}
	want := map[string]string{"U0000": ResultUpdated, "U0001": ResultUnchanged, "U0002": ResultUpdated, "U0009": ResultNotRegistered}
	wantPlan := map[string]string{"U0000": ResultUpdate, "U0001": ResultUnchanged, "U0002": ResultUpdate, "U0009": ResultNotRegistered}
	f := writeScenario()
	var plan collector
	opts := fastOpts()
	opts.Mode, opts.DryRun = ModeUpdate, true
	if _, err := runFake(context.Background(), f, items, opts, plan.emit); err != nil {
		t.Fatal(err)
	}
	if f.stats.Writes != 0 {
		t.Fatalf("the dry run wrote %d times", f.stats.Writes)
	}
	jn, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), Binding{Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	defer jn.Close()
	var real collector
	opts.DryRun, opts.Journal = false, jn
	if _, err := runFake(context.Background(), f, items, opts, real.emit); err != nil {
		t.Fatal(err)
	}
	for s, w := range want {
		if got := resultOf(&real, s); got.Result != w {
			t.Errorf("%s: %+v, want %s", s, got, w)
		}
		if got := resultOf(&plan, s); got.Result != wantPlan[s] {
			t.Errorf("plan %s: %+v, want %s", s, got, wantPlan[s])
		}
	}
	if len(f.updates) != 2 {
		t.Errorf("%d devices written, want 2: %v", len(f.updates), f.updates)
	}
	if u := f.updates["reg-2"]; u.GroupTag != nil || u.UserPrincipalName != nil || u.DisplayName == nil || *u.DisplayName != "Kiosk-2" {
		t.Errorf("reg-2 update %+v: only the display name differs", u)
	}
	if f.devices["U0000"].GroupTag != "Sales" || f.devices["U0002"].DisplayName != "Kiosk-2" {
		t.Errorf("tenant after the update: %+v", f.devices)
	}
	// A re-run changes nothing.
	before := f.stats.Writes
	var again collector
	if _, err := runFake(context.Background(), f, items, opts, again.emit); err != nil {
		t.Fatal(err)
	}
	if f.stats.Writes-before > 1 { // the sync at most
		t.Errorf("the re-run wrote %d times", f.stats.Writes-before)
	}
}

func TestRemoveFollowsMicrosoftsOrder(t *testing.T) {
	items := []Item{{File: "r.csv", Line: 2, Serial: "U0000"}, {File: "r.csv", Line: 3, Serial: "U0002"}, {File: "r.csv", Line: 4, Serial: "U0009"}}
	for _, deleteManaged := range []bool{false, true} {
		f := writeScenario()
		opts := fastOpts()
		opts.Mode, opts.DryRun, opts.DeleteManaged = ModeRemove, true, deleteManaged
		var plan collector
		if _, err := runFake(context.Background(), f, items, opts, plan.emit); err != nil {
			t.Fatal(err)
		}
		if f.stats.Writes != 0 || len(f.devices) != 3 {
			t.Fatalf("the dry run wrote %d times", f.stats.Writes)
		}
		var real collector
		opts.DryRun = false
		if _, err := runFake(context.Background(), f, items, opts, real.emit); err != nil {
			t.Fatal(err)
		}
		enrolled := ResultRefused
		planned := ResultRefused
		if deleteManaged {
			enrolled, planned = ResultRemoved, ResultRemove
		}
		want := map[string][2]string{"U0000": {ResultRemove, ResultRemoved}, "U0002": {planned, enrolled}, "U0009": {ResultNotRegistered, ResultNotRegistered}}
		for s, w := range want {
			if p, r := resultOf(&plan, s), resultOf(&real, s); p.Result != w[0] || r.Result != w[1] {
				t.Errorf("delete-managed %v, %s: plan %s, real %+v; want %v", deleteManaged, s, p.Result, r, w)
			}
		}
		if _, ok := f.devices["U0000"]; ok {
			t.Error("U0000 still registered")
		}
		if _, ok := f.devices["U0002"]; ok != !deleteManaged {
			t.Errorf("delete-managed %v: U0002 registered %v", deleteManaged, ok)
		}
		if deleteManaged {
			// Intune first, then the user, then Autopilot.
			if len(f.deletedManaged) != 1 || len(f.unassigned) != 1 || f.unassigned[0] != "reg-2" {
				t.Errorf("managed deleted %v, unassigned %v", f.deletedManaged, f.unassigned)
			}
		} else if len(f.deletedManaged) != 0 {
			t.Errorf("deleted the Intune record without --delete-managed: %v", f.deletedManaged)
		}
	}
}

func TestRemoveBulk(t *testing.T) {
	for _, offered := range []bool{true, false} {
		f := newFake(time.Second)
		for i := range 150 {
			sn := fmt.Sprintf("B%04d", i)
			f.devices[sn] = AutopilotDevice{ID: "reg-" + sn, Serial: sn}
		}
		f.devices["B0007"] = AutopilotDevice{ID: "reg-B0007", Serial: "B0007", UserPrincipalName: "u@contoso.com"} // not bulk: a user first
		f.noBulk = !offered
		var items []Item
		for i := range 150 {
			items = append(items, Item{File: "r.csv", Line: i + 2, Serial: fmt.Sprintf("B%04d", i)})
		}
		opts := fastOpts()
		opts.Mode, opts.BulkDelete = ModeRemove, true
		var c collector
		sum, err := runFake(context.Background(), f, items, opts, c.emit)
		if err != nil {
			t.Fatal(err)
		}
		assertOneResultPerRow(t, items, &c)
		for _, d := range c.out {
			if d.Result != ResultRemoved {
				t.Errorf("offered %v: %+v", offered, d)
			}
		}
		if len(f.devices) != 0 {
			t.Errorf("offered %v: %d devices left", offered, len(f.devices))
		}
		if offered && (f.bulkCalls != 2 || sum.BulkFallback) {
			t.Errorf("%d bulk calls (want 2 for 149 serials), fallback %v", f.bulkCalls, sum.BulkFallback)
		}
		// Refused: at most one call per worker already in flight, then single DELETEs.
		if !offered && (f.bulkCalls < 1 || f.bulkCalls > DefaultConcurrency || !sum.BulkFallback) {
			t.Errorf("refused action: %d bulk calls, fallback %v", f.bulkCalls, sum.BulkFallback)
		}
	}
}
