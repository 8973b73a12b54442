#!/usr/bin/env bash
# Windows smoke test (SPEC §16), under Wine and Xvfb, of the installer that
# `make package-windows` wrote: a fresh prefix; `Tenantdesk-Setup.exe /S`;
# the files, the Start-menu shortcut, the Apps & features entry and the PATH
# entry; the window opened through the shortcut; console verbs typed in cmd
# (found on PATH) running through the open window's pipe, with their output
# and exit codes; the data file in %AppData%; `serve` answering /healthz;
# then the silent uninstall, which keeps the data file. GUI_SMOKE_SHOT=FILE
# keeps the screenshot (README: docs/screenshots/windows.png).
set -euo pipefail
cd "$(dirname "$0")/.."
setup=$PWD/Tenantdesk-Setup.exe dll=$PWD/build/windows/wine/bcryptprimitives.dll
[ -f "$setup" ] || { echo "windows-smoke: no $setup (make package-windows)" >&2; exit 1; }
work=$(mktemp -d)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" LANG=en_US.UTF-8
trap 'wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
out=${GUI_SMOKE_SHOT:-$work/windows.png}
fail() { echo "windows-smoke: FAIL: $*" >&2; exit 1; }
ok() { echo "windows-smoke: ok: $*"; }

wine wineboot -i >/dev/null 2>&1
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/"
me=$(id -un)
users=$WINEPREFIX/drive_c/users/$me
app=$users/AppData/Local/Programs/Tenantdesk
lnk='C:\users\'$me'\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Tenantdesk.lnk'
data=$users/AppData/Roaming/tenantdesk/tenantdesk.db

wine "$setup" /S || fail "silent install exited $?"
for f in Tenantdesk.exe tenantdesk.com Uninstall.exe; do [ -f "$app/$f" ] || fail "no $f in $app"; done
ok "silent install into %LOCALAPPDATA%\\Programs\\Tenantdesk"
[ -f "$(winepath -u "$lnk")" ] || fail "no Start-menu shortcut"
ok "Start-menu shortcut"
wine reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Tenantdesk' /v UninstallString | grep -q 'Uninstall.exe' ||
  fail "no uninstaller in Apps & features (HKCU)"
ok "uninstaller registered in HKCU"
wine reg query 'HKCU\Environment' /v Path | grep -qi 'Programs\\Tenantdesk' || fail "install folder not on the user's PATH"
ok "console face on the user's PATH"

# td VERB…: the console face as cmd finds it on PATH; prints its output,
# returns its exit code.
td() { wine cmd /c tenantdesk "$@" 2>&1 | tr -d '\r'; return "${PIPESTATUS[0]}"; }
v=$(td version) || fail "version exited non-zero: $v"
grep -q "^tenantdesk $(sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' FyneApp.toml)" <<<"$v" || fail "version said: $v"
ok "console verb: $v (exit 0)"
rc=0; msg=$(td nosuchverb) || rc=$?
[ "$rc" -eq 1 ] && grep -q 'unknown command' <<<"$msg" || fail "unknown verb: exit $rc, $msg"
ok "console verb: unknown verb exits 1 with '$msg'"

# Windows paths the window's part needs, while wine runs: any wine
# command after the kill below (winepath too) would start a session with
# no display again, and the window would find no X driver.
# The import fixture names its IdP certificate and fingerprints as $CERT_*
# and $FP_* variables.
openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -days 365 -subj /CN=idp.smoke.test -out "$work/idp.pem" 2>/dev/null
cert=$(awk '{printf "%s\\\\n", $0}' "$work/idp.pem") # awk writes \\\\n, which sed turns into \\n, JSON's newline
fp() { openssl x509 -noout -fingerprint "-$1" -in "$work/idp.pem" | cut -d= -f2; }
sed -e "s|\$CERT_EXPIRING||g" -e "s|\$CERT_VALID|$cert|g" -e "s|\$FP_VALID_SHA1|$(fp sha1)|g" \
  -e "s|\$FP_VALID_SHA256|$(fp sha256)|g" tenant/testdata/marketplaces.json >"$work/marketplaces.json"
