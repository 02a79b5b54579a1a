"""Run the pipeline on this machine with TFX's LocalDagRunner and Beam's DirectRunner."""

from __future__ import annotations

import time

from absl import logging

from dataprep import preparation
from monitoring.feedback import feedback_path
from pipeline import beam_dependencies, pipeline
from pipeline import tfx_api as tfx
from pipeline.configs import Config
from serving import model_versions


def build(config: Config) -> tfx.dsl.Pipeline:
    """The local pipeline, from the raw CSV (data.source) to the pushed model."""
    config.pipeline.metadata_path.parent.mkdir(parents=True, exist_ok=True)
    arguments = pipeline.arguments_from_config(config)
    arguments["beam_pipeline_args"] = beam_dependencies.with_cached_tfx_package(arguments["beam_pipeline_args"])
    feedback = str(feedback_path(config.pipeline.output_dir))
    return pipeline.create_pipeline(
        pipeline_root=str(config.pipeline.root),
        data_source=config.data.source,
        data_source_version=f"{preparation.source_version(config.data.source)}+{preparation.source_version(feedback)}",
        data_feedback_file=feedback,
        serving_model_dir=str(config.serving.model_base_path),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(config.pipeline.metadata_path)),
        **arguments,
    )


def run(config: Config) -> float:
    """Run the whole pipeline; return its wall time in seconds.

    TFX reports progress at absl's INFO level (the quiet run reads it), so the run raises the verbosity and
    puts it back afterwards.
    """
    for folder in model_versions.remove_incomplete_versions(config.serving.model_base_path):
        print(f"pipeline: removed {folder}, an incomplete push left by an interrupted run")
    previous = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    started = time.monotonic()
    try:
        tfx.orchestration.LocalDagRunner().run(build(config))
    finally:
        logging.set_verbosity(previous)
    return time.monotonic() - started
