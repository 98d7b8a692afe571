package mapping

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// trimSerial trims what firmware and exports pad serials with: spaces, tabs, NULs.
// Inner spaces are kept (VM serials such as "VMware-56 4d …" contain them).
func trimSerial(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r == 0 || unicode.IsSpace(r) })
}

// isBlank reports whether s holds only whitespace (or NULs).
func isBlank(s string) bool { return trimSerial(s) == "" }

// placeholders are the firmware default serials seen in the wild (compared lowercased,
// with inner runs of spaces collapsed). Such serials are shared by many machines, so
// Autopilot cannot tell the devices apart.
var placeholders = map[string]bool{
	"to be filled by o.e.m.":   true,
	"to be filled by o.e.m":    true,
	"to be filled by oem":      true,
	"default string":           true,
	"default":                  true,
	"system serial number":     true,
	"chassis serial number":    true,
	"base board serial number": true,
	"serial number":            true,
	"serialnumber":             true,
	"none":                     true,
	"null":                     true,
	"n/a":                      true,
	"na":                       true,
	"not specified":            true,
	"not applicable":           true,
	"not available":            true,
	"unknown":                  true,
	"invalid":                  true,
	"oem":                      true,
	"o.e.m.":                   true,
	"123456789":                true,
	"1234567890":               true,
	"0123456789":               true,
	"12345678":                 true,
	"xxxxxxxx":                 true,
	"xxxxxxxxxx":               true,
}

// isPlaceholder reports whether a (trimmed) serial is a firmware placeholder: one of the
// known values, case-insensitively, all zeros, or "SMBIOS_STRING_INDEX_<n>". The last one
// is what the hash holds when the SMBIOS serial string is absent (string index 0 means
// "no string"): two of the real public samples are QEMU VMs with that serial, two
// different machines sharing it.
func isPlaceholder(s string) bool {
	if s == "" {
		return false
	}
	if strings.Trim(s, "0") == "" {
		return true
	}
	norm := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if rest, ok := strings.CutPrefix(norm, "smbios_string_index_"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return true
	}
	return placeholders[norm]
}

// isPKID reports whether s is a 13-digit product key id.
func isPKID(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkGroupTag returns why a trimmed group tag cannot be imported, or "". The Intune
// import CSV cannot carry ',' or '"'; control characters cannot be typed back in the
// portal either. No length limit is documented (UNCONFIRMED), so none is enforced.
func checkGroupTag(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid text"
	case strings.Contains(s, ","):
		return `contains ',' which the import csv cannot carry`
	case strings.Contains(s, `"`):
		return `contains '"' which the import csv cannot carry`
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// checkUPN returns why a trimmed assigned user is not a user principal name
// (local@domain.tld), or "" when it is one or is empty.
func checkUPN(s string) string {
	if s == "" {
		return ""
	}
	const shape = "is not a user principal name (name@domain.tld)"
	const hint = ": it must look like name@contoso.com"
	switch {
	case !utf8.ValidString(s):
		return "is not valid text"
	case strings.ContainsAny(s, `,"`):
		return `contains ',' or '"' which the import csv cannot carry`
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "contains a space or control character" + hint
	case strings.Count(s, "@") != 1:
		return shape
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || domain == "" {
		return shape
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "has no dot in its domain" + hint
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "has a malformed domain" + hint
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return "has a malformed domain" + hint
			}
		}
	}
	return ""
}
