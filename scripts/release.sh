#!/usr/bin/env bash
# release.sh VERSION [OUTDIR]: builds the release binaries of apimport and what goes with
# them, into OUTDIR (default dist/VERSION, which must not exist yet):
#
#   apimport_VERSION_OS_ARCH[.exe]   windows/amd64, windows/arm64, linux/amd64, linux/arm64,
#                                    darwin/arm64: CGO_ENABLED=0 (static), -trimpath, with
#                                    version, commit and date stamped (apimport -v prints them)
#   apimport_…[.exe].cdx.json        CycloneDX SBOM of the Go modules linked into each binary
#                                    (cyclonedx-gomod bin, run from the Go module proxy)
#   SHA256SUMS                       sha256sum -c SHA256SUMS checks them all
#
# The date is the commit's date (UTC), so the same commit builds the same bytes.
#
# Authenticode signing of the Windows binaries (osslsigncode), only when a certificate is
# given. Secrets never go on a command line; everything comes from the environment:
#   APIMPORT_SIGN_CERT       PEM certificate (chain) of the code-signing key
#   APIMPORT_SIGN_KEY        PEM private key
#   APIMPORT_SIGN_PASS_FILE  file holding the key's password (optional; osslsigncode -readpass)
#   APIMPORT_SIGN_PKCS12     alternatively a .pfx/.p12 (with APIMPORT_SIGN_PASS_FILE)
#   APIMPORT_SIGN_TIMESTAMP  RFC 3161 timestamp URL (optional; needs network)
#   APIMPORT_SIGN_CAFILE     CA bundle to verify the signatures against (default: the certificate)
# scripts/release-test.sh runs this with a throw-away self-signed certificate.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/release.sh VERSION [OUTDIR]}
out=${2:-dist/$version}
cyclonedx=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
targets="windows/amd64 windows/arm64 linux/amd64 linux/arm64 darwin/arm64"

if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
	echo "release: $out exists and is not empty" >&2
	exit 2
fi
mkdir -p "$out"

commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "release: warning: the work tree has uncommitted changes: the commit is stamped $commit-dirty" >&2
	commit="$commit-dirty"
fi
date=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)
echo "stamp    version $version, commit $commit, date $date"
ldflags="-s -w -X main.Version=$version -X main.Commit=$commit -X main.Date=$date"

signing=
if [ -n "${APIMPORT_SIGN_PKCS12:-}" ] || [ -n "${APIMPORT_SIGN_CERT:-}" ]; then
	command -v osslsigncode >/dev/null || { echo "release: osslsigncode is needed to sign" >&2; exit 1; }
	signing=1
fi

sign() { # sign FILE: Authenticode signature in place, then verified
	local f=$1 tmp=$1.signing
	local args=(sign -h sha256 -n "apimport $version" -i "https://github.com/apimport/apimport")
	if [ -n "${APIMPORT_SIGN_PKCS12:-}" ]; then
		args+=(-pkcs12 "$APIMPORT_SIGN_PKCS12")
	else
		args+=(-certs "$APIMPORT_SIGN_CERT" -key "${APIMPORT_SIGN_KEY:?APIMPORT_SIGN_KEY is needed with APIMPORT_SIGN_CERT}")
	fi
	[ -n "${APIMPORT_SIGN_PASS_FILE:-}" ] && args+=(-readpass "$APIMPORT_SIGN_PASS_FILE")
	[ -n "${APIMPORT_SIGN_TIMESTAMP:-}" ] && args+=(-ts "$APIMPORT_SIGN_TIMESTAMP")
	osslsigncode "${args[@]}" -in "$f" -out "$tmp" >/dev/null
	mv "$tmp" "$f"
	local ca=${APIMPORT_SIGN_CAFILE:-${APIMPORT_SIGN_CERT:-}}
	if [ -n "$ca" ]; then
		osslsigncode verify -CAfile "$ca" -in "$f" >/dev/null || { echo "release: the signature of $f does not verify" >&2; exit 1; }
	fi
	echo "signed   $f"
}

# The SBOM tool, built for this machine from the Go module proxy (pinned version).
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
GOFLAGS= GOOS= GOARCH= CGO_ENABLED=0 GOBIN="$tools" go install "$cyclonedx"

for t in $targets; do
	os=${t%/*} arch=${t#*/} ext=
	[ "$os" = windows ] && ext=.exe
	bin="apimport_${version}_${os}_${arch}${ext}"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out/$bin" ./cmd/apimport
	echo "built    $out/$bin"
	if [ "$os" = windows ] && [ -n "$signing" ]; then
		sign "$out/$bin"
	fi
	"$tools/cyclonedx-gomod" bin -json -version "$version" -output "$out/$bin.cdx.json" "$out/$bin" 2>"$tools/sbom.log" ||
		{ cat "$tools/sbom.log" >&2; exit 1; }
	echo "sbom     $out/$bin.cdx.json"
done

(cd "$out" && sha256sum -- apimport_* >SHA256SUMS)
echo "checksum $out/SHA256SUMS"
[ -n "$signing" ] || echo "release: the Windows binaries are not signed (no APIMPORT_SIGN_CERT or APIMPORT_SIGN_PKCS12)" >&2
ls -l "$out"
