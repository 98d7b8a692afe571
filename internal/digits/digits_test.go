package digits

import "testing"

func TestDigits(t *testing.T) {
	for _, c := range []struct {
		s                        string
		all, decimal, scientific bool
	}{
		{"", false, false, false},
		{"0", true, true, false},
		{"0123", true, true, false},
		{"12.5", false, true, false},
		{"12.", false, false, false},
		{".5", false, false, false},
		{"1.2.3", false, false, false},
		{"-1", false, false, false},
		{"+1", false, false, false},
		{" 1", false, false, false},
		{"1e3", false, false, false},
		{"١٢", false, false, false}, // Arabic-Indic digits are not ASCII digits
		{"3.30761E+12", false, false, true},
		{"5E+14", false, false, true},
		{"1.2e+05", false, false, true},
		{"1.23457E11", false, false, false},
		{"E+11", false, false, false},
		{"1.E+11", false, false, false},
		{"5E+", false, false, false},
		{"PF3E+11", false, false, false},
		{" 9.99E+20 ", false, false, false},
	} {
		if got := All(c.s); got != c.all {
			t.Errorf("All(%q) = %v", c.s, got)
		}
		if got := Decimal(c.s); got != c.decimal {
			t.Errorf("Decimal(%q) = %v", c.s, got)
		}
		if got := Scientific(c.s); got != c.scientific {
			t.Errorf("Scientific(%q) = %v", c.s, got)
		}
	}
}
