"""The hand-written check set and its scoring of a SavedModel's serving_default signature."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

import features
import signatures
from common.config import PROJECT_ROOT as ROOT
from evaluation import check_set

OWNER_WORDS = "broke|stopped|wont|missing|reset|clean|return|warranty|light"


def _keyword_model(path: Path) -> Path:
    """A real SavedModel whose serving_default says Post when a question has an owner word."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve(questions: tf.Tensor) -> dict[str, tf.Tensor]:
        hit = tf.strings.regex_full_match(tf.strings.lower(questions), f".*({OWNER_WORDS}).*")
        probability = tf.where(hit, 0.9, 0.2)
        labels = tf.gather(tf.constant(features.LABEL_VALUES), tf.cast(hit, tf.int32))
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: labels}

    tf.saved_model.save(module, str(path), signatures={signatures.SERVING_DEFAULT: serve.get_concrete_function()})
    return path


def test_check_set_is_large_balanced_like_real_data_and_unique():
    frame = check_set.read_check_set()
    assert len(frame) >= 150
    assert 0.52 < (frame[features.LABEL] == features.PRE).mean() < 0.62
    assert not frame[features.QUESTION].str.lower().duplicated().any()


def test_no_check_question_is_in_the_bundled_training_data():
    bundled = set(pd.read_csv(ROOT / "data" / "PrePostQuestions.csv.gz")[features.QUESTION].str.lower().str.strip())
    overlap = set(check_set.read_check_set()[features.QUESTION].str.lower().str.strip()) & bundled
    assert not overlap, sorted(overlap)[:5]


def test_scores_a_saved_model_through_serving_default(tmp_path):
    model_dir = _keyword_model(tmp_path / "prepost" / "7")
    result = check_set.score_saved_model(model_dir)
    frame = check_set.read_check_set()
    predicted_post = frame[features.QUESTION].str.lower().str.contains(OWNER_WORDS)
    expected_accuracy = (predicted_post == (frame[features.LABEL] == features.POST)).mean()
    assert result["examples"] == len(frame) and result["model_version"] == 7
    assert result["accuracy"] == pytest.approx(expected_accuracy)
    assert 0.5 < result["auc"] < 1.0
    assert len(result["worst_misses"]) == min(check_set.MISSES_SHOWN, round((1 - expected_accuracy) * len(frame)))


@pytest.mark.parametrize(("content", "message"), [
    ("question,answer\nis it red,Pre\n", "missing column"),
    ("question,label\nis it red,Pre\nit broke,Maybe\n", "other than Pre/Post, first on line 3: 'Maybe'"),
    ("question,label\nis it red,Pre\n ,Post\n", "empty question on line 3"),
    ("question,label\nis it red,Pre\n", "both labels"),
])
def test_a_malformed_check_set_is_refused_with_the_problem_named(tmp_path, content, message):
    path = tmp_path / "check.csv"
    path.write_text(content)
    with pytest.raises(check_set.CheckSetError, match=message):
        check_set.read_check_set(path)


def test_a_folder_without_a_saved_model_is_refused(tmp_path):
    with pytest.raises(check_set.CheckSetError, match="no SavedModel"):
        check_set.score_saved_model(tmp_path)


def test_every_pipeline_run_scores_the_pushed_model_on_the_check_set(pipeline_run):
    summary = pipeline_run["summary"]
    check = summary["check_set"]
    assert check["examples"] == len(check_set.read_check_set())
    # The figures, computed apart from evaluation/: the csv module, the pushed model's serving_default, sklearn.
    with (ROOT / "data" / "check_questions.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pushed = tf.saved_model.load(summary["pushed_model_dir"]).signatures[signatures.SERVING_DEFAULT]
    probability = pushed(**{signatures.QUESTION_INPUT: tf.constant([r["question"].strip() for r in rows])})[
        signatures.PROBABILITY_OUTPUT].numpy()
    truth = np.array([r["label"].strip() == "Post" for r in rows])
    assert check["examples"] == len(rows)
    assert check["accuracy"] == pytest.approx(np.mean((probability >= 0.5) == truth), abs=1e-9)
    assert check["auc"] == pytest.approx(roc_auc_score(truth, probability), abs=1e-6)
    assert check["model_version"] == int(Path(summary["pushed_model_dir"]).name)
