"""After a pipeline run: the run document's figures and the batch-scoring step's predictions.

Reads the run's artifacts through ML Metadata (the same store the pipeline
wrote), so it always reports what the pipeline produced, never a guess at
folder names. The test split's figures: the TFX model's (from the BatchScoring
step's predictions) next to a TF-IDF + logistic regression baseline trained on
the same train split; the Evaluator's metrics (eval split) and verdict; the
hand-written check set's figures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import tensorflow_model_analysis as tfma

import features
from components import batch_scoring
from evaluation import check_set
from reporting import evaluation, run_artifacts
from reporting.baseline import Baseline
from reporting.metrics import classification_metrics
from reporting.run_artifacts import PipelineRun
from reporting.run_document import CheckSetResult, EvaluatorResult, RunDocument, SplitMetrics, TestSplit


class ReportError(RuntimeError):
    """The pipeline's outputs are missing or incomplete."""


@dataclasses.dataclass(frozen=True)
class RunOutputs:
    """The artifacts of one pipeline run that the summary needs."""
    run_id: str
    blessed: bool
    evaluation_uri: str | None
    predictions_uri: str | None
    pushed_model_dir: str | None
    pretrained_weights: str | None


def outputs_of(run: PipelineRun) -> RunOutputs:
    """One run's outputs, all from its ML Metadata context (never mixed with older runs)."""
    if run.blessed is None:
        raise ReportError(f"the latest pipeline run ({run.run_id}, {run.status}) did not evaluate a model: "
                          "run the pipeline again")
    return RunOutputs(run_id=run.run_id, blessed=run.blessed, evaluation_uri=run.uri(run_artifacts.EVALUATION),
                      predictions_uri=run.uri(run_artifacts.PREDICTIONS) if run.scored else None,
                      pushed_model_dir=run.pushed_model_dir, pretrained_weights=run.pretrained_weights)


def latest_run_outputs(metadata_path: Path) -> RunOutputs:
    try:
        return outputs_of(run_artifacts.latest_run(run_artifacts.open_store(metadata_path)))
    except run_artifacts.MetadataError as error:
        raise ReportError(str(error)) from error


def read_predictions(predictions_uri: str) -> pd.DataFrame:
    """The batch-scoring step's predictions: one row per scored question (columns batch_scoring.COLUMNS)."""
    try:
        return batch_scoring.read_predictions(predictions_uri)
    except FileNotFoundError as exc:
        raise ReportError(f"the batch-scoring step wrote no predictions in {predictions_uri}") from exc


def evaluator_result(evaluation_uri: str) -> EvaluatorResult:
    """Overall-slice metrics TFMA computed on the eval split (the candidate's, not the baseline's), and the verdict."""
    metrics = evaluation.overall_metrics(evaluation.load_candidate_result(evaluation_uri))
    return EvaluatorResult(metrics=metrics, validation_ok=bool(tfma.load_validation_result(evaluation_uri).validation_ok))


def document(run: PipelineRun, baseline: Baseline, test: pd.DataFrame) -> tuple[RunDocument, pd.DataFrame | None]:
    """The run's document (without the report's path) and its test-split predictions (None when nothing was scored).

    ``test`` is the run's test split (question and label); ``baseline`` is fitted on its train split.
    """
    outputs = outputs_of(run)
    baseline_metrics = SplitMetrics(**classification_metrics(test[features.LABEL], baseline.predict(test)))
    predictions = read_predictions(outputs.predictions_uri) if outputs.blessed and outputs.predictions_uri else None
    tfx_model = None if predictions is None else SplitMetrics(**classification_metrics(
        predictions[batch_scoring.TRUE_LABEL], predictions[batch_scoring.PROBABILITY].to_numpy()))
    pushed = Path(outputs.pushed_model_dir) if outputs.pushed_model_dir else None
    check = CheckSetResult(**check_set.score_saved_model(pushed)) if pushed else None
    holdout = CheckSetResult(**check_set.score_saved_model(pushed, check_set.HOLDOUT_SET_PATH)) if pushed else None
    return RunDocument(
        run_id=outputs.run_id, blessed=outputs.blessed, pushed_model_dir=outputs.pushed_model_dir,
        test_split=TestSplit(tfidf_logistic_regression=baseline_metrics, tfx_model=tfx_model),
        evaluator_eval_split=evaluator_result(outputs.evaluation_uri) if outputs.evaluation_uri else None,
        check_set=check, holdout_set=holdout, pretrained_weights=outputs.pretrained_weights,
        serving_check=run.serving_check), predictions
