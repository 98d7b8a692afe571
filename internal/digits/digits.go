// Package digits recognises plain ASCII decimal numbers in text: the serials and
// product ids Excel turned into scientific notation (csvreport, mapping) and the
// delay-seconds of a Retry-After header (graph).
package digits

import "strings"

// All reports whether s is one or more ASCII digits.
func All(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal reports whether s is DIGITS or DIGITS "." DIGITS.
func Decimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return All(whole) && (!dot || All(frac))
}

// Scientific reports whether s is a number Excel wrote in scientific notation
// (3.30761E+12, 5E+14, 1.2e+05): a Decimal, "E+" in either case, DIGITS. Surrounding
// space is not trimmed.
func Scientific(s string) bool {
	mant, exp, ok := strings.Cut(strings.ToUpper(s), "E+")
	return ok && Decimal(mant) && All(exp)
}
