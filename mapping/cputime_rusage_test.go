//go:build linux || darwin || freebsd

package mapping

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time: the benchmarks report it because
// wall time on a shared machine says little about the work done.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
