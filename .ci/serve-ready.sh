#!/usr/bin/env bash
# serve-ready.sh BIN DB: how long `tenantdesk serve` takes from exec to its
# "listening on" line (SPEC §11: ≤ 300 ms), three runs.
set -euo pipefail
bin=$(readlink -f "${1:-bin/tenantdesk}"); db=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for run in 1 2 3; do
  : >"$out"
  start=$(date +%s%N)
  "$bin" --db "$db" --addr 127.0.0.1:0 --public-url http://127.0.0.1 serve >"$out" 2>/dev/null &
  pid=$!
  until grep -q '^listening on' "$out"; do
    kill -0 $pid 2>/dev/null || { echo "serve exited"; exit 1; }
    sleep 0.002
  done
  end=$(date +%s%N)
  echo "serve ready in $(( (end - start) / 1000000 )) ms (run $run, $(du -h "$db" | cut -f1) data file)"
  kill -TERM $pid; wait $pid
done
