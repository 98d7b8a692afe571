package mapping

import (
	"slices"
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
