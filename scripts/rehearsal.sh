#!/usr/bin/env bash
# rehearsal.sh: a chaos rehearsal of `apimport import` against the local Graph emulator
# (`apimport emulator`, HTTPS on 127.0.0.1 only; nothing leaves the machine).
#
#   scripts/rehearsal.sh                 # all scenarios, 150-device fleets (1,500 for issue 8's); ~5 min
#   REH_N=2000 scripts/rehearsal.sh      # bigger fleets
#   REH_KEEP=1 scripts/rehearsal.sh      # keep the work directory (printed) for inspection
#   REH_ONLY="timeout sigint" scripts/rehearsal.sh
#   REH_N2=500 scripts/rehearsal.sh      # smaller fleets for the issue-8 scenarios (default 1,500)
#
# It builds the CLI, generates fleets (Get-WindowsAutopilotInfo CSV from hwhash.Device: valid
# rows, rows already registered (same and other group tag), serials owned by another tenant
# (808), hashes without manufacturer (802, refused locally), duplicates, conflicts, and import
# records created by someone else), runs the real CLI the way a scheduled job would (--json,
# --report, explicit --journal) while the emulator injects 5xx/503/dropped connections/storage
# errors, and after each scenario checks:
#   - every input row has exactly one device line per run and the summary counts match;
#   - the exit code is the one expected (0/1/3/4/130);
#   - from the emulator's request log: no serial was accepted by two import POSTs while the
#     first record could still be processing (not deleted and younger than processing_delay);
#     no import record created by someone else was ever deleted;
#   - at the end of the scenario, after `apimport cleanup` with its journal (a run ends when
#     its devices are final and leaves what it had no time to delete in the journal), the
#     tenant holds no import record the tool created;
#   - no client secret, bearer token or hash text in stdout/stderr/report/journal.
# Scenarios: timeout (tight --wait, re-runs), sigint, sigkill (+ emulator restart from its
# state_file), concurrent (two runs, one journal), lostjournal (kill, re-run with a fresh
# journal), update (--update-existing), dryrun (--dry-run while imports are pending),
# exitcodes (0 for a clean fleet and its re-run, 4 for a wrong client secret).
# Issue 8 scenarios, 1,500-device fleets (REH_N2), limits scaled x10 in time on both sides
# (200 writes / 2000 requests per 2 s) so that `apimport cleanup` empties the tenant quickly:
#   foreign       (item 1) serials with an older import record made by someone else; the run
#                 is SIGKILLed while a POST of such a serial is unconfirmed (journal intent
#                 without an outcome; the emulator delays 30% of the requests by 6 s and
#                 drops connections after processing); the re-run registers every such
#                 serial, never adopts, rejects or deletes the foreign record.
#   tenant        (item 2) tenant A's journal against tenant B (a second emulator): import
#                 and cleanup exit 2, the journal is unchanged, B gets no write.
#   latevis       (item 3) new import records are invisible for 5 s (visibility_delay, more
#                 than two poll intervals with --poll-min 1s): every serial posted once, all
#                 registered.
#   syncthrottle  (item 9) the first sync call is throttled (sync_throttled): the sync is
#                 retried and "called"; a run right after is not taken for throttling (the
#                 10-minute rule: skipped or "too soon", no retry).
# Exit status: 0 when every check passed, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
. scripts/need.sh
need jq:jq
REPO=$PWD
N=${REH_N:-150}
N2=${REH_N2:-1500}
ONLY=${REH_ONLY:-"timeout sigint sigkill concurrent lostjournal update dryrun exitcodes foreign tenant latevis syncthrottle"}
W=$(mktemp -d "${TMPDIR:-/tmp}/apimport-rehearsal.XXXXXX")
AP=$W/apimport
FAILS=0
EMU_PID=
cleanup() {
	[ -n "$EMU_PID" ] && kill -INT "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	rm -rf "$REPO/.rehearsal-gen"
	if [ "${REH_KEEP:-0}" = 1 ]; then echo "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
log() { printf '%s rehearsal: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }

go build -o "$AP" ./cmd/apimport || exit 1

# The fleet generator uses hwhash from this module, so it is built inside the repository
# (a dot-directory, ignored by ./... and removed on exit).
mkdir -p "$REPO/.rehearsal-gen"
sed -n '/^\/\/ GEN-BEGIN$/,/^\/\/ GEN-END$/p' "$0" | sed '1d;$d' >"$REPO/.rehearsal-gen/main.go"
go build -o "$W/gen" ./.rehearsal-gen || exit 1
rm -rf "$REPO/.rehearsal-gen"

# start_emu DIR [extra JSON config members]: start (or restart) the emulator of scenario DIR.
start_emu() {
	local d=$1 extra=${2:-}
	local faults=${EMU_FAULTS:-} after=false
	[ $((RANDOM % 2)) = 1 ] && after=true
	[ -n "$faults" ] || faults='{"error_5xx": 0.03, "error_503_retry_after": 0.02, "drop_connection": 0.02,
            "drop_after_processing": '$after', "storage_error": 0.03, "slow_response": 0.01, "slow_delay": "300ms"}'
	cat >"$d/emu.json" <<JSON
{"processing_delay": "${EMU_DELAY:-2s}", "initial_status": "pending",
 "write_limit": ${EMU_WRITES:-40}, "request_limit": ${EMU_REQS:-400}, "throttle_window": "2s",
 "faults": $faults,
 "random_seed": $RANDOM, "dir": "$d/emudir", "state_file": "$d/state.json", "log_file": "$d/requests.jsonl",
 "seed": $(cat "$d/seed.json") $extra}
JSON
	"$AP" emulator --config "$d/emu.json" >"$d/emu.info" 2>>"$d/emu.stderr" &
	EMU_PID=$!
	for _ in $(seq 100); do grep -q '^ca_file:' "$d/emu.info" 2>/dev/null && break; sleep 0.1; done
	grep -q '^ca_file:' "$d/emu.info" || { fail "emulator did not start: $(cat "$d/emu.stderr")"; exit 1; }
	info() { sed -n "s/^$1: //p" "$d/emu.info"; }
	GRAPH_URL=$(info graph_url) AUTH_URL=$(info authority_url) TENANT=$(info tenant_id)
	CLIENT=$(info client_id) CA=$(info ca_file)
	info client_secret >"$d/secret.txt"
	EMU_W=${EMU_WRITES:-40} EMU_R=${EMU_REQS:-400}
}
stop_emu() { kill -INT "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null; EMU_PID=; }

# run_import DIR NAME [flags...]: run the CLI in the background; sets RUN_PID. Output in DIR/NAME.*
run_import() {
	local d=$1 name=$2
	shift 2
	AZURE_CLIENT_SECRET=$(cat "$d/secret.txt") "$AP" import --auth client-secret --tenant-id "$TENANT" \
		--client-id "$CLIENT" --graph-url "$GRAPH_URL" --authority-url "$AUTH_URL" --ca-file "$CA" \
		--json --report "$d/$name.report.csv" --journal "$d/journal.jsonl" --chunk-size 50 ${CLIENT_FLAGS:-} "$@" \
		"$d/fleet.csv" >"$d/$name.out" 2>"$d/$name.err" &
	RUN_PID=$!
}
# finish DIR NAME WANT...: wait for RUN_PID and check its exit code and output.
finish() {
	local d=$1 name=$2
	shift 2
	wait "$RUN_PID"
	local rc=$?
	echo "$rc" >"$d/$name.rc"
	local ok=0
	for want in "$@"; do [ "$rc" = "$want" ] && ok=1; done
	[ $ok = 1 ] || fail "$(basename "$d")/$name: exit $rc, want $*: $(tail -3 "$d/$name.err")"
	check_output "$d" "$name" "$rc"
	log "$(basename "$d")/$name: exit $rc $(jq -c 'select(.message_type=="summary")|.results' "$d/$name.out" 2>/dev/null)"
	return 0
}
# check_output DIR NAME RC: one device line per row, summary consistent.
check_output() {
	python3 - "$@" <<'PY' || FAILS=$((FAILS + 1))
import json, sys, collections
d, name, rc = sys.argv[1:]
rows = int(open(f"{d}/rows").read())
lines = [json.loads(l) for l in open(f"{d}/{name}.out") if l.strip()]
if rc in ("1", "2", "4") and not lines:
    sys.exit(0)
if rc == "130" and not lines and "importing into tenant" not in open(f"{d}/{name}.err").read():
    # Interrupted while signing in: nothing was sent, no row was decided.
    print(f"rehearsal: {d.split('/')[-1]}/{name}: interrupted before the sign-in ended (no rows, nothing sent)", file=sys.stderr)
    sys.exit(0)
devs = [l for l in lines if l.get("message_type") == "device"]
sums = [l for l in lines if l.get("message_type") == "summary"]
bad = []
keys = collections.Counter((x["file"], x["line"]) for x in devs)
if len(devs) != rows: bad.append(f"{len(devs)} device lines for {rows} rows")
dup = [k for k, c in keys.items() if c > 1]
if dup: bad.append(f"rows with more than one result: {dup[:3]}")
if len(sums) != 1: bad.append(f"{len(sums)} summary lines")
else:
    s = sums[0]
    c = collections.Counter(x["result"] for x in devs)
    if dict(c) != {k: v for k, v in s["results"].items() if v}: bad.append(f"summary {s['results']} != lines {dict(c)}")
    if s["rows"] != rows: bad.append(f"summary rows {s['rows']} != {rows}")
if bad:
    print(f"rehearsal: FAIL {d.split('/')[-1]}/{name}: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
}
# check_tenant DIR FINAL: request-log and state invariants (FINAL=1: no tool record may remain).
check_tenant() {
	python3 - "$1" "${2:-1}" "${EMU_DELAY_S:-2}" <<'PY' || FAILS=$((FAILS + 1))
import json, sys, datetime, re
d, final, delay = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
foreign = set(json.load(open(f"{d}/foreign_ids.json")))
def ts(s):
    s = re.sub(r"(\.\d{6})\d+", r"\1", s.replace("Z", "+00:00"))
    return datetime.datetime.fromisoformat(s).timestamp()
bad = []
live = {}  # serial -> time of the accepted import POST whose record may still be processing
posts = 0
for l in open(f"{d}/requests.jsonl"):
    e = json.loads(l)
    p = e["path"].lower()
    if "importedwindowsautopilotdeviceidentities" not in p:
        continue
    if e["method"] == "DELETE":
        rid = p.rsplit("/", 1)[-1].strip("()'")
        if any(rid == f.lower() for f in foreign) and e["status"] == 204:
            bad.append(f"foreign import record {rid} deleted")
        if e["status"] == 204:
            for s in e.get("serials") or []:
                live.pop(s, None)
    elif e["method"] == "POST" and e["status"] in (200, 201):
        t = ts(e["time"])
        for s in e.get("serials") or []:
            posts += 1
            if s in live and t < live[s] + delay:
                bad.append(f"serial {s} posted again {t - live[s]:.2f}s after an earlier import that was neither deleted nor final")
            live[s] = t
st = json.load(open(f"{d}/state.json"))
left = [r for r in st.get("imported") or [] if r["id"] not in foreign]
if final and left:
    bad.append(f"{len(left)} import records the tool created are left, e.g. {left[0]['serialNumber']}")
gone = foreign - {r["id"] for r in st.get("imported") or []}
if gone: bad.append(f"foreign import records missing: {sorted(gone)[:3]}")
if bad:
    print(f"rehearsal: FAIL {d.split('/')[-1]}: " + "; ".join(bad[:10]) + (f" (+{len(bad)-10})" if len(bad) > 10 else ""), file=sys.stderr)
    sys.exit(1)
print(f"rehearsal: {d.split('/')[-1]}: {posts} serials accepted by import POSTs, no overlap", file=sys.stderr)
PY
}
# check_leaks DIR: no secret, token or hash text in anything the tool wrote.
check_leaks() {
	local d=$1 f
	local files=("$d"/*.out "$d"/*.err "$d"/*.report.csv "$d"/journal*.jsonl)
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		grep -qF -f "$d/secret.txt" "$f" && fail "client secret in $f"
		grep -q 'eyJ[A-Za-z0-9_-]\{20,\}\.' "$f" && fail "bearer token in $f"
		grep -qF -f "$d/hashes.txt" "$f" && fail "hardware hash text in $f"
	done
	return 0
}
# new_scenario NAME [N [clean]]: generate a fleet into a fresh directory; sets D.
new_scenario() {
	D=$W/$1
	mkdir -p "$D"
	"$W/gen" "$D" "${2:-$N}" "$(echo "$1" | tr a-z A-Z | cut -c1-3)" "$RANDOM" ${3:-} >"$D/rows" || fail "generator"
	log "scenario $1: $(cat "$D/rows") rows"
}
# end_scenario: `apimport cleanup` with the scenario's journal (a run ends when its devices
# are final and leaves the import records it had no time to delete in the journal: issue 7),
# then every import record the tool created must be gone.
end_scenario() {
	run_cleanup "$D" cleanup-end
	[ "$CLEAN_RC" = 0 ] || fail "$(basename "$D")/cleanup-end: exit $CLEAN_RC: $(tail -2 "$D/cleanup-end.err")"
	stop_emu; check_tenant "$D" 1; check_leaks "$D"
}
# run_cleanup DIR NAME [flags]: `apimport cleanup --json` with the scenario's journal and the
# emulator's limits; sets CLEAN_RC.
run_cleanup() {
	local d=$1 name=$2
	shift 2
	AZURE_CLIENT_SECRET=$(cat "$d/secret.txt") "$AP" cleanup --auth client-secret --tenant-id "$TENANT" \
		--client-id "$CLIENT" --graph-url "$GRAPH_URL" --authority-url "$AUTH_URL" --ca-file "$CA" \
		--journal "$d/journal.jsonl" --json --write-limit "$EMU_W" --request-limit "$EMU_R" --throttle-window 2s \
		"$@" >"$d/$name.out" 2>"$d/$name.err"
	CLEAN_RC=$?
	log "$(basename "$d")/$name: exit $CLEAN_RC $(jq -c 'select(.message_type=="summary")|.results' "$d/$name.out" 2>/dev/null)"
}
wait_posts() { # wait until the emulator has accepted at least one import POST (max 20 s)
	for _ in $(seq 200); do grep -q '"path":"[^"]*/import"[^}]*"status":200' "$D/requests.jsonl" 2>/dev/null && return 0; sleep 0.1; done
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
EMU_DELAY=2s EMU_DELAY_S=2

if want timeout; then
	# A tight --wait leaves imports unfinished (exit 3, timeout rows); re-runs collect them.
	new_scenario timeout
	start_emu "$D"
	run_import "$D" run1 --wait 1s; finish "$D" run1 3
	run_import "$D" run2 --wait 1s; finish "$D" run2 3
	run_import "$D" run3 --wait 60s; finish "$D" run3 3
	jq -e 'select(.message_type=="device" and .result=="timeout")' "$D/run3.out" >/dev/null && fail "timeout/run3: timeout rows with --wait 60s"
	end_scenario
fi

if want sigint; then
	# Ctrl-C at random moments (exit 130, interrupted rows), then a full re-run.
	new_scenario sigint
	start_emu "$D"
	for i in 1 2 3; do
		run_import "$D" int$i --wait 60s
		# Not before 0.3 s: a background job of a non-interactive shell starts with SIGINT
		# ignored until the Go runtime installs its handler, so an earlier signal is lost.
		sleep "$((RANDOM % 3)).$((RANDOM % 7 + 3))"
		kill -INT "$RUN_PID"
		finish "$D" int$i 130 3
	done
	run_import "$D" final --wait 60s; finish "$D" final 3
	end_scenario
fi

if want sigkill; then
	# SIGKILL at random moments, the emulator restarted from its state_file in between.
	new_scenario sigkill
	start_emu "$D"
	for i in 1 2 3; do
		run_import "$D" kill$i --wait 60s
		sleep "$((RANDOM % 3)).$((RANDOM % 10))"
		kill -KILL "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
		stop_emu; start_emu "$D"
	done
	run_import "$D" final --wait 60s; finish "$D" final 3
	end_scenario
fi

if want concurrent; then
	# Two runs at once on one journal: one must refuse (exit 1) or both must be consistent.
	new_scenario concurrent
	start_emu "$D"
	run_import "$D" a --wait 60s; PA=$RUN_PID
	run_import "$D" b --wait 60s; PB=$RUN_PID
	RUN_PID=$PA; finish "$D" a 3 1
	RUN_PID=$PB; finish "$D" b 3 1
	[ "$(cat "$D/a.rc")$(cat "$D/b.rc")" = 33 ] && fail "concurrent: both runs on one journal ran"
	run_import "$D" final --wait 60s; finish "$D" final 3
	end_scenario
fi

if want lostjournal; then
	# The first run is killed after its first import POST; the journal is lost. A run with a
	# fresh journal must not post a device whose import may still be live.
	new_scenario lostjournal
	EMU_DELAY=6s EMU_DELAY_S=6
	start_emu "$D"
	run_import "$D" first --wait 60s
	wait_posts; sleep 0.3
	kill -KILL "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
	mv "$D/journal.jsonl" "$D/journal-lost.jsonl"
	run_import "$D" second --wait 60s; finish "$D" second 3
	run_import "$D" third --wait 60s; finish "$D" third 3
	EMU_DELAY=2s EMU_DELAY_S=2
	# The records of the killed run are unknown to the new journal: the tool treats them as
	# another tool's and never deletes them (by design), so they are left; count them.
	stop_emu; check_tenant "$D" 0; check_leaks "$D"
	log "lostjournal: $(jq '[.imported[]|select(.id|startswith("00000000-")|not)]|length' "$D/state.json") import records of the run whose journal was lost are left (not deleted: not known to be ours)"
fi

if want update; then
	# --update-existing: registered devices with another group tag are updated (rc 3: 808 rows etc.).
	new_scenario update
	start_emu "$D"
	run_import "$D" plain --wait 60s; finish "$D" plain 3
	run_import "$D" upd --wait 60s --update-existing; finish "$D" upd 3
	n=$(jq -s '[.[]|select(.message_type=="device" and .result=="updated")]|length' "$D/upd.out")
	[ "$n" -gt 0 ] || fail "update: no updated rows with --update-existing"
	run_import "$D" again --wait 60s --update-existing; finish "$D" again 3
	# A re-run updates only the rows whose update failed in the previous run.
	n=$(jq -s '[.[]|select(.message_type=="device" and .result=="updated")]|length' "$D/again.out")
	f=$(jq -s '[.[]|select(.message_type=="device" and .result=="failed")]|length' "$D/upd.out")
	[ "$n" -le "$f" ] || fail "update: $n rows updated again on a re-run ($f failed before)"
	end_scenario
fi

if want dryrun; then
	# --dry-run while a run's imports are pending: writes nothing, reports pending.
	new_scenario dryrun
	EMU_DELAY=5s EMU_DELAY_S=5
	start_emu "$D"
	run_import "$D" first --wait 1s; finish "$D" first 3
	w0=$(jq -s '[.[]|select(.write)]|length' "$D/requests.jsonl")
	run_import "$D" dry --dry-run; finish "$D" dry 0 3
	w1=$(jq -s '[.[]|select(.write)]|length' "$D/requests.jsonl")
	[ "$w0" = "$w1" ] || fail "dryrun: the dry run wrote $((w1 - w0)) times"
	n=$(jq -s '[.[]|select(.message_type=="device" and .result=="pending")]|length' "$D/dry.out")
	[ "$n" -gt 0 ] || fail "dryrun: no pending rows while imports are pending"
	run_import "$D" final --wait 60s; finish "$D" final 3
	EMU_DELAY=2s EMU_DELAY_S=2
	end_scenario
fi

if want exitcodes; then
	# Exit 0 for a clean fleet; 4 for a wrong secret (nothing written, no device lines).
	new_scenario exitcodes 60 clean
	start_emu "$D"
	run_import "$D" clean --wait 60s; finish "$D" clean 0
	run_import "$D" rerun --wait 60s; finish "$D" rerun 0
	cp "$D/secret.txt" "$D/secret.real"
	echo "not-the-secret" >"$D/secret.txt"
	run_import "$D" badsecret --wait 60s; finish "$D" badsecret 4
	cp "$D/secret.real" "$D/secret.txt"
	end_scenario
fi

# Issue 8 scenarios: limits scaled x10 in time on both sides, so that clean-up is quick.
FAST_EMU() { EMU_WRITES=200 EMU_REQS=2000 "$@"; }
FAST_CLIENT="--write-limit 200 --request-limit 2000 --throttle-window 2s"
summary_of() { jq -c 'select(.message_type=="summary")' "$1"; }

if want foreign; then
	# Item 1: a resumed run never adopts another tool's record. Serials whose older import
	# record someone else made (seeded, an hour old, finished 802) are posted; the run is
	# killed while such a POST is unconfirmed (intent journalled, no outcome), the emulator
	# restarted, and the run resumed.
	new_scenario foreign "$N2"
	jq -r '.imported[] | select(.id | startswith("00000000-0000-4000-9000-")) | .serialNumber' "$D/seed.json" | sort >"$D/targets"
	CLIENT_FLAGS=$FAST_CLIENT
	EMU_FAULTS='{"slow_response": 0.3, "slow_delay": "6s", "drop_connection": 0.03, "drop_after_processing": true, "error_5xx": 0.02}' \
		FAST_EMU start_emu "$D"
	run_import "$D" killed --wait 120s
	# Kill as soon as the journal holds an intent of a target serial without an outcome.
	python3 - "$D" <<'PY' >"$D/unconfirmed"
import json, sys, time
d = sys.argv[1]
targets = set(open(f"{d}/targets").read().split())
end = time.time() + 60
while time.time() < end:
    intents, done = {}, set()
    try:
        for l in open(f"{d}/journal.jsonl"):
            try: e = json.loads(l)
            except ValueError: continue  # a line being written
            if e.get("t") == "intent": intents[e["chunk"]] = e["serials"]
            elif e.get("t") in ("posted", "abandon"): done.add(e.get("chunk"))
    except FileNotFoundError:
        pass
    open_serials = sorted(s for c, ss in intents.items() if c not in done for s in ss if s in targets)
    if open_serials:
        print("\n".join(open_serials)); sys.exit(0)
    time.sleep(0.02)
sys.exit(1)
PY
	found=$?
	kill -KILL "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
	# The intent may have been settled between the look and the kill: keep only the
	# serials still unconfirmed in the journal as the kill left it.
	python3 - "$D" <<'PY' >"$D/unconfirmed.final"
import json, sys
d = sys.argv[1]
want = set(open(f"{d}/unconfirmed").read().split())
intents, done = {}, set()
for l in open(f"{d}/journal.jsonl"):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get("t") == "intent": intents[e["chunk"]] = e["serials"]
    elif e.get("t") in ("posted", "abandon"): done.add(e.get("chunk"))
print("\n".join(sorted(s for c, ss in intents.items() if c not in done for s in ss if s in want)))
PY
	nu=$(grep -c . "$D/unconfirmed.final")
	if [ "$found" != 0 ] || [ "$nu" = 0 ]; then
		fail "foreign: the run was not killed with a target serial's POST unconfirmed"
	else
		log "foreign: killed with $nu serials that have a foreign import record in unconfirmed POSTs: $(head -3 "$D/unconfirmed.final" | tr '\n' ' ')"
	fi
	stop_emu
	EMU_FAULTS= FAST_EMU start_emu "$D"
	run_import "$D" resumed --wait 120s; finish "$D" resumed 3
	run_import "$D" again --wait 120s; finish "$D" again 3
	stop_emu
	EMU_FAULTS='{}' FAST_EMU start_emu "$D" # the clean-up below without faults: quicker
	python3 - "$D" <<'PY' || FAILS=$((FAILS + 1))
import json, sys
d = sys.argv[1]
foreign = {}
for r in json.load(open(f"{d}/seed.json"))["imported"]:
    foreign[r["id"].lower()] = r["serialNumber"]
unconf = set(open(f"{d}/unconfirmed.final").read().split())
targets = set(open(f"{d}/targets").read().split())
bad = []
res = {}
for name in ("resumed", "again"):
    for l in open(f"{d}/{name}.out"):
        e = json.loads(l)
        if e.get("message_type") != "device": continue
        if e["import_id"].lower() in foreign:
            bad.append(f"{name}: {e['serial']} {e['result']} {e['error_code']} with the foreign record {e['import_id']}")
        if e["serial"] in targets: res.setdefault(e["serial"], []).append(e["result"])
for s in sorted(unconf):
    r = res.get(s, [])
    if not r or r[0] not in ("registered", "already_registered") or any(x not in ("registered", "already_registered") for x in r):
        bad.append(f"unconfirmed serial {s}: results {r}, want registered")
other = [s for s in targets - unconf if any(x not in ("registered", "already_registered") for x in res.get(s, ["missing"]))]
if other: bad.append(f"serials with a foreign record not registered: {other[:3]}")
if bad:
    print("rehearsal: FAIL foreign: " + "; ".join(bad[:8]), file=sys.stderr); sys.exit(1)
print(f"rehearsal: foreign: {len(unconf)} unconfirmed + {len(targets - unconf)} other serials with a foreign record all registered; no foreign record adopted", file=sys.stderr)
PY
	CLIENT_FLAGS=
	end_scenario
fi

if want tenant; then
	# Item 2: a journal belongs to one tenant. Run A leaves records (a tight --wait), then
	# tenant B (another emulator, another tenant) is given A's journal.
	new_scenario tenant "$N2" clean
	CLIENT_FLAGS=$FAST_CLIENT
	FAST_EMU start_emu "$D"
	run_import "$D" a --wait 1s; finish "$D" a 3
	stop_emu
	sum0=$(sha256sum <"$D/journal.jsonl")
	DB=$D/b
	mkdir -p "$DB"
	cp "$D/fleet.csv" "$D/rows" "$D/hashes.txt" "$D/foreign_ids.json" "$DB/"
	echo '{}' >"$DB/seed.json"
	FAST_EMU start_emu "$DB"
	TENANT_B=$TENANT
	run_import "$DB" wrong --journal "$D/journal.jsonl"; finish "$DB" wrong 2
	grep -q 'tenant' "$DB/wrong.err" || fail "tenant: exit 2 without naming the tenant: $(tail -2 "$DB/wrong.err")"
	run_cleanup "$DB" cleanup --journal "$D/journal.jsonl"
	rc=$CLEAN_RC
	[ "$rc" = 2 ] || fail "tenant: cleanup with tenant A's journal against tenant B: exit $rc, want 2"
	stop_emu
	[ "$(sha256sum <"$D/journal.jsonl")" = "$sum0" ] || fail "tenant: tenant A's journal changed"
	w=$(jq -s '[.[]|select(.write)]|length' "$DB/requests.jsonl")
	[ "$w" = 0 ] || fail "tenant: tenant B got $w writes"
	log "tenant: A's journal against B ($TENANT_B): import exit $(cat "$DB/wrong.rc"), cleanup exit $rc, journal unchanged, $w writes to B"
	EMU_FAULTS='{}' FAST_EMU start_emu "$D"
	run_import "$D" final --wait 60s; finish "$D" final 0
	CLIENT_FLAGS=
	end_scenario
fi

if want latevis; then
	# Item 3: new import records show late (5 s, polls every 1 s): nothing is posted twice.
	new_scenario latevis "$N2" clean
	CLIENT_FLAGS="$FAST_CLIENT --poll-min 1s"
	EMU_FAULTS='{}' FAST_EMU start_emu "$D" ', "visibility_delay": "5s"'
	run_import "$D" run --wait 120s; finish "$D" run 0
	stop_emu
	python3 - "$D" <<'PY' || FAILS=$((FAILS + 1))
import json, sys, collections
d = sys.argv[1]
rows = int(open(f"{d}/rows").read())
c = collections.Counter()
for l in open(f"{d}/requests.jsonl"):
    e = json.loads(l)
    if e["method"] == "POST" and e["path"].lower().endswith("/import") and e["status"] in (200, 201):
        c.update(e.get("serials") or [])
twice = [s for s, n in c.items() if n > 1]
reg = sum(1 for l in open(f"{d}/run.out") if json.loads(l).get("result") == "registered")
bad = []
if twice: bad.append(f"{len(twice)} serials posted more than once, e.g. {twice[:3]}")
if len(c) != rows: bad.append(f"{len(c)} serials posted for {rows} rows")
if reg != rows: bad.append(f"{reg} registered of {rows}")
if bad:
    print("rehearsal: FAIL latevis: " + "; ".join(bad), file=sys.stderr); sys.exit(1)
print(f"rehearsal: latevis: {rows} serials each posted once, all registered", file=sys.stderr)
PY
	EMU_FAULTS='{}' FAST_EMU start_emu "$D"
	CLIENT_FLAGS=
	end_scenario
fi

if want syncthrottle; then
	# Item 9: a throttled sync is retried (and called); the 10-minute rule is not throttling.
	new_scenario syncthrottle "$N2" clean
	CLIENT_FLAGS=$FAST_CLIENT
	EMU_FAULTS='{}' FAST_EMU start_emu "$D" ', "sync_throttled": 1'
	run_import "$D" run --wait 120s; finish "$D" run 0
	s1=$(summary_of "$D/run.out" | jq -r '.sync // ""')
	n1=$(jq -s '[.[]|select(.method=="POST" and (.path|endswith("/sync")))]|length' "$D/requests.jsonl")
	t1=$(jq -s '[.[]|select(.method=="POST" and (.path|endswith("/sync")) and .status==429)]|length' "$D/requests.jsonl")
	[ "$s1" = called ] || fail "syncthrottle: sync \"$s1\" after a throttled sync call, want called"
	[ "$t1" -ge 1 ] && [ "$n1" -ge 2 ] || fail "syncthrottle: $n1 sync calls ($t1 throttled): the throttling was not rehearsed"
	# Right after: more devices, the last sync is minutes old -> the 10-minute rule.
	M=$D/more
	mkdir -p "$M"
	"$W/gen" "$M" 20 MOR "$RANDOM" clean >"$M/rows"
	cp "$D/secret.txt" "$D/foreign_ids.json" "$M/"
	run_import "$M" run --journal "$D/journal.jsonl" --wait 60s; finish "$M" run 0
	s2=$(summary_of "$M/run.out" | jq -r '.sync // ""')
	n2=$(jq -s '[.[]|select(.method=="POST" and (.path|endswith("/sync")))]|length' "$D/requests.jsonl")
	case "$s2" in "skipped: last sync"* | "too soon") ;; *) fail "syncthrottle: second run's sync \"$s2\", want skipped or too soon" ;; esac
	[ $((n2 - n1)) -le 1 ] || fail "syncthrottle: the 10-minute rule was retried ($((n2 - n1)) sync calls)"
	log "syncthrottle: run 1 sync \"$s1\" ($n1 sync calls, $t1 throttled); run 2 sync \"$s2\" ($((n2 - n1)) calls)"
	CLIENT_FLAGS=
	end_scenario
fi

if [ "$FAILS" = 0 ]; then log "all checks passed"; exit 0; fi
log "$FAILS checks failed"
exit 1

# The fleet generator (Go), extracted and built by this script.
: <<'GO_SOURCE'
// GEN-BEGIN
// gen writes a rehearsal fleet: fleet.csv (Get-WindowsAutopilotInfo columns),
// seed.json (emulator seed) and hashes.txt (hash prefixes for leak checks).
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apimport/apimport/hwhash"
)

func dev(prefix string, i int, r *rand.Rand) hwhash.Device {
	d := hwhash.Device{
		Serial: fmt.Sprintf("%s%05d", prefix, i), Manufacturer: "Contoso", Model: "Laptop 7",
		SKU: "SKU1", Family: "Fam", TPMVersion: "2.0", CaptureTime: uint64(1700000000 + i),
		DiskSerials: []string{fmt.Sprintf("DISK%08d", i)},
	}
	r.Read(d.UUID[:])
	var mac [6]byte
	r.Read(mac[:])
	d.MACs = [][6]byte{mac}
	d.EKPub = make([]byte, 256)
	r.Read(d.EKPub)
	return d
}

func main() {
	out := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	prefix := os.Args[3]
	seed, _ := strconv.ParseInt(os.Args[4], 10, 64)
	r := rand.New(rand.NewSource(seed))
	csv, _ := os.Create(filepath.Join(out, "fleet.csv"))
	hashes, _ := os.Create(filepath.Join(out, "hashes.txt"))
	fmt.Fprintln(csv, "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag")
	type regDev struct {
		ID           string `json:"id"`
		SerialNumber string `json:"serialNumber"`
		Manufacturer string `json:"manufacturer"`
		Model        string `json:"model"`
		GroupTag     string `json:"groupTag"`
	}
	type impRec struct {
		ID                 string    `json:"id"`
		SerialNumber       string    `json:"serialNumber"`
		HardwareIdentifier string    `json:"hardwareIdentifier"`
		CreatedAt          time.Time `json:"createdAt"`
		PresetErrorCode    int       `json:"presetErrorCode,omitempty"`
	}
	var st struct {
		Registered         []regDev `json:"registered"`
		Imported           []impRec `json:"imported"`
		OtherTenantSerials []string `json:"other_tenant_serials"`
	}
	rows := 0
	row := func(serial, h, tag string) {
		fmt.Fprintf(csv, "%s,,%s,%s\n", serial, h, tag)
		fmt.Fprintln(hashes, h[:48])
		rows++
	}
	for i := 0; i < n; i++ {
		d := dev(prefix, i, r)
		tag := "Fleet"
		switch {
		case len(os.Args) > 5 && os.Args[5] == "clean": // valid, new devices only
		case i%50 == 1: // registered already (same tag) -> already_registered
			st.Registered = append(st.Registered, regDev{fmt.Sprintf("reg-%s-%d", prefix, i), d.Serial, d.Manufacturer, d.Model, tag})
		case i%50 == 2: // registered with another tag -> updated with --update-existing
			st.Registered = append(st.Registered, regDev{fmt.Sprintf("reg-%s-%d", prefix, i), d.Serial, d.Manufacturer, d.Model, "OldTag"})
		case i%50 == 3: // owned by another tenant -> 808
			st.OtherTenantSerials = append(st.OtherTenantSerials, d.Serial)
		case i%50 == 4: // hash without manufacturer -> 802
			d.OmitManufacturer = true
		case i%50 == 5: // duplicate row (same hash twice)
			h := d.EncodeBase64()
			row(d.Serial, h, tag)
		case i%50 == 6: // conflict: same serial, another capture with a different hash
			d2 := dev(prefix, i, r)
			d2.Serial = d.Serial
			row(d2.Serial, d2.EncodeBase64(), tag)
		case i%50 == 7: // an import record someone else created (must never be deleted); serial not in the fleet
			h := dev(prefix+"X", i, r)
			st.Imported = append(st.Imported, impRec{fmt.Sprintf("00000000-0000-4000-8000-%012d", i), h.Serial, base64.StdEncoding.EncodeToString(h.Encode()), time.Now().Add(-time.Hour), 0})
		case i%50 == 8: // a foreign import record with the same serial, finished long ago with an error
			st.Imported = append(st.Imported, impRec{fmt.Sprintf("00000000-0000-4000-9000-%012d", i), d.Serial, base64.StdEncoding.EncodeToString(d.Encode()), time.Now().Add(-time.Hour), 802})
		}
		row(d.Serial, d.EncodeBase64(), tag)
	}
	csv.Close()
	hashes.Close()
	b, _ := json.MarshalIndent(st, "", " ")
	os.WriteFile(filepath.Join(out, "seed.json"), b, 0o600)
	ids := []string{}
	for _, im := range st.Imported {
		ids = append(ids, im.ID)
	}
	b, _ = json.Marshal(ids)
	os.WriteFile(filepath.Join(out, "foreign_ids.json"), b, 0o600)
	fmt.Println(rows)
}
// GEN-END
GO_SOURCE
