package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apimport/apimport/internal/safefile"
	"github.com/apimport/apimport/internal/serial"
)

// Journal entry types, in the order a device goes through them.
const (
	JournalIntent  = "intent"  // serials of a chunk about to be posted (written before the POST)
	JournalPosted  = "posted"  // the POST returned: import record id per serial
	JournalAbandon = "abandon" // the POST definitely did not create records (a 4xx answer)
	JournalAdopt   = "adopt"   // an ambiguous POST was reconciled: this record is ours
	JournalFinal   = "final"   // a record reached complete/error
	JournalDeleted = "deleted" // a record was deleted (clean-up)
	// JournalTenant binds the journal to one tenant and cloud: the first entry of a
	// journal since format 2.
	JournalTenant = "tenant"
)

// journalFormat is the format of the entries this version writes. Format 2 added the
// tenant entry and an intent's Before; a format-1 journal is migrated on open (the
// tenant entry is added; its intents adopt only processing records, see adoptable).
const journalFormat = 2

// JournalEntry is one line of the journal (JSON Lines). It never holds a hash or a secret.
type JournalEntry struct {
	Type           string            `json:"t"`
	Time           time.Time         `json:"time"`
	Chunk          string            `json:"chunk,omitempty"`
	Serials        []string          `json:"serials,omitempty"`
	IDs            map[string]string `json:"ids,omitempty"` // serial -> import record id
	ID             string            `json:"id,omitempty"`
	Serial         string            `json:"serial,omitempty"`
	Status         string            `json:"status,omitempty"`
	ErrorCode      int               `json:"error_code,omitempty"`
	ErrorName      string            `json:"error_name,omitempty"`
	RegistrationID string            `json:"registration_id,omitempty"`
	Message        string            `json:"message,omitempty"`
	// Before (intent): per serial key, the import records of that serial that were in
	// the tenant before the POST; none of them can be its outcome.
	Before map[string][]string `json:"before,omitempty"`
	Format int                 `json:"format,omitempty"` // intent and tenant entries
	Tenant string              `json:"tenant,omitempty"` // tenant entry
	Cloud  string              `json:"cloud,omitempty"`  // tenant entry
}

// Intent is a POST whose outcome the journal does not know.
type Intent struct {
	Chunk  string
	Time   time.Time
	Before []string // import record ids of the serial before the POST; nil in format 1
}

func (in Intent) existed(id string) bool { return slices.Contains(in.Before, id) }

// Binding is the tenant and cloud a journal belongs to.
type Binding struct {
	Tenant string
	Cloud  string // "" is the global cloud
}

// OwnedRecord is an import record this tool created, as the journal knows it.
// A journal of a large import holds 100,000 of them, so the final state is kept in
// the few fields a result needs (see Record), not as an ImportRecord.
type OwnedRecord struct {
	ID      string
	Serial  string
	Seq     int  // order of creation in the journal; a higher Seq is a later attempt
	Final   bool // a final state was recorded
	Deleted bool
	// the final state, when Final
	Status         string
	ErrorCode      int
	ErrorName      string
	RegistrationID string
}

// Record is the final state as an ImportRecord (when Final).
func (r *OwnedRecord) Record() ImportRecord {
	return ImportRecord{ID: r.ID, Serial: r.Serial, Status: r.Status, ErrorCode: r.ErrorCode, ErrorName: r.ErrorName, RegistrationID: r.RegistrationID}
}

// JournalState is the replayed journal: what earlier runs left behind.
type JournalState struct {
	// Records are the import records created by this tool, by id.
	Records map[string]*OwnedRecord
	// Ambiguous maps a serial key (serial.Key) to the intent that has no outcome: the
	// POST may or may not have created a record.
	Ambiguous map[string]Intent
	// Binding is the tenant the journal belongs to (zero for a format-1 journal).
	Binding Binding
	// bySerial indexes Records by serial key when set (see indexed): a run decides each
	// of its devices against the journal, and a scan per device is O(devices × records).
	bySerial map[string]ownedIndex
}

// ownedIndex is what the journal owns for one serial key.
type ownedIndex struct {
	latest *OwnedRecord // the newest (highest Seq)
	n      int
}

// indexed returns s with its records indexed by serial key, for many Latest and
// countOwned calls; s must not change after.
func (s JournalState) indexed() JournalState {
	s.bySerial = make(map[string]ownedIndex, len(s.Records))
	for _, r := range s.Records {
		k := serial.Key(r.Serial)
		x := s.bySerial[k]
		if x.latest == nil || r.Seq > x.latest.Seq {
			x.latest = r
		}
		x.n++
		s.bySerial[k] = x
	}
	return s
}

