"""The latest run's evaluation data as one JSON file, for the app: the one writer and reader of that file.

The report step reads TFMA/TFDV/ML Metadata once and writes the same tables it
renders into ``<pipeline.output_dir>/evaluation.json``; the app reads them back
with pandas alone, so it never imports TensorFlow Model Analysis.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import features
from common.files import write_atomically
from common.outputs import EVALUATION_FILE

TABLES = ("slices", "baseline_slices", "calibration", "thresholds", "splits", "lengths", "schema", "history")


def evaluation_path(output_dir: Path) -> Path:
    return Path(output_dir) / EVALUATION_FILE


def write(output_dir: Path, tables: dict[str, pd.DataFrame], facts: dict[str, Any]) -> Path:
    """``tables`` become lists of records; ``facts`` (run, verdict, tokens, anomalies...) are written as they are."""
    document = {**facts, **{name: json.loads(frame.to_json(orient="records", date_format="iso"))
                            for name, frame in tables.items()}}
    path = evaluation_path(output_dir)
    write_atomically(path, json.dumps(document, indent=1) + "\n")
    return path


def read(output_dir: Path) -> dict[str, Any] | None:
    """The document with its tables as DataFrames; None when no report has been written yet."""
    path = evaluation_path(output_dir)
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    for name in TABLES:
        document[name] = pd.DataFrame(document.get(name, []))
    return document


def at_threshold(table: pd.DataFrame, threshold: float = features.DECISION_THRESHOLD) -> pd.Series:
    """The row of the threshold table nearest to ``threshold`` (the served model's decision rule by default)."""
    if table.empty:
        raise ValueError("TFMA computed no ConfusionMatrixPlot for this slice")
    return table.iloc[int(np.argmin(np.abs(table["threshold"].to_numpy() - threshold)))]
