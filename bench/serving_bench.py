"""Serving benchmark: latency and throughput over gRPC and REST vs. the in-process call.

Starts the local model server (a process of its own) over the pushed model (config.json), then for
1, 8 and 32 concurrent clients sends single-question requests for a fixed
time and reports p50/p99 latency and predictions per second, beside the same
SavedModel called in-process. Prints a table and writes JSON.

Run: ./run.sh bench-serving [--seconds 5] [--out outputs/bench/serving.json]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipeline import configs
from serving.client import ModelClient
from serving.launch import free_port, start_server, stop_server
from serving.model_versions import LoadedModel

QUESTION = "Does this coffee maker come with a reusable filter?"


def measure(make_call: Callable[[], Callable[[], object]], clients: int, seconds: float) -> dict[str, float]:
    """Each client thread calls in a loop for ``seconds``; latencies are pooled."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        call = make_call()
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                call()
            except Exception:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter() - start)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    pooled = np.array([x for per in latencies for x in per]) * 1000
    return {"clients": clients, "requests": int(pooled.size), "errors": sum(errors),
            "p50_ms": float(np.percentile(pooled, 50)), "p99_ms": float(np.percentile(pooled, 99)),
            "per_second": pooled.size / elapsed}


def run_serving_bench(base: Path, model_name: str, seconds: float, client_counts: list[int]) -> list[dict]:
    """In-process, gRPC and REST rows for each client count, with p50 ratios to in-process.

    The server runs as a process of its own, as TensorFlow Serving would; the clients and the
    in-process model share this one.
    """
    model = LoadedModel.load(base)
    grpc_port, rest_port = free_port(), free_port()
    settings = {"PPQ_SERVING__MODEL_DIR": str(base.parent), "PPQ_SERVING__MODEL_NAME": model_name,
                "PPQ_SERVING__HOST": "127.0.0.1", "PPQ_SERVING__GRPC_PORT": str(grpc_port),
                "PPQ_SERVING__REST_PORT": str(rest_port), "PPQ_SERVING__POLL_SECONDS": "60"}
    probe = ModelClient("127.0.0.1", model_name, grpc_port, rest_port, timeout=2, retries=0)
    server = start_server(settings, probe)

    def client_call(transport: str) -> Callable[[], Callable[[], object]]:
        def make() -> Callable[[], object]:
            client = ModelClient("127.0.0.1", model_name, grpc_port, rest_port, transport=transport, timeout=30, retries=0)
            return lambda: client.predict([QUESTION])
        return make
    ways = {"in-process": lambda: (lambda: model.predict([QUESTION])), "gRPC": client_call("grpc"),
            "REST": client_call("rest")}
    rows = []
    try:
        for clients in client_counts:
            for name, make in ways.items():
                print(f"bench: serving {name:10s} {clients:2d} client(s) for {seconds:g} s", flush=True)
                rows.append({"way": name, **measure(make, clients, seconds)})
    finally:
        probe.close()
        stop_server(server)
    in_process = {r["clients"]: r for r in rows if r["way"] == "in-process"}
    for row in rows:
        row["p50_vs_in_process"] = row["p50_ms"] / in_process[row["clients"]]["p50_ms"]
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'way':10s} {'clients':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'per s':>8s} {'errors':>6s} {'p50 ratio':>9s}"]
    lines += [f"{r['way']:10s} {r['clients']:7d} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['per_second']:8.0f} "
              f"{r['errors']:6d} {r['p50_vs_in_process']:9.2f}" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/serving.json"))
    args = parser.parse_args()
    config = configs.load()
    rows = run_serving_bench(config.serving.model_base_path, config.serving.model_name, args.seconds, args.clients)
    print("\n" + format_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seconds_each": args.seconds, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
