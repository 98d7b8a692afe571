package main

import (
	"os"
	"runtime/debug"
)

// A run over the tenant (import, update, remove) sets the Go runtime's soft memory
// limit once it knows how many devices it has, unless GOMEMLIMIT is set: memoryFloor, or
// memoryPerDevice per device when that is more. The live heap of an import is about
// 0.7 KiB per device (100,000 devices: scripts/bench-import.sh), so at scale the limit
// is about twice the live heap, which the collector allows by default anyway; up to
// some 100,000 devices it keeps the heap near 128 MiB instead of letting it double
// (the benchmark's peak RSS: 224–228 MB without, 159–166 MB with, for 1–5 s more CPU).
const (
	memoryFloor     = 128 << 20
	memoryPerDevice = 1300
)

// setMemoryLimit is main's cliEnv.memoryLimit (tests leave it nil: the limit is the
// process's).
func setMemoryLimit(devices int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(max(memoryFloor, int64(devices)*memoryPerDevice))
}

// limitMemory applies env's memory limit for a run of devices, when it has one.
func (env *cliEnv) limitMemory(devices int) {
	if env.memoryLimit != nil {
		env.memoryLimit(devices)
	}
}
