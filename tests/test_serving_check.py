"""The serving check: a real model server subprocess over the candidate; the standard Pusher obeys its InfraBlessing.

The component's executor and TFX's Pusher executor run here directly on tiny SavedModels and a few
tf.Examples, so a broken candidate costs seconds, not a pipeline run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
from google.protobuf import json_format
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts

import features
import signatures
from components import serving_check
from models.layout import list_versions
from serving import warmup
from tests.test_rollout import CountingModel

NAME = "prepost"
QUESTIONS = ["does it fit a queen bed?", "mine arrived broken, what now?", "is it machine washable?"]


class TwoColumnModel(tf.Module):
    """Loads and answers, but its probability has two columns per question: a shape no client expects."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve(self, question):
        probability = tf.fill(tf.stack([tf.size(question), 2]), 0.5)
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: tf.fill([tf.size(question)], "Pre")}


def save(module: tf.Module, path: Path) -> Path:
    tf.saved_model.save(module, str(path), signatures={signatures.SERVING_DEFAULT: module.serve})
    return path


def artifact(cls, uri: Path, **int_properties):
    instance = cls()
    instance.uri = str(uri)
    for key, value in int_properties.items():
        instance.set_int_custom_property(key, value)
    return instance


def trainer_model(tmp: Path, corrupt: bool = False):
    """A Model artifact in the Trainer's layout (Format-Serving); ``corrupt`` overwrites the variables' data."""
    serving_dir = save(CountingModel(), tmp / "model" / "Format-Serving")
    if corrupt:
        for data in (serving_dir / "variables").glob("variables.data-*"):
            data.write_bytes(b"\0" * data.stat().st_size)
    return artifact(standard_artifacts.Model, tmp / "model")


def examples(tmp: Path):
    split = tmp / "examples" / "Split-train"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for question in QUESTIONS:
            feature = {features.QUESTION: tf.train.Feature(bytes_list=tf.train.BytesList(value=[question.encode()]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    result = artifact(standard_artifacts.Examples, tmp / "examples")
    result.split_names = json.dumps(["train"])
    return result


def check_then_push(tmp: Path, model) -> tuple[standard_artifacts.InfraBlessing, standard_artifacts.PushedModel, Path]:
    """The ServingCheck executor, then TFX's Pusher executor as the pipeline wires them (no model= input)."""
    blessing = artifact(standard_artifacts.InfraBlessing, tmp / "infra_blessing")
    os.makedirs(blessing.uri)
    evaluator_blessing = artifact(standard_artifacts.ModelBlessing, tmp / "blessing", blessed=1)
    serving_check.ServingCheck.EXECUTOR_SPEC.executor_class().Do(
        {"model": [model], "model_blessing": [evaluator_blessing], "examples": [examples(tmp)]},
        {"blessing": [blessing]}, {"model_name": NAME, "warmup_requests": 2, "max_load_seconds": 120.0})
    pushed = artifact(standard_artifacts.PushedModel, tmp / "pushed")
    os.makedirs(pushed.uri)
    destination = tmp / "serving" / NAME
    push_destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(destination)))
    pusher_executor.Executor().Do({"model_blessing": [evaluator_blessing], "infra_blessing": [blessing]},
                                  {"pushed_model": [pushed]},
                                  {"push_destination": json_format.MessageToJson(push_destination)})
    return blessing, pushed, destination


def test_the_pipeline_pushes_the_checked_copy_with_a_warmup_of_training_questions(pipeline_run):
    """The session's run: ServingCheck passed, and the pushed version carries warm-up records of train questions."""
    from dataprep import splits
    from reporting.run_artifacts import latest_run, open_store
    config = pipeline_run["config"]
    run = latest_run(open_store(config.pipeline.metadata_path))
    assert run.serving_check.startswith("passed: served and answered"), run.serving_check
    records = warmup.read(Path(pipeline_run["summary"]["pushed_model_dir"]))
    questions = [r.inputs[signatures.QUESTION_INPUT].string_val[0].decode() for r in records]
    train = set(splits.read_csv_as_text(splits.split_path(pipeline_run["prepared_dir"], "train"))[features.QUESTION])
    assert len(questions) == config.serving.warmup_requests and set(questions) <= train


def test_a_candidate_with_corrupted_variables_is_not_pushed_and_says_why_in_one_line(tmp_path, capsys):
    blessing, pushed, destination = check_then_push(tmp_path, trainer_model(tmp_path, corrupt=True))
    reason = blessing.get_string_custom_property("reason")
    assert blessing.get_int_custom_property("blessed") == 0 and (Path(blessing.uri) / "INFRA_NOT_BLESSED").is_file()
    assert reason.startswith("the model server could not load it:") and "\n" not in reason, reason
    assert pushed.get_int_custom_property("pushed") == 0 and list_versions(destination) == []
    assert f"serving check: NOT passed: {reason}" in capsys.readouterr().out


def test_a_signature_answering_the_wrong_shape_is_stopped(tmp_path):
    candidate = save(TwoColumnModel(), tmp_path / "candidate")
    requests = [warmup.predict_request(NAME, QUESTIONS[:1])]
    result = serving_check.check_candidate(str(candidate), NAME, requests, max_load_seconds=120)
    assert not result.passed
    assert result.reason == "request 1: output 'probability_post' has shape [1, 2] for 1 question(s); expected [1]"


def test_a_candidate_slower_to_load_than_the_bound_is_stopped(tmp_path):
    candidate = save(CountingModel(), tmp_path / "candidate")
    result = serving_check.check_candidate(str(candidate), NAME, [warmup.predict_request(NAME, ["x"])],
                                           max_load_seconds=0.01)
    assert not result.passed and result.reason == ("the model server did not load it within 0.01 s "
                                                   "(serving.check_max_load_seconds)")


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    """Every server the check started is stopped (no child process survives a test)."""
    yield
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    if children.is_file():
        assert children.read_text().split() == [], "a model server subprocess was left running"
