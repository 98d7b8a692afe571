package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apimport/apimport/internal/serial"
)

// The journal entries of update and remove: informational (every write is
// idempotent, and a re-run looks the devices up again), so that the journal tells
// what a run changed in the tenant.
const (
	JournalWrite   = "write"   // a write about to be sent: Message is the operation
	JournalWritten = "written" // the write was answered with success
)

// runWrites carries out an update or remove run: look the devices up, decide per
// device, write what differs; the loop then syncs (a sync speeds deregistration up).
func (e *engine) runWrites(ctx context.Context) error {
	if e.svc == nil {
		return errors.New("no Graph service")
	}
	pc, err := e.lookup(ctx)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	for _, d := range e.devs {
		if d.phase != phaseDone {
			e.carryOut(e.decideWrite(d, pc))
		}
	}
	// The loop syncs once every write is answered (startCleanup), as for imports.
	if err := e.loop(ctx); err != nil {
		return e.stopErr(ctx, err)
	}
	return nil
}

// lookup reads the registered devices of the run (and, for remove, their Intune managed
// devices) with GETs only.
func (e *engine) lookup(ctx context.Context) (*precheck, error) {
	pc := &precheck{devices: map[string][]registered{}}
	if err := e.findRegistered(ctx, pc); err != nil {
		return nil, err
	}
	if e.opts.Mode != ModeRemove {
		return pc, nil
	}
	pc.managed = map[string][]ManagedDevice{}
	for _, d := range e.devs {
		if len(pc.devices[d.key]) == 0 {
			continue
		}
		found, err := e.svc.FindManagedDevices(ctx, d.item.Serial)
		if err != nil {
			return nil, fmt.Errorf("looking up the Intune managed devices of %s: %w", d.item.Serial, err)
		}
		pc.managed[d.key] = found
	}
	return pc, nil
}

// decideWrite decides an update or remove for one device.
func (e *engine) decideWrite(d *devState, pc *precheck) decision {
	regs := pc.devices[d.key]
	if len(regs) == 0 {
		r := e.result(d, ResultNotRegistered)
		if e.opts.Mode != ModeRemove {
			r.Message, r.Hint = "no Autopilot device with this serial in the tenant", "import it first, or check the serial"
		} else {
			r.Message = "not registered in this tenant: nothing to remove"
		}
		return decision{dev: d, kind: decDone, result: &r}
	}
	reg := regs[0]
	if len(regs) > 1 && e.opts.Mode != ModeProfile {
		r := e.result(d, ResultFailed)
		r.Message = fmt.Sprintf("%d Autopilot devices have this serial (ids %s and more)", len(regs), reg.ID)
		r.Hint = "a serial registered twice needs a look in the portal: change or remove the right one by hand"
		return decision{dev: d, kind: decDone, result: &r}
	}
	if e.opts.Mode == ModeProfile {
		r := e.result(d, ResultAlreadyRegistered)
		r.RegistrationID, r.GroupTag = reg.ID, reg.GroupTag
		return decision{dev: d, kind: decDone, result: &r} // parked by finish for the profile wait
	}
	if e.opts.Mode == ModeRemove {
		managed := pc.managed[d.key]
		if len(managed) > 0 && !e.opts.DeleteManaged {
			r := e.result(d, ResultRefused)
			r.RegistrationID = reg.ID
			r.Message = fmt.Sprintf("enrolled in Intune as %q (managed device %s)", managed[0].DeviceName, managed[0].ID)
			r.Hint = "Microsoft's order is Intune first, then Autopilot: delete the device from Intune, or pass --delete-managed to have apimport delete the Intune record first"
			return decision{dev: d, kind: decDone, result: &r}
		}
		return decision{dev: d, kind: decRemove, reg: &reg, write: &writePlan{managed: managed, remove: true}}
	}
	upd, changes := diffUpdate(*d.item, reg)
	if len(changes) == 0 {
		r := e.result(d, ResultUnchanged)
		r.RegistrationID = reg.ID
		return decision{dev: d, kind: decDone, result: &r}
	}
	return decision{dev: d, kind: decUpdate, reg: &reg, write: &writePlan{upd: upd, changes: changes}}
}

