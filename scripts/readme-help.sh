#!/usr/bin/env bash
# Regenerates the `apimport CMD -h` blocks of README.md from the built program, so the
# README shows the help exactly as the program prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/apimport
go build -o "$bin" ./cmd/apimport
python3 - "$bin" <<'PY'
import re, subprocess, sys
bin = sys.argv[1]
p = "README.md"
s = open(p).read()
def block(m):
    cmd = m.group(1)
    args = ([cmd] if cmd else []) + ["-h"]
    out = subprocess.run([bin] + args, capture_output=True, text=True).stdout.rstrip("\n")
    return f'<details><summary><code>apimport {cmd + " " if cmd else ""}-h</code></summary>\n\n```console\n$ apimport {cmd + " " if cmd else ""}-h\n{out}\n```\n\n</details>'
s = re.sub(r'<details><summary><code>apimport ([\w-]*) ?-h</code></summary>\n\n```console\n.*?```\n\n</details>', block, s, flags=re.S)
root = subprocess.run([bin, "-h"], capture_output=True, text=True).stdout.rstrip("\n")
s = re.sub(r'```console\n\$ apimport -h\n.*?```', lambda m: "```console\n$ apimport -h\n" + root + "\n```", s, count=1, flags=re.S)
open(p, "w").write(s)
PY
