"""The versioned model folder (TF Serving's layout) and in-process calls, on a tiny SavedModel made here."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import signatures
from models import layout
from models import pushed_models as mv


class LengthModel(tf.Module):
    """P(Post) = min(1, characters / 20): easy to check, same signature names as the real model."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve(self, question):
        probability = tf.minimum(1.0, tf.cast(tf.strings.length(question), tf.float32) / 20.0)
        label = tf.where(probability >= 0.5, tf.constant("Post"), tf.constant("Pre"))
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: label}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "export"
    module = LengthModel()
    tf.saved_model.save(module, str(path), signatures={signatures.SERVING_DEFAULT: module.serve})
    return path


def complete_version(base, version, saved_model) -> None:
    import shutil
    shutil.copytree(saved_model, base / str(version))


def test_list_versions_keeps_only_positive_numeric_folders_with_a_saved_model(tmp_path, saved_model):
    for name in ["3", "10", "0", "007", "x1", "٣"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"")
    (tmp_path / "11").mkdir()  # no saved_model.pb (a push in progress)
    (tmp_path / "12").write_text("a file, not a folder")
    assert layout.list_versions(tmp_path) == [3, 7, 10]
    assert layout.list_versions(tmp_path / "missing") == []


def test_remove_incomplete_versions_deletes_only_numeric_folders_missing_a_file(tmp_path, saved_model):
    complete_version(tmp_path, 1, saved_model)
    (tmp_path / "2" / "variables").mkdir(parents=True)
    (tmp_path / "2" / "variables" / "variables.index").write_bytes(b"")  # no saved_model.pb
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "saved_model.pb").write_bytes(b"")  # no variables index
    (tmp_path / "notes").mkdir()  # not a version folder: left alone
    (tmp_path / "4").write_text("a file named like a version")
    removed = layout.remove_incomplete_versions(tmp_path)
    assert removed == [tmp_path / "2", tmp_path / "3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "4", "notes"]
    assert layout.remove_incomplete_versions(tmp_path / "missing") == []


def test_latest_version_is_the_highest_and_none_is_a_named_error(tmp_path, saved_model):
    with pytest.raises(layout.ModelNotFoundError, match=f"no model version under {tmp_path}"):
        layout.latest_version(tmp_path)
    complete_version(tmp_path, 2, saved_model)
    complete_version(tmp_path, 9, saved_model)
    assert layout.latest_version(tmp_path) == 9


def test_loaded_model_predicts_through_serving_default(tmp_path, saved_model):
    complete_version(tmp_path, 4, saved_model)
    complete_version(tmp_path, 5, saved_model)
    model = mv.LoadedModel.load(tmp_path)
    assert model.version == 5 and model.path == tmp_path / "5"
    assert mv.LoadedModel.load(tmp_path, 4).path == tmp_path / "4"
    probabilities, labels = model.predict(["short", "a question of thirty characters"])
    np.testing.assert_allclose(probabilities, [0.25, 1.0])
    assert labels == ["Pre", "Post"]


def test_predict_in_batches_equals_one_call(tmp_path, saved_model):
    complete_version(tmp_path, 1, saved_model)
    model = mv.LoadedModel.load(tmp_path)
    questions = [("q" * n) for n in range(1, 12)]
    whole = model.predict(questions)
    for batch_size in (1, 4, 11, 50):
        probabilities, labels = model.predict_in_batches(questions, batch_size)
        np.testing.assert_allclose(probabilities, whole[0])
        assert labels == whole[1]
    probabilities, labels = model.predict_in_batches([], 4)
    assert probabilities.shape == (0,) and probabilities.dtype == np.float32 and labels == []


def test_predict_of_no_question_is_empty_not_a_dtype_error(tmp_path, saved_model):
    """An empty list is still a string tensor: the signature accepts it and answers with nothing."""
    complete_version(tmp_path, 1, saved_model)
    probabilities, labels = mv.LoadedModel.load(tmp_path).predict([])
    assert probabilities.shape == (0,) and labels == []


def test_progress_bar_only_when_asked_and_names_the_version(tmp_path, saved_model, capsys):
    complete_version(tmp_path, 6, saved_model)
    model = mv.LoadedModel.load(tmp_path)
    model.predict_in_batches(["a", "b", "c"], 2)
    assert capsys.readouterr().err == ""
    model.predict_in_batches(["a", "b", "c"], 2, progress=True)
    shown = capsys.readouterr().err
    assert "infer (model version 6)" in shown and "2/2" in shown