json=$(winepath -w "$work/marketplaces.json")
# The wine session started above has no display: end it, so that the
# window's session starts inside Xvfb.
wineserver -k || true; wineserver -w || true
cat >"$work/inner.sh" <<INNER
set -euo pipefail
$(declare -f fail ok td)
WINEDEBUG=${SMOKE_WINEDEBUG:--all} wine start '$lnk'
for i in \$(seq 1 240); do xdotool search --name '^Tenantdesk' >/dev/null 2>&1 && break; sleep 0.5; done
xdotool search --name '^Tenantdesk' >/dev/null || { pgrep -af -i tenantdesk >&2 || true; xwininfo -root -tree 2>/dev/null | grep '"' >&2 || true; fail "no window after 120 s"; }
ok "window opened through the shortcut"
# The window owns the data file: these verbs can only work through its pipe.
r=\$(td tenant import '$json') || fail "import through the window: \$r"
ok "tenant import through the open window: \$r"
l=\$(td tenant list) || fail "list through the window: \$l"
grep -q acme-enterprise <<<"\$l" && grep -q maestrano-uat <<<"\$l" || fail "tenant list said: \$l"
ok "tenant list through the open window shows both tenants (exit 0)"
rc=0; r=\$(td tenant remove no-such-tenant) || rc=\$?
[ "\$rc" -ne 0 ] || fail "removing a missing tenant exited 0: \$r"
ok "tenant remove of a missing tenant through the window exits \$rc: \$r"
# The Tenants screen, whose list shows each tenant's status dot.
wid=\$(xdotool search --name '^Tenantdesk' | head -1)
xdotool mousemove --window "\$wid" 60 135 click 1
sleep 3
import -window root '$out'
INNER
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash ${SMOKE_TRACE:+-x} "$work/inner.sh"
colors=$(convert "$out" -format '%k' info:)
[ "$colors" -gt 16 ] || fail "screenshot looks blank"
ok "screenshot $out ($colors colours)"
wineserver -k || true; wineserver -w || true
[ -f "$data" ] || fail "no data file in %AppData%\\tenantdesk"
ok "data file in %AppData%\\tenantdesk"

# serve on its own data file, answering the listener's /healthz.
port=$((20000 + RANDOM % 20000))
wine "$app/tenantdesk.com" --db 'C:\serve.db' --addr "127.0.0.1:$port" serve >"$work/serve.log" 2>&1 &
for i in $(seq 1 60); do grep -q '^listening on' "$work/serve.log" && break; sleep 0.5; done
grep -q '^listening on' "$work/serve.log" || { cat "$work/serve.log"; fail "serve did not announce itself"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || fail "serve's /healthz answered $code"
ok "serve answering /healthz (200)"
wineserver -k || true; wineserver -w || true

wine "$app/Uninstall.exe" /S
# The uninstaller runs a copy of itself from %TEMP% and returns at once.
for i in $(seq 1 60); do [ -e "$app/Tenantdesk.exe" ] || break; sleep 0.5; done
[ ! -e "$app/Tenantdesk.exe" ] && [ ! -e "$app/tenantdesk.com" ] || fail "uninstall left the programs"
[ ! -e "$(winepath -u "$lnk")" ] || fail "uninstall left the shortcut"
! wine reg query 'HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Tenantdesk' >/dev/null 2>&1 || fail "uninstall left its Apps & features entry"
! wine reg query 'HKCU\Environment' /v Path 2>/dev/null | grep -qi 'Programs\\Tenantdesk' || fail "uninstall left the PATH entry"
[ -f "$data" ] || fail "uninstall removed the data file"
ok "silent uninstall: programs, shortcut, Apps & features entry and PATH entry gone; data file kept"
