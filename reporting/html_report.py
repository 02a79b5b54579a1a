"""One self-contained HTML page per pipeline run: verdict, metrics, curves, data and history.

Every number is read from that run's artifacts (found through its ML Metadata
pipeline-run context) with TFMA's and TFDV's own loaders; plots are inline
SVG drawn with matplotlib, so the file opens offline and runs no script.
Written to ``<pipeline.output_dir>/reports/<run id>.html``.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import features  # noqa: E402
from common.files import write_atomically  # noqa: E402
from common.outputs import REPORTS_DIR  # noqa: E402
from reporting import data_stats, evaluation, evaluation_file, history, run_artifacts  # noqa: E402
from reporting.baseline import Baseline  # noqa: E402
from reporting.run_artifacts import PipelineRun  # noqa: E402
from reporting.run_document import TestSplit  # noqa: E402
from reporting.svg import inline_svg  # noqa: E402

TABLE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SECTIONS = ("Verdict", "Metrics", "Calibration", "Curves and thresholds", "Data", "History")
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem} th,td{border:1px solid #ddd;padding:.25rem .55rem;
text-align:right} th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.ok{background:#e6f4ea;color:#1e6b34;padding:.6rem 1rem;border-radius:6px;font-weight:600}
.bad{background:#fce8e6;color:#a50e0e;padding:.6rem 1rem;border-radius:6px;font-weight:600}
.src{color:#666;font-size:.8rem} .plots{display:flex;flex-wrap:wrap;gap:1rem} code{background:#f4f4f4;padding:0 .2rem}
"""


class ReportError(RuntimeError):
    """The run has not produced what the report needs."""


def report_path(output_dir: Path, run_id: str) -> Path:
    """Where a run's report lives: one file per pipeline run, named after its run id."""
    return Path(output_dir) / REPORTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', run_id)}.html"


@dataclasses.dataclass
class ReportData:
    """Everything the page shows, read once (the tests check these numbers against the page)."""
    run: PipelineRun
    verdict: evaluation.Verdict
    slices: pd.DataFrame
    baseline_slices: pd.DataFrame
    calibration: pd.DataFrame
    thresholds: pd.DataFrame
    splits: pd.DataFrame
    lengths: pd.DataFrame
    tokens: list[str]
    schema: pd.DataFrame
    anomalies: list[str]
    history: pd.DataFrame
    test_split: TestSplit | None


def require_outputs(run: PipelineRun) -> None:
    """The outputs a report reads, or a ReportError naming those the run did not produce."""
    missing = [o for o in (run_artifacts.EVALUATION, run_artifacts.STATISTICS, run_artifacts.EXAMPLES,
                           run_artifacts.SCHEMA, run_artifacts.ANOMALIES, run_artifacts.TRANSFORM_GRAPH)
               if o not in run.artifacts]
    if missing:
        raise ReportError(f"pipeline run {run.run_id} ({run.status}) did not produce {', '.join(missing)}: "
                          "no report for it")


def collect(metadata_path: Path, seed: int, test_split: TestSplit | None = None,
            run_id: str | None = None) -> ReportData:
    """One run's report on its own (the latest run by default): its artifacts, a baseline fitted here, the history.

    The pipeline command's report step (reporting/run_report.py) calls ``collect_run`` instead, with what it read.
    """
    runs = run_artifacts.pipeline_runs(run_artifacts.open_store(metadata_path))
    if not runs:
        raise ReportError("the ML Metadata store holds no pipeline run yet: run the pipeline first")
    chosen = [r for r in runs if r.run_id == run_id] if run_id else runs[-1:]
    if not chosen:
        raise ReportError(f"no pipeline run {run_id!r} in {metadata_path}")
    run = chosen[0]
    require_outputs(run)
    examples = run.uri(run_artifacts.EXAMPLES)
    baseline = Baseline.fit(data_stats.read_examples(examples, "train"), seed)
    return collect_run(run, runs, baseline, data_stats.read_examples(examples, "eval"), test_split)


