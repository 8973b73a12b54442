#!/usr/bin/env bash
# console-face.sh GUI.exe OUT.com: the console face of the window program.
# The two are one build: only the PE optional header's Subsystem field
# differs (2, Windows GUI: no console flashes on a double-click; 3, Windows
# console: cmd and PowerShell wait for it and see its output and exit code),
# which is all that `go build -ldflags -H=windowsgui` changes.
set -euo pipefail
in=$1 out=$2
pe=$(od -An -tu4 -j60 -N4 "$in" | tr -d ' ')
[ "$(dd if="$in" bs=1 skip="$pe" count=4 status=none | od -An -c | tr -d ' ')" = 'PE\0\0' ] ||
  { echo "console-face: $in is not a PE file" >&2; exit 1; }
# COFF header (20 bytes) after the signature; Subsystem is at 68 in the optional header.
sub=$((pe + 4 + 20 + 68))
[ "$(od -An -tu2 -j"$sub" -N2 "$in" | tr -d ' ')" = 2 ] ||
  { echo "console-face: $in is not a GUI-subsystem program" >&2; exit 1; }
cp "$in" "$out"
printf '\003' | dd of="$out" bs=1 seek="$sub" conv=notrunc status=none
