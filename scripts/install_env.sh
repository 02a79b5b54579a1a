#!/usr/bin/env bash
# Install pinned lock files into a virtual environment, each only when it changed since its last install,
# and with --project the project itself (editable: the code stays where it is, and the Transform and Trainer
# import preprocessing.py and trainer.py from this folder). run.sh and the Dockerfile both install through this
# script, so the image gets exactly what a developer gets.
#   scripts/install_env.sh [--project] VENV [LOCK ...]
set -euo pipefail
project=false
if [ "${1:-}" = "--project" ]; then project=true; shift; fi
venv=$1; shift
py="$venv/bin/python"
here=$(cd "$(dirname "$0")/.." && pwd)

# Reinstall only what changed: a stamp beside the venv remembers the checksum of what was installed.
changed() {
  local stamp="$venv/.$(basename "$1").sha256" want
  want=$(sha256sum "$1" | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 1
  echo "$want" > "$stamp.new"
}
mark_done() { mv "$venv/.$(basename "$1").sha256.new" "$venv/.$(basename "$1").sha256"; }

for lock in "$@"; do
  changed "$lock" || continue
  echo "[install] the pinned dependencies from $lock (uv)" >&2
  [ -x "$venv/bin/uv" ] || "$py" -m pip install -q --disable-pip-version-check "$(grep '^uv==' "$here/requirements.lock")"
  # --compile-bytecode, as pip does by default: with PYTHONDONTWRITEBYTECODE set (as on the build machines)
  # Python would otherwise compile TensorFlow, TFX and Beam from source in every process (16.5 s -> 7.3 s to
  # import the local runner, measured here).
  "$venv/bin/uv" pip install --quiet --compile-bytecode --python "$py" --excludes "$here/requirements-excludes.txt" -r "$lock"
  mark_done "$lock"
done

if $project && changed "$here/pyproject.toml"; then
  echo "[install] the project itself (editable)" >&2
  "$venv/bin/uv" pip install --quiet --python "$py" --no-deps --no-build-isolation --editable "$here"
  mark_done "$here/pyproject.toml"
fi
