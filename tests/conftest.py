"""Shared fixtures. The real pipeline runs once per test session, on a few hundred rows.

The suite runs on two pytest-xdist workers (pyproject's addopts). The pipeline's outputs are shared by both:
the first worker to need them runs the pipeline under a file lock, the other waits and reads the same folder.
Tests that need the pipeline are collected first so one worker starts it at once while the other begins with
the tests that do not need it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402

from common import config as configs  # noqa: E402
from tests.helpers import ROOT, SMALL_OVERRIDES, run_tfx_cli, write_config  # noqa: E402

SESSION_FIXTURES = {"pipeline_run", "evaluation_report", "model_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the session's pipeline first; the rest keep their order after them.

    xdist's worksteal hands each worker a contiguous half: the first starts the pipeline, the second starts on
    tests that need nothing from it.
    """
    items.sort(key=lambda item: not SESSION_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One folder for the whole run, the same for every xdist worker."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def small_config_path(shared_dir: Path) -> Path:
    folder = shared_dir / "small"
    with FileLock(shared_dir / "small.lock"):
        if not (folder / "config.json").exists():
            folder.mkdir(exist_ok=True)
            write_config(folder, SMALL_OVERRIDES)
    return folder / "config.json"


@pytest.fixture(scope="session")
def pipeline_run(small_config_path: Path, shared_dir: Path) -> dict:
    """Run the real pipeline once, from the raw CSV, as TFX's command line does; shared by all e2e tests.

    ``tfx pipeline create`` then ``tfx run create`` (the local engine executes local_runner.py, the same as
    ``./run.sh pipeline``: pipeline, predictions, metrics summary, report). The outcome is kept in a file, so
    a worker arriving later reads it (a failed run fails there too, with the same output).
    """
    from reporting import run_document
    from reporting.run_artifacts import latest_prepared_splits
    config = configs.load(small_config_path, environ={})
    tfx_home, outcome_file = shared_dir / "tfx_home", shared_dir / "pipeline_run.json"
    with FileLock(shared_dir / "pipeline_run.lock"):
        if not outcome_file.exists():
            outcome_file.write_text(json.dumps(_run_through_tfx_cli(small_config_path, config.pipeline.name, tfx_home)))
    outcome = json.loads(outcome_file.read_text())
    assert outcome["ok"], outcome["output"]
    prepared_dir, manifest = latest_prepared_splits(config.pipeline.metadata_path)
    document = run_document.read(config.pipeline.summary_path)
    return {"config": config, "manifest": manifest, "prepared_dir": prepared_dir, "tfx_home": tfx_home,
            "output": outcome["output"], "document": document, "summary": document.to_dict()}


def _run_through_tfx_cli(config_path: Path, pipeline_name: str, tfx_home: Path) -> dict:
    """``tfx pipeline create`` and ``tfx run create``: ok, and the run's stdout (or what failed, both streams)."""
    tfx_home.mkdir(exist_ok=True)
    create = run_tfx_cli(["pipeline", "create", "--engine", "local", "--pipeline_path", str(ROOT / "local_runner.py")],
                         config_path, tfx_home)
    if create.returncode != 0:
        return {"ok": False, "output": create.stdout[-3000:] + create.stderr[-3000:]}
    run = run_tfx_cli(["run", "create", "--engine", "local", "--pipeline_name", pipeline_name], config_path, tfx_home)
    if run.returncode != 0:
        return {"ok": False, "output": run.stdout[-3000:] + run.stderr[-3000:]}
    return {"ok": True, "output": run.stdout}


@pytest.fixture(scope="session")
def evaluation_report(pipeline_run, shared_dir: Path) -> dict:
    """The HTML report of the session's run (and the app's evaluation file), with the data it shows.

    Written once, by the first worker to need it: the other worker's tests may be reading those files.
    """
    from reporting import html_report
    config = pipeline_run["config"]
    data = html_report.collect(config.pipeline.metadata_path, config.data.random_seed,
                               pipeline_run["document"].test_split)
    path = html_report.report_path(config.pipeline.output_dir, data.run.run_id)
    with FileLock(shared_dir / "evaluation_report.lock"):
        if not (shared_dir / "evaluation_report.done").exists():
            assert html_report.write(data, config.pipeline.output_dir) == path
            html_report.export(data, config.pipeline.output_dir, path)
            (shared_dir / "evaluation_report.done").touch()
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