// diffUpdate is the part of the wanted values (the item's non-empty group tag, user and
// display name) that differs from the registered device, and a description per change.
func diffUpdate(it Item, reg registered) (DeviceUpdate, []string) {
	var u DeviceUpdate
	var changes []string
	if it.GroupTag != "" && it.GroupTag != reg.GroupTag {
		u.GroupTag = &it.GroupTag
		changes = append(changes, fmt.Sprintf("group tag %q -> %q", reg.GroupTag, it.GroupTag))
	}
	if it.AssignedUser != "" && !strings.EqualFold(it.AssignedUser, reg.UserPrincipalName) {
		u.UserPrincipalName = &it.AssignedUser
		changes = append(changes, fmt.Sprintf("user %q -> %q", reg.UserPrincipalName, it.AssignedUser))
	}
	if it.DisplayName != "" && it.DisplayName != reg.DisplayName {
		u.DisplayName = &it.DisplayName
		changes = append(changes, fmt.Sprintf("display name %q -> %q", reg.DisplayName, it.DisplayName))
	}
	return u, changes
}

// carryOut puts a decision of an update or remove run into effect.
func (e *engine) carryOut(dc decision) {
	d := dc.dev
	switch dc.kind {
	case decDone:
		e.finish(d, *dc.result)
	case decUpdate, decRemove:
		d.reg, d.write = dc.reg, dc.write
		e.move(d, phaseUpdating)
	}
}

// remove deregisters one device in Microsoft's order: its Intune managed devices, the
// assigned user, then the Autopilot registration.
func (e *engine) removeDevice(ctx context.Context, d *devState) error {
	for _, m := range d.write.managed {
		if err := e.svc.DeleteManagedDevice(ctx, m.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("deleting the Intune managed device %s: %w", m.ID, err)
		}
	}
	if d.reg.UserPrincipalName != "" {
		if err := e.svc.UnassignUser(ctx, d.reg.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("unassigning the user: %w", err)
		}
	}
	if err := e.svc.DeleteDevice(ctx, d.reg.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// written handles the answer to an update or a removal.
func (e *engine) written(ctx context.Context, d *devState, err error) error {
	if err != nil {
		return e.writeFailed(ctx, d, "", err)
	}
	if jerr := e.journal(JournalEntry{Type: JournalWritten, ID: d.reg.ID, Serial: d.item.Serial}); jerr != nil {
		return jerr
	}
	if !d.write.remove {
		return e.updated(ctx, d, nil)
	}
	res := e.result(d, ResultRemoved)
	res.RegistrationID = d.reg.ID
	res.Message = "deregistered; the service can take some minutes to drop it from lists"
	if len(d.write.managed) > 0 {
		res.Message = fmt.Sprintf("deleted from Intune (%d managed device) and deregistered; the service can take some minutes to drop it from lists", len(d.write.managed))
	}
	e.finish(d, res)
	return nil
}

// bulkEligible reports whether d's removal can go through the bulk action: nothing to
// do before it (no Intune record, no assigned user), and the action not refused yet.
func (e *engine) bulkEligible(d *devState) bool {
	return e.opts.BulkDelete && !e.noBulk && d.write != nil && d.write.remove && len(d.write.managed) == 0 && d.reg.UserPrincipalName == ""
}

// removeBulk deregisters a batch through deleteDevices (journalled first).
func (e *engine) removeBulk(ctx context.Context, j job) (map[string]string, error) {
	serials := make([]string, len(j.devs))
	var entries []JournalEntry
	for i, d := range j.devs {
		serials[i] = d.reg.Serial
		entries = append(entries, JournalEntry{Type: JournalWrite, ID: d.reg.ID, Serial: d.item.Serial, Message: "remove (deleteDevices)"})
	}
	if err := e.journal(entries...); err != nil {
		return nil, err
	}
	states, err := e.svc.DeleteDevicesBulk(ctx, serials)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(states))
	for sn, st := range states {
		out[serial.Key(sn)] = st
	}
	return out, nil
}

// removedBulk gives each device of a bulk removal its result; when the service does not
// offer the action, the devices are removed one by one instead.
func (e *engine) removedBulk(ctx context.Context, r jobResult) error {
	var ae *APIError
	if r.err != nil && (errors.Is(r.err, ErrNotFound) || errors.As(r.err, &ae) && (ae.StatusCode == 400 || ae.StatusCode == 405)) {
		e.noBulk = true // not offered here: single DELETEs from now on
		e.sum.BulkFallback = true
		for _, d := range r.devs {
			e.updates = append(e.updates, d)
		}
		return nil
	}
	for _, d := range r.devs {
		if r.err != nil {
			if err := e.writeFailed(ctx, d, "deleteDevices: ", r.err); err != nil {
				return err
			}
			continue
		}
		switch st := r.states[d.key]; st {
		case "accepted":
			if err := e.written(ctx, d, nil); err != nil {
				return err
			}
		case "":
			_ = e.writeFailed(ctx, d, "", errors.New("deleteDevices gave no state for this serial"))
		default:
			_ = e.writeFailed(ctx, d, "", fmt.Errorf("deleteDevices answered %q", st))
		}
	}
	return nil
}
