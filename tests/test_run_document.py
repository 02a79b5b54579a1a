"""The typed run document: what the report step writes is what every reader gets back, or a clear refusal."""

from __future__ import annotations

import dataclasses
import json

import pytest

from common.outputs import EVALUATION_FILE, REPORTS_DIR
from reporting import html_report, run_artifacts, run_document
from reporting.run_document import CheckSetResult, EvaluatorResult, RunDocument, SplitMetrics

TestSplit = run_document.TestSplit
TestSplit.__test__ = False  # a dataclass, not a test class


def metrics(auc: float) -> SplitMetrics:
    return SplitMetrics(examples=60, auc=auc, accuracy=0.8, precision=0.7, recall=0.6, mean_probability_post=0.4,
                        post_rate=0.42)


def a_document(**changes) -> RunDocument:
    document = RunDocument(
        run_id="run-7", blessed=True, pushed_model_dir="/models/prepost/7",
        test_split=TestSplit(tfidf_logistic_regression=metrics(0.9), tfx_model=metrics(0.93)),
        evaluator_eval_split=EvaluatorResult(metrics={"auc": 0.92, "binary_accuracy": 0.85}, validation_ok=True),
        check_set=CheckSetResult(examples=174, accuracy=0.87, auc=0.94, model_version=7,
                                 worst_misses=[{"question": "is it loud?", "label": "Pre", "probability_post": 0.9}]),
        pipeline_seconds=121.0, data_manifest={"rows_read": 40000}, report="/r/run-7.html")
    return dataclasses.replace(document, **changes)


def test_what_is_written_is_read_back_typed_with_its_schema_version(tmp_path):
    document = a_document()
    path = document.write(tmp_path / "metrics_summary.json")
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == run_document.SCHEMA_VERSION
    assert raw["test_split"]["tfx_auc_minus_baseline_auc"] == pytest.approx(0.93 - 0.9)
    assert run_document.read(path) == document


def test_an_unblessed_run_has_no_model_figures(tmp_path):
    document = a_document(blessed=False, pushed_model_dir=None, check_set=None,
                          test_split=TestSplit(tfidf_logistic_regression=metrics(0.9)))
    back = run_document.read(document.write(tmp_path / "s.json"))
    assert back.test_split.tfx_model is None and back.test_split.tfx_auc_minus_baseline_auc is None
    assert back == document


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.update(schema_version=0), "schema version 0, this code reads version 1"),
    (lambda raw: raw.pop("schema_version"), "schema version None"),
    (lambda raw: raw.pop("test_split"), "is not a run document"),
])
def test_a_document_of_another_version_or_shape_is_refused_by_name(tmp_path, change, message):
    raw = a_document().to_dict()
    change(raw)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(run_document.RunDocumentError, match=message):
        run_document.read(path)


def test_a_missing_document_says_to_run_the_pipeline(tmp_path):
    with pytest.raises(run_document.RunDocumentError, match="run the pipeline first"):
        run_document.read(tmp_path / "none.json")


def test_the_html_report_writes_only_its_page(evaluation_report, tmp_path):
    """The app's evaluation file is the report step's to write (reporting/run_report.py), not a side effect."""
    page = html_report.write(evaluation_report["data"], tmp_path)
    assert page.parent == tmp_path / REPORTS_DIR
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == [page.relative_to(tmp_path)]
    assert not (tmp_path / EVALUATION_FILE).exists()


def test_the_pipeline_runs_document_is_what_the_report_step_wrote(pipeline_run):
    config = pipeline_run["config"]
    written = run_document.read(config.pipeline.summary_path)
    assert (written.run_id, written.blessed, written.test_split) == (pipeline_run["document"].run_id, True,
                                                                     pipeline_run["document"].test_split)
    assert written.report == str(html_report.report_path(config.pipeline.output_dir, written.run_id))
    latest = run_artifacts.latest_run(run_artifacts.open_store(config.pipeline.metadata_path))
    assert written.run_id == latest.run_id and written.pushed_model_dir == latest.pushed_model_dir
