"""Single-question serving cost of two SavedModels, side by side in one process.

Calls each model's ``serving_default`` signature with one question at a time,
alternating between the models so that both see the same machine noise, and
prints the median and 90th percentile per call and the after/before ratio.

Run: python -m experiments.single_question_latency --before <version dir> --after <version dir>
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import signatures
from evaluation import check_set

QUESTIONS = ["does it come with a charger", "the lid cracked after two weeks, is that covered",
             "what size filter does it take", "wont pair with my phone anymore"]


def time_calls(serving_fns: dict[str, object], calls: int, warmup: int = 20) -> dict[str, np.ndarray]:
    """Seconds per single-question call, alternating between the models call by call."""
    inputs = [tf.constant([q]) for q in QUESTIONS]
    for fn in serving_fns.values():
        for i in range(warmup):
            fn(**{signatures.QUESTION_INPUT: inputs[i % len(inputs)]})
    seconds: dict[str, list[float]] = {name: [] for name in serving_fns}
    for i in range(calls):
        for name, fn in serving_fns.items():
            started = time.perf_counter()
            fn(**{signatures.QUESTION_INPUT: inputs[i % len(inputs)]})
            seconds[name].append(time.perf_counter() - started)
    return {name: np.array(values) for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    fns = {name: check_set.load_model(path).serving_fn for name, path in (("before", args.before), ("after", args.after))}
    seconds = time_calls(fns, args.calls)
    result = {name: {"median_ms": float(np.median(s) * 1e3), "p90_ms": float(np.percentile(s, 90) * 1e3)}
              for name, s in seconds.items()}
    result["median_ratio_after_before"] = result["after"]["median_ms"] / result["before"]["median_ms"]
    result["calls"] = args.calls
    for name in ("before", "after"):
        print(f"{name:6s} median {result[name]['median_ms']:.3f} ms, p90 {result[name]['p90_ms']:.3f} ms per question")
    print(f"after/before median ratio: {result['median_ratio_after_before']:.3f} ({args.calls} alternating calls each)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
