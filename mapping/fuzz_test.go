package mapping

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apimport/apimport/csvreport"
)

// FuzzAdd checks on arbitrary field values that a row never panics and ends in exactly
// one consistent state: valid with a device and no codes, or invalid with sorted codes.
func FuzzAdd(f *testing.F) {
	m := machine("CZC1234567", 1)
	f.Add("CZC1234567", "", b64(m), "Sales", "ann@contoso.com")
	f.Add("", "00330-80000-00000-AA123", b64(m), "", "")
	f.Add("To be filled by O.E.M.", "3300000012345", corrupt(m, 40), "a,b", "ann")
	f.Add(" czc1234567\x00", "", b64(m)[:3990], "\x01", "@")
	f.Fuzz(func(t *testing.T, serial, pid, hash, tag, user string) {
		c, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := csvreport.Row{File: "f.csv", Line: 2, Serial: serial, ProductID: pid, Hash: hash, GroupTag: tag, AssignedUser: user}
		c.Add(r)
		c.Add(r) // the same row again: a duplicate when the first was valid
		res := c.Results()
		if len(res) != 2 {
			t.Fatalf("%d results", len(res))
		}
		first, second := res[0], res[1]
		switch first.Status {
		case StatusValid:
			if first.Device == nil || len(first.Codes) != 0 || second.Status != StatusDuplicate || second.DuplicateOf != "f.csv:2" {
				t.Fatalf("valid row: %+v then %+v", first, second)
			}
		case StatusInvalid:
			if first.Device != nil || len(first.Codes) == 0 || !slices.IsSorted(first.Codes) || second.Status != StatusInvalid {
				t.Fatalf("invalid row: %+v then %+v", first, second)
			}
		default:
			t.Fatalf("status %s", first.Status)
		}
		if s := c.Summary(1); s.Valid+s.Invalid+s.Duplicates+s.Conflicts != 2 {
			t.Fatalf("summary %+v", s)
		}
	})
}

// FuzzRows feeds a Checker several rows drawn from a small pool of serials (one of
// them differing only in case) and machines, so that duplicates, recaptures and
// conflicts are common, and checks the invariants against what was generated:
//   - every row ends in exactly one status, and the summary counts them;
//   - a damaged hash is invalid, and nothing else is;
//   - a serial (compared case-insensitively, also inside the identity) with one machine
//     has its first row valid and every
//     later row a duplicate that points to that first row;
//   - a serial with two machines has every row in conflict (none registered), and a
//     conflict row shares its serial with a row of another hardware identity.
//
// Each row takes two bytes: serial (bits 0-1), machine (2-3), damaged hash (bits 4-6
// all zero), group tag (bit 7); the second byte is the capture time (another capture of
// the same machine is another hash, same identity).
func FuzzRows(f *testing.F) {
	f.Add([]byte{0x00, 1, 0x00, 2})                         // a recapture: duplicate
	f.Add([]byte{0x00, 1, 0x04, 1})                         // two machines, one serial: conflict
	f.Add([]byte{0x02, 1, 0x00, 1, 0x10, 3})                // case-only serial difference
	f.Add([]byte{0x80, 1, 0x00, 1, 0x01, 1, 0x40, 9, 0x05}) // tag differs, damaged, odd length
	f.Fuzz(func(t *testing.T, data []byte) {
		serials := [...]string{"CZC1000001", "CZC1000002", "czc1000001", "CZC1000003"}
		type gen struct {
			serial  string
			machine int
			damaged bool
		}
		var gens []gen
		c, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(data) && len(gens) < 40; i += 2 {
			b := data[i]
			g := gen{serial: serials[b&3], machine: int(b>>2) & 3, damaged: (b>>4)&7 == 0 && b&0x80 == 0 && data[i+1]%5 == 0}
			d := machine(g.serial, g.machine)
			d.CaptureTime += uint64(data[i+1]) * 86_400
			h := b64(d)
			if g.damaged {
				h = corrupt(d, 40+int(data[i+1])%60) // inside the records, before the checksum
			}
			r := row("f.csv", len(gens)+2, g.serial, h)
			if b&0x80 != 0 {
				r.GroupTag = "Sales"
			}
			c.Add(r)
			gens = append(gens, g)
		}
		res := c.Results()
		if len(res) != len(gens) {
			t.Fatalf("%d results for %d rows", len(res), len(gens))
		}
		type ident struct {
			serial  string
			machine int
		}
		machines := map[string]map[ident]bool{} // serial key -> identities of good rows
		first := map[string]int{}               // serial key -> first good row
		for i, g := range gens {
			if g.damaged {
				continue
			}
			k := strings.ToUpper(g.serial)
			if machines[k] == nil {
				machines[k] = map[ident]bool{}
				first[k] = i
			}
			machines[k][ident{k, g.machine}] = true // the identity compares serials case-insensitively too
		}
		counts := map[Status]int{}
		for i, r := range res {
			g := gens[i]
			counts[r.Status]++
			if r.Line != i+2 || r.File != "f.csv" {
				t.Fatalf("row %d: result for %s:%d", i, r.File, r.Line)
			}
			if (r.Status == StatusValid) != (r.Device != nil) {
				t.Fatalf("row %d: status %s with device %v", i, r.Status, r.Device != nil)
			}
			if g.damaged {
				if r.Status != StatusInvalid {
					t.Fatalf("row %d: damaged hash is %s", i, r.Status)
				}
				continue
			}
			k := strings.ToUpper(g.serial)
			switch {
			case len(machines[k]) > 1:
				if r.Status != StatusConflict {
					t.Fatalf("row %d: serial %s has %d machines but the row is %s", i, k, len(machines[k]), r.Status)
				}
				other := false
				for j, h := range gens {
					other = other || !h.damaged && j != i && strings.EqualFold(h.serial, g.serial) && h.machine != g.machine
				}
				if !other {
					t.Fatalf("row %d: conflict without another machine", i)
				}
			case first[k] == i:
				if r.Status != StatusValid || len(r.Codes) != 0 {
					t.Fatalf("row %d: first row of %s is %s %v", i, k, r.Status, r.Codes)
				}
			default:
				want := fmt.Sprintf("f.csv:%d", first[k]+2)
				if r.Status != StatusDuplicate || r.DuplicateOf != want {
					t.Fatalf("row %d: %s duplicate of %q, want a duplicate of %s", i, r.Status, r.DuplicateOf, want)
				}
			}
			switch r.Status {
			case StatusValid, StatusInvalid, StatusDuplicate, StatusConflict:
			default:
				t.Fatalf("row %d: status %q", i, r.Status)
			}
		}
		s := c.Summary(1)
		if s.Rows != len(res) || s.Valid != counts[StatusValid] || s.Invalid != counts[StatusInvalid] ||
			s.Duplicates != counts[StatusDuplicate] || s.Conflicts != counts[StatusConflict] || s.Devices != s.Valid {
			t.Fatalf("summary %+v, statuses %v", s, counts)
		}
	})
}
