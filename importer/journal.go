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
	"sort"
	"strings"
	"sync"
	"time"
)

// Journal entry types, in the order a device goes through them.
const (
	JournalIntent  = "intent"  // serials of a chunk about to be posted (written before the POST)
	JournalPosted  = "posted"  // the POST returned: import record id per serial
	JournalAbandon = "abandon" // the POST definitely did not create records (a 4xx answer)
	JournalAdopt   = "adopt"   // an ambiguous POST was reconciled: this record is ours
	JournalFinal   = "final"   // a record reached complete/error
	JournalDeleted = "deleted" // a record was deleted (clean-up)
)

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
}

// OwnedRecord is an import record this tool created, as the journal knows it.
type OwnedRecord struct {
	ID      string
	Serial  string
	Seq     int          // order of creation in the journal; a higher Seq is a later attempt
	Final   bool         // a final state was recorded
	Record  ImportRecord // the final state, when Final
	Deleted bool
}

// JournalState is the replayed journal: what earlier runs left behind.
type JournalState struct {
	// Records are the import records created by this tool, by id.
	Records map[string]*OwnedRecord
	// Ambiguous maps a serial key (see SerialKey) to the chunk id of an intent that has no
	// outcome: the POST may or may not have created a record.
	Ambiguous map[string]string
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
	var best *OwnedRecord
	for _, r := range s.Records {
		if SerialKey(r.Serial) == key && (best == nil || r.Seq > best.Seq) {
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
	case JournalIntent:
		for _, sn := range e.Serials {
			s.Ambiguous[SerialKey(sn)] = e.Chunk
		}
	case JournalPosted, JournalAbandon:
		for _, sn := range e.Serials {
			if s.Ambiguous[SerialKey(sn)] == e.Chunk {
				delete(s.Ambiguous, SerialKey(sn))
			}
		}
		for sn, id := range e.IDs {
			if s.Ambiguous[SerialKey(sn)] == e.Chunk {
				delete(s.Ambiguous, SerialKey(sn))
			}
			s.Records[id] = &OwnedRecord{ID: id, Serial: sn, Seq: seq}
		}
	case JournalAdopt:
		delete(s.Ambiguous, SerialKey(e.Serial))
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
		r.Record = ImportRecord{ID: e.ID, Serial: e.Serial, Status: e.Status, ErrorCode: e.ErrorCode,
			ErrorName: e.ErrorName, RegistrationID: e.RegistrationID}
	case JournalDeleted:
		if r, ok := s.Records[e.ID]; ok {
			r.Deleted = true
		}
	}
}

// SerialKey is how serials are compared: trimmed and upper-cased (Graph matches serials
// case-insensitively).
func SerialKey(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

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
func OpenJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the journal directory: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path, lock: lock, state: JournalState{Records: map[string]*OwnedRecord{}, Ambiguous: map[string]string{}}}
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
	return j, nil
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
// A missing file is an empty state.
func ReadJournal(path string) (JournalState, error) {
	j := &Journal{path: path, state: JournalState{Records: map[string]*OwnedRecord{}, Ambiguous: map[string]string{}}}
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
	return j.state, nil
}

// Path returns the journal's file name.
func (j *Journal) Path() string { return j.path }

// State returns a copy of the replayed state including this run's appends.
func (j *Journal) State() JournalState {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := JournalState{Records: make(map[string]*OwnedRecord, len(j.state.Records)), Ambiguous: make(map[string]string, len(j.state.Ambiguous))}
	for k, v := range j.state.Records {
		cp := *v
		c.Records[k] = &cp
	}
	for k, v := range j.state.Ambiguous {
		c.Ambiguous[k] = v
	}
	return c
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
	var keep []JournalEntry
	now := time.Now().UTC()
	byChunk := map[string][]string{}
	for sn, ch := range j.state.Ambiguous {
		byChunk[ch] = append(byChunk[ch], sn)
	}
	chunks := make([]string, 0, len(byChunk))
	for ch := range byChunk {
		chunks = append(chunks, ch)
	}
	sort.Strings(chunks)
	for _, ch := range chunks {
		sort.Strings(byChunk[ch])
		keep = append(keep, JournalEntry{Type: JournalIntent, Time: now, Chunk: ch, Serials: byChunk[ch]})
	}
	recs := make([]*OwnedRecord, 0, len(j.state.Records))
	for _, r := range j.state.Records {
		if !r.Deleted {
			recs = append(recs, r)
		}
	}
	sort.Slice(recs, func(a, b int) bool { return recs[a].Seq < recs[b].Seq })
	for _, r := range recs {
		keep = append(keep, JournalEntry{Type: JournalAdopt, Time: now, ID: r.ID, Serial: r.Serial})
		if r.Final {
			keep = append(keep, JournalEntry{Type: JournalFinal, Time: now, ID: r.ID, Serial: r.Serial, Status: r.Record.Status,
				ErrorCode: r.Record.ErrorCode, ErrorName: r.Record.ErrorName, RegistrationID: r.Record.RegistrationID})
		}
	}
	var buf bytes.Buffer
	for _, e := range keep {
		b, _ := json.Marshal(e)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	// Write the compacted copy beside the journal and rename it over, so a crash leaves
	// either the old or the new journal.
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("compacting the journal: %w", err)
	}
	if tf, err := os.OpenFile(tmp, os.O_RDWR, 0o600); err == nil {
		_ = tf.Sync()
		tf.Close()
	}
	j.f.Close()
	j.f = nil
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("compacting the journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("reopening the journal: %w", err)
	}
	j.f = f
	st := JournalState{Records: map[string]*OwnedRecord{}, Ambiguous: map[string]string{}}
	j.seq = 0
	for _, e := range keep {
		j.seq++
		st.apply(e, j.seq)
	}
	j.state = st
	return nil
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
