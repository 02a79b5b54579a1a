#!/usr/bin/env bash
# The model server and the app side by side until Ctrl-C (what ./run.sh starts after the pipeline).
#   scripts/serve_and_app.sh PYTHON
# Exit 0 when stopped (Ctrl-C, SIGTERM), 1 when a service fails; either way the other is stopped too.
set -euo pipefail
PY="${1:?usage: scripts/serve_and_app.sh PYTHON}"
say() { printf '[run.sh] %s\n' "$*" >&2; }

pids=()
trap 'say "stopping the model server and the app"; kill "${pids[@]}" 2>/dev/null || true; wait || true; exit 0' INT TERM
"$PY" -m pipeline.cli serve & pids+=($!)
"$PY" -m pipeline.cli app & pids+=($!)
say "model server and app starting (URLs below); press Ctrl-C to stop both"
status=0
wait -n "${pids[@]}" || status=$?
# Ctrl-C reaches the services too (one process group) and each stops cleanly on it, sometimes before the trap
# above runs: a service that ends with 0 was stopped, one that ends otherwise failed.
if [ "$status" -eq 0 ]; then
  say "stopping the model server and the app"
else
  say "a background service exited with $status; stopping the other"
fi
kill "${pids[@]}" 2>/dev/null || true
wait || true
exit "$(( status != 0 ))"
