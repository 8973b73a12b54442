#!/usr/bin/env bash
# Code signing of the Windows build (SPEC §16), with a throwaway
# certificate: `make package-windows` with WINDOWS_SIGN_CERT/KEY set signs
# both programs and the installer, and `osslsigncode verify` accepts each
# against that certificate. A vendor's real certificate goes the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Tenantdesk throwaway signing" \
  -addext extendedKeyUsage=codeSigning -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
WINDOWS_SIGN_CERT=$work/cert.pem WINDOWS_SIGN_KEY=$work/key.pem bash packaging/windows/build.sh
for f in build/windows/Tenantdesk.exe build/windows/tenantdesk.com Tenantdesk-Setup.exe; do
  osslsigncode verify -CAfile "$work/cert.pem" -in "$f" >"$work/verify.txt" 2>&1 ||
    { cat "$work/verify.txt" >&2; echo "windows-sign-check: FAIL: $f" >&2; exit 1; }
  grep -q 'Signature verification: ok' "$work/verify.txt" || { cat "$work/verify.txt" >&2; exit 1; }
  echo "windows-sign-check: ok: $f signed, verified against the throwaway certificate"
done
