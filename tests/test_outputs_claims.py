"""What the session's pipeline run left behind: no pickle anywhere, and the TFX model's own test AUC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

import features
from dataprep import splits
from models.pushed_models import LoadedModel

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".dill"}


def is_pickle(path: Path) -> bool:
    """Pickle protocol 2+ starts with 0x80 and the protocol number, then an opcode."""
    with open(path, "rb") as handle:
        head = handle.read(3)
    return path.suffix.lower() in PICKLE_SUFFIXES or (len(head) == 3 and head[0] == 0x80 and 2 <= head[1] <= 5)


def test_no_pickle_files_anywhere_in_the_outputs(pipeline_run):
    config = pipeline_run["config"]
    roots = [config.pipeline.root, config.pipeline.output_dir, config.serving.model_dir, config.data.prepared_dir,
             config.pipeline.metadata_path.parent]
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    assert len(files) > 20, "the run left too few files for this check to mean anything"
    assert [str(p) for p in files if is_pickle(p)] == []


def test_tfx_models_test_auc_matches_the_pushed_model_on_the_test_split_and_beats_chance(pipeline_run):
    """The summary's test AUC, recomputed here from the test split and the pushed model (not from the report)."""
    config = pipeline_run["config"]
    test_split = splits.read_split(pipeline_run["prepared_dir"], "test")
    probabilities, _ = LoadedModel.load(config.serving.model_base_path).predict(test_split["question"].tolist())
    truth = (test_split["label"] == features.POST).to_numpy()
    auc = roc_auc_score(truth, probabilities)
    reported = pipeline_run["summary"]["test_split"]["tfx_model"]
    assert reported["examples"] == len(test_split) and abs(reported["auc"] - auc) < 1e-4
    accuracy = float(np.mean((probabilities >= features.DECISION_THRESHOLD) == truth))
    assert abs(reported["accuracy"] - accuracy) < 1e-9
    assert auc > 0.6, f"the TFX model's test AUC is {auc:.3f}: it learned next to nothing"
