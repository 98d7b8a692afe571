package spill

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
)

func TestPutGetConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]Ref, 200)
	var wg sync.WaitGroup
	for i := range refs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := s.Put(bytes.Repeat([]byte{byte(i)}, 3000+i))
			if err != nil {
				t.Error(err)
			}
			refs[i] = r
		}(i)
	}
	wg.Wait()
	for i, r := range refs {
		b, err := s.Get(r)
		if err != nil || len(b) != 3000+i || b[0] != byte(i) || b[len(b)-1] != byte(i) {
			t.Fatalf("value %d: %v (%d bytes)", i, err, len(b))
		}
	}
	if runtime.GOOS != "windows" {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("the spill file is visible in its folder: %v", ents)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(refs[0]); err == nil {
		t.Error("Get after Close worked")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left after Close: %v", fmt.Sprint(ents))
	}
}
