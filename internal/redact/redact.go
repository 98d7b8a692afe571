// Package redact shortens what could be a hardware hash in any text apimport prints,
// logs or writes: the one redaction helper, used by the CLI's outputs and by the Graph
// client's error messages (a 400 can quote the hash it refused).
package redact

import (
	"fmt"
	"strings"
)

const (
	// Run is the length from which a run of base64 characters is shortened: shorter
	// than any hardware hash (about 4,000 characters), longer than serials, ids and
	// digests.
	Run = 64
	// Keep is how many characters of a shortened run stay, to recognise it.
	Keep = 16
)

func isBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// Hashes shortens every run of at least Run base64 characters in s to its first Keep
// characters and "…(N characters)". A run of letters and slashes only (a URL path in a
// service message) is left alone: base64 of a hash has digits, "+" or "=" within any 64
// characters but for a chance of about one in a million.
func Hashes(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isBase64(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isBase64(s[j]) {
			j++
		}
		if j-i >= Run && !pathLike(s[i:j]) {
			b.WriteString(s[last : i+Keep])
			fmt.Fprintf(&b, "…(%d characters)", j-i)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func pathLike(run string) bool {
	return !strings.ContainsAny(run, "0123456789+=")
}
