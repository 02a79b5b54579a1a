#!/usr/bin/env bash
# The project's one entry point.
#   ./run.sh             main job: install what is missing, prepare data, run the TFX pipeline,
#                        export predictions and metrics, then start the model server and the app
#   ./run.sh test        install what is missing (incl. Chromium for the browser test), run every test
#   ./run.sh mutants     mutation testing (mutmut) of the pure-Python modules with their fast tests (docs/testing.md)
#   ./run.sh tfx …       TFX's own command line in the project's venv (tfx pipeline create --engine local …)
#   ./run.sh lock        re-resolve requirements*.in into the pinned requirements*.lock
#   ./run.sh bench | bench-serving | soak | audit    benchmarks, soak test, dependency audit
#   ./run.sh <command>   one step on its own: prepare | pipeline | report | infer | predict | serve | app |
#                        compile-kubeflow | render-kubernetes (./run.sh --help lists them)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="${PPQ_VENV:-$ROOT/.venv}"  # the Docker image sets PPQ_VENV=/opt/venv
PY="$VENV/bin/python"
export TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS="ignore::FutureWarning"

say() { printf '[run.sh] %s\n' "$*" >&2; }

is_py310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }

# A Python 3.10 interpreter: on PATH, then pyenv's versions, then uv's managed Pythons.
find_python310() {
  local candidate
  for candidate in "$(command -v python3.10 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && is_py310 "$candidate"; then echo "$candidate"; return 0; fi
  done
  if command -v python3 >/dev/null 2>&1; then
    say "no Python 3.10 found on PATH or in pyenv; trying 'uv python install 3.10'"
    local boot="${TMPDIR:-/tmp}/ppq-uv-bootstrap"
    python3 -m venv "$boot" >/dev/null 2>&1 && "$boot/bin/pip" install -q "$(grep '^uv==' requirements.lock)" >/dev/null 2>&1 \
      && "$boot/bin/uv" python install 3.10 >/dev/null 2>&1 && candidate=$("$boot/bin/uv" python find 3.10 2>/dev/null) \
      && is_py310 "$candidate" && { echo "$candidate"; return 0; }
  fi
  say "error: Python 3.10 is required (TFX 1.16 supports 3.9-3.10). Install it (e.g. 'pyenv install 3.10.13'"
  say "or 'uv python install 3.10') and run again."
  return 1
}

# The virtual environment with the pinned locks and the project itself (scripts/install_env.sh, which the
# Dockerfile runs too).
ensure_env() {
  if [ ! -x "$PY" ] || ! is_py310 "$PY"; then
    local python
    python=$(find_python310)
    say "creating $VENV with $python"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
  fi
  scripts/install_env.sh --project "$VENV" "$@"
}
RUNTIME_LOCKS=(requirements.lock)
TEST_LOCKS=(requirements.lock requirements-dev.lock)

# The Kubeflow Pipelines SDK in an environment of its own inside the venv (requirements-kfp.in says why).
ensure_kfp_env() {
  # A venv cut short before its installer arrived (no pip, no uv) is made again.
  if [ ! -x "$VENV/kfp/bin/uv" ] && ! "$VENV/kfp/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV/kfp"
    "$PY" -m venv "$VENV/kfp"
  fi
  scripts/install_env.sh "$VENV/kfp" requirements-kfp.lock
}

# Debian's Chromium for the browser test (Playwright's own browser download cannot work offline).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "error: the browser test needs Debian's chromium: sudo apt-get install chromium chromium-driver"; return 1
  fi
  say "installing Debian's chromium for the browser test"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

case "${1:-main}" in
  main)
    ensure_env "${RUNTIME_LOCKS[@]}"
    "$PY" -m pipeline.cli pipeline
    exec scripts/serve_and_app.sh "$PY"
    ;;
  test)
    shift
    ensure_env "${TEST_LOCKS[@]}"
    ensure_kfp_env
    ensure_chromium
    exec "$PY" -m pytest "$@"
    ;;
  bench-serving)
    shift
    ensure_env "${RUNTIME_LOCKS[@]}"
    exec "$PY" -m bench.serving_bench "$@"
    ;;
  soak)
    shift
    ensure_env "${RUNTIME_LOCKS[@]}"
    exec "$PY" -m bench.soak "$@"
    ;;
  mutants)
    shift
    ensure_env "${TEST_LOCKS[@]}"
    exec "$PY" scripts/mutants.py "$@"
    ;;
  audit)
    ensure_env "${TEST_LOCKS[@]}"
    exec "$VENV/bin/pip-audit" --strict --requirement requirements.lock --no-deps --disable-pip --progress-spinner off
    ;;
  bench)
    shift
    ensure_env "${RUNTIME_LOCKS[@]}"
    exec "$PY" -m bench.run_bench "$@"
    ;;
  tfx)
    shift
    ensure_env "${RUNTIME_LOCKS[@]}"
    # The venv first on PATH: TFX's command line runs `pip freeze` to choose its engine.
    PATH="$VENV/bin:$PATH" exec "$VENV/bin/tfx" "$@"
    ;;
  lock)
    ensure_env "${RUNTIME_LOCKS[@]}"
    for name in requirements requirements-dev requirements-kfp; do
      "$VENV/bin/uv" pip compile "$name.in" --excludes requirements-excludes.txt --python-version 3.10 --python-platform x86_64-manylinux_2_36 -o "$name.lock"
    done
    ;;
  *)
    ensure_env "${RUNTIME_LOCKS[@]}"
    exec "$PY" -m pipeline.cli "$@"
    ;;
esac