func emptyJournalState() JournalState {
	return JournalState{Records: map[string]*OwnedRecord{}, Ambiguous: map[string]Intent{}}
}

// countOwned is the number of records the journal owns for a serial key.
func (s JournalState) countOwned(key string) int {
	if s.bySerial != nil {
		return s.bySerial[key].n
	}
	n := 0
	for _, r := range s.Records {
		if serial.Key(r.Serial) == key {
			n++
		}
	}
	return n
}

// sortedIDs returns the owned record ids in creation order.
func (s JournalState) sortedIDs() []string {
	ids := make([]string, 0, len(s.Records))
	for id := range s.Records {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return s.Records[ids[a]].Seq < s.Records[ids[b]].Seq })
	return ids
}

// sortedAmbiguous returns the serial keys of the unconfirmed intents, sorted.
func (s JournalState) sortedAmbiguous() []string {
	keys := make([]string, 0, len(s.Ambiguous))
	for k := range s.Ambiguous {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Open reports whether the state still has work: records not deleted or ambiguous intents.
func (s JournalState) Open() bool {
	if len(s.Ambiguous) > 0 {
		return true
	}
	for _, r := range s.Records {
		if !r.Deleted {
			return true
		}
	}
	return false
}

// Latest returns the newest owned record for a serial key, or nil.
func (s JournalState) Latest(key string) *OwnedRecord {
	if s.bySerial != nil {
		return s.bySerial[key].latest
	}
	var best *OwnedRecord
	for _, r := range s.Records {
		if serial.Key(r.Serial) == key && (best == nil || r.Seq > best.Seq) {
			best = r
		}
	}
	return best
}

// Leftovers returns the ids of owned records not yet deleted, sorted.
func (s JournalState) Leftovers() []string {
	var ids []string
	for id, r := range s.Records {
		if !r.Deleted {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (s *JournalState) apply(e JournalEntry, seq int) {
	switch e.Type {
	case JournalTenant:
		s.Binding = Binding{Tenant: e.Tenant, Cloud: e.Cloud}
	case JournalIntent:
		for _, sn := range e.Serials {
			k := serial.Key(sn)
			in := Intent{Chunk: e.Chunk, Time: e.Time}
			if e.Format >= 2 {
				in.Before = append([]string{}, e.Before[k]...)
			}
			s.Ambiguous[k] = in
		}
	case JournalPosted, JournalAbandon:
		for _, sn := range e.Serials {
			if s.Ambiguous[serial.Key(sn)].Chunk == e.Chunk {
				delete(s.Ambiguous, serial.Key(sn))
			}
		}
		for sn, id := range e.IDs {
			if s.Ambiguous[serial.Key(sn)].Chunk == e.Chunk {
				delete(s.Ambiguous, serial.Key(sn))
			}
			s.Records[id] = &OwnedRecord{ID: id, Serial: sn, Seq: seq}
		}
	case JournalAdopt:
		delete(s.Ambiguous, serial.Key(e.Serial))
		if e.ID != "" {
			if _, ok := s.Records[e.ID]; !ok {
				s.Records[e.ID] = &OwnedRecord{ID: e.ID, Serial: e.Serial, Seq: seq}
			}
		}
	case JournalFinal:
		r, ok := s.Records[e.ID]
		if !ok {
			r = &OwnedRecord{ID: e.ID, Serial: e.Serial, Seq: seq}
			s.Records[e.ID] = r
		}
		r.Final = true
		r.Status, r.ErrorCode, r.ErrorName, r.RegistrationID = importStatus(e.Status), e.ErrorCode, e.ErrorName, e.RegistrationID
	case JournalDeleted:
		if r, ok := s.Records[e.ID]; ok {
			r.Deleted = true
		}
	}
}

// Journal is the crash-safe, append-only record of remote writes (JSON Lines, mode 0600).
// Every entry is fsynced before Append returns; intents are appended before the POST they
// announce. A lock file (PATH.lock, holding the pid) keeps a second run out; the OS
// releases it when the process dies, so a run killed with SIGKILL does not block the next.
type Journal struct {
	path  string
	mu    sync.Mutex
	f     *os.File
	lock  *os.File
	state JournalState
	seq   int
	err   error // first write error; later appends fail with it
}

// DefaultJournalPath is os.UserConfigDir()/apimport/journal-<tenant>.jsonl.
func DefaultJournalPath(tenant string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locating the journal directory: %w", err)
	}
	if tenant == "" {
		tenant = "default"
	}
	clean := strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, tenant)
	return filepath.Join(dir, "apimport", "journal-"+clean+".jsonl"), nil
}

// OpenJournal locks and replays the journal at path, creating it (and its directory,
// mode 0700) when missing. A second concurrent open fails with an error wrapping
// ErrJournalLocked that names the holder's pid. A torn last line (a crash mid-write) is
// ignored; any other unreadable line is an error naming path and line.
//
// A journal belongs to one tenant and cloud (b): a journal of another one is refused
// with an error wrapping ErrJournalTenant, so that its records are never taken for
// gone; a journal without a tenant (new, or written by a version before format 2) is
// bound to b.
func OpenJournal(path string, b Binding) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the journal directory: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path, lock: lock, state: emptyJournalState()}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		unlockFile(lock)
		return nil, fmt.Errorf("opening the journal: %w", err)
	}
	_ = f.Chmod(0o600)
	good, err := j.replay(f)
	if err != nil {
		f.Close()
		unlockFile(lock)
		return nil, err
	}
	// Drop a torn tail so that the next entry starts on a fresh line.
	if err := f.Truncate(good); err != nil {
		f.Close()
		unlockFile(lock)
		return nil, fmt.Errorf("repairing the journal: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		unlockFile(lock)
		return nil, fmt.Errorf("opening the journal: %w", err)
	}
	j.f = f
	if err := checkBinding(path, j.state.Binding, b); err != nil {
		j.Close()
		return nil, err
	}
	if j.state.Binding.Tenant == "" && b.Tenant != "" {
		if err := j.Append(JournalEntry{Type: JournalTenant, Tenant: b.Tenant, Cloud: b.Cloud, Format: journalFormat}); err != nil {
			j.Close()
			return nil, err
		}
	}
	return j, nil
}

func cloudName(c string) string {
	if c == "" {
		return "global"
	}
	return strings.ToLower(c)
}

// replay reads every entry and returns the offset after the last complete line.
func (j *Journal) replay(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' {
			line++
			trimmed := bytes.TrimSpace(b)
			if len(trimmed) > 0 {
				var e JournalEntry
				if uerr := json.Unmarshal(trimmed, &e); uerr != nil {
					return 0, fmt.Errorf("%s:%d: unreadable journal entry (%v): move the file aside to start afresh", j.path, line, uerr)
				}
				j.seq++
				j.state.apply(e, j.seq)
			}
			off += int64(len(b))
		}
		if err == io.EOF {
			return off, nil // an unterminated last line is a torn write: ignored
		}
		if err != nil {
			return 0, fmt.Errorf("reading the journal: %w", err)
		}
	}
}

