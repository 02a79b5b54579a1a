"""Corrections from people: "this answer was right / wrong", kept in one CSV file for the next training run.

The file (``<pipeline.output_dir>/feedback/feedback.csv``: question, label, model_version, time) is the
one place corrections live. Every write holds an exclusive ``fcntl`` lock on a lock file beside it, reads
the current rows, and replaces the file whole (a temporary file renamed over it), so concurrent writers
(several app sessions) lose nothing and a reader never sees half a file. A question is kept once: a later
correction of the same question replaces the earlier one (a person may change their mind).

Data preparation (dataprep.preparation) adds these rows to the train split only.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

import features

FEEDBACK_DIR = "feedback"
FEEDBACK_FILE = "feedback.csv"
COLUMNS = [features.QUESTION, features.LABEL, "model_version", "time"]
_WHITESPACE = re.compile(r"\s+")


class FeedbackError(ValueError):
    """A correction that cannot be recorded; the message says why."""


def feedback_path(output_dir: Path) -> Path:
    return Path(output_dir) / FEEDBACK_DIR / FEEDBACK_FILE


def corrected_label(predicted_label: str, answer_was_right: bool) -> str:
    """The true label from a person's verdict on the model's answer (two labels: wrong means the other one)."""
    if predicted_label not in features.LABEL_VALUES:
        raise FeedbackError(f"unknown predicted label {predicted_label!r} (expected one of {features.LABEL_VALUES})")
    if answer_was_right:
        return predicted_label
    return next(label for label in features.LABEL_VALUES if label != predicted_label)


def normalize(question: str) -> str:
    """The question as data preparation keeps it (whitespace folded), so duplicates are found the same way."""
    return _WHITESPACE.sub(" ", question).strip()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read(path: Path) -> pd.DataFrame:
    """Every correction so far (an empty table when there are none)."""
    if not Path(path).is_file():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def record(path: Path, question: str, label: str, model_version: int | str | None,
           now: datetime.datetime | None = None) -> bool:
    """Add one correction; False when the file already says the same about this question."""
    question = normalize(question)
    if not question:
        raise FeedbackError("the question is empty")
    if len(question) > features.MAX_QUESTION_CHARS:
        raise FeedbackError(f"the question has {len(question)} characters; the limit is {features.MAX_QUESTION_CHARS}")
    if label not in features.LABEL_VALUES:
        raise FeedbackError(f"label must be one of {features.LABEL_VALUES}, got {label!r}")
    when = (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds")
    with _locked(path):
        rows = read(path)
        same = rows[features.QUESTION] == question
        if (rows.loc[same, features.LABEL] == label).any():
            return False
        row = pd.DataFrame([[question, label, "" if model_version is None else str(model_version), when]],
                           columns=COLUMNS)
        _replace(path, pd.concat([rows[~same], row], ignore_index=True))
    return True


def _replace(path: Path, rows: pd.DataFrame) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="") as out:
            rows.to_csv(out, index=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
