"""After a pipeline run: export the batch-scoring step's predictions and a metrics summary.

Reads the run's artifacts through ML Metadata (the same store the pipeline
wrote), so it always reports what the pipeline produced, never a guess at
folder names. Writes, in the configured output folder:

- ``predictions.csv``: question, true label, P(Post), predicted label, model version (test split)
- ``metrics_summary.json``: Evaluator metrics (eval split), blessing and push,
  test-split metrics of the TFX model and of a TF-IDF + logistic regression
  baseline trained on the same train split.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import tensorflow_model_analysis as tfma

import features
from components import batch_scoring
from dataprep import splits
from evaluation import check_set
from pipeline.configs import PREDICTIONS_FILE, SUMMARY_FILE
from pipeline.files import write_atomically
from reporting import evaluation, run_artifacts
from reporting.baseline import tfidf_baseline
from reporting.metrics import classification_metrics

PREDICTION_COLUMNS = batch_scoring.COLUMNS


class ReportError(RuntimeError):
    """The pipeline's outputs are missing or incomplete."""


@dataclasses.dataclass(frozen=True)
class RunOutputs:
    """The artifacts of one pipeline run that the summary needs."""
    blessed: bool
    evaluation_uri: str | None
    predictions_uri: str | None
    pushed_model_dir: str | None
    pretrained_weights: str | None


def latest_run_outputs(metadata_path: Path) -> RunOutputs:
    """The latest pipeline run's outputs, all from that run's ML Metadata context (never mixed with older runs)."""
    try:
        run = run_artifacts.latest_run(run_artifacts.open_store(metadata_path))
    except run_artifacts.MetadataError as error:
        raise ReportError(str(error)) from error
    if run.blessed is None:
        raise ReportError(f"the latest pipeline run ({run.run_id}, {run.status}) did not evaluate a model: "
                          "run the pipeline again")
    return RunOutputs(blessed=run.blessed, evaluation_uri=run.uri(run_artifacts.EVALUATION),
                      predictions_uri=run.uri(run_artifacts.PREDICTIONS) if run.scored else None,
                      pushed_model_dir=run.pushed_model_dir, pretrained_weights=run.pretrained_weights)


def read_predictions(predictions_uri: str) -> pd.DataFrame:
    """The batch-scoring step's predictions: one row per scored question (columns PREDICTION_COLUMNS)."""
    try:
        return batch_scoring.read_predictions(predictions_uri)
    except FileNotFoundError as exc:
        raise ReportError(f"the batch-scoring step wrote no predictions in {predictions_uri}") from exc


def evaluator_metrics(evaluation_uri: str) -> dict[str, Any]:
    """Overall-slice metrics TFMA computed on the eval split (the candidate's, not the baseline's), and the verdict."""
    metrics = evaluation.overall_metrics(evaluation.load_candidate_result(evaluation_uri))
    validation = tfma.load_validation_result(evaluation_uri)
    return {"metrics": metrics, "validation_ok": bool(validation.validation_ok)}


def write_report(metadata_path: Path, prepared_dir: Path, output_dir: Path, seed: int,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export predictions and the metrics summary of the latest run; return the summary."""
    outputs = latest_run_outputs(metadata_path)
    summary: dict[str, Any] = {"blessed": outputs.blessed, "pushed_model_dir": outputs.pushed_model_dir,
                               "pretrained_weights": outputs.pretrained_weights, **(extra or {})}
    if outputs.evaluation_uri:
        summary["evaluator_eval_split"] = evaluator_metrics(outputs.evaluation_uri)
    test, train = splits.read_split(prepared_dir, "test"), splits.read_split(prepared_dir, "train")
    baseline = classification_metrics(test[features.LABEL], tfidf_baseline(train, test, seed))
    summary["test_split"] = {"tfidf_logistic_regression": baseline}
    if outputs.blessed and outputs.predictions_uri:
        predictions = read_predictions(outputs.predictions_uri)
        tfx_model = classification_metrics(predictions["true_label"], predictions["probability_post"].to_numpy())
        summary["test_split"]["tfx_model"] = tfx_model
        summary["test_split"]["tfx_auc_minus_baseline_auc"] = tfx_model["auc"] - baseline["auc"]
        write_atomically(output_dir / PREDICTIONS_FILE, predictions.to_csv(index=False))
    if outputs.pushed_model_dir:
        summary["check_set"] = check_set.score_saved_model(Path(outputs.pushed_model_dir))
        summary["holdout_set"] = check_set.score_saved_model(Path(outputs.pushed_model_dir), check_set.HOLDOUT_SET_PATH)
    write_atomically(output_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary
