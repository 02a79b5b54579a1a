"""The first request after a hot reload, with and without the version's warm-up file, measured in one run.

A model server (in this process, polling fast) serves a copy of the pushed model; new versions are then
published beside it, in turn a copy without ``assets.extra/tf_serving_warmup_requests`` and one with it.
Once the server reports the new version AVAILABLE, one gRPC request is timed (the first that version
answers), then a few more (its steady state). ``./run.sh bench-serving`` prints the medians as a row.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from serving import warmup
from serving.client import ModelClient
from serving.server import ModelServer
from serving.versions import LoadRetries

QUESTIONS = ["does it come with a charger?", "mine stopped working after a week, what now?",
             "will it fit a queen size bed?", "is the lid dishwasher safe?"]


def _publish(source: Path, base: Path, version: int, with_warmup: bool, model_name: str) -> None:
    staging = base.parent / f".staging-{version}"
    shutil.copytree(source, staging)
    shutil.rmtree(staging / warmup.WARMUP_FILE.parent, ignore_errors=True)
    if with_warmup:
        records = warmup.read(source) or [warmup.predict_request(model_name, [q]) for q in QUESTIONS]
        warmup.write(staging, records)
    staging.rename(base / str(version))


def _wait_available(client: ModelClient, version: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any(s["version"] == str(version) and s["state"] == "AVAILABLE" for s in client.status()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"version {version} did not load")
        time.sleep(0.02)


def first_request_after_reload(source: Path, model_name: str, rounds: int = 3, steady: int = 5) -> dict[str, float]:
    """Median ms of the first request to a freshly loaded version, without and with warm-up, and steady-state."""
    work = Path(tempfile.mkdtemp(prefix="first-request-"))
    base = work / model_name
    base.mkdir()
    _publish(source, base, 1, True, model_name)
    server = ModelServer(model_name, base, "127.0.0.1", 0, 0, poll_seconds=0.05, batching=None,
                         retries=LoadRetries(0, 0.0))
    server.start()
    timings: dict[str, list[float]] = {"without_warmup_ms": [], "with_warmup_ms": [], "steady_ms": []}
    try:
        with ModelClient("127.0.0.1", model_name, server.grpc_port, server.rest_port, timeout=60, retries=0) as client:
            version = 1
            for round_ in range(rounds * 2):
                with_warmup = round_ % 2 == 1
                version += 1
                _publish(source, base, version, with_warmup, model_name)
                _wait_available(client, version)
                started = time.perf_counter()
                answered = client.predict([QUESTIONS[round_ % len(QUESTIONS)]])[0].model_version
                elapsed = (time.perf_counter() - started) * 1000
                if answered != version:
                    raise RuntimeError(f"expected version {version} to answer, got {answered}")
                timings["with_warmup_ms" if with_warmup else "without_warmup_ms"].append(elapsed)
                for index in range(steady):
                    started = time.perf_counter()
                    client.predict([QUESTIONS[index % len(QUESTIONS)]])
                    timings["steady_ms"].append((time.perf_counter() - started) * 1000)
    finally:
        server.stop(grace=1)
        shutil.rmtree(work, ignore_errors=True)
    return {key: round(statistics.median(values), 2) for key, values in timings.items()} | {"rounds": rounds}