def collect_run(run: PipelineRun, runs: list[PipelineRun], baseline: Baseline, eval_examples: pd.DataFrame,
                test_split: TestSplit | None) -> ReportData:
    """Everything the page shows, from one run's artifacts, its eval examples and a baseline fitted on its train split."""
    require_outputs(run)
    result = evaluation.load_candidate_result(run.uri(run_artifacts.EVALUATION))
    transform_stats = run.artifacts.get(run_artifacts.POST_TRANSFORM_STATS)
    return ReportData(
        run=run,
        verdict=evaluation.verdict(run.uri(run_artifacts.EVALUATION), result),
        slices=evaluation.slice_metrics(result),
        baseline_slices=evaluation.baseline_by_slice(baseline, eval_examples),
        calibration=evaluation.calibration_buckets(result),
        thresholds=evaluation.threshold_table(result),
        splits=data_stats.split_table(data_stats.split_statistics(run.artifacts[run_artifacts.STATISTICS])),
        lengths=data_stats.length_distribution(data_stats.split_statistics(transform_stats))
        if transform_stats else pd.DataFrame(),
        tokens=data_stats.top_tokens(run.uri(run_artifacts.TRANSFORM_GRAPH)),
        schema=data_stats.schema_table(run.uri(run_artifacts.SCHEMA)),
        anomalies=data_stats.anomalies(run.artifacts[run_artifacts.ANOMALIES]),
        history=history.run_history(runs),
        test_split=test_split,
    )


def write(data: ReportData, output_dir: Path) -> Path:
    """The run's HTML page; returns its path."""
    path = report_path(output_dir, data.run.run_id)
    write_atomically(path, render(data))
    return path


def export(data: ReportData, output_dir: Path, report: Path) -> Path:
    """The same tables for the app (reporting/evaluation_file.py)."""
    verdict = data.verdict
    facts = {
        "report": str(report),
        "run": {"id": data.run.run_id, "started": data.run.started.isoformat(), "status": data.run.status,
                "blessed": data.run.blessed, "pushed_version": data.run.pushed_version,
                "pretrained_weights": data.run.pretrained_weights,
                "evaluation_uri": data.run.uri(run_artifacts.EVALUATION)},
        "verdict": {"blessed": verdict.blessed, "has_baseline": verdict.has_baseline, "changes": verdict.changes,
                    "checks": [dataclasses.asdict(c) for c in verdict.checks]},
        "decision_threshold": features.DECISION_THRESHOLD,
        "tokens": data.tokens, "anomalies": data.anomalies,
        "test_split": dataclasses.asdict(data.test_split) if data.test_split else {},
    }
    tables = {name: getattr(data, name) for name in evaluation_file.TABLES}
    return evaluation_file.write(output_dir, tables, facts)


# --- rendering -------------------------------------------------------------------------------------------------

def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(index=False, na_rep="-", float_format=lambda x: f"{x:.{digits}f}", border=0, escape=True)


def _source(*parts: str) -> str:
    return f'<p class="src">Source: {" ".join(html.escape(p) for p in parts)}</p>'


def verdict_section(data: ReportData) -> str:
    verdict, run = data.verdict, data.run
    if verdict.blessed:
        banner = f'<p class="ok">Blessed: the model passed every threshold; pushed version: {run.pushed_version or "none"}</p>'
    else:
        banner = ('<p class="bad">Not blessed: the model failed a threshold (below); nothing was pushed and the '
                  'previously pushed version, if any, stays in service</p>')
    checks = pd.DataFrame([{"metric": c.metric, "check": c.kind, "value": c.value, "bound": c.bound,
                            "result": "pass" if c.passed else "FAIL"} for c in verdict.checks])
    if verdict.has_baseline:
        changes = pd.DataFrame([{"metric": k, "candidate minus baseline": v} for k, v in sorted(verdict.changes.items())])
        baseline = "<h3>Change against the baseline (the previously blessed model), eval split</h3>" + _table(changes)
    else:
        baseline = ("<p>No baseline: no model had been blessed before this run, so the change threshold was not "
                    "checked.</p>")
    weights = f"<p>Built from pretrained weights: {html.escape(run.pretrained_weights)}</p>" if run.pretrained_weights else ""
    return (banner + weights + "<h3>Thresholds (overall eval split)</h3>" + _table(checks) + baseline
            + _source("tfma.load_validation_result and tfma.load_eval_result on", run.uri(run_artifacts.EVALUATION)))


