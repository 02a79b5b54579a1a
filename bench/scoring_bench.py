"""Batch scoring as a pipeline step against the same SavedModel called in-process, on many questions.

A finished pipeline run's pushed model scores ``--rows`` questions (the run's test split, repeated with
small text variations up to that size) inside a small TFX pipeline: CsvExampleGen, an Importer of the
run's pushed model, and the BatchScoring step; with ``--bulk-inferrer`` also TFX's BulkInferrer on the
same examples (plain, and with explicit batch parameters). Step times come from ML Metadata, as for the
whole pipeline; the in-process rate calls ``serving_default`` in batches of 256 and of the configured size
(model load excluded), and the ratios are taken against the faster of the two.

Run: python -m bench.scoring_bench --run-dir outputs/bench/work/rows-25000 --rows 100000 --out scoring.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import pandas as pd
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tfx.components import BulkInferrer, CsvExampleGen
from tfx.components.bulk_inferrer import executor as bulk_inferrer_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.proto import bulk_inferrer_pb2, example_gen_pb2
from tfx.types import standard_artifacts

import features
import signatures
from bench.run_bench import component_seconds
from bench.scale_data import vary
from common import config as configs
from components.batch_scoring import BatchScoring
from dataprep import splits
from models.pushed_models import LoadedModel
from reporting import run_artifacts

IN_PROCESS_BATCH = 256  # the reference batch size of the in-process rate


def run_outputs(metadata_path: Path) -> dict[str, metadata_store_pb2.Artifact]:
    """The pushed model, the trained model and its blessing of the run in ``metadata_path`` (its latest run)."""
    run = run_artifacts.latest_run(run_artifacts.open_store(metadata_path))
    wanted = {"PushedModel": run_artifacts.PUSHED_MODEL, "Model": run_artifacts.MODEL,
              "ModelBlessing": run_artifacts.BLESSING}
    missing = [output for output in wanted.values() if output not in run.artifacts]
    if missing:
        raise SystemExit(f"scoring bench: the run has no {', '.join(missing)}")
    return {name: run.artifacts[output] for name, output in wanted.items()}


def questions_to_score(prepared_dir: Path, rows: int, seed: int = 0) -> pd.DataFrame:
    """The run's test split, repeated with small text variations up to ``rows`` questions."""
    test = splits.read_split(prepared_dir, "test")
    rng = random.Random(seed)
    picks = [test.iloc[i % len(test)] for i in range(rows)]
    return pd.DataFrame({features.QUESTION: [vary(p[features.QUESTION], rng) for p in picks],
                         features.LABEL: [p[features.LABEL] for p in picks]})


class _BatchedBulkInferrerExecutor(bulk_inferrer_executor.Executor):
    """BulkInferrer with InferenceSpecType.batch_parameters set (TFX's executor leaves them unset).

    The size is a class attribute because a TFX executor gets no constructor arguments; ``run`` sets it to
    config.json's batch_scoring.batch_size, so both steps call the model with batches of the same size.
    """
    batch_size = 1

    def _get_inference_spec(self, model_path: str, exec_properties: dict[str, Any]):
        spec = super()._get_inference_spec(model_path, exec_properties)
        spec.batch_parameters.min_batch_size = self.batch_size
        spec.batch_parameters.max_batch_size = self.batch_size
        return spec


class BatchedBulkInferrer(BulkInferrer):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_BatchedBulkInferrerExecutor)


