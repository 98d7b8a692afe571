// Package spill keeps large byte values (the decoded hardware hashes of an import)
// in a private temporary file instead of memory: an import of 100,000 devices would
// otherwise hold 300 MB of hashes for the whole run. The file is created with mode
// 0600 in the temporary folder, removed at once where the OS allows (Unix) and
// otherwise at Close, and never outlives the process on Unix.
package spill

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// Ref locates a value in the store.
type Ref struct {
	Off int64
	Len int32
}

// Store is an append-only file of values; safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	f    *os.File
	name string
	end  int64
}

// New creates the store's file (mode 0600) in dir ("" for the temporary folder).
func New(dir string) (*Store, error) {
	f, err := os.CreateTemp(dir, "apimport-spill-*")
	if err != nil {
		return nil, fmt.Errorf("creating the spill file: %w", err)
	}
	s := &Store{f: f, name: f.Name()}
	if runtime.GOOS != "windows" {
		// Unlinked: only this process's descriptor reaches it.
		_ = os.Remove(s.name)
		s.name = ""
	}
	return s, nil
}

// Put appends b and returns where it is.
func (s *Store) Put(b []byte) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return Ref{}, errors.New("spill store is closed")
	}
	if _, err := s.f.WriteAt(b, s.end); err != nil {
		return Ref{}, fmt.Errorf("writing the spill file: %w", err)
	}
	r := Ref{Off: s.end, Len: int32(len(b))}
	s.end += int64(len(b))
	return r, nil
}

// Get reads the value at r.
func (s *Store) Get(r Ref) ([]byte, error) {
	s.mu.Lock()
	f := s.f
	s.mu.Unlock()
	if f == nil {
		return nil, errors.New("spill store is closed")
	}
	b := make([]byte, r.Len)
	if _, err := f.ReadAt(b, r.Off); err != nil {
		return nil, fmt.Errorf("reading the spill file: %w", err)
	}
	return b, nil
}

// Close closes and removes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if s.name != "" {
		_ = os.Remove(s.name)
	}
	return err
}
