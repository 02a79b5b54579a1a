"""Serving benchmark: the model server over gRPC and REST against the in-process call and a canned-answer floor.

Starts the local model server (a process of its own, config.json's serving section) over the pushed
model, then for 1, 8 and 32 concurrent clients sends single-question requests, cycling through
varied questions (no answer cache can win), for a fixed time each. Beside it, in the same run:

- in-process: the SavedModel's ``serving_default`` concrete function called directly with a string
  tensor, from as many threads;
- floor: a canned-answer server (bench/canned_server.py: grpc.aio, and REST on the same HTTP server
  as the real one) measured with the same clients; a model server's floor is its p50 plus the
  in-process p50;
- optionally (--compare-root) the same server from another checkout, e.g. main before a change;
- the first request after a hot reload, with and without the version's warm-up file (bench/first_request.py).
- the request log: a pair of servers of their own, "log off" and "log 1.0" (serving.logging.sampling_rate
  1.0, into a temporary folder), gRPC only, measured back to back in each round; their ratio is the median
  of the rounds' ratios (--no-request-log skips them). The server above runs with logging off too.

For the server it reads its batch sizes from /monitoring/prometheus/metrics and its CPU time from
/proc. Prints a table and the targets' ratios, writes JSON; --profile-dir records py-spy profiles.

Run: ./run.sh bench-serving [--seconds 5] [--clients 1 8 32] [--out outputs/bench/serving.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import signatures
from bench.launch import start_process, stop_server
from common import config as configs
from common.config import PROJECT_ROOT as ROOT
from common.ports import free_port
from models.pushed_models import LoadedModel
from reporting import server_load
from serving import metric_names
from serving.client import ModelClient, floats, string_tensor

LOG_OFF, LOG_ON = "log off", "log 1.0"
OPENERS = ["Does this", "Will the", "Can I use the", "My", "Is the", "How long does the", "Why did the", "Where is the"]
THINGS = ["coffee maker", "blender", "tent", "drill battery", "phone case", "kettle", "strap", "charger", "lamp",
          "vacuum", "mattress", "keyboard", "router", "stroller", "jacket", "backpack"]
TAILS = ["come with a reusable filter?", "stop working after two weeks?", "fit a queen size bed?", "work in the rain?",
         "have a warranty?", "arrive broken, what now?", "get loud at night?", "need batteries?",
         "make a clicking noise since yesterday?", "ship with the manual?"]
QUESTIONS = [f"{o} {t} {tail}" for o, t, tail in itertools.product(OPENERS, THINGS, TAILS)]  # 1,280 distinct
TICKS = os.sysconf("SC_CLK_TCK")


def question_cycle(offset: int):
    return itertools.islice(itertools.cycle(QUESTIONS), offset % len(QUESTIONS), None)


def measure(make_call: Callable[[int], Callable[[], object]], clients: int, seconds: float) -> dict[str, float]:
    """Each client thread calls in a loop for ``seconds``; latencies are pooled."""
    return summarize(*run_clients(make_call, clients, seconds), clients)


def run_clients(make_call: Callable[[int], Callable[[], object]], clients: int,
                seconds: float) -> tuple[list[float], int, float]:
    """Latencies (s), failures and elapsed seconds of ``clients`` threads calling in a loop."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    ready = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def worker(index: int) -> None:
        call = make_call(index)
        ready.wait()
        while time.perf_counter() < deadline[0]:
            start = time.perf_counter()
            try:
                call()
            except Exception:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter() - start)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline.append(time.perf_counter() + seconds)
    started = time.perf_counter()
    ready.wait()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], sum(errors), time.perf_counter() - started


def summarize(latencies: list[float], errors: int, elapsed: float, clients: int) -> dict[str, float]:
    pooled = np.array(latencies) * 1000
    return {"clients": clients, "requests": int(pooled.size), "errors": errors,
            "p50_ms": float(np.percentile(pooled, 50)) if pooled.size else float("nan"),
            "p99_ms": float(np.percentile(pooled, 99)) if pooled.size else float("nan"),
            "per_second": pooled.size / elapsed if elapsed else 0.0}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Served:
    """A server process under test: its ports, its CPU time, and (if it has them) its metrics."""

    def __init__(self, name: str, process: subprocess.Popen, model_name: str, grpc_port: int, rest_port: int):
        self.name, self.process, self.model_name = name, process, model_name
        self.grpc_port, self.rest_port = grpc_port, rest_port

    def snapshot(self) -> server_load.Snapshot | None:
        try:
            response = requests.get(f"http://127.0.0.1:{self.rest_port}{metric_names.PATH}", timeout=5)
        except requests.RequestException:
            return None
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("text/plain"):
            return None  # a server without metrics (the floor, or one from before they existed)
        return server_load.parse(response.text, self.model_name)

    def client_call(self, transport: str) -> Callable[[int], Callable[[], object]]:
        """Each client: its own channel (or HTTP session), one fresh question per request."""
        def make(index: int) -> Callable[[], object]:
            questions = question_cycle(index * 97)
            if transport == "grpc":
                return grpc_caller(f"127.0.0.1:{self.grpc_port}", self.model_name, questions)
            return rest_caller(f"http://127.0.0.1:{self.rest_port}/v1/models/{self.model_name}:predict", questions)
        return make


