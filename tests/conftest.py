"""Shared fixtures. The real pipeline runs once per test session, on a few hundred rows."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from common import config as configs  # noqa: E402
from tests.helpers import ROOT, SMALL_OVERRIDES, run_tfx_cli, write_config  # noqa: E402


@pytest.fixture(scope="session")
def small_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("small"), SMALL_OVERRIDES)


@pytest.fixture(scope="session")
def pipeline_run(small_config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the real pipeline once, from the raw CSV, as TFX's command line does; shared by all e2e tests.

    ``tfx pipeline create`` then ``tfx run create`` (the local engine executes local_runner.py, the same as
    ``./run.sh pipeline``: pipeline, predictions, metrics summary, report).
    """
    from reporting import run_document
    from reporting.run_artifacts import latest_prepared_splits
    config = configs.load(small_config_path, environ={})
    tfx_home = tmp_path_factory.mktemp("tfx_home")
    create = run_tfx_cli(["pipeline", "create", "--engine", "local", "--pipeline_path", str(ROOT / "local_runner.py")],
                         small_config_path, tfx_home)
    assert create.returncode == 0, create.stdout[-3000:] + create.stderr[-3000:]
    run = run_tfx_cli(["run", "create", "--engine", "local", "--pipeline_name", config.pipeline.name],
                      small_config_path, tfx_home)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    prepared_dir, manifest = latest_prepared_splits(config.pipeline.metadata_path)
    document = run_document.read(config.pipeline.summary_path)
    return {"config": config, "manifest": manifest, "prepared_dir": prepared_dir, "tfx_home": tfx_home,
            "output": run.stdout, "document": document, "summary": document.to_dict()}


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
