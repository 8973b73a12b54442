#!/usr/bin/env bash
# GUI smoke test: start the real binary in a window under Xvfb (with its own
# D-Bus session), wait for the window, take a screenshot, check it is not
# blank, then ask the app to quit and require a clean exit.
set -euo pipefail
bin=$(readlink -f "${1:-bin/tenantdesk}")
if ! command -v xvfb-run >/dev/null; then
  echo "gui-smoke: xvfb-run not found, skipped"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${GUI_SMOKE_SHOT:-$work/smoke.png}
cat >"$work/inner.sh" <<INNER
set -eu
export LANG=en_US.UTF-8
"$bin" --db "$work/smoke.db" --addr 127.0.0.1:0 >"$work/app.log" 2>&1 &
pid=\$!
for i in \$(seq 1 150); do
  if xdotool search --name '^Tenantdesk' >/dev/null 2>&1; then break; fi
  if ! kill -0 \$pid 2>/dev/null; then echo "gui-smoke: app exited early"; cat "$work/app.log"; exit 1; fi
  sleep 0.2
done
xdotool search --name '^Tenantdesk' >/dev/null || { echo "gui-smoke: no window after 30 s"; cat "$work/app.log"; kill \$pid; exit 1; }
sleep 2
import -window root "$out"
kill -TERM \$pid
rc=0; wait \$pid || rc=\$?
cat "$work/app.log"
exit \$rc
INNER
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash "$work/inner.sh"
colors=$(convert "$out" -format '%k' info:)
echo "gui-smoke: window shown, screenshot $out has $colors colours, clean exit"
[ "$colors" -gt 16 ] || { echo "gui-smoke: screenshot looks blank" >&2; exit 1; }