def grpc_caller(address: str, model_name: str, questions) -> Callable[[], object]:
    """A TensorFlow Serving example client: the generated stub, a PredictRequest, a timeout."""
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))

    def call() -> float:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = signatures.SERVING_DEFAULT
        request.inputs[signatures.QUESTION_INPUT].CopyFrom(string_tensor([next(questions)]))
        response = stub.Predict(request, timeout=30)
        return floats(response.outputs[signatures.PROBABILITY_OUTPUT])[0]
    return call


def rest_caller(url: str, questions) -> Callable[[], object]:
    session = requests.Session()

    def call() -> float:
        response = session.post(url, json={"instances": [next(questions)]}, timeout=30)
        response.raise_for_status()
        return response.json()["predictions"][0][signatures.PROBABILITY_OUTPUT]
    return call


def start_served(name: str, command: list[str], settings: dict[str, str], model_name: str,
                 cwd: Path = ROOT) -> Served:
    print(f"bench: starting {name} server", flush=True)
    grpc_port, rest_port = free_port(), free_port()
    env = {**settings, "PPQ_SERVING__GRPC_PORT": str(grpc_port), "PPQ_SERVING__REST_PORT": str(rest_port)}
    command = [c.format(grpc_port=grpc_port, rest_port=rest_port) for c in command]
    probe = ModelClient("127.0.0.1", model_name, grpc_port, rest_port, timeout=2, retries=0)
    try:
        process = start_process(command, env, probe, timeout=600, cwd=cwd)  # TensorFlow loads slowly on a busy machine
    finally:
        probe.close()
    return Served(name, process, model_name, grpc_port, rest_port)


