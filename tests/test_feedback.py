"""Corrections: recorded atomically and once, safe for concurrent writers, and used in the train split only."""

from __future__ import annotations

import multiprocessing

import pytest

from dataprep import preparation as dp
from dataprep import splits
from monitoring import feedback
from tests.test_data_preparation import balanced_rows, data_config, write_csv


def test_a_correction_is_recorded_once_and_a_changed_mind_replaces_it(tmp_path):
    path = feedback.feedback_path(tmp_path)
    assert feedback.record(path, "  does it   fit a queen bed ", "Pre", 3)
    assert not feedback.record(path, "does it fit a queen bed", "Pre", 4)  # same question, same label
    assert feedback.record(path, "does it fit a queen bed", "Post", 4)
    rows = feedback.read(path)
    assert rows[["question", "label", "model_version"]].values.tolist() == [["does it fit a queen bed", "Post", "4"]]
    assert rows.columns.tolist() == feedback.COLUMNS
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left behind


@pytest.mark.parametrize(("predicted", "right", "label"), [("Pre", True, "Pre"), ("Pre", False, "Post"),
                                                            ("Post", False, "Pre")])
def test_the_label_follows_the_verdict(predicted, right, label):
    assert feedback.corrected_label(predicted, right) == label


@pytest.mark.parametrize(("question", "label", "message"), [("   ", "Pre", "empty"), ("q", "Maybe", "label"),
                                                            ("x" * 5000, "Pre", "limit")])
def test_bad_corrections_are_refused_and_nothing_is_written(tmp_path, question, label, message):
    path = feedback.feedback_path(tmp_path)
    with pytest.raises(feedback.FeedbackError, match=message):
        feedback.record(path, question, label, 1)
    assert not path.exists()


def _write_many(args: tuple[str, int]) -> None:
    folder, worker = args
    for i in range(25):
        feedback.record(feedback.feedback_path(folder), f"worker {worker} question {i}", "Post", 1)


def test_concurrent_writers_lose_nothing(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_write_many, [(str(tmp_path), w) for w in range(4)])
    rows = feedback.read(feedback.feedback_path(tmp_path))
    assert sorted(rows["question"]) == sorted(f"worker {w} question {i}" for w in range(4) for i in range(25))


def test_corrections_go_into_the_train_split_only_and_are_counted(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(120, 80))
    config = data_config(tmp_path, source, total_sample_size=100)
    path = feedback.feedback_path(tmp_path / "results")
    feedback.record(path, "the lid cracked on day two", "Post", 1)
    feedback.record(path, "is the cord long enough for a kitchen island", "Pre", 1)
    before = dp.prepare(config)
    assert before["feedback"]["rows_added"] == 0
    eval_question = splits.read_split(config.prepared_dir, "eval")["question"].iloc[0]
    feedback.record(path, eval_question, "Post", 1)  # already an eval question: must not leak into training
    manifest = dp.prepare(config, feedback_file=path)
    train = splits.read_split(config.prepared_dir, "train")
    held_out = set(splits.read_split(config.prepared_dir, "eval")["question"]) | set(
        splits.read_split(config.prepared_dir, "test")["question"])
    corrections = {"the lid cracked on day two": "Post", "is the cord long enough for a kitchen island": "Pre"}
    assert {q: lab for q, lab in zip(train["question"], train["label"], strict=True) if q in corrections} == corrections
    assert not held_out & set(corrections)
    assert manifest["feedback"]["rows_added"] == 2 and manifest["feedback"]["in_eval_or_test"] == 1
    assert manifest["rows_sampled"] == before["rows_sampled"] == 100
    assert manifest["splits"]["train"]["rows"] == len(train) == before["splits"]["train"]["rows"] + 2
    assert [manifest["splits"][s]["rows"] for s in ("eval", "test")] == [before["splits"][s]["rows"]
                                                                        for s in ("eval", "test")]


def test_a_new_correction_makes_the_up_to_date_splits_stale(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(120, 80))
    config = data_config(tmp_path, source, total_sample_size=100)
    path = feedback.feedback_path(tmp_path / "results")
    feedback.record(path, "the lid cracked on day two", "Post", 1)
    dp.prepare(config, feedback_file=path)
    feedback.record(path, "the hinge squeaks now", "Post", 1)
    assert dp.prepare(config, feedback_file=path)["feedback"]["rows_added"] == 2


def test_the_local_pipeline_hands_the_feedback_file_to_data_preparation(tmp_path):
    """Once a correction exists; before that, no file, so the step's cache key does not depend on the outputs folder."""
    import local_runner
    from common import config as configs
    from tests.helpers import write_config
    config = configs.load(write_config(tmp_path), environ={})

    def preparation_step() -> dict:
        return next(c for c in local_runner.build(config).components if c.id == "DataPreparation").exec_properties
    assert preparation_step()["feedback_file"] == ""
    path = feedback.feedback_path(config.pipeline.output_dir)
    feedback.record(path, "the lid cracked on day two", "Post", 1)
    assert preparation_step()["feedback_file"] == str(path)
