"""The Batch tab's logic: every uploaded row comes back, scored or with the reason it was not.

Pure pandas and the client's names, so it is tested without Streamlit or a server.
"""

from __future__ import annotations

import collections
import io
from collections.abc import Callable

import pandas as pd

from serving.client import LABEL_OUTPUT, MAX_QUESTION_CHARS, PROBABILITY_OUTPUT, QUESTION, Prediction

STATUS = "status"
SCORED = "scored"
EMPTY = "empty"
TOO_LONG = f"longer than {MAX_QUESTION_CHARS:,} characters"
CHUNK = 256  # questions per predict request


class UploadError(ValueError):
    """The upload is not a CSV with a question column; the message says what is wrong."""


def read_upload(data: bytes) -> pd.DataFrame:
    """Every row of the file, a blank line included (a one-column CSV writes an empty question as one)."""
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UploadError(f"Could not read that file as CSV: {error}") from error
    if QUESTION not in frame.columns:
        raise UploadError(f"The file has no '{QUESTION}' column (columns: {', '.join(frame.columns)}).")
    return frame.fillna("")


def row_status(question: str) -> str:
    """Why a question is not sent to the model (the server's client would refuse it), or SCORED."""
    if not question.strip():
        return EMPTY
    if len(question.strip()) > MAX_QUESTION_CHARS:
        return TOO_LONG
    return SCORED


def score(frame: pd.DataFrame, predict: Callable[[list[str]], list[Prediction]]) -> pd.DataFrame:
    """The upload with the predicted label, P(Post) and a status for every row (empty values where not scored)."""
    statuses = frame[QUESTION].map(row_status)
    usable = frame.index[statuses == SCORED]
    questions = frame.loc[usable, QUESTION].tolist()
    predictions: list[Prediction] = []
    for start in range(0, len(questions), CHUNK):
        predictions += predict(questions[start:start + CHUNK])
    labels = pd.Series("", index=frame.index, dtype=object)
    probabilities = pd.Series(float("nan"), index=frame.index)
    labels[usable] = [p.label for p in predictions]
    probabilities[usable] = [round(p.probability_post, 4) for p in predictions]
    return frame.assign(**{LABEL_OUTPUT: labels, PROBABILITY_OUTPUT: probabilities, STATUS: statuses})


def counts_message(result: pd.DataFrame) -> str:
    """"3 of 6 rows not scored: 2 empty, 1 longer than 2,000 characters", or that all were scored."""
    reasons = collections.Counter(status for status in result[STATUS] if status != SCORED)
    total, skipped = len(result), sum(reasons.values())
    if not skipped:
        return f"All {total:,} rows scored."
    detail = ", ".join(f"{count:,} {reason}" for reason, count in sorted(reasons.items()))
    return f"{skipped:,} of {total:,} rows not scored: {detail}"


def as_csv(result: pd.DataFrame) -> str:
    return result.to_csv(index=False)
