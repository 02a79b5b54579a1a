"""What monitoring compares: logged requests (and the training split) as rows of monitoring features.

Raw question text is almost all unique values, so a distance on it says nothing (tensorflow/data-validation#207).
Each question is therefore described by features whose distributions can move: its length in words, its first
word, whether it speaks in the first person, the class the model predicted and the P(Post) bucket. The raw
question stays in the rows (the features the model saw), with no comparator on it.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from google.protobuf.message import DecodeError

import features
import signatures
from reporting import explain

WORDS = "words"
FIRST_WORD = "first_word"
FIRST_PERSON = "first_person"
PREDICTED_LABEL = signatures.LABEL_OUTPUT  # the model's answer, as a monitoring feature
P_POST_BUCKET = "p_post_bucket"
CATEGORICAL = (FIRST_WORD, FIRST_PERSON, PREDICTED_LABEL, P_POST_BUCKET)
NUMERIC = (WORDS,)
BUCKET_EDGES = (0.2, 0.4, 0.6, 0.8)
_TOKEN = re.compile(r"[a-z0-9']+")
_FIRST_PERSON = frozenset("i i'm i've i'd i'll me my mine myself we we're we've our ours".split())


@dataclasses.dataclass(frozen=True)
class LoggedRequest:
    """One question of one logged Predict call, with its answer."""
    timestamp: int
    model_version: int
    question: str
    predicted_label: str
    probability_post: float


def p_post_bucket(probability: float) -> str:
    index = int(np.searchsorted(BUCKET_EDGES, probability, side="right"))
    lower = ([0.0] + list(BUCKET_EDGES))[index]
    return f"{lower:.1f}-{lower + 0.2:.1f}"


def derive(questions: Iterable[str], labels: Iterable[str], probabilities: Iterable[float]) -> pd.DataFrame:
    """The monitoring features of each (question, predicted label, P(Post))."""
    rows = []
    for question, label, probability in zip(questions, labels, probabilities, strict=True):
        tokens = _TOKEN.findall(question.lower())
        rows.append({features.QUESTION: question, WORDS: len(tokens), FIRST_WORD: tokens[0] if tokens else "",
                     FIRST_PERSON: "yes" if _FIRST_PERSON & set(tokens) else "no", PREDICTED_LABEL: label,
                     P_POST_BUCKET: p_post_bucket(float(probability))})
    return pd.DataFrame(rows, columns=[features.QUESTION, WORDS, *CATEGORICAL])


def read_log(files: list[Path]) -> list[LoggedRequest]:
    """Every question in the complete log files; a truncated or corrupt file is skipped with one line naming it."""
    import tensorflow as tf

    from serving import request_log
    requests: list[LoggedRequest] = []
    for path in files:
        try:
            requests += [row for record in request_log.read_records(path) for row in _rows(record)]
        except (tf.errors.OpError, DecodeError, ValueError) as exc:
            reason = getattr(exc, "message", str(exc)).splitlines()[0]
            print(f"monitor: skipped {path} (truncated or corrupt: {reason})", file=sys.stderr)
    return requests


def _rows(record) -> list[LoggedRequest]:
    log = record.predict_log
    questions = [v.decode("utf-8", "replace") for v in log.request.inputs[signatures.QUESTION_INPUT].string_val]
    outputs = log.response.outputs
    probability = outputs[signatures.PROBABILITY_OUTPUT]
    values = (np.frombuffer(probability.tensor_content, dtype=np.float32) if probability.tensor_content
              else np.array(probability.float_val, dtype=np.float32))
    labels = [v.decode("utf-8") for v in outputs[signatures.LABEL_OUTPUT].string_val]
    if not (len(questions) == len(values) == len(labels)):
        return []
    version = record.log_metadata.model_spec.version.value
    if len(questions) > 1 and questions == explain.explanation_request(questions[0]):
        questions, labels, values = questions[:1], labels[:1], values[:1]  # the app's "why": one question asked
    return [LoggedRequest(record.log_metadata.timestamp_secs, version, q, lab, float(p))
            for q, lab, p in zip(questions, labels, values, strict=True)]


def as_frame(requests: list[LoggedRequest]) -> pd.DataFrame:
    return derive([r.question for r in requests], [r.predicted_label for r in requests],
                  [r.probability_post for r in requests])


def windows(requests: list[LoggedRequest], records: int, minutes: float) -> tuple[list, list]:
    """(previous window, this window): the last ``records`` questions, or those of the last ``minutes``."""
    requests = sorted(requests, key=lambda r: r.timestamp)
    if minutes > 0 and requests:
        end = requests[-1].timestamp
        current = [r for r in requests if r.timestamp > end - minutes * 60]
        previous = [r for r in requests if end - 2 * minutes * 60 < r.timestamp <= end - minutes * 60]
        return previous, current
    return requests[-2 * records:-records] if len(requests) > records else [], requests[-records:]
