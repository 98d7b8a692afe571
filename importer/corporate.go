package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Corporate identifier runs (ModeCorporate) add corporate device identifiers for Windows
// Autopilot device preparation through the beta importedDeviceIdentities actions
// (lifecycle-api.md §5). They go through the same state machine as the other modes:
//
//  1. lookup: searchExistingIdentities for every identifier, in chunks. It is a POST that
//     only reads (Read.All suffices, lifecycle-api.md §7), so a dry run uses it too; it
//     never sends importDeviceIdentityList.
//  2. decide per device: present → already_registered (nothing posted); else post.
//  3. dry run: the plan of the same decisions (new or already_registered); stop.
//  4. post importDeviceIdentityList (overwriteImportedDeviceIdentities false) in chunks
//     through a pool of Concurrency workers. The journal gets a "write" entry (the serials
//     of the chunk) before the POST and a "written" entry after its answer.
//  5. result per identifier from the answer's status: true → registered, false →
//     rejected (HintIdentityRejected). A 400 for a chunk of several is split in halves to
//     isolate the bad identifier ("Invalid Device Identifier parameter found for N import
//     records!"); a 400 for one identifier rejects it. A 429 beyond the client's retries
//     posts the chunk again later (at most MaxAttempts). An unconfirmed POST (5xx, a
//     dropped connection, an answer that leaves identifiers out) is reconciled by
//     searching before anything is posted again: found → registered, not found →
//     posted again (at most MaxAttempts). A later run searches first too, so a run
//     killed between the POST and its answer never posts an identifier twice.
//
// There is nothing to poll (the answer is final), nothing to clean up and no Autopilot
// sync. The import id of a result is the importedDeviceIdentity's id when known.

// Corporate identifier chunking.
const (
	// DefaultCorporateChunk is the number of identifiers per request by default. The
	// API documents no per-call limit (UNCONFIRMED); the portal takes 5,000 rows or 5 MB
	// per file. 500 keeps a request about 60 KB, a 400 for one bad identifier cheap to
	// isolate (9 halvings), and still needs only 24 POSTs for 12,000 identifiers.
	DefaultCorporateChunk = 500
	// MaxCorporateChunk is the largest chunk accepted: the portal's 5,000 rows per file.
	MaxCorporateChunk = 5000
	// MaxCorporateBody bounds the JSON of the identities of one request (searches too):
	// the portal's 5 MB per file, less a margin for the envelope.
	MaxCorporateBody = 5_000_000 - 4096
)

// HintIdentityRejected goes with an identifier the service answered with status false.
const HintIdentityRejected = "the service did not accept this identifier: check that manufacturer, model and serial number are exactly what the device reports " +
	"(Win32_ComputerSystem.Manufacturer, Win32_ComputerSystem.Model, Win32_BIOS.SerialNumber; no periods in the serial), " +
	"and whether it is already there with another description (apimport never overwrites)"

// DeviceIdentity is an importedDeviceIdentity (or importedDeviceIdentityResult) of type
// manufacturerModelSerial.
type DeviceIdentity struct {
	ID              string
	Identifier      string // importedDeviceIdentifier: "Manufacturer,Model,Serial"
	Type            string // importedDeviceIdentityType
	Description     string
	EnrollmentState string
	Status          bool // importedDeviceIdentityResult.status: accepted
}

// Identifier is the importedDeviceIdentifier of a corporate identifier item.
func (it Item) Identifier() string { return it.Manufacturer + "," + it.Model + "," + it.Serial }