def scoring_pipeline(artifacts: dict[str, metadata_store_pb2.Artifact], data_dir: Path, work: Path,
                     batch_size: int, beam_args: list[str], bulk_inferrer: bool) -> pipeline.Pipeline:
    # One input split would be re-split into train/eval by default; the output config keeps it whole.
    example_gen = CsvExampleGen(
        input_base=str(data_dir),
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="test", pattern=splits.example_gen_pattern("test"))]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="test", hash_buckets=1)])))
    pushed = artifacts["PushedModel"]
    pushed_model = Importer(
        source_uri=pushed.uri, artifact_type=standard_artifacts.PushedModel,
        custom_properties={"pushed": 1, "pushed_version": pushed.custom_properties["pushed_version"].string_value},
    ).with_id("pushed_model")
    scoring = BatchScoring(examples=example_gen.outputs["examples"], pushed_model=pushed_model.outputs["result"],
                           split="test", batch_size=batch_size)
    components = [example_gen, pushed_model, scoring]
    if bulk_inferrer:
        model = Importer(source_uri=artifacts["Model"].uri, artifact_type=standard_artifacts.Model).with_id("model")
        blessing = Importer(source_uri=artifacts["ModelBlessing"].uri, artifact_type=standard_artifacts.ModelBlessing,
                            custom_properties={"blessed": 1}).with_id("blessing")
        spec = {"examples": example_gen.outputs["examples"], "model": model.outputs["result"],
                "model_blessing": blessing.outputs["result"],
                "data_spec": bulk_inferrer_pb2.DataSpec(example_splits=["test"]),
                "model_spec": bulk_inferrer_pb2.ModelSpec(model_signature_name=[signatures.SERVING_EXAMPLES])}
        components += [model, blessing, BulkInferrer(**spec), BatchedBulkInferrer(**spec).with_id("BatchedBulkInferrer")]
    return pipeline.Pipeline(
        pipeline_name="scoring-bench", pipeline_root=str(work / "pipeline_root"), components=components,
        enable_cache=False, beam_pipeline_args=beam_args,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(work / "metadata.db")))


def in_process_rates(model_dir: str, questions: list[str], batch_sizes: list[int]) -> dict[str, float]:
    """Questions/s of serving_default called in-process in batches, model load excluded."""
    started = time.perf_counter()
    model = LoadedModel(version=0, path=Path(model_dir), saved_model=tf.saved_model.load(model_dir))
    rates = {"model_load_seconds": time.perf_counter() - started}
    model.predict(questions[:IN_PROCESS_BATCH])  # first call traces nothing, but warms the kernels
    for batch_size in batch_sizes:
        started = time.perf_counter()
        model.predict_in_batches(questions, batch_size)
        rates[f"batch_{batch_size}_per_second"] = len(questions) / (time.perf_counter() - started)
    return rates


def run(run_dir: Path, rows: int, work: Path, beam_args: list[str], bulk_inferrer: bool) -> dict[str, Any]:
    config = configs.load(environ={})
    batch_size = config.batch_scoring.batch_size
    _BatchedBulkInferrerExecutor.batch_size = batch_size
    artifacts = run_outputs(run_dir / "metadata.db")
    frame = questions_to_score(run_dir / "data", rows)
    data_dir = work / "data"
    splits.split_path(data_dir, "test").parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(splits.split_path(data_dir, "test"), index=False)
    started = time.perf_counter()
    LocalDagRunner().run(scoring_pipeline(artifacts, data_dir, work, batch_size, beam_args, bulk_inferrer))
    pipeline_seconds = time.perf_counter() - started
    steps = component_seconds(work / "metadata.db")
    rates = in_process_rates(artifacts["PushedModel"].uri, frame[features.QUESTION].tolist(),
                             [IN_PROCESS_BATCH, batch_size])
    reference = max(rate for key, rate in rates.items() if key.endswith("_per_second"))  # the faster batch size
    result = {"rows": rows, "beam_args": beam_args, "batch_size": batch_size, "pipeline_seconds": pipeline_seconds,
              "steps_seconds": steps, "in_process": rates, "step_per_second": {}, "step_vs_in_process": {}}
    for step in ("BatchScoring", "BulkInferrer", "BatchedBulkInferrer"):
        if step in steps:
            result["step_per_second"][step] = rows / steps[step]
            result["step_vs_in_process"][step] = rows / steps[step] / reference
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a bench run folder (metadata.db, data/)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--beam-args", default="[]", help="JSON list of Beam arguments for the scoring pipeline")
    parser.add_argument("--bulk-inferrer", action="store_true", help="also time BulkInferrer, plain and batched")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = run(args.run_dir, args.rows, args.work, json.loads(args.beam_args), args.bulk_inferrer)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["step_vs_in_process"]))


if __name__ == "__main__":
    main()
