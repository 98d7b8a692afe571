#!/usr/bin/env bash
# Independent-client conformance test of the Graph emulator: Microsoft's JavaScript
# Graph client and @azure/identity (exact versions in package-lock.json) against
# `apimport emulator`. Needs Go, Node >= 20 and npm (npm ci uses the offline cache
# when it has the packages). Usage: conformance/node/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/apimport-conformance.XXXXXX")
emu_pid=
cleanup() {
	if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

cd "$here"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

echo "== building apimport"
(cd "$repo" && go build -o "$work/apimport" ./cmd/apimport)

# Node reads NODE_EXTRA_CA_CERTS only at start, so create the emulator's CA first:
# --dir keeps the CA (and tenant, client, secret) for the emulator the test starts.
echo "== creating the emulator's CA"
"$work/apimport" emulator --dir "$work/emu" >"$work/first.out" 2>"$work/first.err" &
emu_pid=$!
for _ in $(seq 1 100); do
	grep -q '^ca_file: ' "$work/first.out" && break
	kill -0 "$emu_pid" 2>/dev/null || { cat "$work/first.err" >&2; exit 1; }
	sleep 0.1
done
ca=$(sed -n 's/^ca_file: //p' "$work/first.out")
kill "$emu_pid"; wait "$emu_pid" 2>/dev/null || true; emu_pid=
[ -s "$ca" ] || { echo "no CA file from the emulator" >&2; exit 1; }

echo "== node --test"
APIMPORT_BIN="$work/apimport" EMULATOR_DIR="$work/emu" NODE_EXTRA_CA_CERTS="$ca" \
	node --test --test-reporter=spec
