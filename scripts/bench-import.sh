#!/usr/bin/env bash
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
#
# CLI mode: the real `apimport import` process against `apimport emulator` (two processes,
# HTTPS on 127.0.0.1), time-scaled limits on both sides (100 writes / 1000 requests per 2 s,
# processing 3 s), measuring the client's peak memory (max RSS, GNU time) and times:
#
#   APIMPORT_BENCH_CLI=100000 scripts/bench-import.sh [DIR]   # DIR keeps the fleet (~480 MB)
#   APIMPORT_BENCH_PROFILE=1 ...                               # + heap profile (pprof -top)
#   APIMPORT_BENCH_GOMEMLIMIT=400MiB ...                       # the client with another Go soft memory limit
#   APIMPORT_BENCH_TEXT=1 ...                                  # the default text output and --report, not --json
#   APIMPORT_BENCH_RERUN=1 ...                                 # measure the same import run again (journal, tenant)
#
# The client sets its own soft memory limit (128 MiB up to ~100,000 devices, see
# cmd/apimport/memlimit.go); GOMEMLIMIT overrides it.
#
# It prints max RSS, wall time, final_s, elapsed_s and the request counts; exit 1 when
# the RSS is over APIMPORT_BENCH_RSS_MB (default 200) or a device is not registered.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${APIMPORT_BENCH_CLI:-}" ]; then
	exec go test ./graph -run '^$' -bench 'BenchmarkImportFleet' -benchtime=1x -timeout 60m "$@"
fi

N=$APIMPORT_BENCH_CLI
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/apimport-bench-cli.XXXXXX")}
mkdir -p "$dir"
. scripts/need.sh
need /usr/bin/time:time jq:jq bc:bc
env -u GODEBUG go build -o "$dir/apimport" ./cmd/apimport # a GODEBUG for the client must not reach the compiler
if [ "$(($(wc -l 2>/dev/null <"$dir/fleet.csv" || echo 0) - 1))" != "$N" ]; then
	echo "generating $N devices in $dir/fleet.csv"
	go run scripts/genfleet.go "$dir" "$N" RSS
fi
ls -l "$dir/fleet.csv" | awk '{printf "fleet.csv: %.0f MB\n", $5/1e6}'
rm -f "$dir/journal.jsonl" "$dir/emu.info" "$dir/report.csv"
out_args=(--json)
[ "${APIMPORT_BENCH_TEXT:-0}" = 1 ] && out_args=(--report "$dir/report.csv")
cat >"$dir/emu.json" <<JSON
{"processing_delay": "3s", "write_limit": 100, "request_limit": 1000, "throttle_window": "2s",
 "log_memory": 1000, "dir": "$dir/emudir"}
JSON
"$dir/apimport" emulator --config "$dir/emu.json" >"$dir/emu.info" 2>"$dir/emu.stderr" &
emu=$!
trap 'kill -INT $emu 2>/dev/null; wait $emu 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q '^ca_file:' "$dir/emu.info" 2>/dev/null && break; sleep 0.1; done
info() { sed -n "s/^$1: //p" "$dir/emu.info"; }
prof=
[ "${APIMPORT_BENCH_PROFILE:-0}" = 1 ] && prof=$dir/heap.pprof
run_import() {
	APIMPORT_MEMPROFILE=$prof AZURE_CLIENT_SECRET=$(info client_secret) \
		env ${APIMPORT_BENCH_GOMEMLIMIT:+GOMEMLIMIT=$APIMPORT_BENCH_GOMEMLIMIT} /usr/bin/time -v -o "$dir/time.txt" \
		"$dir/apimport" import --auth client-secret --tenant-id "$(info tenant_id)" --client-id "$(info client_id)" \
		--graph-url "$(info graph_url)" --authority-url "$(info authority_url)" --ca-file "$(info ca_file)" \
		--write-limit 100 --request-limit 1000 --throttle-window 2s --journal "$dir/journal.jsonl" \
		"${out_args[@]}" "$dir/fleet.csv" >"$dir/import.out" 2>"$dir/import.err"
}
if [ "${APIMPORT_BENCH_RERUN:-0}" = 1 ]; then
	# measure the second run: the same import again, with its journal, on the same tenant
	run_import || { echo "bench-import: the first run failed: $(tail -2 "$dir/import.err")"; exit 1; }
	echo "first run: $(grep -o '"results":{[^}]*}' "$dir/import.out" || tail -1 "$dir/import.out"); measuring the re-run"
fi
rc=0
run_import || rc=$?
if [ "${APIMPORT_BENCH_TEXT:-0}" = 1 ]; then
	# the same summary fields, from the text summary line and the report
	reg=$(grep -c ',registered,' "$dir/report.csv" || true)
	left=$(grep -oE '[0-9]+ import records? left' "$dir/import.err" | grep -oE '^[0-9]+' || echo 0)
	S=$(jq -nc --argjson reg "$reg" --argjson left "$left" --arg line "$(grep -E '^[0-9]+ rows?: ' "$dir/import.out" | tail -1)" \
		'{results: {registered: $reg}, final_s: ($line | capture("final after (?<s>[0-9.]+)s").s), elapsed_s: ($line | capture(", (?<s>[0-9.]+)s in total").s),
		  import_requests: "-", requests: ($line | capture("; (?<n>[0-9]+) requests").n), requests_until_final: "-", throttled: ($line | capture("[(](?<n>[0-9]+) throttled").n), records_deleted: "-", left: $left}')
else
	S=$(jq -c 'select(.message_type=="summary")' "$dir/import.out")
fi
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
printf 'import of %d devices: exit %d; max RSS %.0f MB; wall %s; user %s s, system %s s\n' "$N" "$rc" "$(echo "$rss / 1024" | bc -l)" \
	"$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")" \
	"$(sed -n 's/.*User time (seconds): //p' "$dir/time.txt")" "$(sed -n 's/.*System time (seconds): //p' "$dir/time.txt")"
jq -r '"summary: \(.results); final_s \(.final_s), elapsed_s \(.elapsed_s); \(.import_requests) import requests, \(.requests) requests (\(.requests_until_final) until final), \(.throttled) throttled, \(.records_deleted) records deleted, \(.left // (.records_left // [] | length)) left"' <<<"$S"
if [ -n "$prof" ]; then
	go tool pprof -sample_index=inuse_space -top -nodecount=15 "$dir/apimport" "$prof" 2>/dev/null | sed -n '1,22p'
fi
ok=1
[ "$(jq -r '.results.registered // 0' <<<"$S")" = "$N" ] || { echo "bench-import: FAIL: not every device registered (exit $rc: $(tail -2 "$dir/import.err"))"; ok=0; }
[ "$rss" -le $((${APIMPORT_BENCH_RSS_MB:-200} * 1024)) ] || { echo "bench-import: FAIL: max RSS over ${APIMPORT_BENCH_RSS_MB:-200} MB"; ok=0; }
[ $ok = 1 ]
