"""Profile the core of BulkInferrer (tfx_bsl's RunInference on Beam's DirectRunner) with cProfile.

Why the pipeline's batch inference is slower than calling the SavedModel in batches: this runs
RunInference over a pipeline run's test examples (repeated --repeat times, so fixed start-up
costs do not hide the per-example cost) and prints the steady-state rate and the top functions.

Run: ./run.sh profile-bulk --run-dir outputs/bench/work/rows-25000 [--repeat 10]
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import pstats
import time
from pathlib import Path

import apache_beam as beam
import tensorflow as tf
from tfx_bsl.public.beam import RunInference
from tfx_bsl.public.proto import model_spec_pb2

import signatures
from serving.model_versions import latest_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a bench run folder (pipeline_root, serving)")
    parser.add_argument("--model-name", default="prepost")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    files = glob.glob(str(args.run_dir / "pipeline_root/CsvExampleGen/examples/*/Split-test/*.gz"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())
    examples = [tf.train.Example.FromString(r) for r in records] * args.repeat
    base = args.run_dir / "serving" / args.model_name
    spec = model_spec_pb2.InferenceSpecType(saved_model_spec=model_spec_pb2.SavedModelSpec(
        model_path=str(base / str(latest_version(base))), signature_name=[signatures.SERVING_EXAMPLES]))

    def run() -> float:
        started = time.perf_counter()
        with beam.Pipeline() as pipeline:
            _ = pipeline | beam.Create(examples) | RunInference(spec) | beam.Map(lambda _: None)
        return time.perf_counter() - started

    print(f"profile: warm-up run over {len(examples)} examples: {run():.1f} s", flush=True)
    profiler = cProfile.Profile()
    profiler.enable()
    seconds = run()
    profiler.disable()
    print(f"profile: {len(examples)} examples in {seconds:.1f} s = {len(examples) / seconds:.0f} examples/s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
