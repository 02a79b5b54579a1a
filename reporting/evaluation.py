"""What TFMA computed for one Evaluator run, as tables a report or an app can show.

Everything comes from the Evaluator's output through TFMA's own loaders:
``tfma.load_eval_result`` (metrics and plots per slice), ``tfma.load_validation_result``
(the blessing verdict) and ``tfma.load_metrics`` (the overall numbers of past runs).
The thresholds are read back from the EvalConfig TFMA stored with the result,
so the report shows the bounds the run was judged by, not today's config.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants as tfma_constants
from tensorflow_model_analysis.metrics import metric_specs
from tensorflow_model_analysis.writers import eval_config_writer

import features
import preprocessing
from reporting.baseline import Baseline
from reporting.metrics import classification_metrics

OVERALL = "overall"
SLICE_METRICS = ("example_count", "auc", "binary_accuracy", "precision", "recall", "mean_label", "mean_prediction",
                 "calibration")
THRESHOLD_COLUMNS = ["threshold", "tp", "fp", "tn", "fn", "precision", "recall", "accuracy", "false_positive_rate"]


@dataclasses.dataclass(frozen=True)
class ThresholdCheck:
    """One blessing threshold: the metric's value on the overall eval split against its bound."""
    metric: str
    kind: str  # "value" or "change vs baseline"
    value: float | None
    bound: str
    passed: bool


@dataclasses.dataclass(frozen=True)
class Verdict:
    blessed: bool
    has_baseline: bool
    checks: list[ThresholdCheck]
    changes: dict[str, float]  # metric -> candidate minus baseline (overall slice), when a baseline was compared


def slice_name(slice_key: tuple) -> tuple[str, str]:
    """TFMA's slice key -> (feature, value); the whole split is ("overall", "")."""
    if not slice_key:
        return OVERALL, ""
    feature, value = slice_key[0]
    return str(feature), value.decode() if isinstance(value, bytes) else str(value)


def load_candidate_result(evaluation_uri: str) -> tfma.EvalResult:
    """The evaluated (candidate) model's result; with a baseline, TFMA stores both models side by side."""
    specs = eval_config_writer.load_eval_run(evaluation_uri)[0].model_specs  # the config TFMA wrote beside them
    candidate = next(spec.name for spec in specs if not spec.is_baseline) if len(specs) > 1 else None
    return tfma.load_eval_result(evaluation_uri, model_name=candidate)


def _number(value: dict[str, Any]) -> float | None:
    number = value.get("doubleValue", value.get("boundedValue", {}).get("value"))
    return None if number is None else float(number)


def _flat_metrics(metrics_by_output: dict) -> dict[str, float]:
    """The metrics of the single output and no sub-key (this is a one-output binary model)."""
    return {name: number for name, value in metrics_by_output.get("", {}).get("", {}).items()
            if (number := _number(value)) is not None}


def slice_metrics(result: tfma.EvalResult) -> pd.DataFrame:
    """One row per slice (overall first, then each slice feature's values) with TFMA's metrics."""
    rows = []
    for slice_key, metrics in result.slicing_metrics:
        feature, value = slice_name(slice_key)
        flat = _flat_metrics(metrics)
        rows.append({"slice": feature, "value": value, **{m: flat.get(m) for m in SLICE_METRICS}})
    frame = pd.DataFrame(rows, columns=["slice", "value", *SLICE_METRICS])
    frame["example_count"] = frame["example_count"].fillna(0).astype(int)
    # AUC needs both labels: TFMA reports 0 for a slice with one label only, which reads as a terrible model.
    frame.loc[frame["mean_label"].isin([0.0, 1.0]), "auc"] = None
    return sort_slices(frame)


def sort_slices(frame: pd.DataFrame) -> pd.DataFrame:
    """Overall first, then each slice feature; length buckets shortest first."""
    features_order = {name: i for i, name in enumerate((OVERALL, *features.SLICE_FEATURES))}
    values_order = {name: i for i, name in enumerate(preprocessing.LENGTH_BUCKET_NAMES)}
    keyed = frame.assign(_feature=frame["slice"].map(features_order).fillna(len(features_order)),
                         _value=frame["value"].map(values_order).fillna(-1), _text=frame["value"])
    return keyed.sort_values(["_feature", "_value", "_text"]).drop(columns=["_feature", "_value", "_text"]).reset_index(
        drop=True)


