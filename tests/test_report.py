"""Evaluation a person can read: slices, one run's artifacts, the HTML report and "why this answer"."""

import json
import re

import numpy as np
import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

import features
import preprocessing
from pipeline import cli
from reporting import evaluation_file, explain, html_report, run_artifacts, summary
from serving.client import ModelClient
from tests.helpers import server_config


def test_slice_features_bucket_word_counts_and_spot_the_first_person():
    questions = np.array(["Does it fit?", "one two three four five six", "I love it", "We bought 2 of them",
                          "Is the US plug included?", " ".join(["word"] * 21), ""], dtype=object)
    made = {k: [v.decode() for v in t.numpy()] for k, t in preprocessing.slice_features(questions).items()}
    assert made[features.QUESTION_LENGTH_BUCKET] == [
        "1-5 words", "6-10 words", "1-5 words", "1-5 words", "1-5 words", "21+ words", "1-5 words"]
    assert made[features.FIRST_PERSON] == ["no", "no", "yes", "yes", "no", "no", "no"]


# --- one run's artifacts, never mixed with another run's ------------------------------------------------------

def _store_with_a_blessed_run_then_a_failed_one(path):
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(connection)
    run_type = store.put_context_type(metadata_store_pb2.ContextType(name=run_artifacts.PIPELINE_RUN_CONTEXT))
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name=run_artifacts.NODE_CONTEXT))
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="component"))
    types = {name: store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))
             for name in ("ModelBlessing", "ExampleStatistics", "ModelEvaluation")}
    nodes = {}

    def execute(run_id, node, output_key, type_name, state, **custom):
        if node not in nodes:
            nodes[node] = metadata_store_pb2.Context(type_id=node_type, name=f"p.{node}")
            [nodes[node].id] = store.put_contexts([nodes[node]])
        artifact = metadata_store_pb2.Artifact(type_id=types[type_name], uri=f"/{run_id}/{node}")
        for key, value in custom.items():
            artifact.custom_properties[key].int_value = value
        execution = metadata_store_pb2.Execution(type_id=execution_type, last_known_state=state)
        event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
        event.path.steps.add().key = output_key
        store.put_execution(execution, [(artifact, event)], [runs[run_id], nodes[node]])

    runs = {}
    for run_id in ("run-1", "run-2"):
        runs[run_id] = metadata_store_pb2.Context(type_id=run_type, name=run_id)
        [runs[run_id].id] = store.put_contexts([runs[run_id]])
    done, failed = metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.FAILED
    execute("run-1", "StatisticsGen", "statistics", "ExampleStatistics", done)
    execute("run-1", "Evaluator", "evaluation", "ModelEvaluation", done)
    execute("run-1", "Evaluator", "blessing", "ModelBlessing", done, blessed=1)
    execute("run-2", "StatisticsGen", "statistics", "ExampleStatistics", failed)


def test_a_run_that_failed_midway_is_reported_as_itself_not_mixed_with_the_previous_run(tmp_path):
    path = tmp_path / "metadata.db"
    _store_with_a_blessed_run_then_a_failed_one(path)
    runs = run_artifacts.pipeline_runs(run_artifacts.open_store(path))
    assert [r.run_id for r in runs] == ["run-1", "run-2"]
    assert runs[0].blessed is True and runs[0].status == "finished"
    assert runs[0].uri(run_artifacts.EVALUATION) == "/run-1/Evaluator"
    assert runs[1].blessed is None and runs[1].status == "failed"
    assert runs[1].uri(run_artifacts.STATISTICS) == "/run-2/StatisticsGen" and runs[1].uri(run_artifacts.EVALUATION) is None
    with pytest.raises(summary.ReportError, match="run-2, failed.*did not evaluate"):
        summary.latest_run_outputs(path)
    with pytest.raises(html_report.ReportError, match="run-2 .*did not produce"):
        html_report.collect(path, seed=0)


def test_no_store_is_a_clear_error(tmp_path):
    with pytest.raises(run_artifacts.MetadataError, match="run the pipeline first"):
        run_artifacts.open_store(tmp_path / "missing.db")


# --- the HTML report of the session's pipeline run --------------------------------------------------------------

def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert match, f"no {name} section"
    return match.group(1)


def _count_runs(metadata_path) -> int:
    return len(run_artifacts.open_store(metadata_path).get_contexts_by_type(run_artifacts.PIPELINE_RUN_CONTEXT))


