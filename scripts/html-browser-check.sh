#!/usr/bin/env bash
# html-browser-check.sh: renders the HTML report of 'apimport check' in a real headless
# browser (Debian's chromium, installed when missing) and checks that
#   1. the page renders and its script runs (the row counter is filled in),
#   2. the status filter works: for each status, report.html#status=S shows exactly the
#      rows of that status (as many as the JSON summary says) and hides every other row,
#   3. the text search works: #q=SERIAL shows only the rows that hold it,
#   4. nothing outside the page is requested (the page's CSP forbids it; chromium runs
#      with its background networking off),
# and writes screenshots of the top of the page and of a filtered view.
#
# Usage: scripts/html-browser-check.sh [OUTDIR]   (default: docs/, the README's screenshots)
# Needs: Go, and either chromium or root with apt-get (Debian). Takes ~20 s once chromium
# is installed. Not part of .ci/run: it installs a browser (~300 MB) and drives it, which
# is slow and depends on the distribution; CI's Go tests parse the same page instead.
set -euo pipefail
cd "$(dirname "$0")/.."
outdir=${1:-docs}
sample=samples/mistakes.csv

if ! command -v chromium >/dev/null 2>&1; then
	echo "== installing chromium (Debian)"
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
chromium --version 2>/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== apimport check --html on $sample"
go build -o "$work/apimport" ./cmd/apimport # not 'go run': it turns exit code 3 into 1
set +e
"$work/apimport" check --json --html "$work/report.html" "$sample" >"$work/check.jsonl"
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "check exited $rc (want 3: the sample has invalid rows)"
[ -s "$work/report.html" ] || fail "no report written"
summary=$(grep '"message_type":"summary"' "$work/check.jsonl")
num() { echo "$summary" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
rows=$(num rows)

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --disable-extensions --disable-default-apps --mute-audio)
browser() { # browser ARGS... : one chromium run with a fresh profile
	local profile
	profile=$(mktemp -d -p "$work")
	timeout 120 chromium "${flags[@]}" --user-data-dir="$profile" "$@" 2>>"$work/chromium.log"
}

# count_rows DOM STATUS: prints "total visible visible-with-status" for the rows table.
count_rows() {
	local dom=$1 status=$2
	local trs
	dom=${dom#*id=\"rows-table\"} # the rows table only (the summary's rows have a status too)
	dom=${dom%%</table>*}
	trs=$(grep -o '<tr data-status="[a-z_]*"[^>]*>' <<<"$dom" || true)
	local total visible match
	total=$(grep -c . <<<"$trs" || true)
	visible=$(grep -vc 'hidden' <<<"$trs" || true)
	match=$(grep -v 'hidden' <<<"$trs" | grep -c "data-status=\"$status\"" || true)
	echo "$total $visible $match"
}

echo "== filter by status (URL fragment #status=…)"
for pair in valid:valid invalid:invalid duplicate:duplicates conflict:conflicts; do
	status=${pair%%:*}
	want=$(num "${pair#*:}")
	dom=$(browser --dump-dom "file://$work/report.html#status=$status")
	grep -q "of $rows rows shown" <<<"$dom" || fail "#status=$status: the script did not run (no row counter)"
	read -r total visible match < <(count_rows "$dom" "$status")
	[ "$total" -ge "$rows" ] || fail "#status=$status: $total rows in the DOM, want $rows"
	[ "$visible" -eq "$want" ] && [ "$match" -eq "$want" ] ||
		fail "#status=$status: $visible rows visible ($match of that status), want $want (JSON summary)"
	echo "   #status=$status: $visible of $rows rows visible, all $status (JSON: $want)"
done

echo "== text search (#q=…)"
dom=$(browser --dump-dom "file://$work/report.html#q=CZC4101480")
read -r total visible match < <(count_rows "$dom" duplicate)
[ "$visible" -eq 3 ] && [ "$match" -eq 2 ] || fail "#q=CZC4101480: $visible rows visible ($match duplicates), want 3 (2 duplicates)"
echo "   #q=CZC4101480: $visible rows visible"

echo "== no filter: every row visible"
dom=$(browser --dump-dom "file://$work/report.html")
read -r total visible match < <(count_rows "$dom" x)
[ "$visible" -eq "$rows" ] || fail "no filter: $visible rows visible, want $rows"
echo "   $visible of $rows rows visible"

if grep -qi 'Refused to\|Content Security Policy' "$work/chromium.log"; then
	grep -i 'Refused to\|Content Security Policy' "$work/chromium.log" >&2
	fail "the browser reported a CSP violation"
fi

echo "== screenshots"
mkdir -p "$outdir"
browser --hide-scrollbars --window-size=1100,900 --screenshot="$outdir/html-report.png" "file://$work/report.html" >/dev/null
browser --hide-scrollbars --window-size=1100,4000 --screenshot="$work/full.png" "file://$work/report.html#status=invalid" >/dev/null
go run ./scripts/pngcrop "$work/full.png" "$outdir/html-report-filtered.png" 520 # the rows table, at the end of the page
ls -l "$outdir/html-report.png" "$outdir/html-report-filtered.png"
echo "html-browser-check OK"