// ReadJournal replays the journal at path without locking or changing it (for dry runs).
// A missing file is an empty state; a journal of another tenant than b is refused like
// by OpenJournal.
func ReadJournal(path string, b Binding) (JournalState, error) {
	j := &Journal{path: path, state: emptyJournalState()}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return j.state, nil
	}
	if err != nil {
		return j.state, fmt.Errorf("reading the journal: %w", err)
	}
	defer f.Close()
	if _, err := j.replay(f); err != nil {
		return j.state, err
	}
	if err := checkBinding(path, j.state.Binding, b); err != nil {
		return j.state, err
	}
	return j.state, nil
}

// checkBinding refuses a journal bound to another tenant or cloud than b.
func checkBinding(path string, have, b Binding) error {
	if b.Tenant == "" || have.Tenant == "" {
		return nil
	}
	if !strings.EqualFold(have.Tenant, b.Tenant) || cloudName(have.Cloud) != cloudName(b.Cloud) {
		return fmt.Errorf("%w: %s is the journal of tenant %s (cloud %s), not of tenant %s (cloud %s)",
			ErrJournalTenant, path, have.Tenant, cloudName(have.Cloud), b.Tenant, cloudName(b.Cloud))
	}
	return nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// State returns a copy of the replayed state including this run's appends.
func (j *Journal) State() JournalState {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := JournalState{Records: make(map[string]*OwnedRecord, len(j.state.Records)), Ambiguous: make(map[string]Intent, len(j.state.Ambiguous)), Binding: j.state.Binding}
	for k, v := range j.state.Records {
		cp := *v
		c.Records[k] = &cp
	}
	for k, v := range j.state.Ambiguous {
		c.Ambiguous[k] = v
	}
	return c
}

// snapshot is State without the copy, for the engine's decisions: it shares the
// journal's maps, so it must be read only, and only until the next Append (a re-run of a
// large import would otherwise copy 100,000 records).
func (j *Journal) snapshot() JournalState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

// Owns reports whether the journal holds the import record id (without copying the
// state, as State does).
func (j *Journal) Owns(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.state.Records[id]
	return ok
}

// Leftovers and Open are State().Leftovers() and State().Open() without the copy.
func (j *Journal) Leftovers() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state.Leftovers()
}

