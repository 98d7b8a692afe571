#!/usr/bin/env bash
# Measures `apimport check` on a generated 100,000-device export (~400 MB UTF-8 and
# ~800 MB UTF-16LE) against the bare minimum work (CSV split + base64 decode + SHA-256
# of every hash), and the command's peak memory (max RSS). Needs GNU time (/usr/bin/time;
# installed with apt-get when missing, see need.sh).
#
#   scripts/bench-check.sh [DIR]     # DIR keeps the generated files between runs
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need.sh
need /usr/bin/time:time
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
export MAPPING_BENCH_DIR=$dir

echo "== go test -bench (mapping): bare minimum vs. the check pipeline"
go test -run '^$' -bench '^Benchmark(BareMinimum|BareMinimumUTF16|CheckFiles100kUTF8|CheckFiles100kUTF16)$' -benchtime 1x -count 3 ./mapping | grep -E '^Benchmark|^ok'

echo "== the real command, end to end"
go build -o "$dir/apimport" ./cmd/apimport
for f in export-utf8.csv export-utf16.csv; do
	ls -l "$dir/$f" | awk '{printf "%s: %.0f MB\n", $9, $5/1e6}'
	/usr/bin/time -f "  apimport check --json: %e s wall, %U s user, max RSS %M KB" \
		"$dir/apimport" check --json "$dir/$f" > /dev/null || [ $? -eq 3 ]
done