def metrics_section(data: ReportData) -> str:
    model = data.slices.rename(columns={"auc": "model auc", "binary_accuracy": "model accuracy",
                                        "example_count": "examples"})
    baseline = data.baseline_slices.rename(columns={"auc": "TF-IDF auc", "accuracy": "TF-IDF accuracy"}).drop(
        columns="examples")
    table = model.merge(baseline, on=["slice", "value"], how="left")[
        ["slice", "value", "examples", "model auc", "TF-IDF auc", "model accuracy", "TF-IDF accuracy", "precision",
         "recall", "mean_label", "mean_prediction"]]
    text = ("<p>Eval split. Model: TFMA's metrics per slice (slices made by the Transform graph). TF-IDF: TF-IDF + "
            "logistic regression trained on this run's train split, scored on the same eval examples and sliced "
            "by the same TensorFlow functions.</p>" + _table(table))
    test = data.test_split
    if test is not None and test.tfx_model is not None:
        rows = [{"model": name, **{k: getattr(metrics, k) for k in ("examples", "auc", "accuracy", "precision", "recall")}}
                for name, metrics in (("TFX model", test.tfx_model), ("TF-IDF + logistic regression",
                                                                      test.tfidf_logistic_regression))]
        text += "<h3>Test split (held out from the pipeline's evaluation)</h3>" + _table(pd.DataFrame(rows))
    return text + _source("tfma.load_eval_result; the run's CsvExampleGen examples for the baseline")


def calibration_section(data: ReportData) -> str:
    buckets = data.calibration
    figure, axis = plt.subplots(figsize=(5, 4.2))
    axis.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfectly calibrated")
    axis.scatter(buckets["mean_prediction"], buckets["post_rate"], s=20 + 200 * buckets["examples"] / max(
        1.0, buckets["examples"].max()), color="#1f77b4", alpha=.75, label="bucket (size = examples)")
    axis.set(xlabel="mean predicted P(Post)", ylabel="observed Post rate", xlim=(0, 1), ylim=(0, 1),
             title="Calibration (eval split)")
    axis.legend(loc="upper left", fontsize=8)
    return (inline_svg(figure) + _table(buckets.round(4)) + _source("TFMA CalibrationPlot (calibrationHistogramBuckets), "
                                                               "buckets with examples only"))


def curves_section(data: ReportData) -> str:
    table = data.thresholds
    roc, axes = plt.subplots(figsize=(4.6, 4.2))
    axes.plot(table["false_positive_rate"], table["recall"], color="#d62728")
    axes.plot([0, 1], [0, 1], color="#999", linestyle="--")
    axes.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC (eval split)",
             xlim=(0, 1), ylim=(0, 1.02))
    pr, axes = plt.subplots(figsize=(4.6, 4.2))
    axes.plot(table["recall"], table["precision"], color="#2ca02c")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall (eval split)", xlim=(0, 1), ylim=(0, 1.02))
    rows = pd.DataFrame([evaluation_file.at_threshold(table, t) for t in TABLE_THRESHOLDS])
    point = evaluation_file.at_threshold(table)
    matrix = pd.DataFrame({
        "": [f"true {features.POST}", f"true {features.PRE}"],
        f"predicted {features.POST}": [int(point["tp"]), int(point["fp"])],
        f"predicted {features.PRE}": [int(point["fn"]), int(point["tn"])],
    })
    return (f'<div class="plots">{inline_svg(roc)}{inline_svg(pr)}</div>'
            "<h3>Threshold table (P(Post) at or above the threshold is called Post)</h3>" + _table(rows)
            + f"<h3>Confusion matrix at the decision threshold {point['threshold']:.2f}</h3>" + _table(matrix, 0)
            + _source("TFMA ConfusionMatrixPlot (confusionMatrixAtThresholds); Post is the positive class"))


