#!/usr/bin/env bash
# build.sh: Tenantdesk-Setup.exe at the repo root (`make package-windows`,
# SPEC §16), cross-built on Debian with mingw-w64 and NSIS.
#  1. the fyne tool, built for this machine (with CC set to mingw,
#     `go tool fyne` would build the tool itself for Windows and fail);
#  2. `fyne package -os windows`: a cgo cross-build of the window program,
#     GUI subsystem, with the icon, manifest and version info of
#     FyneApp.toml in its resources;
#  3. its console face, tenantdesk.com (console-face.sh);
#  4. signed when WINDOWS_SIGN_CERT and WINDOWS_SIGN_KEY name a code-signing
#     certificate and its key (PEM or DER; WINDOWS_SIGN_PASS if the key is
#     encrypted), with osslsigncode: both programs, then the installer;
#  5. makensis: the per-user installer.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
out=build/windows
mkdir -p "$out" bin

# One place for the version: FyneApp.toml.
version=$(sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' FyneApp.toml)
build=$(sed -n 's/^[[:space:]]*Build[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' FyneApp.toml)
IFS=. read -r major minor patch _ <<<"$version"
version4="${major:-0}.${minor:-0}.${patch:-0}.${build:-0}"

echo "package-windows: fyne tool for $(go env GOOS)/$(go env GOARCH)"
"$GO" build -o bin/fyne fyne.io/fyne/v2/cmd/fyne

echo "package-windows: cross-building Tenantdesk.exe $version (cgo, x86_64-w64-mingw32-gcc)"
rm -f Tenantdesk.exe
# fyne package counts Build up in FyneApp.toml after each run; a build
# leaves the checkout as it found it.
cp FyneApp.toml "$out/FyneApp.toml.orig"
trap 'cp "$out/FyneApp.toml.orig" FyneApp.toml' EXIT
# No -release: it adds -trimpath, which compiles every package again
# instead of reusing the build cache of the last cross-build.
CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 \
  bin/fyne package -os windows
mv Tenantdesk.exe "$out/Tenantdesk.exe"
bash packaging/windows/console-face.sh "$out/Tenantdesk.exe" "$out/tenantdesk.com"
convert assets/icon.png -define icon:auto-resize=256,64,48,32,16 "$out/Tenantdesk.ico"

sign() {
  [ -n "${WINDOWS_SIGN_CERT:-}" ] || return 0
  local f=$1
  osslsigncode sign -certs "$WINDOWS_SIGN_CERT" -key "$WINDOWS_SIGN_KEY" \
    ${WINDOWS_SIGN_PASS:+-pass "$WINDOWS_SIGN_PASS"} \
    -n "Tenantdesk" -h sha256 ${WINDOWS_SIGN_TIMESTAMP:+-ts "$WINDOWS_SIGN_TIMESTAMP"} \
    -in "$f" -out "$f.signed"
  mv "$f.signed" "$f"
  echo "package-windows: signed $f"
}
if [ -n "${WINDOWS_SIGN_CERT:-}" ] && [ -z "${WINDOWS_SIGN_KEY:-}" ]; then
  echo "package-windows: WINDOWS_SIGN_CERT is set but WINDOWS_SIGN_KEY is not" >&2; exit 1
fi
sign "$out/Tenantdesk.exe"
sign "$out/tenantdesk.com"

makensis -V2 -DVERSION="$version" -DVERSION4="$version4" -DSRC="$PWD/$out" \
  -DOUT="$PWD/Tenantdesk-Setup.exe" packaging/windows/installer.nsi
sign Tenantdesk-Setup.exe
[ -n "${WINDOWS_SIGN_CERT:-}" ] || echo "package-windows: not signed (set WINDOWS_SIGN_CERT and WINDOWS_SIGN_KEY; see README)"
echo "package-windows: built Tenantdesk-Setup.exe ($(du -h Tenantdesk-Setup.exe | cut -f1))"