class Way:
    """One row of the table: how to call, and what its rounds measured."""

    def __init__(self, name: str, make_call: Callable[[int], Callable[[], object]], served: Served | None = None):
        self.name, self.make_call, self.served = name, make_call, served
        self.latencies: list[float] = []
        self.round_rates: list[float] = []
        self.errors, self.elapsed, self.cpu = 0, 0.0, 0.0
        self.first: server_load.Snapshot | None = None
        self.last: server_load.Snapshot | None = None

    def run_round(self, clients: int, seconds: float, profile_dir: Path | None) -> None:
        if self.served is None:
            latencies, errors, elapsed = run_clients(self.make_call, clients, seconds)
        else:
            before, cpu_before = self.served.snapshot(), cpu_seconds(self.served.process.pid)
            self.first = self.first or before
            profiler = self._profiler(clients, seconds, profile_dir)
            latencies, errors, elapsed = run_clients(self.make_call, clients, seconds)
            if profiler:
                profiler.wait()
            self.cpu += cpu_seconds(self.served.process.pid) - cpu_before
            self.last = self.served.snapshot()
        self.latencies += latencies
        self.errors += errors
        self.elapsed += elapsed
        self.round_rates.append(len(latencies) / elapsed if elapsed else 0.0)

    def _profiler(self, clients: int, seconds: float, profile_dir: Path | None) -> subprocess.Popen | None:
        if not profile_dir or not shutil.which("py-spy"):
            return None
        out = profile_dir / f"{self.name.replace(' ', '_')}-{clients}.txt"
        return subprocess.Popen(["py-spy", "record", "--pid", str(self.served.process.pid), "--format", "raw",
                                 "--nonblocking", "--rate", "100", "--duration", str(max(1, int(seconds))),
                                 "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def row(self, clients: int) -> dict:
        row = {"way": self.name, **summarize(self.latencies, self.errors, self.elapsed, clients),
               "round_rates": self.round_rates}
        if self.served is not None:
            row["server_cpu_ms_per_request"] = self.cpu * 1000 / max(row["requests"], 1)
        if self.first and self.last:
            load = server_load.load_between(self.last, self.first)
            row.update(mean_batch=load.mean_batch, batch_p50=load.batch_p50, batch_p90=load.batch_p90)
        return row


def in_process_call(function: Callable) -> Callable[[int], Callable[[], object]]:
    def make(index: int) -> Callable[[], object]:
        questions = question_cycle(index * 97)
        return lambda: function(**{signatures.QUESTION_INPUT: tf.constant([next(questions)])})
    return make


def run_serving_bench(base: Path, model_name: str, seconds: float, client_counts: list[int],
                      floor: bool = False, compare_root: Path | None = None, profile_dir: Path | None = None,
                      variants: dict[str, dict[str, str]] | None = None, rounds: int = 1,
                      settings: dict[str, str] | None = None) -> list[dict]:
    """Rows of latency and throughput for each way and client count, with ratios to in-process and floor.

    Each measurement is cut into ``rounds`` slices taken in turn with the other ways', so that a burst
    of load from elsewhere on the machine falls on all of them alike.
    """
    function = LoadedModel.load(base).serving_fn
    settings = {"PPQ_SERVING__MODEL_DIR": str(base.parent), "PPQ_SERVING__MODEL_NAME": model_name,
                "PPQ_SERVING__HOST": "127.0.0.1", "PPQ_SERVING__POLL_SECONDS": "60", **(settings or {})}
    serve = [sys.executable, "-m", "pipeline.cli", "serve"]
    servers = [("", start_served("server", serve, settings, model_name), ("grpc", "rest"))]
    try:
        if floor:
            canned = [sys.executable, "-m", "bench.canned_server", "--model-name", model_name,
                      "--grpc-port", "{grpc_port}", "--rest-port", "{rest_port}"]
            servers.append(("floor ", start_served("floor", canned, {}, model_name), ("grpc", "rest")))
        if compare_root:
            servers.append(("before ", start_served("before", serve, settings, model_name, cwd=compare_root),
                            ("grpc", "rest")))
        for label, overrides in (variants or {}).items():
            servers.append((f"{label} ", start_served(label, serve, {**settings, **overrides}, model_name), ("grpc",)))
        rows = []
        for clients in client_counts:
            ways = [Way("in-process", in_process_call(function))]
            ways += [Way(prefix + {"grpc": "gRPC", "rest": "REST"}[transport], served.client_call(transport), served)
                     for prefix, served, transports in servers for transport in transports]
            for round_index in range(rounds):
                for way in ways:
                    print(f"bench: {way.name:16s} {clients:2d} client(s), round {round_index + 1}/{rounds}", flush=True)
                    way.run_round(clients, seconds / rounds, profile_dir)
            rows += [way.row(clients) for way in ways]
    finally:
        for _, served, _ in servers:
            stop_server(served.process)
    add_ratios(rows)
    return rows


def add_ratios(rows: list[dict]) -> None:
    by = {(r["way"], r["clients"]): r for r in rows}
    for row in rows:
        reference = by[("in-process", row["clients"])]
        row["p50_vs_in_process"] = row["p50_ms"] / reference["p50_ms"]
        row["rate_vs_in_process"] = row["per_second"] / reference["per_second"]
        row["p99_vs_p50"] = row["p99_ms"] / row["p50_ms"]
        floor = by.get(("floor " + row["way"], row["clients"]))
        if floor:
            row["floor_p50_ms"] = floor["p50_ms"] + reference["p50_ms"]
            row["p50_vs_floor"] = row["p50_ms"] / row["floor_p50_ms"]


def _cell(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None else "-"


def format_table(rows: list[dict]) -> str:
    lines = [f"{'way':16s} {'clients':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'per s':>7s} {'errors':>6s} "
             f"{'p50/inproc':>10s} {'p50/floor':>9s} {'rate/inproc':>11s} {'p99/p50':>7s} {'batch mean':>10s} "
             f"{'batch p90':>9s} {'srv cpu ms/req':>14s}"]
    lines += [f"{r['way']:16s} {r['clients']:7d} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['per_second']:7.0f} "
              f"{r['errors']:6d} {r['p50_vs_in_process']:10.2f} {_cell(r.get('p50_vs_floor'), '9.2f')} "
              f"{_cell(r.get('rate_vs_in_process'), '11.2f')} {_cell(r.get('p99_vs_p50'), '7.2f')} "
              f"{_cell(r.get('mean_batch'), '10.1f')} {_cell(r.get('batch_p90'), '9.1f')} "
              f"{_cell(r.get('server_cpu_ms_per_request'), '14.3f')}" for r in rows]
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[tuple[str, float, str, float, bool]]:
    """The issue's targets: (what, measured ratio, comparison, bound, met)."""
    by = {(r["way"], r["clients"]): r for r in rows}
    found = []
    if ("gRPC", 1) in by and "p50_vs_floor" in by["gRPC", 1]:
        found.append(("gRPC p50 at 1 client / floor", by["gRPC", 1]["p50_vs_floor"], "<=", 1.15))
    if ("REST", 1) in by and "p50_vs_floor" in by["REST", 1]:
        found.append(("REST p50 at 1 client / floor", by["REST", 1]["p50_vs_floor"], "<=", 1.3))
    if ("gRPC", 32) in by:
        found.append(("gRPC rate at 32 clients / in-process", by["gRPC", 32]["rate_vs_in_process"], ">=", 0.75))
        found.append(("gRPC p99 / p50 at 32 clients", by["gRPC", 32]["p99_vs_p50"], "<=", 3.0))
    if (LOG_OFF + " gRPC", 32) in by and (LOG_ON + " gRPC", 32) in by:
        found.append(("gRPC rate at 32 clients, log 1.0 / off", paired_ratio(by[LOG_ON + " gRPC", 32],
                                                                               by[LOG_OFF + " gRPC", 32]), ">=", 0.9))
    return [(what, value, op, bound, value <= bound if op == "<=" else value >= bound)
            for what, value, op, bound in found]


def paired_ratio(row: dict, reference: dict) -> float:
    """The median over rounds of one way's rate over another's, each pair measured back to back: a burst of
    load from elsewhere falls on both sides of a pair, and the median drops a round it fell between."""
    return statistics.median(a / b for a, b in zip(row["round_rates"], reference["round_rates"], strict=True) if b)


def request_log_variants(folder: Path, config: configs.Config) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Settings for the request-log comparison: logging off for the main server; a pair of servers of their own,
    one with logging off and one at sampling_rate 1.0, measured back to back in every round."""
    base = dataclasses.asdict(config.serving.logging)

    def setting(rate: float) -> dict[str, str]:
        return {"PPQ_SERVING__LOGGING": json.dumps({**base, "sampling_rate": rate,
                                                    "filename_prefix": str(folder / "prediction_log")})}
    return setting(0.0), {LOG_OFF: setting(0.0), LOG_ON: setting(1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--no-floor", action="store_true", help="skip the canned-answer floor server")
    parser.add_argument("--compare-root", type=Path, help="also measure the server of this checkout (e.g. main)")
    parser.add_argument("--profile-dir", type=Path, help="record a py-spy profile of each server measurement here")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[;KEY=VALUE]",
                        help="also measure the server with PPQ_SERVING__ overrides, e.g. 'unbatched:ENABLE_BATCHING=false'")
    parser.add_argument("--rounds", type=int, default=3, help="slices of each measurement, taken in turn")
    parser.add_argument("--no-request-log", action="store_true", help="skip the request-log (sampling_rate 1.0) server")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/serving.json"))
    args = parser.parse_args()
    config = configs.load()
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    variants = {label: dict((f"PPQ_SERVING__{kv.split('=', 1)[0].upper()}", kv.split("=", 1)[1])
                            for kv in settings.split(";"))
                for label, _, settings in (v.partition(":") for v in args.variant)}
    with tempfile.TemporaryDirectory(prefix="ppq-bench-log-") as log_folder:
        off, log_on = request_log_variants(Path(log_folder), config)
        if not args.no_request_log:
            variants.update(log_on)
        rows = run_serving_bench(config.serving.model_base_path, config.serving.model_name, args.seconds,
                                 args.clients, floor=not args.no_floor, compare_root=args.compare_root,
                                 profile_dir=args.profile_dir, variants=variants, rounds=args.rounds, settings=off)
    print("\n" + format_table(rows) + "\n")
    from bench.first_request import first_request_after_reload
    from models.layout import latest_version
    base = config.serving.model_base_path
    first = first_request_after_reload(base / str(latest_version(base)), config.serving.model_name)
    print(f"first request after a hot reload (median of {first['rounds']}): without warm-up "
          f"{first['without_warmup_ms']:.1f} ms, with warm-up {first['with_warmup_ms']:.1f} ms; "
          f"steady state {first['steady_ms']:.1f} ms\n")
    results = targets(rows)
    for what, value, op, bound, met in results:
        print(f"target: {what:40s} {value:6.2f} {op} {bound:<5g} {'met' if met else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    named = [dict(zip(("what", "ratio", "op", "bound", "met"), t, strict=True)) for t in results]
    report = {"seconds_each": args.seconds, "rounds": args.rounds, "variants": variants, "rows": rows,
              "targets": named, "first_request_after_reload": first}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