def data_section(data: ReportData) -> str:
    parts = ["<h3>Splits</h3>", _table(data.splits), _source("StatisticsGen, read with tfdv.load_stats_binary")]
    if not data.lengths.empty:
        figure, axis = plt.subplots(figsize=(6, 3))
        pivot = data.lengths.pivot(index="length", columns="split", values="share").reindex(
            data.lengths["length"].drop_duplicates())
        pivot.plot.bar(ax=axis, rot=0)
        axis.set(ylabel="share of questions", xlabel="", title="Question length in words")
        parts += ["<h3>Question length</h3>", inline_svg(figure), _table(data.lengths),
                  _source("Transform's post-transform statistics (tfdv.load_stats_binary) of the "
                          f"{features.QUESTION_LENGTH_BUCKET} feature")]
    parts += ["<h3>Most frequent words (train split)</h3>",
              "<p>" + ", ".join(f"<code>{html.escape(t)}</code>" for t in data.tokens) + "</p>",
              _source("the head of Transform's vocabulary, ordered by frequency")]
    parts += ["<h3>Schema</h3>", _table(data.schema), _source("SchemaGen, read with tfdv.load_schema_text")]
    if data.anomalies:
        parts += ['<p class="bad">Anomalies found</p><ul>'
                  + "".join(f"<li>{html.escape(a)}</li>" for a in data.anomalies) + "</ul>"]
    else:
        parts += ['<p class="ok">No anomalies: every split matches the schema</p>']
    return "".join(parts) + _source("ExampleValidator, read with tfdv's anomalies_util")


def history_section(data: ReportData) -> str:
    frame = data.history.copy()
    frame["started"] = pd.to_datetime(frame["started"]).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    frame["blessed"] = frame["blessed"].map({True: "yes", False: "no"}).fillna("-")
    figure, axis = plt.subplots(figsize=(7, 3))
    order = range(1, len(frame) + 1)
    axis.plot(order, data.history["eval_auc"].astype(float), marker="o", label="eval AUC")
    axis.plot(order, data.history["eval_accuracy"].astype(float), marker="s", label="eval accuracy")
    for x, blessed in zip(order, data.history["blessed"], strict=True):
        if blessed is False:
            axis.axvline(x, color="#d62728", alpha=.25)
    axis.set(xlabel="pipeline run (oldest first; red: not blessed)", ylabel="overall eval split",
             title="Run history", xticks=list(order))
    axis.legend(fontsize=8)
    return (inline_svg(figure) + _table(frame) + _source("ML Metadata pipeline_run contexts; tfma.load_metrics per run; "
                                                    "StatisticsGen row counts; DataPreparation's rows_feedback; "
                                                    "Pusher's pushed_version"))


def render(data: ReportData) -> str:
    run = data.run
    bodies = (verdict_section(data), metrics_section(data), calibration_section(data), curves_section(data),
              data_section(data), history_section(data))
    sections = "".join(f'<section id="{name.lower().replace(" ", "-")}"><h2>{name}</h2>{body}</section>'
                       for name, body in zip(SECTIONS, bodies, strict=True))
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Pipeline run {html.escape(run.run_id)}"
            f"</title><style>{STYLE}</style></head><body><h1>Pre/Post question model: pipeline run "
            f"{html.escape(run.run_id)}</h1><p>Started {run.started:%Y-%m-%d %H:%M:%S} UTC; status {run.status}; "
            f"report generated {generated}.</p>{sections}</body></html>\n")
