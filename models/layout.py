"""The versioned model folder TensorFlow Serving reads: ``<model_dir>/<model_name>/<version>/saved_model.pb``.

Version folders are positive integers; the highest complete version is the newest. No TensorFlow here, so the
server, the rollout commands and the app can read the layout without the in-process loader.
"""

from __future__ import annotations

import shutil
from pathlib import Path


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
