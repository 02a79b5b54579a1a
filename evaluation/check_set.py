"""Score a pushed SavedModel on the hand-written check set (data/check_questions.csv).

The check set is questions written by a person the way shoppers and owners
type them. It is never used for training, but it was used to choose among
model variants (docs/data.md), so its accuracy and AUC are optimistic for
natural questions; README also gives the figures on questions kept outside the
repository that were never used to choose. The model is called through its ``serving_default`` signature,
exactly as the model server calls it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import tensorflow as tf
from sklearn.metrics import accuracy_score, roc_auc_score

import features
from common.config import PROJECT_ROOT
from dataprep import splits
from models.pushed_models import LoadedModel
from signatures import LABEL_OUTPUT, PROBABILITY_OUTPUT

CHECK_SET_PATH = PROJECT_ROOT / "data" / "check_questions.csv"
# A second hand-written set, scored the same way but never used to choose among model variants (docs/data.md).
HOLDOUT_SET_PATH = PROJECT_ROOT / "data" / "holdout_questions.csv"
MISSES_SHOWN = 10


class CheckSetError(ValueError):
    """The check-set file is missing or malformed; the message names the problem."""


def read_check_set(path: Path = CHECK_SET_PATH) -> pd.DataFrame:
    """The check set's questions and labels, validated."""
    if not path.is_file():
        raise CheckSetError(f"check set not found: {path}")
    frame = splits.read_csv_as_text(path)
    missing = {features.QUESTION, features.LABEL} - set(frame.columns)
    if missing:
        raise CheckSetError(f"{path.name}: missing column(s) {sorted(missing)} (found {list(frame.columns)})")
    bad = frame[~frame[features.LABEL].isin(features.LABEL_VALUES)]
    if len(bad):
        raise CheckSetError(f"{path.name}: {len(bad)} label(s) other than {'/'.join(features.LABEL_VALUES)}, "
                            f"first on line {bad.index[0] + 2}: {bad[features.LABEL].iloc[0]!r}")
    empty = frame.index[frame[features.QUESTION].str.strip() == ""]
    if len(empty):
        raise CheckSetError(f"{path.name}: empty question on line {empty[0] + 2}")
    if len(set(frame[features.LABEL])) < len(features.LABEL_VALUES):
        raise CheckSetError(f"{path.name}: needs questions of both labels to compute AUC")
    return frame[[features.QUESTION, features.LABEL]]


def load_model(model_dir: Path) -> LoadedModel:
    """A SavedModel version folder (e.g. the Pusher's destination ``<model>/<version>``)."""
    if not (model_dir / "saved_model.pb").is_file():
        raise CheckSetError(f"no SavedModel in {model_dir}")
    version = int(model_dir.name) if re.fullmatch(r"\d+", model_dir.name) else 0
    return LoadedModel(version=version, path=model_dir, saved_model=tf.saved_model.load(str(model_dir)))


def score(model: LoadedModel, check_set: pd.DataFrame) -> dict[str, Any]:
    """Accuracy and AUC on the check set, and the worst misses (for a person to read)."""
    probability, predicted = model.predict(check_set[features.QUESTION].tolist())
    truth = (check_set[features.LABEL] == features.POST).to_numpy()
    misses = check_set.assign(**{PROBABILITY_OUTPUT: probability, LABEL_OUTPUT: predicted})
    misses = misses[misses[LABEL_OUTPUT] != misses[features.LABEL]]
    misses = misses.assign(error=(misses[PROBABILITY_OUTPUT] - truth[misses.index]).abs())
    worst = misses.sort_values("error", ascending=False).head(MISSES_SHOWN)
    return {
        "examples": int(len(truth)),
        "accuracy": float(accuracy_score(truth, probability >= features.DECISION_THRESHOLD)),
        "auc": float(roc_auc_score(truth, probability)),
        "model_version": model.version,
        "worst_misses": [{features.QUESTION: q, features.LABEL: lab, PROBABILITY_OUTPUT: round(float(p), 4)}
                         for q, lab, p in zip(worst[features.QUESTION], worst[features.LABEL],
                                              worst[PROBABILITY_OUTPUT], strict=True)],
    }


def score_saved_model(model_dir: Path, path: Path = CHECK_SET_PATH) -> dict[str, Any]:
    """Load a pushed model version and score it on the check set."""
    return score(load_model(model_dir), read_check_set(path))
