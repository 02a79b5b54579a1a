"""In-process calls of one pushed version (``infer``, ``predict --in-process``, the check set).

The folder layout it loads from is models/layout.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

import signatures
from models.layout import latest_version


@dataclasses.dataclass
class LoadedModel:
    """One SavedModel version, called in-process through its serving_default signature."""
    version: int
    path: Path
    saved_model: object

    @classmethod
    def load(cls, base_path: Path, version: int | None = None) -> LoadedModel:
        version = latest_version(base_path) if version is None else version
        path = base_path / str(version)
        return cls(version=version, path=path, saved_model=tf.saved_model.load(str(path)))

    @property
    def serving_fn(self):
        return self.saved_model.signatures[signatures.SERVING_DEFAULT]

    def predict(self, questions: list[str]) -> tuple[np.ndarray, list[str]]:
        """P(Post) and the predicted label for each question."""
        outputs = self.serving_fn(**{signatures.QUESTION_INPUT: tf.constant(questions, dtype=tf.string)})
        labels = [v.decode("utf-8") for v in outputs[signatures.LABEL_OUTPUT].numpy()]
        return outputs[signatures.PROBABILITY_OUTPUT].numpy(), labels

    def predict_in_batches(self, questions: list[str], batch_size: int, progress: bool = False,
                           ) -> tuple[np.ndarray, list[str]]:
        """predict() over a long list, ``batch_size`` questions a call (with a progress bar if asked)."""
        starts = range(0, len(questions), batch_size)
        probabilities, labels = [], []
        for start in tqdm(starts, desc=f"infer (model version {self.version})", disable=not progress):
            batch_probabilities, batch_labels = self.predict(questions[start:start + batch_size])
            probabilities.append(batch_probabilities)
            labels += batch_labels
        return (np.concatenate(probabilities) if probabilities else np.zeros(0, np.float32)), labels
