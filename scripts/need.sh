# need.sh: sourced by the scripts. `need CMD[:PACKAGE] ...` makes sure each command is
# there, installing the missing ones' Debian packages with apt-get (as root, or with
# sudo) on a fresh machine that has only Go; elsewhere it says what to install.
need() {
	local missing=() spec cmd pkg
	for spec in "$@"; do
		cmd=${spec%%:*} pkg=${spec#*:}
		command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=
	[ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo=sudo; }
	if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
		echo "== installing ${missing[*]} (Debian packages)" >&2
		$sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2 && return 0
	fi
	echo "$(basename "$0"): needs ${missing[*]} (e.g. apt-get install ${missing[*]})" >&2
	exit 1
}