// IdentityKey is the form identifiers are compared in: each part trimmed, upper case
// (whether the service folds case is UNCONFIRMED; the input was deduped the same way).
func IdentityKey(identifier string) string {
	parts := strings.Split(identifier, ",")
	for i, p := range parts {
		parts[i] = strings.ToUpper(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func defaultChunk(m Mode) int {
	if m == ModeCorporate {
		return DefaultCorporateChunk
	}
	return DefaultChunkSize
}

func maxChunk(m Mode) int {
	if m == ModeCorporate {
		return MaxCorporateChunk
	}
	return MaxChunkSize
}

// identitySize is the size of one identity in a request body, comma included.
func identitySize(identifier string) int {
	b, _ := json.Marshal(identifier)
	return len(`{"importedDeviceIdentityType":"manufacturerModelSerial","importedDeviceIdentifier":},`) + len(b)
}

// identityChunks splits devs into chunks of at most ChunkSize identities and
// MaxCorporateBody bytes.
func (e *engine) identityChunks(devs []*devState) [][]*devState {
	var out [][]*devState
	for len(devs) > 0 {
		n, size := 0, 0
		for n < len(devs) && n < e.opts.ChunkSize {
			s := identitySize(devs[n].item.Identifier())
			if n > 0 && size+s > MaxCorporateBody {
				break
			}
			size += s
			n++
		}
		out = append(out, devs[:n])
		devs = devs[n:]
	}
	return out
}

func identifiers(devs []*devState) []string {
	ids := make([]string, len(devs))
	for i, d := range devs {
		ids[i] = d.item.Identifier()
	}
	return ids
}

// searchIdentities returns the identities present among devs' identifiers, by IdentityKey.
func (e *engine) searchIdentities(ctx context.Context, devs []*devState) (map[string]DeviceIdentity, error) {
	found := map[string]DeviceIdentity{}
	for _, chunk := range e.identityChunks(devs) {
		got, err := e.svc.SearchExistingIdentities(ctx, identifiers(chunk))
		if err != nil {
			return nil, fmt.Errorf("searching existing corporate identifiers: %w", err)
		}
		for _, g := range got {
			found[IdentityKey(g.Identifier)] = g
		}
	}
	return found, nil
}

// runCorporate carries out a corporate identifier run (see the top of this file).
func (e *engine) runCorporate(ctx context.Context) error {
	if e.opts.DryRun && (e.opts.Offline || e.svc == nil) {
		for _, d := range e.devs {
			e.finish(d, e.result(d, ResultNew))
		}
		return nil
	}
	if e.opts.Offline {
		return errors.New("an import needs the tenant: --offline works only with --dry-run")
	}
	if e.svc == nil {
		return errors.New("no Graph service")
	}
	present, err := e.searchIdentities(ctx, e.devs)
	if err != nil {
		return e.stopErr(ctx, err)
	}
	for _, d := range e.devs {
		dc := e.decideIdentity(d, present)
		switch {
		case e.opts.DryRun:
			e.finish(d, e.planned(dc))
		case dc.kind == decDone:
			e.finish(d, *dc.result)
		default:
			e.move(d, phaseQueued)
		}
	}
	if e.opts.DryRun {
		return nil
	}
	// The engine's one loop posts the chunks (nextJob takes identity chunks in this
	// mode); with no import records there is nothing to poll or clean up.
	if err := e.loop(ctx); err != nil {
		return e.stopErr(ctx, err)
	}
	return nil
}

// decideIdentity: an identifier the tenant has is already_registered; others are posted.
func (e *engine) decideIdentity(d *devState, present map[string]DeviceIdentity) decision {
	got, ok := present[IdentityKey(d.item.Identifier())]
	if !ok {
		return decision{dev: d, kind: decPost}
	}
	r := e.result(d, ResultAlreadyRegistered)
	r.ImportID = got.ID
	r.Message = "already a corporate identifier in this tenant: nothing posted"
	if got.EnrollmentState != "" {
		r.Message += " (enrollment state " + got.EnrollmentState + ")"
	}
	return decision{dev: d, kind: decDone, result: &r}
}

type identityJob struct {
	chunk string
	devs  []*devState
}

type identityAnswer struct {
	identityJob
	got []DeviceIdentity
	err error
}

// nextIdentityJob takes the next chunk: split halves first, then the queue (at most
// ChunkSize identities and MaxCorporateBody bytes).
func (e *engine) nextIdentityJob() (identityJob, bool) {
	var devs []*devState
	switch {
	case len(e.splits) > 0:
		devs, e.splits = e.splits[0], e.splits[1:]
	case len(e.queue) > 0:
		devs = e.identityChunks(e.queue)[0]
		e.queue = e.queue[len(devs):]
		devs = append([]*devState(nil), devs...)
	default:
		return identityJob{}, false
	}
	for _, d := range devs {
		e.move(d, phasePosting)
		d.attempts++
	}
	e.sum.Posts++
	return identityJob{chunk: e.nextChunkID(), devs: devs}, true
}

// sendIdentities posts one chunk (on a worker of the loop): journalled before and after.
func (e *engine) sendIdentities(ctx context.Context, j identityJob) identityAnswer {
	a := identityAnswer{identityJob: j}
	serials := make([]string, len(j.devs))
	for i, d := range j.devs {
		serials[i] = d.item.Serial
	}
	if a.err = e.journal(JournalEntry{Type: JournalWrite, Chunk: j.chunk, Serials: serials, Message: "importDeviceIdentityList"}); a.err != nil {
		return a
	}
	if ctx.Err() != nil {
		a.err = ctx.Err()
		return a
	}
	a.got, a.err = e.svc.ImportDeviceIdentityList(ctx, identifiers(j.devs), false)
	if a.err == nil {
		accepted := 0
		for _, g := range a.got {
			if g.Status {
				accepted++
			}
		}
		a.err = e.journal(JournalEntry{Type: JournalWritten, Chunk: j.chunk, Serials: serials,
			Message: fmt.Sprintf("importDeviceIdentityList: %d accepted, %d answered not accepted", accepted, len(a.got)-accepted)})
	}
	return a
}

// identitiesPosted applies the answer to one importDeviceIdentityList POST.
func (e *engine) identitiesPosted(ctx context.Context, a identityAnswer) error {
	if errors.Is(a.err, ErrJournalWrite) {
		return a.err
	}
	if a.err == nil {
		byKey := map[string]DeviceIdentity{}
		for _, g := range a.got {
			byKey[IdentityKey(g.Identifier)] = g
		}
		var missing []*devState
		for _, d := range a.devs {
			g, ok := byKey[IdentityKey(d.item.Identifier())]
			if !ok {
				missing = append(missing, d)
				continue
			}
			e.submitted++
			r := e.result(d, ResultRegistered)
			r.ImportID = g.ID
			r.Message = "added as a corporate identifier"
			if !g.Status {
				r.Result, r.Hint = ResultRejected, HintIdentityRejected
				r.Message = "the service answered status false for this identifier"
			}
			e.finish(d, r)
		}
		if len(missing) > 0 {
			return e.reconcileIdentities(ctx, missing, "the answer did not name it")
		}
		return nil
	}
	if ctx.Err() != nil {
		return nil // interrupted: the next run searches before posting
	}
	if IsAuth(a.err) {
		return a.err
	}
	var ae *APIError
	if !errors.As(a.err, &ae) || !definitelyNotCreated(a.err) {
		return e.reconcileIdentities(ctx, a.devs, "the import request was not confirmed ("+a.err.Error()+")")
	}
	switch {
	case ae.StatusCode == 429:
		e.requeueThrottled(a.devs, a.err)
	case ae.StatusCode == 400 && len(a.devs) > 1:
		e.splitChunk(a.devs) // one bad identifier fails the whole request
	case ae.StatusCode == 400:
		r := e.result(a.devs[0], ResultRejected)
		r.Message, r.ErrorName, r.Hint = a.err.Error(), ae.Code, HintIdentityRejected
		e.finish(a.devs[0], r)
	default:
		e.failChunk(a.devs, a.err, ae.Code)
	}
	return nil
}

// reconcileIdentities searches identifiers whose POST is unconfirmed: found ones are
// registered; the others are posted again (at most MaxAttempts posts in all).
func (e *engine) reconcileIdentities(ctx context.Context, devs []*devState, why string) error {
	found, err := e.searchIdentities(ctx, devs)
	if err != nil {
		if IsAuth(err) || ctx.Err() != nil {
			return err
		}
		for _, d := range devs {
			r := e.result(d, ResultFailed)
			r.Message = why + "; searching for it failed too: " + err.Error()
			r.Hint = "run the same command again: it searches before posting, so nothing is added twice"
			e.finish(d, r)
		}
		return nil
	}
	for _, d := range devs {
		if g, ok := found[IdentityKey(d.item.Identifier())]; ok {
			e.submitted++
			r := e.result(d, ResultRegistered)
			r.ImportID = g.ID
			r.Message = "added as a corporate identifier (" + why + "; confirmed by searchExistingIdentities)"
			e.finish(d, r)
			continue
		}
		if d.attempts >= e.opts.MaxAttempts {
			r := e.result(d, ResultFailed)
			r.Message = why + fmt.Sprintf("; not found after %d attempts", d.attempts)
			r.Hint = "run the same command again later: it searches before posting, so nothing is added twice"
			e.finish(d, r)
			continue
		}
		e.move(d, phaseQueued)
	}
	return nil
}
