"""Run the pipeline on this machine with TFX's LocalDagRunner and Beam's DirectRunner."""

from __future__ import annotations

import math
import time
from pathlib import Path

from absl import logging
from tfx import v1 as tfx

from components import data_preparation
from pipeline import pipeline
from pipeline.configs import Config

PREPROCESSING_MODULE = Path(__file__).resolve().parent.parent / "preprocessing.py"
TRAINER_MODULE = Path(__file__).resolve().parent.parent / "trainer.py"


def pipeline_kwargs(config: Config, train_rows: int, eval_rows: int) -> dict:
    """Arguments of pipeline.create_pipeline that every runner shares."""
    model = config.model
    return {
        "pipeline_name": config.pipeline.name,
        "preprocessing_module": str(PREPROCESSING_MODULE),
        "trainer_module": str(TRAINER_MODULE),
        "transform_config": {"vocab_size": model.vocab_size, "sequence_length": model.sequence_length},
        "trainer_config": {"vocab_size": model.vocab_size, "sequence_length": model.sequence_length,
                           "embedding_dim": model.embedding_dim, "conv_filters": model.conv_filters,
                           "hidden_units": model.hidden_units, "dropout": model.dropout, "epochs": model.epochs,
                           "batch_size": model.batch_size, "learning_rate": model.learning_rate,
                           "random_seed": config.data.random_seed},
        "train_steps": max(1, math.ceil(train_rows * model.epochs / model.batch_size)),
        "eval_steps": max(1, math.ceil(eval_rows / model.batch_size)),
        "eval_thresholds": {"min_auc": config.evaluator.min_auc,
                            "min_binary_accuracy": config.evaluator.min_binary_accuracy,
                            "max_auc_drop": config.evaluator.max_auc_drop},
        "enable_cache": config.pipeline.enable_cache,
        "beam_pipeline_args": list(config.pipeline.beam_args),
    }


def build(config: Config) -> tfx.dsl.Pipeline:
    """The local pipeline over the prepared splits (run data preparation first)."""
    manifest = data_preparation.read_manifest(config.data.prepared_dir)
    if manifest is None:
        raise data_preparation.DataError(f"no prepared data in {config.data.prepared_dir}: run the 'prepare' step first")
    config.pipeline.metadata_path.parent.mkdir(parents=True, exist_ok=True)
    return pipeline.create_pipeline(
        pipeline_root=str(config.pipeline.root),
        data_path=str(config.data.prepared_dir),
        serving_model_dir=str(config.serving.model_base_path),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(config.pipeline.metadata_path)),
        **pipeline_kwargs(config, manifest["splits"]["train"]["rows"], manifest["splits"]["eval"]["rows"]),
    )


def run(config: Config) -> float:
    """Run the whole pipeline; return its wall time in seconds."""
    logging.set_verbosity(logging.INFO)
    started = time.monotonic()
    tfx.orchestration.LocalDagRunner().run(build(config))
    return time.monotonic() - started
