#!/bin/sh
# bench-import.sh: import a fleet through the in-process Graph emulator and compare the
# engine with the lower bound and with the PowerShell module's strategy (one POST per
# device, list everything every 15 s, then delete everything).
#
#   scripts/bench-import.sh            # 10,000 devices, both configurations + PowerShell
#   APIMPORT_BENCH_N=2000 scripts/bench-import.sh
#   APIMPORT_BENCH_PS=0 scripts/bench-import.sh   # engine only (the PowerShell run takes ~7 min)
#
# Configurations (see graph/engine_bench_test.go):
#   throttle-bound  window 2 s, 10 writes / 100 requests (the documented 100/1000 per 20 s,
#                   window and limits divided by 10), processing delay 2 s
#   time-scaled     window 2 s, 100 writes / 1000 requests (everything 10x faster),
#                   processing delay 3 s, PowerShell poll every 1.5 s
set -eu
cd "$(dirname "$0")/.."
exec go test ./graph -run '^$' -bench 'BenchmarkImportFleet' -benchtime=1x -timeout 60m "$@"
