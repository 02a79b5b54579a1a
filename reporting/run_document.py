"""One typed document per pipeline run: what the closing lines, the HTML report, the app and the benchmarks read.

Written as JSON (``pipeline.output_dir``/metrics_summary.json) by the report step; read back with ``read``, which
checks the schema version, so no reader indexes raw keys or meets a document it does not understand.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from common.files import write_atomically

SCHEMA_VERSION = 1


class RunDocumentError(ValueError):
    """The file is missing, not a run document, or of another schema version; the message says which."""


@dataclasses.dataclass(frozen=True)
class SplitMetrics:
    """A model's P(Post) scores on one split, at the served decision threshold (reporting/metrics.py)."""
    examples: int
    auc: float
    accuracy: float
    precision: float
    recall: float
    mean_probability_post: float
    post_rate: float


@dataclasses.dataclass(frozen=True)
class TestSplit:
    """The held-out test split: the TF-IDF baseline always; the TFX model when it was blessed and scored."""
    tfidf_logistic_regression: SplitMetrics
    tfx_model: SplitMetrics | None = None

    @property
    def tfx_auc_minus_baseline_auc(self) -> float | None:
        return None if self.tfx_model is None else self.tfx_model.auc - self.tfidf_logistic_regression.auc


@dataclasses.dataclass(frozen=True)
class EvaluatorResult:
    """TFMA's overall metrics of the candidate on the eval split, and whether it passed every threshold."""
    metrics: dict[str, float]
    validation_ok: bool


@dataclasses.dataclass(frozen=True)
class CheckSetResult:
    """The pushed model on the hand-written check set (evaluation/check_set.py)."""
    examples: int
    accuracy: float
    auc: float
    model_version: int
    worst_misses: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class RunDocument:
    run_id: str
    blessed: bool
    pushed_model_dir: str | None
    test_split: TestSplit
    evaluator_eval_split: EvaluatorResult | None = None
    check_set: CheckSetResult | None = None
    holdout_set: CheckSetResult | None = None  # hand-written, never used to choose
    pretrained_weights: str | None = None  # the packaged encoder the model's word vectors came from
    serving_check: str | None = None  # the serving check's one-line verdict (components/serving_check.py)
    pipeline_seconds: float | None = None
    data_manifest: dict[str, Any] | None = None
    report: str | None = None  # the run's HTML evaluation report
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["test_split"]["tfx_auc_minus_baseline_auc"] = self.test_split.tfx_auc_minus_baseline_auc
        return raw

    def write(self, path: Path) -> Path:
        write_atomically(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _metrics(raw: dict[str, Any] | None) -> SplitMetrics | None:
    return None if raw is None else SplitMetrics(**raw)


def from_dict(raw: dict[str, Any]) -> RunDocument:
    """The typed document; a document of another schema version is refused, naming both versions."""
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise RunDocumentError(f"run document schema version {version!r}, this code reads version {SCHEMA_VERSION}: "
                               "run ./run.sh report to write it again")
    fields = dict(raw)
    test = dict(fields.pop("test_split"))
    test.pop("tfx_auc_minus_baseline_auc", None)
    evaluator, check = fields.pop("evaluator_eval_split"), fields.pop("check_set")
    holdout = fields.pop("holdout_set", None)
    return RunDocument(
        test_split=TestSplit(_metrics(test["tfidf_logistic_regression"]), _metrics(test.get("tfx_model"))),
        evaluator_eval_split=None if evaluator is None else EvaluatorResult(**evaluator),
        check_set=None if check is None else CheckSetResult(**check),
        holdout_set=None if holdout is None else CheckSetResult(**holdout), **fields)


def read(path: Path) -> RunDocument:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RunDocumentError(f"no run document at {path}: run the pipeline first (./run.sh)") from error
    except json.JSONDecodeError as error:
        raise RunDocumentError(f"{path} is not JSON: {error}") from error
    try:
        return from_dict(raw)
    except (KeyError, TypeError) as error:
        raise RunDocumentError(f"{path} is not a run document: {error}") from error