def overall_metrics(result: tfma.EvalResult) -> dict[str, float]:
    return next(_flat_metrics(metrics) for key, metrics in result.slicing_metrics if not key)


def _plot(result: tfma.EvalResult, name: str, slice_key: tuple = ()) -> dict[str, Any]:
    for key, plots in result.plots:
        if tuple(key) == tuple(slice_key):
            return plots.get("", {}).get("", {}).get(name, {})
    return {}


def _float(value: Any, default: float = 0.0) -> float:
    """A plot field as TFMA's JSON view gives it: a number, a string ('-Infinity', 'NaN') or absent."""
    if value is None:
        return default
    if isinstance(value, dict):  # older TFMA: {"value": x}
        return _float(value.get("value"), default)
    return float(value)


def calibration_buckets(result: tfma.EvalResult, slice_key: tuple = (), bins: int = 10) -> pd.DataFrame:
    """CalibrationPlot's buckets (TFMA keeps 1000), summed into ``bins`` equal ranges of P(Post).

    Each row: how many examples, their mean predicted P(Post) and the share that really were Post.
    """
    rows = []
    for bucket in _plot(result, "calibrationHistogramBuckets", slice_key).get("buckets", []):
        rows.append({"lower": _float(bucket.get("lowerThresholdInclusive")),
                     "examples": _float(bucket.get("numWeightedExamples")),
                     "predicted": _float(bucket.get("totalWeightedRefinedPrediction")),
                     "post": _float(bucket.get("totalWeightedLabel"))})
    frame = pd.DataFrame(rows, columns=["lower", "examples", "predicted", "post"])
    frame = frame[frame["examples"] > 0]
    frame["bin"] = np.clip(np.floor(frame["lower"].clip(lower=0.0) * bins + 1e-9), 0, bins - 1).astype(int)
    summed = frame.groupby("bin")[["examples", "predicted", "post"]].sum().reset_index()
    return pd.DataFrame({
        "lower": summed["bin"] / bins, "upper": (summed["bin"] + 1) / bins, "examples": summed["examples"].astype(int),
        "mean_prediction": summed["predicted"] / summed["examples"], "post_rate": summed["post"] / summed["examples"],
    })