// Open reports whether records or unconfirmed intents are left (see JournalState.Open).
func (j *Journal) Open() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state.Open()
}

// Append writes the entries as one write and fsyncs the file before returning.
func (j *Journal) Append(entries ...JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if j.f == nil {
		return errors.New("journal is closed")
	}
	var buf bytes.Buffer
	now := time.Now().UTC()
	for i := range entries {
		if entries[i].Time.IsZero() {
			entries[i].Time = now
		}
		b, err := json.Marshal(entries[i])
		if err != nil {
			return fmt.Errorf("encoding a journal entry: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := j.f.Write(buf.Bytes()); err != nil {
		j.err = fmt.Errorf("writing the journal %s: %w", j.path, err)
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("syncing the journal %s: %w", j.path, err)
		return j.err
	}
	for _, e := range entries {
		j.seq++
		j.state.apply(e, j.seq)
	}
	return nil
}

// Compact empties the journal when nothing is left open (every record deleted, no
// ambiguous intent); otherwise it rewrites only what is still open. Either way the
// result is fsynced.
func (j *Journal) Compact() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal is closed")
	}
	keep := j.state.entries(time.Now().UTC())
	var buf bytes.Buffer
	for _, e := range keep {
		b, _ := json.Marshal(e)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	// Write the compacted copy beside the journal and rename it over, so a crash leaves
	// either the old or the new journal.
	if err := safefile.Write(j.path, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		return fmt.Errorf("compacting the journal: %w", err)
	}
	j.f.Close()
	j.f = nil
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("reopening the journal: %w", err)
	}
	j.f = f
	st := emptyJournalState()
	j.seq = 0
	for _, e := range keep {
		j.seq++
		st.apply(e, j.seq)
	}
	j.state = st
	return nil
}

// entries is the shortest journal that replays to s: the tenant, the open intents, and
// the records not deleted.
func (s JournalState) entries(now time.Time) []JournalEntry {
	var keep []JournalEntry
	if s.Binding.Tenant != "" {
		keep = append(keep, JournalEntry{Type: JournalTenant, Time: now, Tenant: s.Binding.Tenant, Cloud: s.Binding.Cloud, Format: journalFormat})
	}
	type chunkKey struct {
		chunk string
		v2    bool
	}
	byChunk := map[chunkKey][]string{}
	intents := map[chunkKey]Intent{}
	for sn, in := range s.Ambiguous {
		k := chunkKey{in.Chunk, in.Before != nil}
		byChunk[k] = append(byChunk[k], sn)
		intents[k] = in
	}
	chunks := make([]chunkKey, 0, len(byChunk))
	for k := range byChunk {
		chunks = append(chunks, k)
	}
	sort.Slice(chunks, func(a, b int) bool {
		return chunks[a].chunk < chunks[b].chunk || chunks[a].chunk == chunks[b].chunk && chunks[b].v2
	})
	for _, k := range chunks {
		sns := byChunk[k]
		sort.Strings(sns)
		e := JournalEntry{Type: JournalIntent, Time: intents[k].Time, Chunk: k.chunk, Serials: sns}
		if k.v2 {
			e.Format = journalFormat
			for _, sn := range sns {
				if b := s.Ambiguous[sn].Before; len(b) > 0 {
					if e.Before == nil {
						e.Before = map[string][]string{}
					}
					e.Before[sn] = b
				}
			}
		}
		keep = append(keep, e)
	}
	for _, id := range s.sortedIDs() {
		r := s.Records[id]
		if r.Deleted {
			continue
		}
		keep = append(keep, JournalEntry{Type: JournalAdopt, Time: now, ID: r.ID, Serial: r.Serial})
		if r.Final {
			keep = append(keep, JournalEntry{Type: JournalFinal, Time: now, ID: r.ID, Serial: r.Serial, Status: r.Status,
				ErrorCode: r.ErrorCode, ErrorName: r.ErrorName, RegistrationID: r.RegistrationID})
		}
	}
	return keep
}

// Close closes the file and releases the lock.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.f != nil {
		err = j.f.Close()
		j.f = nil
	}
	if j.lock != nil {
		unlockFile(j.lock)
		j.lock = nil
	}
	return err
}
