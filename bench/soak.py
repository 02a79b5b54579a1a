"""Soak test of the model server: many clients for a while on loopback; no failed request, flat memory.

Starts `pipeline.cli serve` as a child process (config.json's serving section, or
--config), drives it with N gRPC clients (every 4th over REST) for a fixed time,
samples the server's resident memory each second, then stops. Bounded in count
and time, and it only talks to 127.0.0.1.

Run: ./run.sh soak [--clients 32] [--seconds 60]
Exit status 1 when a request failed or memory grew more than --max-growth-mb after warm-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from bench.launch import start_server, stop_server
from common import config as configs
from serving.client import ModelClient

QUESTIONS = ["Does it come with a charger?", "Mine broke after two weeks, is there a fix?", "How loud is it?",
             "😀 is this the 2024 model? 日本語"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(config_path: Path, clients: int, seconds: float, warmup: float = 3.0) -> dict:
    config = configs.load(config_path)
    serving = config.serving
    probe = ModelClient(serving.host, serving.model_name, serving.grpc_port, serving.rest_port, timeout=2, retries=0)
    server = start_server({configs.CONFIG_PATH_ENV: str(config_path)}, probe)
    try:
        counts, failures, stop = [0] * clients, [], threading.Event()

        def worker(index: int) -> None:
            transport = "rest" if index % 4 == 3 else "grpc"
            with ModelClient(serving.host, serving.model_name, serving.grpc_port, serving.rest_port,
                             transport=transport, timeout=30, retries=0) as client:
                while not stop.is_set():
                    try:
                        client.predict([QUESTIONS[counts[index] % len(QUESTIONS)]])
                        counts[index] += 1
                    except Exception as error:  # noqa: BLE001 - every failure counts, none stops the soak silently
                        failures.append(f"{transport}: {type(error).__name__}: {error}")
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        samples, started = [], time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(1.0)
            if server.poll() is not None:
                failures.append(f"the model server exited ({server.returncode}) during the soak")
                break
            samples.append((round(time.monotonic() - started, 1), rss_mb(server.pid)))
            print(f"soak: {samples[-1][0]:5.0f} s  {sum(counts):7d} requests  {len(failures)} failed  "
                  f"server RSS {samples[-1][1]:.0f} MB", flush=True)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        probe.close()
        stop_server(server)
    after_warmup = [mb for t, mb in samples if t >= warmup] or [samples[-1][1]]
    return {"clients": clients, "seconds": seconds, "requests": sum(counts), "failed": len(failures),
            "failures_sample": failures[:5], "per_second": sum(counts) / seconds,
            "rss_mb_after_warmup": after_warmup[0], "rss_mb_end": after_warmup[-1], "rss_mb_max": max(after_warmup),
            "rss_growth_mb": after_warmup[-1] - after_warmup[0], "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=configs.DEFAULT_CONFIG_PATH)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=configs.PROJECT_ROOT / "outputs" / "bench" / "soak.json")
    args = parser.parse_args()
    result = soak(args.config, args.clients, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    ok = result["failed"] == 0 and result["rss_growth_mb"] <= args.max_growth_mb
    print(f"soak: {result['requests']} requests ({result['per_second']:.0f}/s), {result['failed']} failed; server RSS "
          f"{result['rss_mb_after_warmup']:.0f} -> {result['rss_mb_end']:.0f} MB (max {result['rss_mb_max']:.0f}); "
          f"{'PASS' if ok else 'FAIL'}; wrote {args.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
