package csvreport

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// NoMatchError is returned by ExpandArgs for a pattern that matches no file.
type NoMatchError struct {
	Pattern string
}

func (e *NoMatchError) Error() string { return fmt.Sprintf("no files match %q", e.Pattern) }

// SplitPathError is returned by ExpandArgs when consecutive arguments name no file but,
// joined with spaces, name an existing file or a pattern that matches: an unquoted path
// with spaces that the shell split into several arguments.
type SplitPathError struct {
	Args   []string // the fragments, as given
	Joined string   // the path they make together
}

func (e *SplitPathError) Error() string {
	return fmt.Sprintf("%s: no such files, but %q is: a path with spaces was split into %d arguments", quoteList(e.Args), e.Joined, len(e.Args))
}

// isPattern reports whether a names a glob pattern rather than a file.
func isPattern(a string) bool { return strings.ContainsAny(a, "*?[{") }

// glob returns the files (not folders) a pattern matches, sorted. "**" matches any
// number of folders (recursive); the pattern may use the operating system's separator
// (C:\inbox\**\*.csv on Windows). On Windows "\" is a separator, never an escape.
func glob(pattern string) ([]string, error) {
	m, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
	if err != nil {
		return nil, fmt.Errorf("bad file pattern %q: %w", pattern, err)
	}
	slices.Sort(m)
	return m, nil
}

// globCache remembers the matches of each pattern, so that a drop folder is walked once
// for the split-path check and the expansion.
type globCache map[string][]string

func (c globCache) glob(pattern string) ([]string, error) {
	if m, ok := c[pattern]; ok {
		return m, nil
	}
	m, err := glob(pattern)
	if err == nil {
		c[pattern] = m
	}
	return m, err
}

// exists reports whether a names an existing file or folder, or is a pattern that
// matches a file.
func (c globCache) exists(a string) bool {
	if _, err := os.Stat(a); err == nil {
		return true
	}
	if !isPattern(a) {
		return false
	}
	m, err := c.glob(a)
	return err == nil && len(m) > 0
}

// ExpandArgs expands glob patterns in args (Windows shells pass "*.csv" through
// unexpanded). An argument is a pattern only when it contains a glob metacharacter (*, ?,
// [ or {) and no file of that exact name exists; "**" matches any number of folders, so
// inbox/**/*.csv reads a drop folder and its subfolders. Patterns match files, not
// folders. A malformed pattern is an error naming it; a pattern that matches nothing is a
// *NoMatchError, unless allowEmpty (a drop folder that may be empty), when it is skipped.
// Consecutive arguments that name nothing but together, joined with spaces, name a file
// (an unquoted path with spaces) are a *SplitPathError. Names that are not patterns are
// kept even when missing (reading them reports the error). The result keeps argument
// order (each pattern's matches sorted) and drops exact repeats.
func ExpandArgs(args []string, allowEmpty bool) ([]string, error) {
	cache := globCache{}
	if err := cache.checkSplitPaths(args); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		if a == "-" || !isPattern(a) {
			add(a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			add(a)
			continue
		}
		matches, err := cache.glob(a)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 && !allowEmpty {
			return nil, &NoMatchError{Pattern: a}
		}
		for _, m := range matches {
			add(m)
		}
	}
	return out, nil
}

// maxSplitParts bounds how many consecutive arguments are tried as one split path.
const maxSplitParts = 8

// checkSplitPaths returns a *SplitPathError for the first run of consecutive arguments
// that name nothing but do when joined with spaces.
func (c globCache) checkSplitPaths(args []string) error {
	missing := make([]bool, len(args))
	for i, a := range args {
		missing[i] = a != "-" && !strings.HasPrefix(a, "-") && !c.exists(a)
	}
	for i := range args {
		if !missing[i] {
			continue
		}
		for j := i + 1; j < len(args) && j-i < maxSplitParts && missing[j]; j++ {
			joined := strings.Join(args[i:j+1], " ")
			if c.exists(joined) {
				return &SplitPathError{Args: slices.Clone(args[i : j+1]), Joined: joined}
			}
		}
	}
	return nil
}
