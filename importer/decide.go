package importer

import (
	"context"
	"fmt"
	"strings"

	"github.com/apimport/apimport/internal/serial"
)

// precheck is the tenant state for the devices of this run, read with GETs only. A
// re-run of a large import finds 100,000 registered devices and import records, so it
// keeps of each only what the decisions read.
type precheck struct {
	devices map[string][]registered    // serial key -> registered devices (candidates only)
	imports map[string][]*ImportRecord // serial key -> the import records a decision can read (see precheck)
	byID    map[string]*ImportRecord   // the same records by id
	managed map[string][]ManagedDevice // remove: serial key -> Intune managed devices
}

// registered is what the decisions read of a registered device.
type registered struct {
	ID, Serial, GroupTag, UserPrincipalName, DisplayName string
}

func registeredOf(a AutopilotDevice) registered {
	return registered{ID: a.ID, Serial: a.Serial, GroupTag: a.GroupTag, UserPrincipalName: a.UserPrincipalName, DisplayName: a.DisplayName}
}

// precheck reads the registered devices (FindDevices per serial for few devices, one
// listing for many) and lists the import records once. It keeps a listed record only
// when a decision can read it: the journal owns it and does not know its outcome yet,
// or it is another's record of a serial of this input or of an unconfirmed intent. The
// ids of the others' records of this input's serials go to e.before: none of them can
// be the outcome of a POST of this run.
func (e *engine) precheck(ctx context.Context, js JournalState) (*precheck, error) {
	pc := &precheck{devices: map[string][]registered{}, imports: map[string][]*ImportRecord{}, byID: map[string]*ImportRecord{}}
	if err := e.findRegistered(ctx, pc); err != nil {
		return nil, err
	}
	e.before = map[string]bool{}
	before := e.svc.Stats().Requests
	n := 0
	err := e.svc.ListImported(ctx, func(r ImportRecord) bool {
		n++
		k := serial.Key(r.Serial)
		inInput := e.byKey[k] != nil
		own, owned := js.Records[r.ID]
		if inInput && !owned {
			e.before[r.ID] = true
		}
		if _, amb := js.Ambiguous[k]; owned && own.Final || !owned && !inInput && !amb {
			return true
		}
		rec := &ImportRecord{ID: r.ID, Serial: r.Serial, Status: importStatus(r.Status), ErrorCode: r.ErrorCode,
			ErrorName: r.ErrorName, RegistrationID: r.RegistrationID}
		pc.byID[r.ID] = rec
		pc.imports[k] = append(pc.imports[k], rec)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("listing import records: %w", err)
	}
	e.noteListCost(e.svc.Stats().Requests-before, n)
	return pc, nil
}

// findRegistered fills pc.devices: FindDevices per serial for few devices, one listing
// for many.
func (e *engine) findRegistered(ctx context.Context, pc *precheck) error {
	var todo []*devState
	for _, d := range e.devs {
		if d.phase != phaseDone {
			todo = append(todo, d)
		}
	}
	if len(todo) > e.opts.LookupThreshold {
		err := e.svc.ListDevices(ctx, func(a AutopilotDevice) bool {
			if k := serial.Key(a.Serial); e.byKey[k] != nil {
				pc.devices[k] = append(pc.devices[k], registeredOf(a))
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("listing registered Autopilot devices: %w", err)
		}
		return nil
	}
	for _, d := range todo {
		found, err := e.svc.FindDevices(ctx, d.item.Serial)
		if err != nil {
			return fmt.Errorf("looking up serial %s: %w", d.item.Serial, err)
		}
		for _, a := range found {
			if serial.Key(a.Serial) == d.key {
				pc.devices[d.key] = append(pc.devices[d.key], registeredOf(a))
			}
		}
	}
	return nil
}

// decisionKind is what the run does with a device; the dry run reports it, the real
// run carries it out. Both come from decide, so the plan is the run.
type decisionKind uint8

const (
	decPost    decisionKind = iota // import it
	decUpdate                      // registered with other values: updateDeviceProperties
	decDone                        // nothing to send: the result is known (already registered)
	decCollect                     // an import record for it exists: its state decides
	decRemove                      // remove: deregister it
)

// A decision is kept per device between decide and execute (100,000 of them in a large
// import), so what only some kinds need sits behind pointers.
type decision struct {
	dev    *devState
	kind   decisionKind
	result *DeviceResult // decDone
	rec    *tracked      // decCollect
	final  *ImportRecord // decCollect: the record is already final
	reg    *registered   // decUpdate, decRemove
	write  *writePlan    // update runs (decUpdate, decRemove): what to write
}

// writePlan is what an update or remove run writes for a device.
type writePlan struct {
	upd     DeviceUpdate    // update: the properties to set (only those that differ)
	changes []string        // update: what changes, described
	managed []ManagedDevice // remove: Intune managed devices to delete first
	remove  bool            // a deregistration, not an update
}

// decisions is the work of a run, decided from the pre-check and the journal before
// anything is written.
type decisions struct {
	devs []decision
	// records of earlier runs for serials not in this input
	leftTrack  []*tracked     // ours, not final: polled, then deleted
	leftFinals []ImportRecord // ours, final in the listing: recorded, then deleted
	leftDelete []string       // ours, final in the journal: deleted
	journal    []JournalEntry // adopt and not-found entries that settle the journal
}

// survey reads the tenant (precheck) and decides every device from it and the journal,
// both read once: the plan and the run start here. It writes nothing.
func (e *engine) survey(ctx context.Context) (*decisions, error) {
	js := e.journalState()
	pc, err := e.precheck(ctx, js)
	if err != nil {
		return nil, err
	}
	return e.decide(pc, js.indexed()), nil
}

// decide turns the pre-check and the journal (js, indexed: the state the pre-check read
// with) into decisions. It writes nothing.
func (e *engine) decide(pc *precheck, js JournalState) *decisions {
	e.existing = map[string][]string{}
	for key, recs := range pc.imports {
		if e.byKey[key] == nil {
			continue
		}
		for _, r := range recs {
			e.existing[key] = append(e.existing[key], r.ID)
		}
	}
	ds := &decisions{devs: make([]decision, 0, len(e.devs))}
	// Earlier runs' records for serials that are not in this input.
	for _, id := range js.sortedIDs() {
		r := js.Records[id]
		if r.Deleted {
			continue
		}
		if k := serial.Key(r.Serial); e.byKey[k] != nil && js.Latest(k).ID == r.ID {
			continue // decided with its device below
		}
		switch rec, listed := pc.byID[r.ID]; {
		case r.Final:
			ds.leftDelete = append(ds.leftDelete, r.ID)
		case !listed:
			ds.journal = append(ds.journal, JournalEntry{Type: JournalDeleted, ID: r.ID, Serial: r.Serial, Message: "not found at start"})
		default:
			t := &tracked{id: r.ID, serial: r.Serial, ours: true, submitted: e.start, seen: true}
			ds.leftTrack = append(ds.leftTrack, t)
			if rec.Final() {
				ds.leftFinals = append(ds.leftFinals, *rec)
			}
		}
	}
	for _, key := range js.sortedAmbiguous() {
		if e.byKey[key] != nil {
			continue
		}
		// An unconfirmed POST for a serial not in this input: adopt the one record it
		// may have created, like for a serial in the input.
		amb := js.Ambiguous[key]
		rec, ok := adoptable(pc.imports[key], js, amb)
		if !ok {
			ds.journal = append(ds.journal, JournalEntry{Type: JournalAdopt, Chunk: amb.Chunk, Serial: key})
			continue
		}
		ds.journal = append(ds.journal, JournalEntry{Type: JournalAdopt, Chunk: amb.Chunk, ID: rec.ID, Serial: rec.Serial})
		ds.leftTrack = append(ds.leftTrack, &tracked{id: rec.ID, serial: rec.Serial, ours: true, submitted: e.start, seen: true})
		if rec.Final() {
			ds.leftFinals = append(ds.leftFinals, rec)
		}
	}
	for _, d := range e.devs {
		if d.phase == phaseDone {
			continue
		}
		dc, entries := e.decideDevice(d, pc, js)
		ds.journal = append(ds.journal, entries...)
		ds.devs = append(ds.devs, dc) // e.existing stays whole: a device decided otherwise can still be posted (a 640 retry, a vanished record)
	}
	return ds
}

// decideDevice decides one device, returning the journal entries that settle what the
// journal knew of it.
func (e *engine) decideDevice(d *devState, pc *precheck, js JournalState) (decision, []JournalEntry) {
	var entries []JournalEntry
	owned := js.Latest(d.key)
	d.attempts = js.countOwned(d.key)
	// An unconfirmed POST is always newer than the serial's owned records (a serial is
	// posted again only after its last record is final or gone), so what it may have
	// created decides first: adopting it keeps a re-run from posting the serial while
	// that import may be live.
	if amb, ok := js.Ambiguous[d.key]; ok {
		if rec, ok := adoptable(pc.imports[d.key], js, amb); ok {
			entries = append(entries, JournalEntry{Type: JournalAdopt, Chunk: amb.Chunk, ID: rec.ID, Serial: rec.Serial})
			d.attempts++
			dc := decision{dev: d, kind: decCollect, rec: &tracked{id: rec.ID, serial: rec.Serial, ours: true, submitted: e.start, seen: true}}
			if rec.Final() {
				dc.final = &rec
			}
			return dc, entries
		}
		entries = append(entries, JournalEntry{Type: JournalAdopt, Chunk: amb.Chunk, Serial: d.item.Serial})
	}
	// A completed import whose device is no longer registered (deleted since by an
	// admin) is history: import the device again.
	gone := owned != nil && owned.Final && owned.Deleted && owned.Status == ImportComplete && len(pc.devices[d.key]) == 0
	switch {
	case owned != nil && owned.Final && !gone:
		rec := owned.Record()
		t := &tracked{id: owned.ID, serial: owned.Serial, ours: true, final: true, submitted: e.start, seen: true}
		t.deleted = owned.Deleted
		return decision{dev: d, kind: decCollect, rec: t, final: &rec}, entries
	case owned != nil && !owned.Deleted:
		if rec, ok := pc.byID[owned.ID]; ok {
			dc := decision{dev: d, kind: decCollect, rec: &tracked{id: owned.ID, serial: owned.Serial, ours: true, submitted: e.start, seen: true}}
			if rec.Final() {
				dc.final = rec
			}
			return dc, entries
		}
		// The record vanished (deleted by someone else): the tenant state decides.
		entries = append(entries, JournalEntry{Type: JournalDeleted, ID: owned.ID, Serial: owned.Serial, Message: "not found at start"})
	}
	if reg := pc.devices[d.key]; len(reg) > 0 {
		r := e.result(d, ResultAlreadyRegistered)
		r.RegistrationID = reg[0].ID
		if differs(*d.item, reg[0]) {
			if e.opts.UpdateExisting {
				return decision{dev: d, kind: decUpdate, reg: &reg[0]}, entries
			}
			r.Message = fmt.Sprintf("registered with group tag %q, user %q", reg[0].GroupTag, reg[0].UserPrincipalName)
			r.Hint = HintTagDiffers
		}
		return decision{dev: d, kind: decDone, result: &r}, entries
	}
	if rec, ok := pendingForeign(pc.imports[d.key], js); ok {
		return decision{dev: d, kind: decCollect, rec: &tracked{id: rec.ID, serial: rec.Serial, submitted: e.start, seen: true}}, entries
	}
	return decision{dev: d, kind: decPost}, entries
}

// adoptable chooses the record an unconfirmed POST may have created: among the
// serial's records that the journal does not own and that were not in the tenant
// before that POST (amb.Before), a processing one first, else the last listed. An
// intent written before the journal kept Before (format 1) adopts only a processing
// record: a final one may be another tool's old record, which must never be adopted
// (and so deleted).
func adoptable(recs []*ImportRecord, js JournalState, amb Intent) (ImportRecord, bool) {
	var last ImportRecord
	found := false
	for _, r := range recs {
		if _, known := js.Records[r.ID]; known || amb.existed(r.ID) {
			continue
		}
		if !r.Final() {
			return *r, true
		}
		if amb.Before != nil {
			last, found = *r, true
		}
	}
	return last, found
}

func pendingForeign(recs []*ImportRecord, js JournalState) (ImportRecord, bool) {
	for _, r := range recs {
		if _, known := js.Records[r.ID]; known {
			continue
		}
		if !r.Final() {
			return *r, true
		}
	}
	return ImportRecord{}, false
}

func differs(it Item, reg registered) bool {
	if it.GroupTag != "" && it.GroupTag != reg.GroupTag {
		return true
	}
	return it.AssignedUser != "" && !strings.EqualFold(it.AssignedUser, reg.UserPrincipalName)
}

// plan emits the dry-run result of every decision: what the real run with the same
// flags would do. Offline, every device is new. Nothing is written, the journal
// included.
func (e *engine) plan(ctx context.Context) error {
	if e.opts.Offline || e.svc == nil {
		for _, d := range e.devs {
			e.finish(d, e.result(d, ResultNew))
		}
		return nil
	}
	if e.opts.Mode != ModeImport {
		pc, err := e.lookup(ctx)
		if err != nil {
			return e.stopErr(ctx, err)
		}
		for _, d := range e.devs {
			if d.phase != phaseDone {
				e.finish(d, e.planned(e.decideWrite(d, pc)))
			}
		}
		return nil
	}
	ds, err := e.survey(ctx)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	e.sum.Leftover = append(append([]string(nil), ds.leftDelete...), trackedIDs(ds.leftTrack)...)
	for _, dc := range ds.devs {
		e.finish(dc.dev, e.planned(dc))
	}
	return nil
}

// planned is the dry-run result of a decision.
func (e *engine) planned(dc decision) DeviceResult {
	d := dc.dev
	switch dc.kind {
	case decPost:
		return e.result(d, ResultNew)
	case decUpdate:
		r := e.result(d, ResultUpdate)
		r.RegistrationID = dc.reg.ID
		r.Message = fmt.Sprintf("registered with group tag %q, user %q", dc.reg.GroupTag, dc.reg.UserPrincipalName)
		if dc.write != nil && len(dc.write.changes) > 0 {
			r.Message = strings.Join(dc.write.changes, "; ")
		}
		return r
	case decRemove:
		r := e.result(d, ResultRemove)
		r.RegistrationID = dc.reg.ID
		if managed := dc.write.managed; len(managed) > 0 {
			r.Message = fmt.Sprintf("its Intune managed device %q would be deleted first", managed[0].DeviceName)
		}
		return r
	case decDone:
		return *dc.result
	}
	d.cur = dc.rec
	if dc.final != nil {
		r, retry := e.outcome(d, *dc.final)
		if retry {
			r = e.result(d, ResultNew)
			r.Message = "its earlier import failed with a transient storage error (640): it would be posted again"
		}
		return r
	}
	r := e.result(d, ResultPending)
	r.Message = "an import record for this serial is still processing"
	if !dc.rec.ours {
		r.Hint = HintForeign
	}
	return r
}

// execute carries the decisions out: the journal is settled first, then every device
// enters its phase.
func (e *engine) execute(ctx context.Context, ds *decisions) error {
	if err := e.journal(ds.journal...); err != nil {
		return err
	}
	e.leftovers = append(e.leftovers, ds.leftDelete...)
	for _, id := range ds.leftDelete {
		e.trackRecord(&tracked{id: id, ours: true, final: true, submitted: e.start, seen: true})
	}
	for _, t := range ds.leftTrack {
		e.trackRecord(t)
	}
	finals := ds.leftFinals
	for _, dc := range ds.devs {
		d := dc.dev
		switch dc.kind {
		case decPost:
			e.move(d, phaseQueued)
		case decUpdate:
			d.reg, d.write = dc.reg, &writePlan{upd: updateFor(*d.item)}
			e.move(d, phaseUpdating)
		case decDone:
			e.finish(d, *dc.result)
		case decCollect:
			e.process(d, dc.rec)
			switch {
			case dc.final != nil && dc.rec.final:
				// Final in the journal: its result is known; delete it unless done.
				if !dc.rec.deleted {
					e.leftovers = append(e.leftovers, dc.rec.id)
				}
				if err := e.applyFinal(ctx, d, *dc.final); err != nil {
					return err
				}
			case dc.final != nil:
				finals = append(finals, *dc.final)
			}
		}
	}
	return e.finals(ctx, finals)
}

func trackedIDs(ts []*tracked) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.id
	}
	return ids
}
