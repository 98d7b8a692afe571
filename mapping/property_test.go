package mapping

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
)

// TestStatusInvariants feeds random mixes of valid rows, recaptures, conflicting machines
// and broken rows, and checks every Result against a plain reference model: exactly one
// status per row, counts that add up, one device per serial, duplicates pointing at the
// registered row, every row of a multi-machine serial in conflict.
func TestStatusInvariants(t *testing.T) {
	// A pool of machines over few serials so that collisions are frequent.
	var pool []hwhash.Device
	for i := range 12 {
		pool = append(pool, machine("PSER"+strconv.Itoa(i%8), i)) // serials 0-3 have two machines
	}
	hashes := make(map[[2]int]string) // (machine, capture) -> base64
	hashOf := func(m, capture int) string {
		k := [2]int{m, capture}
		if h, ok := hashes[k]; ok {
			return h
		}
		d := pool[m]
		d.CaptureTime += uint64(capture) * 3600
		hashes[k] = d.EncodeBase64()
		return hashes[k]
	}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := 1 + rng.IntN(40)
		c, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		type gen struct {
			machine int
			invalid bool
		}
		var gens []gen
		for i := range n {
			m := rng.IntN(len(pool))
			if rng.IntN(5) == 0 {
				// broken: empty hash, or a serial that does not match its hash
				r := row("f"+strconv.Itoa(i%3)+".csv", i+2, pool[m].Serial, "")
				if rng.IntN(2) == 0 {
					r = row(r.File, r.Line, "OTHER"+strconv.Itoa(i), hashOf(m, rng.IntN(3)))
				}
				c.Add(r)
				gens = append(gens, gen{m, true})
				continue
			}
			serial := pool[m].Serial
			if rng.IntN(6) == 0 {
				serial = strings.ToLower(serial)
			}
			c.Add(row("f"+strconv.Itoa(i%3)+".csv", i+2, serial, hashOf(m, rng.IntN(3))))
			gens = append(gens, gen{m, false})
		}
		res := c.Results()
		sum := c.Summary(3)
		if len(res) != n || sum.Rows != n {
			t.Fatalf("seed %d: %d rows in, %d results, summary rows %d", seed, n, len(res), sum.Rows)
		}
		if sum.Valid+sum.Invalid+sum.Duplicates+sum.Conflicts != sum.Rows || sum.Devices != sum.Valid {
			t.Fatalf("seed %d: summary does not add up: %+v", seed, sum)
		}

		// Reference model.
		machinesOf := map[string]map[int]bool{}
		for _, g := range gens {
			if !g.invalid {
				s := pool[g.machine].Serial
				if machinesOf[s] == nil {
					machinesOf[s] = map[int]bool{}
				}
				machinesOf[s][g.machine] = true
			}
		}
		firstOf := map[int]int{} // machine -> first row
		counts := map[Status]int{}
		for i, g := range gens {
			r := res[i]
			counts[r.Status]++
			var want Status
			switch {
			case g.invalid:
				want = StatusInvalid
			case len(machinesOf[pool[g.machine].Serial]) > 1:
				want = StatusConflict
			default:
				if _, ok := firstOf[g.machine]; ok {
					want = StatusDuplicate
				} else {
					firstOf[g.machine] = i
					want = StatusValid
				}
			}
			if r.Status != want {
				t.Fatalf("seed %d row %d: status %s, want %s (%+v)", seed, i, r.Status, want, r.Findings)
			}
			if (r.Device != nil) != (want == StatusValid) || (len(r.Codes) == 0) != (want == StatusValid) {
				t.Fatalf("seed %d row %d: device %v codes %v for %s", seed, i, r.Device != nil, r.Codes, want)
			}
			if want == StatusDuplicate {
				f := res[firstOf[g.machine]]
				if r.DuplicateOf != f.File+":"+strconv.Itoa(f.Line) {
					t.Fatalf("seed %d row %d: duplicate of %q, want first row %s:%d", seed, i, r.DuplicateOf, f.File, f.Line)
				}
			} else if r.DuplicateOf != "" {
				t.Fatalf("seed %d row %d: %s with DuplicateOf %q", seed, i, r.Status, r.DuplicateOf)
			}
		}
		if counts[StatusValid] != sum.Valid || counts[StatusInvalid] != sum.Invalid ||
			counts[StatusDuplicate] != sum.Duplicates || counts[StatusConflict] != sum.Conflicts {
			t.Fatalf("seed %d: summary %+v, counted %v", seed, sum, counts)
		}
	}
}

// TestPrepareConcurrent runs Prepare from several goroutines (run with -race) and checks
// that AddPrepared in input order gives the same results as Add.
func TestPrepareConcurrent(t *testing.T) {
	var rows []csvreport.Row
	for i := range 60 {
		m := machine("CSER"+strconv.Itoa(i%25), i%30)
		rows = append(rows, csvreport.Row{File: "a.csv", Line: i + 2, Serial: m.Serial, Hash: b64(m), GroupTag: "T" + strconv.Itoa(i%2)})
	}
	seq, _ := New(Options{GroupTag: "X"})
	for _, r := range rows {
		seq.Add(r)
	}
	par, _ := New(Options{GroupTag: "X"})
	prepared := make([]Prepared, len(rows))
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			for i := w; i < len(rows); i += 4 {
				prepared[i] = par.Prepare(rows[i])
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	for _, p := range prepared {
		par.AddPrepared(p)
	}
	a, b := seq.Results(), par.Results()
	for i := range a {
		if a[i].Status != b[i].Status || a[i].DuplicateOf != b[i].DuplicateOf || len(a[i].Findings) != len(b[i].Findings) {
			t.Errorf("row %d: sequential %s %q %d findings, parallel %s %q %d findings", i,
				a[i].Status, a[i].DuplicateOf, len(a[i].Findings), b[i].Status, b[i].DuplicateOf, len(b[i].Findings))
		}
	}
}
