"""Monitoring: reading the request log, windows, and TFDV's skew/drift verdict on a shifted and an unshifted stream."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import config as configs
from monitoring import dashboard, job, outputs, records, simulate, skew_drift
from serving import request_log
from serving.request_log import RequestLogger
from tests.helpers import write_config
from tests.test_request_log import config as log_config
from tests.test_request_log import pair


def _log(tmp_path: Path, questions: list[str], clock=lambda: 1_800_000_000.0) -> Path:
    logger = RequestLogger(log_config(tmp_path), "prepost", clock=clock)
    for question in questions:
        request, response = pair(question)
        response.outputs["predicted_label"].string_val.append(b"Pre")
        logger.log(request, response)
    logger.close()
    return tmp_path / "log" / "prediction_log"


def test_a_corrupt_log_file_is_skipped_with_one_line_naming_it_and_the_rest_is_read(tmp_path, capsys):
    prefix = _log(tmp_path, ["does it fit", "is it loud"])
    _log(tmp_path, ["what size is it"])
    first, second = request_log.log_files(prefix)
    first.write_bytes(first.read_bytes()[:-7])  # cut mid-record, as a crash or a bad copy would
    logged = records.read_log([first, second])
    assert [r.question for r in logged] == ["what size is it"]
    assert logged[0].predicted_label == "Pre" and logged[0].probability_post == 0.25
    assert logged[0].model_version == 7 and logged[0].timestamp == 1_800_000_000
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(first) in err[0] and "skipped" in err[0]


def _log_rows(tmp_path: Path, questions: list[str]) -> Path:
    """One logged request of several questions (each answered Pre, P(Post) 0.25)."""
    from serving.client import string_tensor
    logger = RequestLogger(log_config(tmp_path), "prepost", clock=lambda: 1_800_000_000.0)
    request, response = pair(questions[0])
    request.inputs["question"].CopyFrom(string_tensor(questions))
    response.outputs["probability_post"].float_val[:] = [0.25] * len(questions)
    response.outputs["predicted_label"].string_val.extend([b"Pre"] * len(questions))
    logger.log(request, response)
    logger.close()
    return tmp_path / "log" / "prediction_log"


def test_the_apps_explanation_request_is_read_as_the_one_question_it_asks(tmp_path):
    """The Ask tab's one request (the question, then each one-word-shorter variant) is one question to monitor."""
    from reporting import explain
    asked = _log_rows(tmp_path / "explained", explain.explanation_request("does the lid leak"))
    assert [r.question for r in records.read_log(request_log.log_files(asked))] == ["does the lid leak"]
    batch = ["does the lid leak", "does the lid", "is it loud"]  # not an explanation's shape: every row counts
    uploaded = _log_rows(tmp_path / "batch", batch)
    assert [r.question for r in records.read_log(request_log.log_files(uploaded))] == batch


def test_a_file_of_other_records_is_skipped_too(tmp_path, capsys):
    import tensorflow as tf
    path = tmp_path / f"prediction_log-x{request_log.SUFFIX}"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(b"\xff\xff not a PredictionLog")
    assert records.read_log([path]) == []
    assert str(path) in capsys.readouterr().err


def test_without_a_pipeline_run_monitoring_says_what_to_run_first(tmp_path):
    config = configs.load(write_config(tmp_path), environ={})
    logger = RequestLogger(config.serving.logging, "prepost")
    request, response = pair("does it fit")
    response.outputs["predicted_label"].string_val.append(b"Pre")
    logger.log(request, response)
    logger.close()
    with pytest.raises(job.MonitorError, match="run the pipeline first"):
        job.run(config)


def test_windows_by_record_count_and_by_time():
    logged = [records.LoggedRequest(1000 + 60 * i, 1, f"q{i}", "Pre", 0.1) for i in range(10)]
    previous, current = records.windows(logged, 3, 0)
    assert [r.question for r in current] == ["q7", "q8", "q9"] and [r.question for r in previous] == ["q4", "q5", "q6"]
    previous, current = records.windows(logged, 3, minutes=2.5)  # the last 150 s, and the 150 s before them
    assert [r.question for r in current] == ["q7", "q8", "q9"] and [r.question for r in previous] == ["q5", "q6"]


