package csvreport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ExpandArgs expands glob patterns in args (Windows shells pass "*.csv" through
// unexpanded). An argument is treated as a pattern only when it contains a glob
// metacharacter (*, ? or [) and no file of that exact name exists. A pattern that matches
// nothing, or is malformed, is an error naming it. The result keeps argument order (each
// pattern's matches sorted, as filepath.Glob returns them) and drops exact repeats.
func ExpandArgs(args []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			add(a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			add(a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("bad file pattern %q: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("no files match %q", a)
		}
		for _, m := range matches {
			add(m)
		}
	}
	return out, nil
}
