#!/usr/bin/env bash
# bench-cleanup.sh: issue 7's "runs end when the devices are final", measured end to end
# with the real CLI against `apimport emulator` (HTTPS on 127.0.0.1 only):
#
#   1. import N new devices (default 1,200) with the default client throttle budget
#      (100 writes / 1000 requests per 20 s, as the emulator) and --json; read final_s and
#      elapsed_s from the summary and time the process; check
#      elapsed_s <= 1.25 x final_s + 5 s (and the same for the process's wall time);
#   2. `apimport cleanup --journal J --json`: afterwards the emulator's state (its
#      state_file) holds none of the run's import records, and a `cleanup --dry-run`
#      finds nothing left;
#   3. the same import again with the same journal: 0 import requests
#      (import_requests in the summary), every device already_registered.
#
#   scripts/bench-cleanup.sh                 # 1,200 devices (~5 min: the clean-up of
#                                            # ~1,100 records at 100 writes / 20 s)
#   BENCH_N=300 scripts/bench-cleanup.sh     # quicker
#   BENCH_KEEP=1 scripts/bench-cleanup.sh    # keep the work directory (printed)
#   BENCH_DELAY=5s                           # the emulator's processing delay (default 5s)
# Exit status: 0 when every check passed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
. scripts/need.sh
need jq:jq bc:bc
N=${BENCH_N:-1200}
W=$(mktemp -d "${TMPDIR:-/tmp}/apimport-bench-cleanup.XXXXXX")
AP=$W/apimport
FAILS=0
EMU_PID=
finish() {
	[ -n "$EMU_PID" ] && kill -INT "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap finish EXIT
log() { printf '%s bench-cleanup: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
now() { date +%s.%N; }

go build -o "$AP" ./cmd/apimport || exit 1
go run scripts/genfleet.go "$W" "$N" CLN || exit 1

cat >"$W/emu.json" <<JSON
{"processing_delay": "${BENCH_DELAY:-5s}", "initial_status": "pending",
 "dir": "$W/emudir", "state_file": "$W/state.json", "log_file": "$W/requests.jsonl"}
JSON
"$AP" emulator --config "$W/emu.json" >"$W/emu.info" 2>"$W/emu.stderr" &
EMU_PID=$!
for _ in $(seq 100); do grep -q '^ca_file:' "$W/emu.info" 2>/dev/null && break; sleep 0.1; done
grep -q '^ca_file:' "$W/emu.info" || { fail "emulator did not start: $(cat "$W/emu.stderr")"; exit 1; }
info() { sed -n "s/^$1: //p" "$W/emu.info"; }
export AZURE_CLIENT_SECRET
AZURE_CLIENT_SECRET=$(info client_secret)
AUTH=(--auth client-secret --tenant-id "$(info tenant_id)" --client-id "$(info client_id)"
	--graph-url "$(info graph_url)" --authority-url "$(info authority_url)" --ca-file "$(info ca_file)"
	--journal "$W/journal.jsonl")

summary() { jq -c 'select(.message_type=="summary")' "$1"; }
# imported_records: the import records in the emulator's state (saved every 250 ms).
imported_records() { sleep 0.6; jq '[.imported[]?] | length' "$W/state.json"; }

log "import of $N devices (client budget: the default 100 writes / 1000 requests per 20 s)"
t0=$(now)
"$AP" import "${AUTH[@]}" --json "$W/fleet.csv" >"$W/run1.out" 2>"$W/run1.err"
rc=$?
wall=$(echo "$(now) - $t0" | bc)
[ "$rc" = 0 ] || fail "import: exit $rc: $(tail -3 "$W/run1.err")"
S=$(summary "$W/run1.out")
final=$(jq -r .final_s <<<"$S") elapsed=$(jq -r .elapsed_s <<<"$S")
left=$(jq -r '.records_left // [] | length' <<<"$S") deleted=$(jq -r .records_deleted <<<"$S")
reg=$(jq -r '.results.registered // 0' <<<"$S")
[ "$reg" = "$N" ] || fail "import: $reg registered, want $N"
printf 'import:  %d devices registered; last final result at %.1f s; engine elapsed %.1f s (%.2fx); process wall %.1f s (%.2fx); %d records deleted in the run, %d left in the journal; %s import requests, %s requests, %s throttled\n' \
	"$reg" "$final" "$elapsed" "$(echo "$elapsed / $final" | bc -l)" "$wall" "$(echo "$wall / $final" | bc -l)" \
	"$deleted" "$left" "$(jq .import_requests <<<"$S")" "$(jq .requests <<<"$S")" "$(jq .throttled <<<"$S")"
[ "$(echo "$elapsed <= 1.25 * $final + 5" | bc)" = 1 ] || fail "elapsed_s $elapsed > 1.25 x final_s $final + 5"
[ "$(echo "$wall <= 1.25 * $final + 5" | bc)" = 1 ] || fail "process wall time $wall s > 1.25 x final_s $final + 5"
grep -q 'apimport cleanup' "$W/run1.err" && log "stderr names the command for the records left: $(grep -m1 'apimport cleanup' "$W/run1.err" | cut -c1-60)..."
n=$(imported_records)
[ "$n" = "$left" ] || fail "the emulator holds $n import records, the summary says $left are left"

log "apimport cleanup --journal (deletes the $left records left at the write limit)"
t0=$(now)
"$AP" cleanup "${AUTH[@]}" --json >"$W/cleanup.out" 2>"$W/cleanup.err"
rc=$?
cwall=$(echo "$(now) - $t0" | bc)
[ "$rc" = 0 ] || fail "cleanup: exit $rc: $(tail -3 "$W/cleanup.err")"
C=$(summary "$W/cleanup.out")
n=$(imported_records)
printf 'cleanup: %s in %.1f s (wall %.1f s); %s requests; the emulator holds %d import records afterwards\n' \
	"$(jq -c .results <<<"$C")" "$(jq .elapsed_s <<<"$C")" "$cwall" "$(jq .requests <<<"$C")" "$n"
[ "$n" = 0 ] || fail "$n import records left in the tenant after cleanup"
"$AP" cleanup "${AUTH[@]}" --dry-run --json >"$W/cleanup-dry.out" 2>"$W/cleanup-dry.err" || fail "cleanup --dry-run: exit $?"
d=$(summary "$W/cleanup-dry.out" | jq .records)
[ "$d" = 0 ] || fail "cleanup --dry-run still lists $d records"

log "the same import again with the same journal"
"$AP" import "${AUTH[@]}" --json "$W/fleet.csv" >"$W/run2.out" 2>"$W/run2.err"
rc=$?
[ "$rc" = 0 ] || fail "re-run: exit $rc: $(tail -3 "$W/run2.err")"
R=$(summary "$W/run2.out")
posts=$(jq .import_requests <<<"$R")
printf 're-run:  %s import requests, %s writes, results %s, %.1f s\n' "$posts" "$(jq .writes <<<"$R")" "$(jq -c .results <<<"$R")" "$(jq .elapsed_s <<<"$R")"
[ "$posts" = 0 ] || fail "the re-run posted $posts import requests"
[ "$(jq -r '.results.already_registered // 0' <<<"$R")" = "$N" ] || fail "the re-run did not find all $N devices registered"
# No hash text in anything the CLI wrote.
for f in "$W"/*.out "$W"/*.err "$W"/journal.jsonl; do
	[ -f "$f" ] && grep -qF -f "$W/hashes.txt" "$f" && fail "hardware hash text in $(basename "$f")"
done

if [ "$FAILS" = 0 ]; then log "all checks passed"; exit 0; fi
log "$FAILS checks failed"
exit 1
