// Package serial defines how apimport compares serial numbers, once for every package
// (mapping's dedupe, the engine, the journal): without surrounding white space or NULs,
// and case-insensitively. Whether Autopilot itself matches serials case-insensitively
// is UNCONFIRMED; folding case can only turn two registrations into a reported
// conflict, never hide a device.
package serial

import (
	"strings"
	"unicode"
)

// Key is the comparison key of a serial number.
func Key(s string) string {
	return strings.ToUpper(strings.TrimFunc(s, func(r rune) bool { return r == 0 || unicode.IsSpace(r) }))
}