def test_report_is_one_self_contained_page_with_every_section(evaluation_report):
    page = evaluation_report["path"].read_text(encoding="utf-8")
    assert evaluation_report["path"].parent == evaluation_report["config"].pipeline.output_dir / html_report.REPORTS_DIR
    for name in ("verdict", "metrics", "calibration", "curves-and-thresholds", "data", "history"):
        _section(page, name)
    assert "<script" not in page.lower() and not re.search(r'(src|href)="https?:', page)
    for name, titles in {"calibration": ["Calibration (eval split)"],
                         "curves-and-thresholds": ["ROC (eval split)", "Precision-recall (eval split)"]}.items():
        svgs = re.findall(r"<svg.*?</svg>", _section(page, name), re.S)
        assert [title for title in titles if any(f"<!-- {title} -->" in svg for svg in svgs)] == titles, name


def trapezoid_auc(false_positive_rate, recall) -> float:
    order = np.lexsort((recall, false_positive_rate))
    x, y = np.asarray(false_positive_rate)[order], np.asarray(recall)[order]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def test_report_curves_and_calibration_plot_the_evaluators_numbers(evaluation_report, pipeline_run, monkeypatch):
    """The figures behind the ROC, precision-recall and calibration plots, caught as they are drawn: the ROC
    curve's area is TFMA's own AUC metric (computed apart from the confusion-matrix plot), each
    precision-recall point is its confusion matrix's, and the calibration dots are TFMA's buckets."""
    figures = {}
    real_svg = html_report.inline_svg
    monkeypatch.setattr(html_report, "inline_svg", lambda figure: (figures.setdefault(figure.axes[0].get_title(), figure),
                                                             real_svg(figure))[1])
    html_report.render(evaluation_report["data"])
    data, metrics = evaluation_report["data"], pipeline_run["summary"]["evaluator_eval_split"]["metrics"]
    [roc] = [line for line in figures["ROC (eval split)"].axes[0].get_lines() if line.get_linestyle() == "-"]
    assert trapezoid_auc(roc.get_xdata(), roc.get_ydata()) == pytest.approx(metrics["auc"], abs=0.02)
    [pr] = figures["Precision-recall (eval split)"].axes[0].get_lines()
    counts = data.thresholds
    has_positives = (counts["tp"] + counts["fp"]) > 0
    np.testing.assert_allclose(np.asarray(pr.get_xdata()), counts["tp"] / (counts["tp"] + counts["fn"]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(pr.get_ydata())[has_positives],
                               (counts["tp"] / (counts["tp"] + counts["fp"]))[has_positives], atol=1e-6)
    [dots] = figures["Calibration (eval split)"].axes[0].collections
    np.testing.assert_allclose(dots.get_offsets(), data.calibration[["mean_prediction", "post_rate"]].to_numpy())
    assert data.calibration["examples"].sum() == pytest.approx(metrics["example_count"])


def test_report_verdict_matches_the_evaluator(evaluation_report, pipeline_run):
    page, data = evaluation_report["path"].read_text(encoding="utf-8"), evaluation_report["data"]
    verdict = _section(page, "verdict")
    assert data.verdict.blessed is pipeline_run["summary"]["blessed"]
    assert ("Blessed:" in verdict) is data.verdict.blessed and ("Not blessed" in verdict) is not data.verdict.blessed
    tfma_auc = pipeline_run["summary"]["evaluator_eval_split"]["metrics"]["auc"]
    checks = {(c.metric, c.kind): c for c in data.verdict.checks}
    assert checks[("auc", "value")].value == pytest.approx(tfma_auc)
    assert checks[("auc", "value")].bound == f">= {pipeline_run['config'].evaluator.min_auc:.4g}"
    assert checks[("binary_accuracy", "value")].passed is data.verdict.blessed
    assert f"{tfma_auc:.4f}" in verdict


def test_report_has_a_row_per_slice_and_slices_partition_the_eval_split(evaluation_report):
    slices, page = evaluation_report["data"].slices, evaluation_report["path"].read_text(encoding="utf-8")
    overall = slices[slices["slice"] == "overall"]["example_count"].item()
    assert overall > 0
    for feature, allowed in ((features.QUESTION_LENGTH_BUCKET, set(preprocessing.LENGTH_BUCKET_NAMES)),
                             (features.FIRST_PERSON, {"yes", "no"})):
        rows = slices[slices["slice"] == feature]
        assert len(rows) >= 2 and set(rows["value"]) <= allowed
        assert rows["example_count"].sum() == overall
    metrics = _section(page, "metrics")
    assert metrics.count("<tr>") == len(slices) + 2  # body rows: one per slice, then the two models on the test split
    baseline = evaluation_report["data"].baseline_slices
    assert (baseline.merge(slices, on=["slice", "value"])["examples"] == baseline.merge(
        slices, on=["slice", "value"])["example_count"]).all()


def test_report_threshold_table_and_confusion_matrix_add_up(evaluation_report, pipeline_run):
    data = evaluation_report["data"]
    overall = data.slices[data.slices["slice"] == "overall"]["example_count"].item()
    point = html_report.evaluation_file.at_threshold(data.thresholds)
    assert point["threshold"] == pytest.approx(features.DECISION_THRESHOLD, abs=1e-3)
    assert point[["tp", "fp", "tn", "fn"]].sum() == pytest.approx(overall)
    tfma_accuracy = pipeline_run["summary"]["evaluator_eval_split"]["metrics"]["binary_accuracy"]
    assert point["accuracy"] == pytest.approx(tfma_accuracy, abs=1.5 / overall)
    assert data.calibration["examples"].sum() == pytest.approx(overall)


def test_report_history_has_one_row_per_pipeline_run(evaluation_report):
    config, data = evaluation_report["config"], evaluation_report["data"]
    runs = _count_runs(config.pipeline.metadata_path)
    assert len(data.history) == runs >= 1
    history = _section(evaluation_report["path"].read_text(encoding="utf-8"), "history")
    assert history.count("<tr>") == runs  # body rows (pandas writes the header row as <tr style=...>)
    assert data.history.iloc[-1]["rows"] == sum(data.splits["rows"])


def test_report_data_section_reads_tfdv_statistics_schema_and_anomalies(evaluation_report, pipeline_run):
    data, manifest = evaluation_report["data"], pipeline_run["manifest"]
    assert set(data.splits["split"]) == {"train", "eval", "test"}
    assert data.splits["rows"].sum() == manifest["rows_sampled"]
    shares = data.splits[f"{features.POST} share"] + data.splits[f"{features.PRE} share"]
    assert np.allclose(shares, 1.0)
    assert set(data.schema["feature"]) >= {features.QUESTION, features.LABEL}
    assert data.anomalies == [] and "No anomalies" in _section(evaluation_report["path"].read_text(), "data")
    assert len(data.tokens) == 20 and not data.lengths.empty


def test_app_file_holds_the_same_tables(evaluation_report):
    document = evaluation_file.read(evaluation_report["config"].pipeline.output_dir)
    assert document["report"] == str(evaluation_report["path"])
    assert len(document["history"]) == len(evaluation_report["data"].history)
    assert len(document["thresholds"]) == len(evaluation_report["data"].thresholds)


# --- why this answer ----------------------------------------------------------------------------------------------

class CountingClient:
    def __init__(self, client):
        self.client, self.requests = client, []

    def predict(self, questions):
        self.requests.append(list(questions))
        return self.client.predict(questions)


def test_attributions_come_from_one_batched_request_to_the_server(model_server):
    question = "My charger stopped working after a week, can I get a replacement?"
    with ModelClient("127.0.0.1", model_server.manager.model_name, model_server.grpc_port, timeout=10) as client:
        counting = CountingClient(client)
        explanation = explain.explain(counting, question)
        alone = client.predict([question])[0]
        without_charger = client.predict([explain.without_word(question, 3, 10)])[0]
    words = [w.word for w in explanation.words]
    assert len(counting.requests) == 1 and len(counting.requests[0]) == 1 + len(words)
    assert words[:3] == ["My", "charger", "stopped"] and words[-1] == "replacement"
    assert explanation.probability_post == pytest.approx(alone.probability_post, abs=1e-5)
    charger = explanation.words[1]
    assert charger.effect == pytest.approx(alone.probability_post - without_charger.probability_post, abs=1e-5)
    page = explain.highlighted_html(explanation)
    assert page.count("<span") == len(words) and "replacement</span>?" in page


def test_predict_explain_on_the_command_line(model_server, tmp_path, capsys):
    config = server_config(tmp_path, model_server)
    assert cli.main(["--config", str(config), "predict", "--explain", "Where do I buy a new filter for mine?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["predicted_label"] in features.LABEL_VALUES
    assert [w["word"] for w in answer["word_effects"]].count("filter") == 1 and len(answer["word_effects"]) == 9
    effects = [abs(w["effect_on_p_post"]) for w in answer["word_effects"]]
    assert effects == sorted(effects, reverse=True)


class FakeClient:
    """P(Post) = number of characters / 100, so each word's effect is known in advance."""

    def predict(self, questions):
        from serving.client import Prediction
        return [Prediction(q, features.PRE, len(q) / 100, 1) for q in questions]


def test_explanation_html_escapes_the_question_and_skips_what_it_cannot_ask():
    explanation = explain.explain(FakeClient(), "<script>alert(1)</script> mine?")
    page = explain.highlighted_html(explanation)
    assert "<script" not in page and page.startswith("&lt;<span") and "&lt;/<span" in page
    assert [w.word for w in explanation.words] == ["script", "alert", "1", "script", "mine"]
    assert explanation.words[-1].effect == pytest.approx(len("mine") / 100)
    [only] = explain.explain(FakeClient(), "refund").words
    assert only.effect is None and explain.explain(FakeClient(), "refund").strongest() == []
