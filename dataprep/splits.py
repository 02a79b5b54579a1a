"""The prepared-data layout: the one module that writes and reads it.

``<prepared_dir>/<split>/data.csv`` holds one split (columns ``question``,
``label``; every value a string, empty strings kept), and
``<prepared_dir>/manifest.json`` says how the splits were made. CsvExampleGen
reads the same files through ``example_gen_pattern``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import pandas as pd

SPLITS = ("train", "eval", "test")
SPLIT_FILE_NAME = "data.csv"
MANIFEST_NAME = "manifest.json"


def split_path(prepared_dir: Path, split: str) -> Path:
    return prepared_dir / split / SPLIT_FILE_NAME


def example_gen_pattern(split: str) -> str:
    """The split's files relative to the prepared folder, as CsvExampleGen's input config wants them."""
    return f"{split}/*.csv"


def read_csv_as_text(path: Path | str | IO) -> pd.DataFrame:
    """Every column as strings, empty cells as '' (a question 'NA' stays a question)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_split(prepared_dir: Path, split: str) -> pd.DataFrame:
    return read_csv_as_text(split_path(prepared_dir, split))


def read_manifest(prepared_dir: Path) -> dict[str, Any] | None:
    path = prepared_dir / MANIFEST_NAME
    return json.loads(path.read_text()) if path.is_file() else None


def upload(prepared_dir: Path, target_uri: str) -> None:
    """Copy a prepared folder to ``target_uri`` through TensorFlow's file systems (a path, ``gs://`` ...)."""
    import tensorflow as tf  # only the pipeline step needs it; ``./run.sh prepare`` stays light

    names = [MANIFEST_NAME] + [str(split_path(Path(), split)) for split in SPLITS]
    for name in names:
        target = f"{target_uri.rstrip('/')}/{name}"
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(str(prepared_dir / name), target, overwrite=True)


def write_splits(prepared_dir: Path, splits: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> None:
    """Build every split and the manifest beside the target, then swap the folder in whole.

    A failure midway leaves the previous splits untouched, so readers never see a mix of old and new files.
    """
    prepared_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{prepared_dir.name}-", dir=prepared_dir.parent))
    try:
        for split, frame in splits.items():
            split_path(staging, split).parent.mkdir()
            frame.to_csv(split_path(staging, split), index=False)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        old = prepared_dir.with_name(f".{prepared_dir.name}-old-{os.getpid()}")
        if prepared_dir.exists():
            prepared_dir.rename(old)
        staging.rename(prepared_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
