package importer

import (
	"context"
	"fmt"
)

// precheck is the tenant state for the devices of this run, read with GETs only.
type precheck struct {
	devices map[string][]AutopilotDevice // serial key -> registered devices (candidates only)
	imports map[string][]ImportRecord    // serial key -> import records
	byID    map[string]ImportRecord      // every import record in the tenant
}

// precheck reads the registered devices (FindDevices per serial for few devices, one
// listing for many) and lists the import records once.
func (e *engine) precheck(ctx context.Context, devs []*devState) (*precheck, error) {
	pc := &precheck{devices: map[string][]AutopilotDevice{}, imports: map[string][]ImportRecord{}, byID: map[string]ImportRecord{}}
	want := map[string]bool{}
	var todo []*devState
	for _, d := range devs {
		if !d.done {
			want[d.key] = true
			todo = append(todo, d)
		}
	}
	if len(todo) > e.opts.LookupThreshold {
		err := e.svc.ListDevices(ctx, func(a AutopilotDevice) bool {
			if k := SerialKey(a.Serial); want[k] {
				pc.devices[k] = append(pc.devices[k], a)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("listing registered Autopilot devices: %w", err)
		}
	} else {
		for _, d := range todo {
			found, err := e.svc.FindDevices(ctx, d.res.Serial)
			if err != nil {
				return nil, fmt.Errorf("looking up serial %s: %w", d.res.Serial, err)
			}
			for _, a := range found {
				if SerialKey(a.Serial) == d.key {
					pc.devices[d.key] = append(pc.devices[d.key], a)
				}
			}
		}
	}
	before := e.svc.Stats().Requests
	n := 0
	err := e.svc.ListImported(ctx, func(r ImportRecord) bool {
		n++
		pc.byID[r.ID] = r
		k := SerialKey(r.Serial)
		pc.imports[k] = append(pc.imports[k], r)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("listing import records: %w", err)
	}
	e.noteListCost(e.svc.Stats().Requests-before, n)
	return pc, nil
}

// plan emits the dry-run results: new, already_registered, update or pending per device.
// Offline, every valid device is new. Nothing is written, the journal included.
func (e *engine) plan(ctx context.Context) error {
	if e.opts.Offline || e.svc == nil {
		for _, d := range e.devs {
			e.finish(d, e.deviceResult(d, ResultNew))
		}
		return nil
	}
	pc, err := e.precheck(ctx, e.devs)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	js := e.journalState()
	for _, d := range e.devs {
		if d.done {
			continue
		}
		if reg := pc.devices[d.key]; len(reg) > 0 {
			res := ResultAlreadyRegistered
			r := e.deviceResult(d, res)
			if differs(d.item, reg[0]) {
				r.Result = ResultUpdate
				r.Message = fmt.Sprintf("registered with group tag %q, user %q", reg[0].GroupTag, reg[0].UserPrincipalName)
				if !e.opts.UpdateExisting {
					r.Hint = HintTagDiffers
				}
			}
			r.RegistrationID = reg[0].ID
			e.finish(d, r)
			continue
		}
		pending := false
		var importID string
		for _, rec := range pc.imports[d.key] {
			if !rec.Final() {
				pending, importID = true, rec.ID
				break
			}
		}
		if owned := js.Latest(d.key); owned != nil && !owned.Final && !owned.Deleted {
			if _, ok := pc.byID[owned.ID]; ok {
				pending, importID = true, owned.ID
			}
		}
		if pending {
			r := e.deviceResult(d, ResultPending)
			r.ImportID = importID
			r.Message = "an import record for this serial is still processing"
			_, ambiguous := js.Ambiguous[d.key]
			if owned := js.Latest(d.key); !ambiguous && (owned == nil || owned.ID != importID) {
				r.Hint = HintForeign
			}
			e.finish(d, r)
			continue
		}
		e.finish(d, e.deviceResult(d, ResultNew))
	}
	return nil
}
