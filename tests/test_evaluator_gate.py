"""The Evaluator gate, and a pipeline run killed midway: a worse model never reaches serving.

A copy of the session's run (its ML Metadata store and its serving folder) gets a
second run from a raw CSV whose labels are shuffled. That run is killed once while it
trains, then run again to the end: the degraded model is not blessed, nothing is
pushed, no partial version is left, and the old version keeps being served.
"""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from common import config as configs
from models.layout import list_versions, remove_incomplete_versions
from reporting import summary
from serving.server import ModelServer
from tests.helpers import ROOT, SMALL_OVERRIDES, wait_for, write_config


def degraded_run_config(pipeline_run, tmp_path):
    """The session's data and blessed model, and a model that barely trains: worse on the same eval split."""
    session = pipeline_run["config"]
    (tmp_path / "metadata").mkdir()
    shutil.copy(session.pipeline.metadata_path, tmp_path / "metadata" / "metadata.db")
    shutil.copytree(session.serving.model_dir, tmp_path / "serving")
    # Absolute bounds at 0: only the change threshold against the blessed baseline can reject the model.
    evaluator = {"min_auc": 0.0, "min_binary_accuracy": 0.0, "max_auc_drop": 0.02}
    untrained = {**SMALL_OVERRIDES["model"], "learning_rate": 1e-7, "epochs": 1}
    return write_config(tmp_path, {**SMALL_OVERRIDES, "model": untrained, "evaluator": evaluator,
                                   "pipeline": {"beam_args": []}})


def run_pipeline(config_path, kill_when=None) -> int:
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(config_path), "pipeline"],
                               cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_when is None:
        return process.wait(timeout=900)
    wait_for(lambda: kill_when() or process.poll() is not None, "the moment to kill the run", 600, interval=0.2)
    process.send_signal(signal.SIGKILL)
    return process.wait()


def assert_rejected_by_the_auc_change_threshold(evaluation_uri: str) -> None:
    """TFMA's validation result: every failure is AUC's change against the baseline, none an absolute bound."""
    import tensorflow_model_analysis as tfma
    validation = tfma.load_validation_result(evaluation_uri)
    assert validation.validation_ok is False
    failures = [f for per_slice in validation.metric_validations_per_slice for f in per_slice.failures]
    assert failures, validation
    for failure in failures:
        assert failure.metric_key.name == "auc" and failure.metric_key.is_diff, failure
        assert failure.metric_threshold.HasField("change_threshold"), failure
        assert failure.metric_threshold.change_threshold.absolute.value == pytest.approx(-0.02), failure


def test_degraded_model_is_not_blessed_nor_pushed_even_after_a_killed_run(pipeline_run, tmp_path):
    baseline_auc = pipeline_run["summary"]["evaluator_eval_split"]["metrics"]["auc"]
    assert baseline_auc > 0.62, f"the session's model is too weak ({baseline_auc}) for this test to mean anything"
    config = configs.load(degraded_run_config(pipeline_run, tmp_path), environ={})
    base = config.serving.model_base_path
    old_versions = list_versions(base)

    killed = run_pipeline(config.path, kill_when=lambda: (config.pipeline.root / "Trainer").exists())
    assert killed == -signal.SIGKILL
    # What a push cut short looks like; the next run must clear it before TensorFlow Serving sees it.
    partial = base / str(old_versions[-1] + 1)
    shutil.copytree(base / str(old_versions[-1]) / "variables", partial / "variables")
    assert run_pipeline(config.path) == 0

    outputs = summary.latest_run_outputs(config.pipeline.metadata_path)
    assert outputs.blessed is False and outputs.pushed_model_dir is None
    assert outputs.predictions_uri is None  # the batch-scoring step scores only a pushed (blessed) model
    assert_rejected_by_the_auc_change_threshold(outputs.evaluation_uri)
    assert sorted(p.name for p in base.iterdir()) == [str(v) for v in old_versions]
    assert remove_incomplete_versions(base) == []
    server = ModelServer(config.serving.model_name, base, "127.0.0.1", 0, 0)
    server.start()
    try:
        assert server.manager.current.version == old_versions[-1]
    finally:
        server.stop(grace=1)


def test_the_absolute_bounds_reject_a_model_below_min_auc_or_min_binary_accuracy(pipeline_run, tmp_path):
    """TFMA, as the Evaluator runs it on a first run (no baseline: the change threshold is rubber-stamped), with the
    pipeline's own EvalConfig, on the session's model and eval split: each bound set just above that model's figure.

    One TFMA run carries both bounds: each failure names its own metric and bound, so a bound that is not wired, or
    wired to the other key, shows as a missing or wrong failure.
    """
    import tensorflow_model_analysis as tfma

    from pipeline.pipeline import eval_config
    from reporting.run_artifacts import latest_run, open_store
    measured = pipeline_run["summary"]["evaluator_eval_split"]["metrics"]
    bounds = {"auc": measured["auc"] + 0.01, "binary_accuracy": measured["binary_accuracy"] + 0.02}
    config = tfma.utils.update_eval_config_with_defaults(
        eval_config(min_auc=bounds["auc"], min_binary_accuracy=bounds["binary_accuracy"], max_auc_drop=0.0),
        has_baseline=False, rubber_stamp=True)
    run = latest_run(open_store(pipeline_run["config"].pipeline.metadata_path))
    model = tfma.default_eval_shared_model(eval_saved_model_path=f"{run.uri('Trainer/model')}/Format-Serving",
                                           eval_config=config)
    tfma.run_model_analysis(eval_shared_model=model, eval_config=config, file_format="tfrecords",
                            data_location=f"{run.uri('CsvExampleGen/examples')}/Split-eval/*",
                            output_path=str(tmp_path / "evaluation"))
    validation = tfma.load_validation_result(str(tmp_path / "evaluation"))
    assert validation.validation_ok is False
    failures = {f.metric_key.name: f for per_slice in validation.metric_validations_per_slice for f in per_slice.failures}
    assert sorted(failures) == ["auc", "binary_accuracy"], validation
    for name, failure in failures.items():
        assert not failure.metric_key.is_diff and failure.metric_threshold.HasField("value_threshold"), failure
        assert failure.metric_threshold.value_threshold.lower_bound.value == pytest.approx(bounds[name]), failure
        assert failure.metric_value.double_value.value == pytest.approx(measured[name]), failure
