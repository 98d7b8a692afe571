package importer

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestJournalReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "j.jsonl")
	j, err := OpenJournal(path, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []JournalEntry{
		{Type: JournalIntent, Chunk: "c1", Serials: []string{"A", "B", "C"}},
		{Type: JournalPosted, Chunk: "c1", Serials: []string{"A", "B", "C"}, IDs: map[string]string{"A": "ia", "B": "ib", "C": "ic"}},
		{Type: JournalFinal, ID: "ia", Serial: "A", Status: ImportComplete},
		{Type: JournalDeleted, ID: "ia"},
		{Type: JournalFinal, ID: "ib", Serial: "B", Status: ImportError, ErrorCode: 808, ErrorName: "ZtdDeviceAssignedToOtherTenant"},
		{Type: JournalIntent, Chunk: "c2", Serials: []string{"D", "E"}},
		{Type: JournalIntent, Chunk: "c3", Serials: []string{"F"}},
		{Type: JournalAbandon, Chunk: "c3", Serials: []string{"F"}},
	}
	for _, e := range steps {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("journal mode %v, want 0600", st.Mode().Perm())
		}
	}
	// A torn last line (killed mid-write) is ignored and cut off.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"posted","chunk":"c2","ids":{"D":"id`)
	f.Close()

	j, err = OpenJournal(path, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	st := j.State()
	if got := st.Leftovers(); strings.Join(got, ",") != "ib,ic" {
		t.Errorf("leftovers %v", got)
	}
	if st.Ambiguous["D"].Chunk != "c2" || st.Ambiguous["E"].Chunk != "c2" || len(st.Ambiguous) != 2 {
		t.Errorf("ambiguous %v", st.Ambiguous)
	}
	if r := st.Latest("B"); r == nil || !r.Final || r.ErrorCode != 808 {
		t.Errorf("latest B %+v", r)
	}
	if r := st.Latest("A"); r == nil || !r.Deleted {
		t.Errorf("latest A %+v", r)
	}
	if !st.Open() {
		t.Error("state with leftovers is not open")
	}
	// The next entry starts on a fresh line.
	if err := j.Append(JournalEntry{Type: JournalAdopt, Chunk: "c2", Serial: "D", ID: "id"}); err != nil {
		t.Fatal(err)
	}
	// Compact keeps only what is open.
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	st2 := j.State()
	if strings.Join(st2.Leftovers(), ",") != "ib,ic,id" || len(st2.Ambiguous) != 1 || st2.Ambiguous["E"].Chunk != "c2" {
		t.Errorf("after compact: leftovers %v ambiguous %v", st2.Leftovers(), st2.Ambiguous)
	}
	if r := st2.Latest("B"); r == nil || !r.Final || r.ErrorCode != 808 {
		t.Errorf("compact lost the final state of B: %+v", r)
	}
	for _, id := range []string{"ib", "ic", "id"} {
		if err := j.Append(JournalEntry{Type: JournalDeleted, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Append(JournalEntry{Type: JournalAdopt, Chunk: "c2", Serial: "E"}); err != nil {
		t.Fatal(err)
	}
	if j.State().Open() {
		t.Errorf("still open: %+v", j.State())
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("compacted finished journal has %d bytes", len(b))
	}
}

func TestJournalCorruptLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	if err := os.WriteFile(path, []byte("{\"t\":\"intent\"}\nnot json\n{\"t\":\"intent\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenJournal(path, Binding{})
	if err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("err = %v, want one naming %s:2", err, path)
	}
}

func TestJournalLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := OpenJournal(path, Binding{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenJournal(path, Binding{})
	if !errors.Is(err, ErrJournalLocked) {
		t.Fatalf("second open: %v, want ErrJournalLocked", err)
	}
	if !strings.Contains(err.Error(), "pid ") {
		t.Errorf("lock error does not name the holder: %v", err)
	}
	j.Close()
	j2, err := OpenJournal(path, Binding{})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	j2.Close()
}

func TestDefaultJournalPath(t *testing.T) {
	p, err := DefaultJournalPath("../evil/tenant")
	if err != nil {
		t.Skip(err)
	}
	if base := filepath.Base(p); base != "journal-.._evil_tenant.jsonl" || filepath.Base(filepath.Dir(p)) != "apimport" {
		t.Errorf("path %s", p)
	}
}
