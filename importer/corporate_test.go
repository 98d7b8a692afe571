package importer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpItems(n int, prefix string) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{File: "ids.csv", Line: i + 1, Serial: fmt.Sprintf("%s%04d", prefix, i), Manufacturer: "Contoso", Model: "Laptop 7"}
	}
	return items
}

func corpOpts() Options {
	o := fastOpts()
	o.Mode = ModeCorporate
	return o
}

func runCorp(t *testing.T, f *fakeService, items []Item, opts Options) (map[string]DeviceResult, RunSummary) {
	t.Helper()
	c := &collector{}
	sum, err := runFake(context.Background(), f, items, opts, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.out) != len(items) {
		t.Fatalf("%d results for %d items", len(c.out), len(items))
	}
	return c.bySerial(t), sum
}

func TestCorporateRunAndRerun(t *testing.T) {
	f := newFake(0)
	items := corpItems(5, "C")
	f.identities = map[string]DeviceIdentity{IdentityKey(items[1].Identifier()): {ID: "seeded", Identifier: items[1].Identifier(), EnrollmentState: "notContacted"}}
	jpath := filepath.Join(t.TempDir(), "j.jsonl")
	jn, err := OpenJournal(jpath, Binding{Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	opts := corpOpts()
	opts.ChunkSize = 2
	opts.Journal = jn
	opts.Concurrency = 1
	// The journal announces each POST before it is sent (it is compacted at the end of
	// a run that leaves nothing open, so look while the run is on).
	var seen []string
	f.identityHook = func(ids []string, created bool) error {
		if !created {
			b, _ := os.ReadFile(jpath)
			seen = append(seen, fmt.Sprintf("%d/%d", strings.Count(string(b), `"t":"write"`), strings.Count(string(b), `"t":"written"`)))
		}
		return nil
	}
	res, sum := runCorp(t, f, items, opts)
	jn.Close()
	for i, it := range items {
		r := res[it.Serial+"#"+fmt.Sprint(it.Line)]
		want := ResultRegistered
		if i == 1 {
			want = ResultAlreadyRegistered
		}
		if r.Result != want || r.ImportID == "" {
			t.Errorf("%s: %+v, want %s with an id", it.Serial, r, want)
		}
	}
	if len(f.identPosts) != 2 || len(f.identPosts[0]) != 2 || len(f.identPosts[1]) != 2 {
		t.Errorf("posts %v, want 2 chunks of 2 (the registered one left out)", f.identPosts)
	}
	if sum.Posts != 2 || sum.Counts[ResultRegistered] != 4 || sum.Counts[ResultAlreadyRegistered] != 1 {
		t.Errorf("summary %+v", sum)
	}
	if strings.Join(seen, " ") != "1/0 2/1" {
		t.Errorf("journal write/written entries at each POST: %v, want 1/0 2/1", seen)
	}
	f.identityHook = nil

	// A re-run posts nothing.
	before := len(f.identPosts)
	res, sum = runCorp(t, f, items, corpOpts())
	for _, r := range res {
		if r.Result != ResultAlreadyRegistered {
			t.Errorf("re-run: %+v", r)
		}
	}
	if len(f.identPosts) != before || sum.Writes != 0 {
		t.Errorf("re-run posted: %d writes", sum.Writes)
	}
}

// The dry run plans from the same search and never posts an import.
func TestCorporateDryRun(t *testing.T) {
	f := newFake(0)
	items := corpItems(3, "D")
	f.identities = map[string]DeviceIdentity{IdentityKey(items[0].Identifier()): {ID: "x", Identifier: items[0].Identifier()}}
	opts := corpOpts()
	opts.DryRun = true
	res, sum := runCorp(t, f, items, opts)
	if len(f.identPosts) != 0 || f.searches != 1 || sum.Writes != 0 {
		t.Fatalf("dry run: %d posts, %d searches, %d writes", len(f.identPosts), f.searches, sum.Writes)
	}
	got := []string{res["D0000#1"].Result, res["D0001#2"].Result, res["D0002#3"].Result}
	if strings.Join(got, ",") != "already_registered,new,new" {
		t.Errorf("plan %v", got)
	}
	// Offline: no call at all.
	f2 := newFake(0)
	opts.Offline = true
	res, _ = runCorp(t, f2, items, opts)
	if f2.stats.Requests != 0 || res["D0000#1"].Result != ResultNew {
		t.Errorf("offline: %d requests, %+v", f2.stats.Requests, res["D0000#1"])
	}
}

// status false → rejected; a 400 for a chunk is split until the bad identifier is alone.
func TestCorporateRejections(t *testing.T) {
	f := newFake(0)
	items := corpItems(8, "R")
	items[5].Serial = "BAD5"
	f.refuse = map[string]bool{IdentityKey(items[2].Identifier()): true}
	f.identityHook = func(ids []string, created bool) error {
		for _, id := range ids {
			if !created && strings.HasSuffix(id, ",BAD5") {
				return &APIError{StatusCode: 400, Code: "BadRequest", Message: fmt.Sprintf("Invalid Device Identifier parameter found for 1 import records!")}
			}
		}
		return nil
	}
	res, _ := runCorp(t, f, items, corpOpts())
	for _, it := range items {
		r := res[it.Serial+"#"+fmt.Sprint(it.Line)]
		want := ResultRegistered
		if it.Line == 3 || it.Line == 6 {
			want = ResultRejected
		}
		if r.Result != want {
			t.Errorf("%s: %+v, want %s", it.Serial, r, want)
		}
		if want == ResultRejected && r.Hint != HintIdentityRejected {
			t.Errorf("%s: hint %q", it.Serial, r.Hint)
		}
	}
	if !strings.Contains(res["BAD5#6"].Message, "Invalid Device Identifier") {
		t.Errorf("message %q", res["BAD5#6"].Message)
	}
}

// An unconfirmed POST (no answer after the identities were stored) is reconciled by a
// search, not posted again; one that stored nothing is posted again.
func TestCorporateUnconfirmedPost(t *testing.T) {
	for _, stored := range []bool{true, false} {
		t.Run(fmt.Sprint("stored=", stored), func(t *testing.T) {
			f := newFake(0)
			items := corpItems(4, "U")
			failed := false
			f.identityHook = func(ids []string, created bool) error {
				if created == stored && !failed {
					failed = true
					return errors.New("connection reset by peer")
				}
				return nil
			}
			res, _ := runCorp(t, f, items, corpOpts())
			for _, r := range res {
				if r.Result != ResultRegistered {
					t.Errorf("%+v", r)
				}
			}
			wantPosts := 2
			if stored {
				wantPosts = 1
				if !strings.Contains(res["U0000#1"].Message, "confirmed by searchExistingIdentities") {
					t.Errorf("message %q", res["U0000#1"].Message)
				}
			}
			if len(f.identPosts) != wantPosts {
				t.Errorf("%d posts, want %d", len(f.identPosts), wantPosts)
			}
		})
	}
}

// Chunks stay within MaxCorporateBody bytes however long the identifiers.
func TestCorporateChunkBytes(t *testing.T) {
	e := &engine{opts: Options{ChunkSize: MaxCorporateChunk}}
	long := strings.Repeat("<", 128) // JSON-escaped to 6 bytes each
	var devs []*devState
	for i := range MaxCorporateChunk {
		devs = append(devs, &devState{item: &Item{Manufacturer: long, Model: long, Serial: fmt.Sprintf("%s%05d", long[:120], i)}})
	}
	chunks := e.identityChunks(devs)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	total := 0
	for _, c := range chunks {
		size := 0
		for _, d := range c {
			size += identitySize(d.item.Identifier())
		}
		if size > MaxCorporateBody || len(c) > MaxCorporateChunk {
			t.Errorf("chunk of %d identities, %d bytes", len(c), size)
		}
		total += len(c)
	}
	if total != len(devs) {
		t.Errorf("%d of %d identities chunked", total, len(devs))
	}
	// Options: corporate runs take up to 5,000 a chunk, 500 by default.
	o := Options{Mode: ModeCorporate}
	o.defaults()
	if o.ChunkSize != DefaultCorporateChunk {
		t.Errorf("default chunk %d", o.ChunkSize)
	}
	o = Options{Mode: ModeCorporate, ChunkSize: 9000}
	o.defaults()
	if o.ChunkSize != MaxCorporateChunk {
		t.Errorf("chunk %d", o.ChunkSize)
	}
}
