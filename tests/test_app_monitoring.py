"""The app's Monitoring tab and correction buttons, in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from common import config as configs
from monitoring import feedback, job, records, skew_drift
from tests.helpers import ARTIFACTS, BROWSER_ARGS, CHROMIUM, ROOT, free_port, running_app, write_config

QUESTION = "My kettle lid snapped off after a week, can I get a replacement?"


@pytest.fixture
def logging_server(pipeline_run, tmp_path):
    """A model server over the pipeline's model that logs every request into tmp_path, closing files each second."""
    from serving.server import ModelServer
    serving = pipeline_run["config"].serving
    log = configs.RequestLogConfig(1.0, tmp_path / "log" / "prediction_log", 1 << 20, 1.0, 1 << 30, 1000, False)
    server = ModelServer(serving.model_name, serving.model_base_path, "127.0.0.1", 0, 0, poll_seconds=5,
                         batching=serving.batching, request_log=log)
    server.start()
    yield server
    server.stop(grace=1)


def _a_check(folder: Path, monitoring: configs.MonitoringConfig) -> None:
    """One monitoring check on its files, as ./run.sh monitor leaves them."""
    rng = np.random.default_rng(0)
    questions = [f"does it fit model {i}" for i in range(200)]
    probabilities = rng.random(200)
    labels = ["Post" if p > 0.5 else "Pre" for p in probabilities]
    training = records.derive(questions, labels, probabilities).assign(label=labels)
    serving = records.derive(questions[:100], labels[:100], probabilities[:100])
    result = skew_drift.check(training, serving, None, monitoring)
    job.write_outputs(folder, job.Window("2026-11-30T12:00:00+00:00", 1, 100, 0, 200, result, training, serving))


def test_browser_correction_buttons_and_monitoring_tab(logging_server, tmp_path):
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "run ./run.sh test: it installs Debian's chromium"
    port = free_port()
    raw = json.loads((ROOT / "config.json").read_text())
    log = {**raw["serving"]["logging"], "filename_prefix": str(tmp_path / "log" / "prediction_log")}
    path = write_config(tmp_path, {
        "serving": {"model_name": logging_server.manager.model_name, "grpc_port": logging_server.grpc_port,
                    "rest_port": logging_server.rest_port, "request_timeout_seconds": 5.0, "logging": log},
        "app": {"host": "127.0.0.1", "port": port},
        "monitoring": {"output_dir": str(tmp_path / "monitoring")}})
    config = configs.load(path, environ={})
    _a_check(config.monitoring.output_dir, config.monitoring)
    with running_app(path, port) as url:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(url, timeout=60_000)
            page.get_by_label("Customer question").fill(QUESTION)
            page.get_by_role("button", name="Predict").click()
            page.get_by_text("Was this answer right?").wait_for(timeout=60_000)
            predicted = "Post" if "Prediction: Post" in page.inner_text("body") else "Pre"
            page.get_by_role("button", name="Wrong").click()
            page.get_by_text("Thanks: recorded as").wait_for(timeout=60_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "app_correction.png"), full_page=True)
            page.get_by_role("tab", name="Monitoring").click()
            page.get_by_text("OK: every distance under its threshold").wait_for(timeout=60_000)
            for _ in range(30):  # the log file closes within a second or two; Refresh reads it again
                if QUESTION in page.inner_text("body"):
                    break
                time.sleep(1.0)
                page.get_by_role("button", name="Refresh").click()
            body = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "app_monitoring.png"), full_page=True)
            browser.close()
        corrections = feedback.read(feedback.feedback_path(config.pipeline.output_dir))
        assert corrections[["question", "label"]].values.tolist() == [
            [QUESTION, feedback.corrected_label(predicted, False)]]
        assert QUESTION in body, "the question asked in the app is not in the Monitoring tab's request log"
        assert "Logged " in body and "dropped 0" in body
        assert "Latest check" in body and "model version 1" in body
