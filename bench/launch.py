"""Start the model server as a process of its own (as TensorFlow Serving runs), for the soak and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common.config import PROJECT_ROOT
from serving.client import ModelClient


def start_server(env_overrides: dict[str, str], client: ModelClient, timeout: float = 120) -> subprocess.Popen:
    """Run `pipeline.cli serve` with the given PPQ_* settings; return once ``client`` sees a loaded version."""
    return start_process([sys.executable, "-m", "pipeline.cli", "serve"], env_overrides, client, timeout)


def start_process(command: list[str], env_overrides: dict[str, str], client: ModelClient,
                  timeout: float = 120, cwd: Path = PROJECT_ROOT) -> subprocess.Popen:
    """Run a model server command (in ``cwd``); return once ``client`` sees a loaded version."""
    server = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env_overrides},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while server.poll() is None and not client.is_up():
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the model server did not start")
        time.sleep(0.5)
    if server.poll() is not None:
        raise RuntimeError(f"the model server exited ({server.returncode}); are ports {client.grpc_address} "
                           f"or {client.rest_url} already in use?")
    return server


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)

