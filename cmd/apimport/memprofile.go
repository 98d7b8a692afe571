package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// envMemProfile names a file that `import` writes a heap profile to once the engine
// run is over (after a GC, with the inputs and results still live): a development aid
// for scripts/bench-import.sh, not a documented option.
const envMemProfile = "APIMPORT_MEMPROFILE"

// writeMemProfile writes the heap profile when $APIMPORT_MEMPROFILE is set; keep is
// kept alive until the profile is taken.
func writeMemProfile(stderr io.Writer, keep ...any) {
	path := os.Getenv(envMemProfile)
	if path == "" {
		return
	}
	runtime.GC()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		err = pprof.WriteHeapProfile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "apimport: %s: %v\n", envMemProfile, err)
	}
	runtime.KeepAlive(keep)
}
