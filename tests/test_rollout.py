"""Warm-up, load retries, version labels, the model config file, promote and rollback, on a tiny SavedModel.

The model counts its own calls in a variable, so a test can see that warm-up ran before the first request.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import requests
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

import signatures
from common import config as configs
from deploy import rollout
from serving import metric_names, model_config, warmup
from serving.client import ModelClient, ServingClientError
from serving.server import ModelServer
from serving.versions import LoadRetries, ModelManager
from tests.helpers import wait_for, write_config

NAME = "prepost"
NO_RETRIES = LoadRetries(0, 0.0)


class CountingModel(tf.Module):
    """P(Post) = min(1, characters / 20); ``calls`` counts the calls of its signature."""

    def __init__(self):
        super().__init__()
        self.calls = tf.Variable(0, dtype=tf.int64)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve(self, question):
        self.calls.assign_add(1)
        probability = tf.minimum(1.0, tf.cast(tf.strings.length(question), tf.float32) / 20.0)
        label = tf.where(probability >= 0.5, tf.constant("Post"), tf.constant("Pre"))
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: label}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "export"
    module = CountingModel()
    tf.saved_model.save(module, str(path), signatures={signatures.SERVING_DEFAULT: module.serve})
    return path


def publish(base: Path, version: int, export: Path, warmup_requests: list | None = None) -> Path:
    """A complete version appearing at once (staged beside, then renamed), with warm-up records if given."""
    staging = base.parent / f".staging-{version}"
    shutil.copytree(export, staging)
    if warmup_requests:
        warmup.write(staging, warmup_requests)
    base.mkdir(parents=True, exist_ok=True)
    staging.rename(base / str(version))
    return base / str(version)


def server_over(base: Path, config_file: Path | None = None, retries: LoadRetries = NO_RETRIES) -> ModelServer:
    server = ModelServer(NAME, base, "127.0.0.1", 0, 0, poll_seconds=0.1, batching=None, retries=retries,
                         model_config_file=config_file)
    server.start()
    return server


def client_of(server: ModelServer, **kw) -> ModelClient:
    return ModelClient("127.0.0.1", NAME, server.grpc_port, server.rest_port, **{"timeout": 10, "retries": 0, **kw})


# ---------------------------------------------------------------- warm-up

def test_warmup_records_are_replayed_during_the_load_before_any_request(tmp_path, export):
    base = tmp_path / NAME
    requests_ = [warmup.predict_request(NAME, ["is it waterproof?", "mine broke"]) for _ in range(3)]
    publish(base, 1, export, requests_)
    assert len(warmup.read(base / "1")) == 3
    manager = ModelManager(NAME, base, poll_seconds=60)
    manager.refresh()
    assert manager.status(NAME)[0].state.name == "AVAILABLE"
    assert manager.current._saved_model.calls.numpy() == 3  # replayed while loading; no request was sent

    publish(base, 2, export)  # no warm-up file: nothing is replayed (as TensorFlow Serving)
    manager.refresh()
    assert manager.current.version == 2 and manager.current._saved_model.calls.numpy() == 0


def test_a_version_whose_warmup_fails_is_never_available_and_the_old_one_keeps_serving(tmp_path, export):
    base = tmp_path / NAME
    publish(base, 1, export)
    bad = predict_pb2.PredictRequest()
    bad.model_spec.name = NAME
    bad.inputs["no_such_input"].CopyFrom(tf.make_tensor_proto([b"x"]))
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(1, 0.0))
    manager.refresh()
    publish(base, 2, export, [warmup.predict_request(NAME, ["fine"]), bad])
    manager.refresh()
    assert manager.current.version == 1 and manager.status(NAME, 2)[0].state.name == "LOADING"  # to be retried
    manager.refresh()  # the one retry
    assert manager.current.version == 1
    fresh = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(0, 0.0))
    fresh.refresh()  # started after both arrived: the newest loadable version is served
    assert fresh.current.version == 1
    states = {s.version: (s.state.name, s.error_message) for s in manager.status(NAME)}
    assert states[1] == ("AVAILABLE", "")
    assert states[2][0] == "END" and "warm-up request 2 failed" in states[2][1] and "no_such_input" in states[2][1]


def test_a_corrupt_warmup_file_fails_the_load(tmp_path, export):
    base = tmp_path / NAME
    version = publish(base, 1, export)
    (version / warmup.WARMUP_FILE).parent.mkdir()
    (version / warmup.WARMUP_FILE).write_bytes(b"not a TFRecord at all")
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(0, 0.0))
    manager.refresh()
    assert manager.current is None
    assert "is not a TFRecord of PredictionLog" in manager.status(NAME)[0].error_message


# ---------------------------------------------------------------- load retries

def copy_file_by_file(source: Path, target: Path, pause: float) -> None:
    """As a slow ``cp -r`` or a bucket upload: saved_model.pb first (the worst case), then each other file."""
    target.mkdir()
    files = sorted(p for p in source.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name != "saved_model.pb")
    for path in files:
        (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.relative_to(source))
        time.sleep(pause)


@contextlib.contextmanager
def clients_asking(server: ModelServer, count: int, question: str,
                   label: str | None = None) -> Iterator[tuple[list[list[int]], list[ServingClientError]]]:
    """``count`` clients asking ``question`` in a loop until the block ends: the versions that answered each
    of them, in order, and every failed request."""
    seen, failures, stop = [[] for _ in range(count)], [], threading.Event()

    def ask(answers: list[int]) -> None:
        with client_of(server, label=label) as client:
            while not stop.is_set():
                try:
                    answers.append(client.predict([question])[0].model_version)
                except ServingClientError as error:
                    failures.append(error)
    workers = [threading.Thread(target=ask, args=(answers,)) for answers in seen]
    for worker in workers:
        worker.start()
    try:
        yield seen, failures
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def test_a_version_copied_in_file_by_file_is_served_once_complete_with_no_failed_request(tmp_path, export, caplog):
    caplog.set_level(logging.WARNING, logger="model-server")
    base = tmp_path / NAME
    publish(base, 1, export)
    server = server_over(base, retries=LoadRetries(50, 0.2))
    try:
        with clients_asking(server, 4, "is it dishwasher safe?") as (seen, failures):
            copy_file_by_file(export, base / "2", pause=0.3)
            wait_for(lambda: all(answers and answers[-1] == 2 for answers in seen), what="version 2 to be served")
    finally:
        server.stop(grace=1)
    assert not failures, failures[:3]
    assert all(answers[0] == 1 and answers == sorted(answers) for answers in seen)
    assert "version 2 failed to load (try 1 of 51)" in caplog.text  # it was caught half-copied, and tried again


# ---------------------------------------------------------------- labels and the model config file

def grpc_predict(server: ModelServer, label: str | None = None, version: int | None = None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = NAME
    if label:
        request.model_spec.version_label = label
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[signatures.QUESTION_INPUT].CopyFrom(tf.make_tensor_proto([b"a question"]))
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=10)


def rest_predict(server: ModelServer, suffix: str) -> requests.Response:
    return requests.post(f"http://127.0.0.1:{server.rest_port}/v1/models/{NAME}{suffix}:predict",
                         json={"instances": ["a question"]}, timeout=10)


def test_labels_over_grpc_and_rest_with_tf_servings_error_for_an_unknown_label(tmp_path, export):
    base, config_file = tmp_path / NAME, tmp_path / model_config.FILE_NAME
    for version in (1, 2, 3):
        publish(base, version, export)
    config_file.write_text(model_config.render(NAME, str(base), [1, 2], {"stable": 1, "canary": 2}))
    server = server_over(base, config_file)
    try:
        assert server.manager.loaded_versions == [1, 2]  # the policy's versions, not the newest on disk
        assert grpc_predict(server, label="stable").model_spec.version.value == 1
        assert grpc_predict(server, label="canary").model_spec.version.value == 2
        assert grpc_predict(server).model_spec.version.value == 2  # no label: the newest loaded (TF Serving's Latest)
        with pytest.raises(grpc.RpcError) as info:
            grpc_predict(server, label="nope")
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == "Unrecognized servable version label: nope"
        assert rest_predict(server, "/labels/canary").status_code == 200
        assert rest_predict(server, "/versions/1").status_code == 200
        unknown = rest_predict(server, "/labels/nope")
        assert unknown.status_code == 400 and unknown.json() == {"error": "Unrecognized servable version label: nope"}
        with client_of(server, transport="rest", label="stable") as rest, client_of(server, label="canary") as rpc:
            assert rest.predict(["x"])[0].probability_post == pytest.approx(0.05)
            assert rpc.predict(["x"])[0].model_version == 2
        text = requests.get(f"http://127.0.0.1:{server.rest_port}{metric_names.PATH}", timeout=10).text
        assert f'{metric_names.VERSION_LATENCY}_count{{model_name="{NAME}",version="1"}} 3.0' in text
        assert f'{metric_names.VERSION_LATENCY}_count{{model_name="{NAME}",version="2"}} 4.0' in text
    finally:
        server.stop(grace=1)


def test_a_model_config_file_that_does_not_parse_leaves_the_previous_one_logged_and_counted(tmp_path, export, caplog):
    caplog.set_level(logging.ERROR, logger="model-server")
    base, config_file = tmp_path / NAME, tmp_path / model_config.FILE_NAME
    publish(base, 1, export)
    publish(base, 2, export)
    config_file.write_text(model_config.render(NAME, str(base), [1, 2], {"stable": 1}))
    server = server_over(base, config_file)
    try:
        config_file.write_text('model_config_list { config { name: "prepost" base_path: ')
        wait_for(lambda: "not applied, keeping the previous one" in caplog.text, what="the error in the log")
        assert server.manager.labels == {"stable": 1} and server.manager.loaded_versions == [1, 2]
        text = requests.get(f"http://127.0.0.1:{server.rest_port}{metric_names.PATH}", timeout=10).text
        assert f'{metric_names.CONFIG_ERRORS}_total{{model_name="{NAME}"}} 1.0' in text
        config_file.write_text(model_config.render(NAME, str(base), [2], {"stable": 2}))
        wait_for(lambda: server.manager.labels == {"stable": 2} and server.manager.loaded_versions == [2],
                 what="the fixed file to be applied")
    finally:
        server.stop(grace=1)


def test_model_config_refuses_what_tf_serving_would(tmp_path):
    with pytest.raises(model_config.ModelConfigError, match="exactly one model_config_list entry named 'prepost'"):
        model_config.parse(model_config.render("other", "/m"), NAME, tmp_path)
    with pytest.raises(model_config.ModelConfigError, match=r"version_labels name versions \[3\]"):
        model_config.parse(model_config.render(NAME, "/m", [1], {"stable": 3}), NAME, tmp_path)
    entry = model_config.parse(model_config.render(NAME, "m", latest=2), NAME, tmp_path)
    assert entry.base_path == tmp_path / "m" and entry.policy.choose([1, 2, 5]) == {2, 5}


# ---------------------------------------------------------------- rollout: push, promote, rollback

CANARY_VERSIONS = {"keep": 3, "rollout": "canary", "stable_label": "stable", "canary_label": "canary",
                   "previous_label": "previous"}


def rollout_config(tmp_path: Path, mode: str) -> configs.Config:
    versions = {**CANARY_VERSIONS, "rollout": mode}
    return configs.load(write_config(tmp_path, {"serving": {"model_name": NAME, "versions": versions}}), environ={})


def labels_in_file(serving) -> tuple[dict[str, int], list[int]]:
    parsed = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(serving.model_config_path.read_text(), parsed)  # TF Serving's own proto reads it
    entry = parsed.model_config_list.config[0]
    return dict(entry.version_labels), list(entry.model_version_policy.specific.versions)


def test_direct_rollout_makes_each_push_stable_and_keeps_the_previous_one_loaded(tmp_path, export):
    serving = rollout_config(tmp_path, "direct").serving
    for version in (1, 2, 3):
        publish(serving.model_base_path, version, export)
        rollout.after_push(serving, version)
    assert labels_in_file(serving) == ({"stable": 3, "previous": 2}, [1, 2, 3])
    rollout.rollback(serving, loaded={1, 2, 3})
    assert labels_in_file(serving) == ({"stable": 2}, [1, 2])  # 3 is no longer served
    before = serving.model_config_path.read_bytes()
    with pytest.raises(rollout.RolloutError, match="nothing to roll back to"):
        rollout.rollback(serving, loaded={1, 2})
    assert serving.model_config_path.read_bytes() == before


def test_promote_and_rollback_under_16_concurrent_clients_fail_no_request(tmp_path, export):
    serving = rollout_config(tmp_path, "canary").serving
    for version in (1, 2):
        publish(serving.model_base_path, version, export)
        rollout.after_push(serving, version)
    assert labels_in_file(serving) == ({"stable": 1, "canary": 2}, [1, 2])
    before = serving.model_config_path.read_bytes()
    with pytest.raises(rollout.RolloutError, match="'stable' would name version 2, which the model server has not "
                                                   r"loaded \(loaded: \[1\]\)"):
        rollout.promote(serving, loaded={1})
    assert serving.model_config_path.read_bytes() == before

    server = server_over(serving.model_base_path, serving.model_config_path)
    try:
        with clients_asking(server, 16, "will it fit my car?", label="stable") as (seen, failures):
            wait_for(lambda: all(answers for answers in seen), what="every client to be answered")
            rollout.promote(serving, set(server.manager.loaded_versions))
            wait_for(lambda: all(answers[-1] == 2 for answers in seen), what="stable to be version 2")
            assert labels_in_file(serving)[0] == {"stable": 2, "previous": 1}
            rollout.rollback(serving, set(server.manager.loaded_versions))
            wait_for(lambda: all(answers[-1] == 1 for answers in seen), what="stable to be version 1 again")
    finally:
        server.stop(grace=1)
    assert not failures, failures[:3]
    assert all(set(answers) == {1, 2} for answers in seen)


def test_first_request_bench_times_fresh_versions_with_and_without_warmup(export):
    from bench.first_request import first_request_after_reload
    figures = first_request_after_reload(export, NAME, rounds=1, steady=2)
    assert set(figures) == {"without_warmup_ms", "with_warmup_ms", "steady_ms", "rounds"}
    assert all(figures[key] > 0 for key in ("without_warmup_ms", "with_warmup_ms", "steady_ms"))


def test_cli_predicts_by_label_and_version_and_refuses_a_promote_the_server_cannot_serve(tmp_path, export, capsys):
    from pipeline import cli
    serving = rollout_config(tmp_path, "canary").serving
    for version in (1, 2):
        publish(serving.model_base_path, version, export)
        rollout.after_push(serving, version)
    (serving.model_base_path / "2" / "variables" / "variables.index").write_bytes(b"broken")  # canary cannot load
    server = server_over(serving.model_base_path, serving.model_config_path)
    try:
        path = write_config(tmp_path, {"serving": {"model_name": NAME, "grpc_port": server.grpc_port,
                                                   "rest_port": server.rest_port, "versions": CANARY_VERSIONS}})
        capsys.readouterr()
        assert cli.main(["--config", str(path), "predict", "is it loud?", "--label", "stable"]) == 0
        assert '"model_version": 1' in capsys.readouterr().out
        assert cli.main(["--config", str(path), "predict", "is it loud?", "--version", "1", "--transport", "rest"]) == 0
        assert '"probability_post": 0.55' in capsys.readouterr().out  # 11 characters / 20
        assert cli.main(["--config", str(path), "predict", "is it loud?", "--label", "canary"]) == 2
        assert "Unrecognized servable version label: canary" in capsys.readouterr().err  # version 2 never loaded
        before = serving.model_config_path.read_bytes()
        assert cli.main(["--config", str(path), "promote"]) == 2
        error = capsys.readouterr().err.strip()
        assert error == ("error: label 'stable' would name version 2, which the model server has not loaded "
                         "(loaded: [1]); the model config file is unchanged")
        assert serving.model_config_path.read_bytes() == before
    finally:
        server.stop(grace=1)


@pytest.mark.parametrize("versions, message", [
    ({"keep": 1}, 'serving.versions.keep: must be at least 2 with rollout "canary"'),
    ({"canary_label": "stable"}, "stable_label, canary_label and previous_label must differ"),
    ({"rollout": "blue-green"}, "serving.versions.rollout: 'blue-green' is not one of ['direct', 'canary']"),
])
def test_version_settings_that_cannot_work_are_refused_naming_the_key(tmp_path, versions, message):
    path = write_config(tmp_path, {"serving": {"versions": {**CANARY_VERSIONS, **versions}}})
    with pytest.raises(configs.ConfigError, match=re.escape(message)):
        configs.load(path, environ={})
