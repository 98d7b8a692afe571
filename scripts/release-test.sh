#!/usr/bin/env bash
# release-test.sh: runs scripts/release.sh with a throw-away self-signed code-signing
# certificate (openssl, made here, deleted at the end) and checks what it produced:
# five binaries, SHA256SUMS that verify, a CycloneDX SBOM per binary that lists the Go
# modules, 'apimport -v' printing version, commit and date, a static linux binary that
# runs as a non-root user (uid 65532, as in deploy/Containerfile), and Authenticode
# signatures that 'osslsigncode verify' accepts (and rejects once the file is altered).
# Takes a few minutes on a cold build cache (the Graph SDK for five targets).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
version=v0.0.0-releasetest

echo "== throw-away code-signing certificate"
printf 'test-%s\n' "$RANDOM$RANDOM" >"$work/pass"
openssl req -x509 -newkey rsa:3072 -sha256 -days 2 -subj "/CN=apimport release test" \
	-addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
	-keyout "$work/key.pem" -out "$work/cert.pem" -passout "file:$work/pass" 2>/dev/null
chmod 600 "$work/key.pem" "$work/pass"

echo "== scripts/release.sh $version"
APIMPORT_SIGN_CERT="$work/cert.pem" APIMPORT_SIGN_KEY="$work/key.pem" APIMPORT_SIGN_PASS_FILE="$work/pass" \
	scripts/release.sh "$version" "$work/dist" | tee "$work/release.log"
! grep -q "$(cat "$work/pass")" "$work/release.log" || fail "the key password was printed"

cd "$work/dist"
for t in windows_amd64.exe windows_arm64.exe linux_amd64 linux_arm64 darwin_arm64; do
	f=apimport_${version}_$t
	[ -s "$f" ] || fail "$f missing"
	[ -s "$f.cdx.json" ] || fail "$f.cdx.json missing"
	grep -q '"bomFormat": *"CycloneDX"' "$f.cdx.json" || fail "$f.cdx.json is not CycloneDX"
	grep -q 'github.com/spf13/cobra' "$f.cdx.json" || fail "$f.cdx.json does not list the modules"
done
sha256sum -c --quiet SHA256SUMS || fail "SHA256SUMS does not verify"
[ "$(wc -l <SHA256SUMS)" -eq 10 ] || fail "SHA256SUMS has $(wc -l <SHA256SUMS) lines, want 10"
echo "   5 binaries, 5 SBOMs, SHA256SUMS verifies"

echo "== apimport -v"
bin=./apimport_${version}_linux_amd64
v=$("$bin" -v)
echo "   $v"
commit=$(sed -n 's/^stamp .*, commit \([0-9a-f]*\).*/\1/p' "$work/release.log") # what release.sh stamped
[ ${#commit} -eq 40 ] || fail "release.sh did not say which commit it stamped"
grep -q "$version" <<<"$v" && grep -q "commit ${commit:0:12}" <<<"$v" && grep -q 'built 20[0-9][0-9]-' <<<"$v" ||
	fail "apimport -v does not print version, commit and date"
go version -m "$bin" | grep -q 'CGO_ENABLED=0' || fail "not built with CGO_ENABLED=0"
go version -m "$bin" | grep -q -- '-trimpath=true' || fail "not built with -trimpath"
if command -v readelf >/dev/null; then
	! readelf -l "$bin" | grep -q INTERP || fail "the linux binary is dynamically linked"
	echo "   static (no ELF interpreter)"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cp "$bin" "$work/apimport-nonroot" && chmod 755 "$work" "$work/apimport-nonroot"
	out=$(cd / && setpriv --reuid=65532 --regid=65532 --clear-groups env -i "$work/apimport-nonroot" -v)
	grep -q "$version" <<<"$out" || fail "apimport -v as uid 65532: $out"
	echo "   runs as uid 65532 with an empty environment: $out"
fi

echo "== Authenticode"
for f in apimport_${version}_windows_*.exe; do
	osslsigncode verify -CAfile "$work/cert.pem" -in "$f" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "$f does not verify"; }
	grep -q 'Signature verification: ok' "$work/verify.log" || { cat "$work/verify.log"; fail "$f: no 'Signature verification: ok'"; }
	echo "   $f: $(grep -m1 'Signature verification' "$work/verify.log")"
done
f=apimport_${version}_windows_amd64.exe
cp "$f" "$work/tampered.exe"
printf 'X' | dd of="$work/tampered.exe" bs=1 seek=4096 conv=notrunc 2>/dev/null
if osslsigncode verify -CAfile "$work/cert.pem" -in "$work/tampered.exe" >/dev/null 2>&1; then
	fail "an altered binary still verifies"
fi
echo "   an altered copy fails verification"
echo "release-test OK"
