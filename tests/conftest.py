"""Shared fixtures. The real pipeline runs once per test session, on a few hundred rows."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from common import config as configs  # noqa: E402
from tests.helpers import SMALL_OVERRIDES, write_config  # noqa: E402


@pytest.fixture(scope="session")
def small_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("small"), SMALL_OVERRIDES)


@pytest.fixture(scope="session")
def pipeline_run(small_config_path: Path) -> dict:
    """Run the real pipeline once, from the raw CSV, and write the report; shared by all e2e tests."""
    from pipeline import local_runner
    from reporting import run_report
    from reporting.run_artifacts import latest_prepared_splits
    config = configs.load(small_config_path, environ={})
    seconds = local_runner.run(config)
    prepared_dir, manifest = latest_prepared_splits(config.pipeline.metadata_path)
    document = run_report.report(config.pipeline.metadata_path, config.pipeline.output_dir, config.data.random_seed)
    return {"config": config, "manifest": manifest, "prepared_dir": prepared_dir, "seconds": seconds,
            "document": document, "summary": document.to_dict()}


@pytest.fixture(scope="session")
def evaluation_report(pipeline_run) -> dict:
    """The HTML report of the session's run (and the app's evaluation file), with the data it shows."""
    from reporting import html_report
    config = pipeline_run["config"]
    data = html_report.collect(config.pipeline.metadata_path, config.data.random_seed,
                               pipeline_run["document"].test_split)
    path = html_report.write(data, config.pipeline.output_dir)
    html_report.export(data, config.pipeline.output_dir, path)
    return {"config": config, "data": data, "path": path}


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
