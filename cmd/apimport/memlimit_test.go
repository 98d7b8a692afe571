package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestMemoryLimitFollowsTheDeviceCount(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	for _, tc := range []struct {
		env     string
		devices int
		want    int64
	}{
		{"", 1_000, memoryFloor},
		{"", 100_000, memoryFloor}, // 130 MB < 134 MB
		{"", 200_000, 200_000 * memoryPerDevice},
		{"1GiB", 200_000, math.MaxInt64}, // GOMEMLIMIT set: left to the runtime
	} {
		debug.SetMemoryLimit(math.MaxInt64)
		t.Setenv("GOMEMLIMIT", tc.env)
		setMemoryLimit(tc.devices)
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q, %d devices: limit %d, want %d", tc.env, tc.devices, got, tc.want)
		}
	}
	var env cliEnv // tests' environments have no limit to set
	env.limitMemory(1)
}
