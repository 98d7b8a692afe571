package importer

import (
	"context"
	"strings"
	"time"
)

// The profile wait (Options.WaitProfile): a device that ends registered is parked in
// phaseProfile with its result; its deployment profile assignment status is polled
// (beta deploymentProfileAssignmentStatus), adaptively and within the same request
// budget, until it is assigned (assignedInSync, assignedOutOfSync,
// assignedUnkownSyncState — Microsoft's own script counts all three), failed, or its
// wait ran out. notAssigned, pending and unknown keep it waiting: a profile often
// reaches a new device only after minutes (lifecycle-api §2.3, §2.4).

// ProfileAssigned reports whether a deploymentProfileAssignmentStatus means assigned.
func ProfileAssigned(status string) bool { return strings.HasPrefix(status, "assigned") }

// allSettled reports whether every device has its result or waits only for its profile.
func (e *engine) allSettled() bool { return e.done+len(e.profiling) == len(e.devs) }

// profileStepFirst is the first interval between profile polls (five times PollMin,
// at most a third of PollMax: 10 s by default); it grows by half up to twice PollMax.
func (e *engine) profileStepFirst() time.Duration {
	return max(e.opts.PollMin, min(5*e.opts.PollMin, e.opts.PollMax/3))
}

// nextProfilePoll is when the parked devices are read next: the next step after the
// last poll, or sooner when a device's wait ends.
func (e *engine) nextProfilePoll() time.Time {
	if len(e.profiling) == 0 {
		return time.Time{}
	}
	if e.profileStep == 0 {
		e.profileStep = e.profileStepFirst()
	}
	from := e.lastProfilePoll
	if from.IsZero() {
		from = e.profiling[0].parked.from
		for _, d := range e.profiling {
			if d.parked.from.Before(from) {
				from = d.parked.from
			}
		}
	}
	next := from.Add(e.profileStep)
	for _, d := range e.profiling {
		if end := e.waitEnd(d); end.Before(next) {
			next = end
		}
	}
	return next
}

// waitEnd is when a parked device stops waiting: the later of its profile and group
// deadlines (each only when asked for).
func (e *engine) waitEnd(d *devState) time.Time {
	end := d.parked.from
	if e.opts.WaitProfile > 0 {
		end = d.parked.from.Add(e.opts.WaitProfile)
	}
	if e.opts.AddToGroup != "" {
		if g := d.parked.from.Add(e.opts.GroupWait); g.After(end) {
			end = g
		}
	}
	return end
}

// profileDone reports whether d's profile wait is over (setting its hint).
func (e *engine) profileDone(d *devState, now time.Time) bool {
	switch {
	case e.opts.WaitProfile == 0, ProfileAssigned(d.parked.ProfileStatus):
		return true
	case d.parked.ProfileStatus == "failed":
		d.parked.Hint = HintProfileFailed
		return true
	case !now.Before(d.parked.from.Add(e.opts.WaitProfile)):
		d.parked.Hint = HintProfile
		if d.parked.ProfileStatus == "" {
			d.parked.ProfileStatus = "unknown"
		}
		return true
	}
	return false
}

// groupDone adds d to the group once its Entra device object exists, and reports
// whether its group step is over.
func (e *engine) groupDone(ctx context.Context, d *devState, dev AutopilotDevice, known bool, now time.Time) (bool, error) {
	if e.opts.AddToGroup == "" || d.parked.Group == "added" || d.parked.Group == "member" {
		return true, nil
	}
	if known && dev.EntraDeviceID != "" {
		obj, err := e.svc.EntraDeviceObject(ctx, dev.EntraDeviceID)
		if err == nil {
			added, err := e.svc.AddGroupMember(ctx, e.opts.AddToGroup, obj)
			if err == nil {
				d.parked.Group = "member"
				if added {
					d.parked.Group = "added"
				}
				return true, nil
			}
			if IsAuth(err) || ctx.Err() != nil {
				return false, err
			}
		} else if IsAuth(err) || ctx.Err() != nil {
			return false, err
		}
	}
	if !now.Before(d.parked.from.Add(e.opts.GroupWait)) {
		d.parked.Group = "pending"
		if d.parked.Hint == "" {
			d.parked.Hint = HintGroupPending
		}
		return true, nil
	}
	return false, nil
}

// pollProfiles reads the parked devices and gives those that are done waiting their
// result: assigned, failed, or out of time.
func (e *engine) pollProfiles(ctx context.Context) error {
	ids := make([]string, len(e.profiling))
	for i, d := range e.profiling {
		ids[i] = d.parked.RegistrationID
	}
	got, err := e.svc.DeviceProfiles(ctx, ids)
	now := e.now()
	e.lastProfilePoll = now
	e.profileStep = min(e.profileStep+e.profileStep/2, 2*e.opts.PollMax)
	if err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		got = nil // transient: read again at the next step; waits still end on time
	}
	var keep []*devState
	var ended []*devState
	for _, d := range e.profiling {
		dev, ok := got[d.parked.RegistrationID]
		if ok && e.opts.WaitProfile > 0 {
			d.parked.ProfileStatus, d.parked.ProfileName = dev.ProfileStatus, dev.ProfileName
		}
		pDone := e.profileDone(d, now)
		gDone, err := e.groupDone(ctx, d, dev, ok, now)
		if err != nil {
			return err
		}
		if pDone && gDone {
			ended = append(ended, d)
			continue
		}
		keep = append(keep, d)
	}
	e.profiling = keep
	for _, d := range ended {
		e.finish(d, d.parked.DeviceResult)
	}
	return nil
}

// endProfileWaits gives every parked device its result as it stands (the run stops).
func (e *engine) endProfileWaits(hint string) {
	parked := e.profiling
	e.profiling = nil
	for _, d := range parked {
		if d.parked.ProfileStatus == "" {
			d.parked.ProfileStatus = "unknown"
		}
		d.parked.Hint = hint
		e.finish(d, d.parked.DeviceResult)
	}
}
