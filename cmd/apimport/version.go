package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is set with -ldflags "-X main.Version=v1.2.3" for releases.
var Version string

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// isCobraUsageError recognises the errors cobra returns for bad arguments.
func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Commit and Date are set with -ldflags "-X main.Commit=… -X main.Date=…" by
// scripts/release.sh; without them the build's VCS stamp is used when there is one.
var (
	Commit string
	Date   string
)

// versionLine is what 'apimport -v' prints after "apimport version ": the version, the
// commit and the build date (commit and date only when known), and the Go toolchain.
func versionLine() string {
	commit, date := Commit, Date
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	v := version()
	if h, rest, _ := strings.Cut(commit, "-"); len(h) > 12 { // keep a "-dirty" suffix
		commit = h[:12]
		if rest != "" {
			commit += "-" + rest
		}
	}
	var extra []string
	if commit != "" {
		extra = append(extra, "commit "+commit)
	}
	if date != "" {
		extra = append(extra, "built "+date)
	}
	extra = append(extra, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return v + " (" + strings.Join(extra, ", ") + ")"
}
