"""The versioned model folder TensorFlow Serving reads, and in-process calls of a version.

Layout: ``<model_dir>/<model_name>/<version>/saved_model.pb``, version a
positive integer; the highest complete version is the one served.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

import signatures


class ModelNotFoundError(FileNotFoundError):
    """No complete model version under the base path."""


def list_versions(base_path: Path) -> list[int]:
    """Numeric version folders that hold a saved_model.pb, ascending (others are ignored, as TF Serving does)."""
    if not base_path.is_dir():
        return []
    return sorted(int(p.name) for p in base_path.iterdir()
                  if p.name.isascii() and p.name.isdigit() and int(p.name) > 0 and (p / "saved_model.pb").is_file())


def remove_incomplete_versions(base_path: Path) -> list[Path]:
    """Delete version folders a killed push left behind (no saved_model.pb or no variables index).

    TFX's Pusher copies saved_model.pb last, so a push cut short leaves a folder
    without it; TensorFlow Serving would try (and fail) to load such a folder.
    Run before a pipeline run, never while a push is in progress.
    """
    removed = []
    for folder in sorted(base_path.iterdir()) if base_path.is_dir() else []:
        complete = (folder / "saved_model.pb").is_file() and (folder / "variables" / "variables.index").is_file()
        if folder.is_dir() and folder.name.isascii() and folder.name.isdigit() and not complete:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def latest_version(base_path: Path) -> int:
    versions = list_versions(base_path)
    if not versions:
        raise ModelNotFoundError(f"no model version under {base_path}: run the pipeline first (./run.sh)")
    return versions[-1]


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