def test_derived_features():
    frame = records.derive(["My kettle broke, what now?", "does it fit"], ["Post", "Pre"], [0.93, 0.2])
    assert frame[records.WORDS].tolist() == [5, 3]
    assert frame[records.FIRST_WORD].tolist() == ["my", "does"]
    assert frame[records.FIRST_PERSON].tolist() == ["yes", "no"]
    assert frame[records.P_POST_BUCKET].tolist() == ["0.8-1.0", "0.2-0.4"]


def test_an_empty_window_says_so(tmp_path, capsys):
    config = configs.load(write_config(tmp_path), environ={})
    assert job.run(config) is None
    assert "the window is empty" in capsys.readouterr().out


def test_tfdv_flags_a_shifted_window_and_not_a_resampled_one(tmp_path):
    config = configs.load(write_config(tmp_path), environ={}).monitoring
    rng = np.random.default_rng(0)
    questions = [f"does it fit model {i}" for i in range(300)] + [f"my unit broke after {i} days" for i in range(200)]
    probabilities = rng.random(500)
    labels = ["Post" if p > 0.5 else "Pre" for p in probabilities]
    training = records.derive(questions, labels, probabilities).assign(label=labels)
    sample = rng.integers(0, 500, 300)
    alike = records.derive([questions[i] for i in sample], [labels[i] for i in sample], probabilities[sample])
    shifted = records.derive(simulate.shifted_questions(300), ["Post"] * 300, np.full(300, 0.95))
    calm = skew_drift.check(training, alike, None, config)
    assert not calm.alert and {d.kind for d in calm.distances} == {"skew"}
    assert {d.feature for d in calm.distances} == {records.WORDS, *records.CATEGORICAL}
    loud = skew_drift.check(training, shifted, alike, config)
    assert loud.alert
    over = {(d.kind, d.feature) for d in loud.distances if d.alert}
    assert ("skew", records.WORDS) in over and ("drift", records.FIRST_PERSON) in over
    words = next(d for d in loud.distances if d.feature == records.WORDS and d.kind == "skew")
    assert words.measure == "JENSEN_SHANNON_DIVERGENCE" and words.threshold == config.skew_js
    gauges = {(s.labels.get("kind"), s.labels.get("feature"), s.name): s.value
              for family in text_string_to_metric_families(job.gauges(loud)) for s in family.samples}
    assert gauges[(None, None, job.ALERT_GAUGE)] == 1
    assert gauges[("skew", records.WORDS, job.DISTANCE_GAUGE)] == words.value


def test_simulate_alerts_on_the_shifted_stream_only(pipeline_run, tmp_path, capsys):
    config = pipeline_run["config"]
    config = dataclasses.replace(config, monitoring=dataclasses.replace(config.monitoring, output_dir=tmp_path))
    unshifted, shifted = simulate.run(config, stream_size=150)
    assert not unshifted.result.alert, unshifted.result.distances
    assert shifted.result.alert
    assert unshifted.rows == shifted.rows == 150 and shifted.previous_rows == 150
    out = capsys.readouterr().out
    assert out.count("verdict: ok") == 1 and out.count("verdict: ALERT") == 1
    history = outputs.read_history(tmp_path / "simulate")
    assert [line["alert"] for line in history] == [False, True]
    assert (tmp_path / "simulate" / outputs.REPORT_FILE).read_text().count("<svg") >= 2
    assert list((tmp_path / "simulate" / "anomalies").glob("*-drift.pbtxt"))


def test_fail_on_alert_exits_1_for_a_scheduler_and_0_without_it(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from pipeline import cli
    path = str(write_config(tmp_path))
    for alert, flags, code in ((True, ["--fail-on-alert"], 1), (True, [], 0), (False, ["--fail-on-alert"], 0)):
        monkeypatch.setattr(job, "run", lambda config, alert=alert: SimpleNamespace(result=SimpleNamespace(alert=alert)))
        try:
            returned = cli.main(["--config", path, "monitor", *flags])
        except SystemExit as exit_:
            returned = exit_.code
        assert returned == code, (alert, flags)


def test_the_tab_counts_in_words_one_question_and_many():
    assert [dashboard.counted(n, "logged question") for n in (0, 1, 2, 1.0)] == [
        "0 logged questions", "1 logged question", "2 logged questions", "1 logged question"]
