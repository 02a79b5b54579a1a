"""Shared fixtures. The real pipeline runs once per test session, on a few hundred rows."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from bench.server_process import free_port  # noqa: E402
from pipeline import configs  # noqa: E402

SMALL_OVERRIDES = {
    "data": {"total_sample_size": 400, "chunk_rows": 1000},
    "model": {"vocab_size": 500, "sequence_length": 24, "embedding_dim": 8, "conv_filters": 8,
              "hidden_units": 8, "epochs": 2, "batch_size": 32},
    "evaluator": {"min_auc": 0.5, "min_binary_accuracy": 0.4, "max_auc_drop": 0.5},
    # The one pipeline run of the suite uses Beam's DirectRunner in multi-processing mode (one worker per core).
    "pipeline": {"beam_args": ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]},
}


def write_config(tmp: Path, overrides: dict | None = None) -> Path:
    """A config.json in ``tmp`` whose outputs all go under ``tmp`` (source stays the bundled data)."""
    raw = json.loads((ROOT / "config.json").read_text())
    raw["data"]["source"] = str(ROOT / raw["data"]["source"])
    raw["data"]["prepared_dir"] = "data"
    raw["pipeline"].update(root="pipeline_root", metadata_path="metadata/metadata.db", output_dir="results")
    raw["serving"]["model_dir"] = "serving"
    for section, values in (overrides or {}).items():
        raw[section].update(values)
    path = tmp / "config.json"
    path.write_text(json.dumps(raw, indent=2))
    return path


@pytest.fixture(scope="session")
def small_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("small"), SMALL_OVERRIDES)


@pytest.fixture(scope="session")
def pipeline_run(small_config_path: Path) -> dict:
    """Prepare data, run the real pipeline once and write the report; shared by all e2e tests."""
    from components import data_preparation, reporting
    from pipeline import local_runner
    config = configs.load(small_config_path, environ={})
    manifest = data_preparation.prepare(config.data)
    seconds = local_runner.run(config)
    summary = reporting.write_report(config.pipeline.metadata_path, config.data.prepared_dir,
                                     config.pipeline.output_dir, config.data.random_seed)
    return {"config": config, "manifest": manifest, "seconds": seconds, "summary": summary}


@pytest.fixture(scope="session")
def model_server(pipeline_run):
    """The local model server over the pipeline's pushed model, on free ports."""
    from serving.server import ModelServer
    serving = pipeline_run["config"].serving
    server = ModelServer(serving.model_name, serving.model_base_path, "127.0.0.1", 0, 0, poll_seconds=0.5,
                         batching=serving.batching)
    server.start()
    yield server
    server.stop(grace=1)


def server_config(tmp: Path, server, results: Path | None = None, **app) -> Path:
    """A config whose serving section points at ``server``, reading pipeline results from ``results``."""
    overrides = {**SMALL_OVERRIDES, "serving": {
        "model_name": server.manager.model_name, "grpc_port": server.grpc_port, "rest_port": server.rest_port,
        "request_timeout_seconds": 5.0}, "app": app or {"port": 8765}}
    if results:
        overrides["pipeline"] = {"output_dir": str(results)}
    return write_config(tmp, overrides)


def standalone_server_config(tmp: Path, pipeline_run: dict) -> Path:
    """A config for a model server process of its own (free ports) over the pipeline's pushed models."""
    config = pipeline_run["config"]
    return write_config(tmp, {**SMALL_OVERRIDES,
                              "serving": {"model_dir": str(config.serving.model_dir), "grpc_port": free_port(),
                                          "rest_port": free_port(), "request_timeout_seconds": 5.0},
                              "pipeline": {"output_dir": str(config.pipeline.output_dir)}})