def threshold_table(result: tfma.EvalResult, slice_key: tuple = ()) -> pd.DataFrame:
    """ConfusionMatrixPlot's matrices: counts, precision, recall and accuracy at each threshold on P(Post)."""
    rows = []
    for matrix in _plot(result, "confusionMatrixAtThresholds", slice_key).get("matrices", []):
        tp, fp = _float(matrix.get("truePositives")), _float(matrix.get("falsePositives"))
        tn, fn = _float(matrix.get("trueNegatives")), _float(matrix.get("falseNegatives"))
        total = tp + fp + tn + fn
        rows.append({
            "threshold": _float(matrix.get("threshold")), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "accuracy": (tp + tn) / total if total else 0.0,
            "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        })
    frame = pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)
    frame = frame[(frame["threshold"] >= 0.0) & (frame["threshold"] <= 1.0)]
    frame = frame.astype({"tp": int, "fp": int, "tn": int, "fn": int})
    return frame.sort_values("threshold").reset_index(drop=True)


def _value_bound(threshold: tfma.GenericValueThreshold) -> str:
    parts = []
    if threshold.HasField("lower_bound"):
        parts.append(f">= {threshold.lower_bound.value:.4g}")
    if threshold.HasField("upper_bound"):
        parts.append(f"<= {threshold.upper_bound.value:.4g}")
    return ", ".join(parts)


def _change_bound(threshold: tfma.GenericChangeThreshold) -> str:
    """TFMA's change threshold in words: higher-is-better bounds the change from below, lower-is-better from above."""
    sign = ">=" if threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER else "<="
    parts = []
    if threshold.HasField("absolute"):
        parts.append(f"change {sign} {threshold.absolute.value:.4g}")
    if threshold.HasField("relative"):
        parts.append(f"relative change {sign} {threshold.relative.value:.4g}")
    return ", ".join(parts)


def _overall_thresholds(config: tfma.EvalConfig) -> list[tuple[str, tfma.MetricThreshold]]:
    """Each metric's threshold that applies to the overall slice (plain, or per-slice on the empty spec)."""
    found = []
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            name = _metric_name(metric)
            if metric.HasField("threshold"):
                found.append((name, metric.threshold))
            for per_slice in metric.per_slice_thresholds:
                if any(s == tfma.SlicingSpec() for s in per_slice.slicing_specs):
                    found.append((name, per_slice.threshold))
    return found


def _metric_name(metric: tfma.MetricConfig) -> str:
    """TFMA's metric name for a MetricConfig (``AUC`` -> ``auc``), the key it writes results under."""
    return metric_specs.metric_instance(metric).name


def verdict(evaluation_uri: str, result: tfma.EvalResult | None = None) -> Verdict:
    """Blessed or not, each overall threshold with its value and bound, and the change against the baseline."""
    result = result or load_candidate_result(evaluation_uri)
    validation = tfma.load_validation_result(evaluation_uri)
    failed = {(f.metric_key.name, f.metric_key.is_diff) for s in validation.metric_validations_per_slice
              for f in s.failures if not s.slice_key.single_slice_keys}
    overall = overall_metrics(result)
    has_baseline = any(spec.is_baseline for spec in result.config.model_specs)
    checks = []
    for name, threshold in _overall_thresholds(result.config):
        if threshold.HasField("value_threshold"):
            checks.append(ThresholdCheck(name, "value", overall.get(name), _value_bound(threshold.value_threshold),
                                         (name, False) not in failed))
        if threshold.HasField("change_threshold"):
            if has_baseline:
                checks.append(ThresholdCheck(name, "change vs baseline", overall.get(f"{name}_diff"),
                                             _change_bound(threshold.change_threshold), (name, True) not in failed))
    changes = {name[:-len("_diff")]: value for name, value in overall.items() if name.endswith("_diff")}
    return Verdict(blessed=bool(validation.validation_ok), has_baseline=has_baseline, checks=checks, changes=changes)


def overall_figures(evaluation_uri: str) -> dict[str, float]:
    """The candidate model's overall metrics from TFMA's metrics file alone (cheap enough for every past run)."""
    figures = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for item in metrics.metric_keys_and_values:
            key = item.key
            if key.is_diff or key.model_name == tfma_constants.BASELINE_KEY or key.HasField("sub_key"):
                continue
            if item.value.HasField("double_value"):
                figures[key.name] = item.value.double_value.value
    return figures


def baseline_by_slice(baseline: Baseline, evaluation: pd.DataFrame) -> pd.DataFrame:
    """The baseline's metrics on the eval split, overall and per slice (the Transform graph's slice definitions).

    The slice values come from the same TensorFlow functions the Transform graph runs, so a row here and
    TFMA's row for the model describe the same questions.
    """
    probabilities = baseline.predict(evaluation)
    questions = evaluation[features.QUESTION].to_numpy(dtype=object)
    slices = {name: np.char.decode(values.numpy().astype(bytes), "utf-8")
              for name, values in preprocessing.slice_features(questions).items()}
    groups = [(OVERALL, "", np.ones(len(evaluation), dtype=bool))]
    groups += [(name, value, values == value) for name, values in slices.items() for value in sorted(set(values))]
    rows = []
    for name, value, mask in groups:
        labels = evaluation[features.LABEL][mask]
        if labels.nunique() < 2:  # AUC needs both labels
            correct = (probabilities[mask] >= features.DECISION_THRESHOLD) == (labels == features.POST).to_numpy()
            rows.append({"slice": name, "value": value, "examples": int(mask.sum()), "auc": None,
                         "accuracy": float(np.mean(correct))})
            continue
        metrics = classification_metrics(labels, probabilities[mask])
        rows.append({"slice": name, "value": value, "examples": metrics["examples"], "auc": metrics["auc"],
                     "accuracy": metrics["accuracy"]})
    return sort_slices(pd.DataFrame(rows))
