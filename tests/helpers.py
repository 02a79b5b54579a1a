"""What several test files need: the project root, small configs, free ports and model-server processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from bench.launch import start_server, stop_server
from common.config import PROJECT_ROOT as ROOT
from common.ports import free_port
from reporting import server_load

__all__ = ["ROOT", "SMALL_OVERRIDES", "free_port", "server_config", "standalone_server_config", "start_server",
           "stop_server", "run_tfx_cli", "running_app", "scrape", "wait_for", "answers", "recording_sleep", "write_config",
           "HANG"]

HANG = 120  # seconds: bounds a hang only; every wait in the suite ends on evidence long before on a working system

SMALL_OVERRIDES = {
    "data": {"total_sample_size": 400, "chunk_rows": 1000},
    "model": {"vocab_size": 500, "sequence_length": 24, "embedding_dim": 8, "conv_filters": 8,
              "hidden_units": 8, "epochs": 8, "batch_size": 32, "dropout": 0.1,
              "pretrained_words": 2000, "pretrained_dim": 16},
    "evaluator": {"min_auc": 0.5, "min_binary_accuracy": 0.4, "max_auc_drop": 0.5},
}


def write_config(tmp: Path, overrides: dict | None = None) -> Path:
    """A config.json in ``tmp`` whose outputs all go under ``tmp`` (source stays the bundled data)."""
    raw = json.loads((ROOT / "config.json").read_text())
    raw["data"]["source"] = str(ROOT / raw["data"]["source"])
    raw["data"]["prepared_dir"] = "data"
    raw["pipeline"].update(root="pipeline_root", metadata_path="metadata/metadata.db", output_dir="results")
    raw["serving"]["model_dir"] = "serving"
    for section, values in (overrides or {}).items():
        raw[section].update(values)
    path = tmp / "config.json"
    path.write_text(json.dumps(raw, indent=2))
    return path


def server_config(tmp: Path, server, results: Path | None = None, **app) -> Path:
    """A config whose serving section points at ``server``, reading pipeline results from ``results``."""
    overrides = {**SMALL_OVERRIDES, "serving": {
        "model_name": server.manager.model_name, "grpc_port": server.grpc_port, "rest_port": server.rest_port,
        "request_timeout_seconds": 5.0}, "app": app or {"port": 8765}}
    if results:
        overrides["pipeline"] = {"output_dir": str(results)}
    return write_config(tmp, overrides)


def standalone_server_config(tmp: Path, pipeline_run: dict) -> Path:
    """A config for a model server process of its own (free ports) over the pipeline's pushed models."""
    config = pipeline_run["config"]
    return write_config(tmp, {**SMALL_OVERRIDES,
                              "serving": {"model_dir": str(config.serving.model_dir), "grpc_port": free_port(),
                                          "rest_port": free_port(), "request_timeout_seconds": 5.0},
                              "pipeline": {"output_dir": str(config.pipeline.output_dir)}})


def run_tfx_cli(args: list[str], config_path: Path, tfx_home: Path, timeout: float = 1200) -> subprocess.CompletedProcess:
    """TFX's own command line (the venv's ``tfx`` entry point) on this project, with its home in ``tfx_home``.

    The local engine keeps its records in $LOCAL_HOME, the vertex engine in $VERTEX_HOME; the runner files read
    the config named by $PPQ_CONFIG.
    """
    venv_bin = Path(sys.executable).parent  # the command line runs `pip freeze` from PATH to pick its engine
    env = {**os.environ, "PPQ_CONFIG": str(config_path), "LOCAL_HOME": str(tfx_home / "local"),
           "VERTEX_HOME": str(tfx_home / "vertex"), "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(venv_bin / "tfx"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def scrape(client) -> server_load.Snapshot:
    """The server's metrics, as a ``ModelClient`` scrapes and the app reads them."""
    return server_load.parse(client.metrics_text(), client.model_name)


CHROMIUM = "/usr/bin/chromium"  # Debian's, which ./run.sh test installs (Playwright cannot download its own here)
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"  # the browser tests' screenshots


@contextlib.contextmanager
def running_app(config_path: Path, port: int, timeout: float = 90) -> Iterator[str]:
    """``./run.sh app`` (pipeline.cli app) with this config; yields its URL once Streamlit's health check answers."""
    app = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "app"], cwd=ROOT,
                           env={**os.environ, "PPQ_CONFIG": str(config_path)}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health"), "the app to start", timeout,
                 alive=app)
        yield f"http://127.0.0.1:{port}"
    finally:
        app.terminate()
        app.wait(timeout=60)


def wait_for(condition: Callable[[], object], what: str | Callable[[], str], timeout: float = HANG,
             interval: float = 0.01, alive: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` (each check immediate) until it holds: tests wait for evidence, never for a fixed time.

    The deadline only bounds a hang. With ``alive``, that process exiting first fails at once. ``what`` (or what
    it returns, called only on failure: a process's last lines, say) names the wait in the failure.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        exited = alive is not None and alive.poll() is not None
        if exited or time.monotonic() > deadline:
            reason = f"exited with {alive.returncode}" if exited else f"timed out after {timeout:.0f} s"
            raise AssertionError(f"{reason} waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def answers(url: str) -> bool:
    """Whether ``url`` answers a GET with a success status (no answer at all is ``False``)."""
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def recording_sleep(slept: list[float]) -> Callable[[float], None]:
    """``time.sleep`` that also records the calling thread's waits into ``slept``.

    Patching ``time.sleep`` reaches the whole process, where other threads (a model server started by another test
    in the same worker) sleep too: only this thread's waits are the client's retries.
    """
    real_sleep, caller = time.sleep, threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is caller:
            slept.append(seconds)
        real_sleep(seconds)
    return sleep
