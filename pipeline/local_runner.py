"""Run the pipeline on this machine with TFX's LocalDagRunner and Beam's DirectRunner."""

from __future__ import annotations

import time

from absl import logging

from dataprep import preparation, splits
from pipeline import beam_dependencies, configs, pipeline
from pipeline import tfx_api as tfx
from pipeline.configs import Config
from serving import model_versions


def build(config: Config) -> tfx.dsl.Pipeline:
    """The local pipeline over the prepared splits (run data preparation first)."""
    if splits.read_manifest(config.data.prepared_dir) is None:
        raise preparation.DataError(f"no prepared data in {config.data.prepared_dir}: run the 'prepare' step first")
    config.pipeline.metadata_path.parent.mkdir(parents=True, exist_ok=True)
    arguments = pipeline.arguments_from_config(config, str(configs.PROJECT_ROOT))
    arguments["beam_pipeline_args"] = beam_dependencies.with_cached_tfx_package(arguments["beam_pipeline_args"])
    return pipeline.create_pipeline(
        pipeline_root=str(config.pipeline.root),
        data_path=str(config.data.prepared_dir),
        serving_model_dir=str(config.serving.model_base_path),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(config.pipeline.metadata_path)),
        **arguments,
    )


def run(config: Config) -> float:
    """Run the whole pipeline; return its wall time in seconds."""
    logging.set_verbosity(logging.INFO)
    for folder in model_versions.remove_incomplete_versions(config.serving.model_base_path):
        print(f"pipeline: removed {folder}, an incomplete push left by an interrupted run")
    started = time.monotonic()
    tfx.orchestration.LocalDagRunner().run(build(config))
    return time.monotonic() - started
