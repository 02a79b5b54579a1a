"""serving.versions on its own: signatures' input checks, loading a version with warm-up, and the ModelManager's
policy, labels, load retries (on a fake clock) and errors, with a tiny SavedModel and no server.

tests/test_rollout.py drives the same code through the gRPC and REST front ends; these tests run in seconds.
"""

from __future__ import annotations

import ast
import logging
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

import signatures
from serving import model_config, versions, warmup
from serving.errors import MAX_BATCH, ServingError
from serving.versions import LoadRetries, ModelManager, ServedModel, Signature, VersionState, VersionStatus
from tests.helpers import HANG

NAME = "prepost"
LENGTHS = "lengths"


class TinyModel(tf.Module):
    """P(Post) = min(1, characters / 20), its label through a lookup table (so the SavedModel has an init op),
    and a second signature; ``calls`` counts serving_default's calls."""

    def __init__(self):
        super().__init__()
        self.calls = tf.Variable(0, dtype=tf.int64)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant([0, 1], tf.int64), tf.constant(["Pre", "Post"])), "?")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def serve(self, question):
        self.calls.assign_add(1)
        probability = tf.minimum(1.0, tf.cast(tf.strings.length(question), tf.float32) / 20.0)
        label = self.table.lookup(tf.cast(probability >= 0.5, tf.int64))
        return {signatures.PROBABILITY_OUTPUT: probability, signatures.LABEL_OUTPUT: label}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signatures.QUESTION_INPUT)])
    def lengths(self, question):
        return {"length": tf.cast(tf.strings.length(question), tf.int64)}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "export"
    module = TinyModel()
    tf.saved_model.save(module, str(path), signatures={signatures.SERVING_DEFAULT: module.serve, LENGTHS: module.lengths})
    return path


def publish(base: Path, version: int, export: Path, warmup_requests: list | None = None) -> Path:
    target = base / str(version)
    shutil.copytree(export, target)
    if warmup_requests:
        warmup.write(target, warmup_requests)
    return target


def publish_broken(base: Path, version: int) -> Path:
    """A version folder with a saved_model.pb that is no SavedModel: listed on disk, fails to load."""
    target = base / str(version)
    target.mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"not a SavedModel")
    return target


def questions(*texts: str) -> dict[str, np.ndarray]:
    return {signatures.QUESTION_INPUT: np.array([t.encode() for t in texts], dtype=object)}


class Clock:
    """time.monotonic for serving.versions, moved by the test."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    # The versions module's own clock: patching time.monotonic itself would stop it for every thread of the worker.
    monkeypatch.setattr(versions, "time", SimpleNamespace(monotonic=fake))
    return fake


def raises(code: grpc.StatusCode, message: str, call, *args, **kwargs) -> None:
    with pytest.raises(ServingError) as info:
        call(*args, **kwargs)
    assert (info.value.code, str(info.value)) == (code, message)


# --- Signature: what a request may send ----------------------------------------------------------------------------

def a_signature(function=None, **specs: tf.TensorSpec) -> Signature:
    specs = specs or {"question": tf.TensorSpec([None], tf.string)}
    return Signature("sig", function or (lambda **kw: kw), specs, {"p": np.float32, "label": object})


def test_check_returns_the_batch_size_of_inputs_the_function_can_take():
    signature = a_signature(question=tf.TensorSpec([None], tf.string), weight=tf.TensorSpec([None, 2], tf.float32))
    assert signature.check({"question": np.array([b"a", b"b", b"c"], dtype=object),
                            "weight": np.zeros((3, 2), np.float32)}) == 3
    assert a_signature().check({"question": np.array(["x"] * MAX_BATCH)}) == MAX_BATCH  # the limit itself is fine
    assert a_signature().check({"question": np.array([b"x"], dtype="S1")}) == 1


@pytest.mark.parametrize("inputs, message", [
    ({}, "signature 'sig' takes inputs ['question']; missing ['question'], unexpected []"),
    ({"question": np.array([b"a"], dtype=object), "extra": np.array([1])},
     "signature 'sig' takes inputs ['question']; missing [], unexpected ['extra']"),
    ({"question": np.array([1, 2])}, "input 'question' must be DT_STRING, got int64"),
    ({"question": np.array([0.5])}, "input 'question' must be DT_STRING, got float64"),
    ({"question": np.array([[b"a", b"b"]], dtype=object)}, "input 'question' must have shape (None,), got [1, 2]"),
    ({"question": np.array(["x"] * (MAX_BATCH + 1))}, f"batch of {MAX_BATCH + 1} is over the limit of {MAX_BATCH}"),
])
def test_check_refuses_what_the_function_cannot_take_naming_it(inputs, message):
    raises(grpc.StatusCode.INVALID_ARGUMENT, message, a_signature().check, inputs)


def test_check_refuses_strings_for_numbers_scalars_and_batches_of_different_sizes():
    numbers = a_signature(x=tf.TensorSpec(None, tf.float32), y=tf.TensorSpec(None, tf.float32))
    raises(grpc.StatusCode.INVALID_ARGUMENT, "input 'x' must be float32, got strings", numbers.check,
           {"x": np.array(["1"]), "y": np.array([1.0])})
    raises(grpc.StatusCode.INVALID_ARGUMENT, "input 'x' must be float32, got strings", numbers.check,
           {"x": np.array([b"1"], dtype=object), "y": np.array([1.0])})
    raises(grpc.StatusCode.INVALID_ARGUMENT, "input 'x' must have shape <unknown>, got []", numbers.check,
           {"x": np.array(1.0), "y": np.array([1.0])})  # any rank is allowed, but a batch needs a first dimension
    raises(grpc.StatusCode.INVALID_ARGUMENT, "every input must have the same first dimension (the batch), got [1, 2]",
           numbers.check, {"x": np.array([1.0]), "y": np.array([1.0, 2.0])})
    assert numbers.check({"x": np.array([[1.0, 2.0]]), "y": np.array([3.0])}) == 1


def test_a_call_builds_tensors_of_the_specs_dtype_and_returns_numpy():
    seen = {}

    def function(**tensors):
        seen.update(tensors)
        return {"p": tensors["x"] * 2}
    signature = a_signature(function, x=tf.TensorSpec([None], tf.float32))
    outputs = signature({"x": np.array([1, 2])})  # ints in, as JSON gives them
    assert seen["x"].dtype == tf.float32 and isinstance(outputs["p"], np.ndarray)
    assert outputs["p"].tolist() == [2.0, 4.0]


@pytest.mark.parametrize("error", [tf.errors.InvalidArgumentError(None, None, "bad row"), ValueError("bad row"),
                                   TypeError("bad row")])
def test_a_model_refusing_the_input_is_invalid_argument_with_its_reason(error):
    def function(**tensors):
        raise error
    with pytest.raises(ServingError) as info:
        a_signature(function)(questions("a"))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(info.value).startswith("the model rejected the input: ") and "bad row" in str(info.value)


def test_a_model_failing_otherwise_is_not_blamed_on_the_input():
    def function(**tensors):
        raise RuntimeError("out of memory")
    with pytest.raises(RuntimeError, match="out of memory"):
        a_signature(function)(questions("a"))


def test_an_empty_batch_gets_empty_outputs_of_each_outputs_dtype():
    outputs = a_signature().empty_outputs()
    assert set(outputs) == {"p", "label"}
    assert (outputs["p"].shape, outputs["p"].dtype, outputs["label"].shape, outputs["label"].dtype) == \
        ((0,), np.float32, (0,), object)


# --- ServedModel: one loaded version ---------------------------------------------------------------------------------

def test_a_loaded_version_has_its_signatures_with_their_output_dtypes_and_no_init_op(tmp_path, export):
    served = ServedModel(3, publish(tmp_path / NAME, 3, export))
    assert served.version == 3
    assert set(served.signatures) == set(served.signature_defs) == {signatures.SERVING_DEFAULT, LENGTHS}
    default = served.signatures[signatures.SERVING_DEFAULT]
    assert default.name == signatures.SERVING_DEFAULT
    assert default.output_dtypes == {signatures.PROBABILITY_OUTPUT: np.float32, signatures.LABEL_OUTPUT: object}
    assert served.signatures[LENGTHS].output_dtypes == {"length": np.int64}
    assert set(default.input_specs) == {signatures.QUESTION_INPUT}
    outputs = default(questions("short", "a question longer than twenty"))
    assert outputs[signatures.LABEL_OUTPUT].tolist() == [b"Pre", b"Post"]
    assert served.signature("") is default and served.signature(LENGTHS) is served.signatures[LENGTHS]
    raises(grpc.StatusCode.INVALID_ARGUMENT,
           "Serving signature name: \"predict\" not found in signature def (available: ['lengths', 'serving_default'])",
           served.signature, "predict")


def test_warmup_replays_each_record_through_its_signature_and_a_failing_one_names_its_number(tmp_path, export):
    base = tmp_path / NAME
    records = [warmup.predict_request(NAME, ["is it waterproof?"]), warmup.predict_request(NAME, ["a", "b"])]
    lengths = warmup.predict_request(NAME, ["abc"])
    lengths.model_spec.signature_name = LENGTHS
    served = ServedModel(1, publish(base, 1, export, [*records, lengths]))
    assert served._saved_model.calls.numpy() == 2  # serving_default's records; the lengths record went to lengths
    bad = predict_pb2.PredictRequest()
    bad.model_spec.name = NAME
    bad.inputs[signatures.QUESTION_INPUT].CopyFrom(tf.make_tensor_proto([[b"x", b"y"]]))
    with pytest.raises(warmup.WarmupError, match=r"^warm-up request 3 failed: input 'question' must have shape"):
        ServedModel(2, publish(base, 2, export, [*records, bad]))
    unknown = warmup.predict_request(NAME, ["x"])
    unknown.model_spec.signature_name = "nope"
    with pytest.raises(warmup.WarmupError, match="^warm-up request 1 failed: Serving signature name: \"nope\""):
        ServedModel(4, publish(base, 4, export, [unknown]))


# --- ModelManager: which versions, labels, retries, errors -----------------------------------------------------------

def test_nothing_loaded_is_tf_servings_not_found_with_the_reason(tmp_path, clock):
    manager = ModelManager(NAME, tmp_path / NAME, poll_seconds=60)
    for _ in range(2):  # before the first refresh, and after it with nothing on disk
        assert (manager.current, manager.loaded_versions, manager.labels) == (None, [], {})
        raises(grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: stable", manager.get, NAME,
               label="stable")
        manager.refresh()
    raises(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({NAME}): no version is loaded "
                                      f"(base path {tmp_path / NAME}; run the pipeline)", manager.get, NAME)
    raises(grpc.StatusCode.NOT_FOUND, f"Could not find any version of model {NAME}", manager.status, NAME)


def test_the_newest_version_is_served_and_the_older_one_unloaded(tmp_path, export, clock, caplog):
    base = tmp_path / NAME
    publish(base, 1, export)
    manager = ModelManager(NAME, base, poll_seconds=60)
    with caplog.at_level(logging.INFO, logger="model-server"):
        manager.refresh()
        assert manager.loaded_versions == [1] and manager.current.version == 1
        publish(base, 2, export)
        manager.refresh()
    assert manager.loaded_versions == [2] and manager.current is manager.get(NAME) is manager.get(NAME, 2)
    assert manager.status(NAME) == [VersionStatus(2, VersionState.AVAILABLE)]
    assert [m for m in caplog.messages if m.endswith("version 2")] == [f"loading {NAME} version 2",
                                                                      f"serving {NAME} version 2"]
    assert f"unloaded {NAME} version 1" in caplog.messages
    raises(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({NAME}, 1)", manager.get, NAME, 1)
    raises(grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(other)", manager.get, "other")
    raises(grpc.StatusCode.NOT_FOUND, "Could not find any versions of model other", manager.status, "other")
    raises(grpc.StatusCode.NOT_FOUND, f"Could not find version 1 of model {NAME}", manager.status, NAME, 1)
    assert manager.status(NAME, 2) == [VersionStatus(2, VersionState.AVAILABLE, grpc.StatusCode.OK, "")]


def test_a_failing_version_is_retried_on_its_interval_then_given_up_and_the_served_one_stays(tmp_path, export, clock,
                                                                                               caplog, monkeypatch):
    base = tmp_path / NAME
    publish(base, 1, export)
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(max_retries=2, interval_seconds=30.0))
    manager.refresh()
    tries = []
    real = versions.ServedModel
    monkeypatch.setattr(versions, "ServedModel", lambda version, path: tries.append(version) or real(version, path))
    publish_broken(base, 2)
    with caplog.at_level(logging.WARNING, logger="model-server"):
        manager.refresh()  # try 1
        [loading] = [s for s in manager.status(NAME) if s.version == 2]
        assert (loading.state, loading.error_code) == (VersionState.LOADING, grpc.StatusCode.UNKNOWN)
        assert loading.error_message.startswith("OSError: Cannot parse file")  # the exception's type, then its text
        clock.now += 29.9
        manager.refresh()  # too early: not tried
        assert tries == [2] and manager.current.version == 1
        clock.now += 0.1
        manager.refresh()  # try 2
        assert tries == [2, 2]
        clock.now += 30
        manager.refresh()  # try 3 of 3: given up
    assert tries == [2, 2, 2] and manager.current.version == 1 and manager.failed.keys() == {2}
    assert manager.status(NAME) == [VersionStatus(1, VersionState.AVAILABLE),
                                    VersionStatus(2, VersionState.END, grpc.StatusCode.UNKNOWN, manager.failed[2])]
    assert manager.failed[2] == loading.error_message
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[0] == f"version 2 failed to load (try 1 of 3), trying again in 30 s: {loading.error_message}"
    assert warnings[-1] == f"version 2 failed to load (3 tries), giving up: {loading.error_message}"
    assert caplog.records[-1].levelno == logging.ERROR and len(warnings) == 3
    clock.now += 1000
    manager.refresh()
    assert tries == [2, 2, 2]  # never tried again


def test_a_version_that_loads_on_a_retry_is_served_and_no_longer_reported_loading(tmp_path, export, clock):
    base = tmp_path / NAME
    broken = publish_broken(base, 1)
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(max_retries=1, interval_seconds=5.0))
    manager.refresh()
    assert manager.current is None and [s.state for s in manager.status(NAME)] == [VersionState.LOADING]
    shutil.rmtree(broken)
    publish(base, 1, export)  # the copy completed
    clock.now += 5
    manager.refresh()
    assert manager.current.version == 1 and manager.status(NAME) == [VersionStatus(1, VersionState.AVAILABLE)]


def test_with_no_retries_a_failed_newest_version_falls_back_to_the_older_one_in_the_same_refresh(tmp_path, export,
                                                                                                 clock):
    base = tmp_path / NAME
    publish(base, 1, export)
    publish_broken(base, 2)
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(0, 0.0))
    manager.refresh()
    assert manager.loaded_versions == [1] and list(manager.failed) == [2]


def test_the_default_retries_are_tf_servings():
    """--max_num_load_retries=5 and --load_retry_interval_micros=60000000, TensorFlow Serving's defaults."""
    assert versions.TF_SERVING_RETRIES == LoadRetries(5, 60.0) == LoadRetries()
    assert ModelManager(NAME, Path("/nowhere"), poll_seconds=1).retries == LoadRetries(5, 60.0)


def write_model_config(path: Path, base: Path, served: list[int], labels: dict[str, int]) -> Path:
    path.write_text(model_config.render(NAME, str(base), served, labels))
    return path


def test_the_model_config_file_chooses_versions_and_labels_and_a_bad_one_keeps_the_previous(tmp_path, export, clock,
                                                                                           caplog):
    base = tmp_path / "elsewhere" / NAME
    for version in (1, 2, 3):
        publish(base, version, export)
    errors = []
    config = write_model_config(tmp_path / "models.config", base, [1, 2], {"stable": 1, "canary": 2})
    manager = ModelManager(NAME, tmp_path / "unused", poll_seconds=60, model_config_file=config,
                           on_config_error=errors.append)
    with caplog.at_level(logging.INFO, logger="model-server"):
        manager.refresh()
    policy = model_config.VersionPolicy("specific", versions=(1, 2))
    head, _, labels = caplog.messages[0].partition(", labels ")
    assert head == f"model config file {config}: policy {policy}"
    assert ast.literal_eval(labels) == {"canary": 2, "stable": 1}  # the proto map's order is not fixed
    caplog.clear()
    assert manager.base_path == base  # the file's base_path replaces the one given
    assert manager.loaded_versions == [1, 2] and manager.labels == {"stable": 1, "canary": 2}
    assert manager.get(NAME, label="stable").version == 1 and manager.get(NAME, label="canary").version == 2
    assert manager.current.version == 2  # a request naming neither gets the highest loaded version
    raises(grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: beta", manager.get, NAME,
           label="beta")
    manager.labels["stable"] = 3
    assert manager.labels["stable"] == 1  # a copy: callers cannot change what is served

    config.write_text("model_config_list { config { name: ")
    with caplog.at_level(logging.ERROR, logger="model-server"):
        manager.refresh()
        manager.refresh()  # the same bad file: reported once
    assert len(errors) == 1 and errors[0].startswith(f"model config file {config} not applied, keeping the previous "
                                                     "one: not a ModelServerConfig text proto")
    assert caplog.messages == errors
    assert manager.loaded_versions == [1, 2] and manager.labels == {"stable": 1, "canary": 2}

    write_model_config(config, base, [2, 3], {"stable": 2, "canary": 3})
    manager.refresh()
    assert manager.loaded_versions == [2, 3] and manager.labels == {"stable": 2, "canary": 3}
    config.unlink()
    manager.refresh()  # a file removed: the last one stays in force
    assert manager.loaded_versions == [2, 3] and len(errors) == 1


def test_a_label_naming_a_version_not_loaded_keeps_its_old_version_served_and_is_logged_once(tmp_path, export, clock,
                                                                                           caplog):
    base = tmp_path / NAME
    publish(base, 1, export)
    publish(base, 2, export)
    config = write_model_config(tmp_path / "models.config", base, [1, 2], {"stable": 1, "canary": 2})
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(0, 0.0), model_config_file=config)
    manager.refresh()
    publish_broken(base, 3)
    write_model_config(config, base, [2, 3], {"stable": 2, "canary": 3, "beta": 3})
    with caplog.at_level(logging.WARNING, logger="model-server"):
        manager.refresh()
        expected = ["version labels not applied yet: 'beta' names version 3, which is not loaded, "
                    "'canary' names version 3, which is not loaded"]
        assert [m for m in caplog.messages if m.startswith("version labels")] == expected  # at once
        manager.refresh()
        manager.refresh()
    assert manager.labels == {"stable": 2, "canary": 2}  # the canary label stays where it was
    assert manager.loaded_versions == [2]
    assert [m for m in caplog.messages if m.startswith("version labels")] == expected  # and only once

    publish_broken(base, 4)  # a new label on a version that never loads is not there; a label dropped is gone
    write_model_config(config, base, [2, 4], {"stable": 2, "beta": 4})
    manager.refresh()
    assert manager.labels == {"stable": 2} and manager.loaded_versions == [2]


def test_an_old_version_a_label_still_names_stays_loaded_until_the_label_moves(tmp_path, export, clock):
    base = tmp_path / NAME
    for version in (1, 2):
        publish(base, version, export)
    config = write_model_config(tmp_path / "models.config", base, [1], {"stable": 1})
    manager = ModelManager(NAME, base, poll_seconds=60, model_config_file=config)
    manager.refresh()
    write_model_config(config, base, [2, 3], {"stable": 3})  # 3 is not on disk yet
    manager.refresh()
    assert manager.loaded_versions == [1, 2] and manager.labels == {"stable": 1}
    publish(base, 3, export)
    manager.refresh()
    assert manager.loaded_versions == [2, 3] and manager.labels == {"stable": 3}


def test_the_watcher_applies_new_versions_and_survives_a_failed_scan(tmp_path, export, monkeypatch, caplog):
    base = tmp_path / NAME
    publish(base, 1, export)
    manager = ModelManager(NAME, base, poll_seconds=0.01)
    real_list, scans, calls = versions.layout.list_versions, threading.Semaphore(0), []

    def list_versions(path):
        if Path(path) != base:  # another manager in this process (the session's model server) scans too
            return real_list(path)
        calls.append(path)
        scans.release()
        if len(calls) == 2:  # the watcher's first scan (the first is start's own refresh)
            raise FileNotFoundError(f"{path} vanished")
        return real_list(path)
    monkeypatch.setattr(versions.layout, "list_versions", list_versions)
    with caplog.at_level(logging.WARNING, logger="model-server"):
        manager.start()
        assert manager.current.version == 1  # loaded by start itself, before any poll
        publish(base, 2, export)
        for _ in range(3):
            assert scans.acquire(timeout=HANG), "the watcher stopped polling"
        deadline = threading.Event()
        while manager.current.version != 2:
            assert not deadline.wait(0.01) and scans.acquire(timeout=HANG), "the new version was never loaded"
    watcher = manager._thread  # other managers (the session's model server) may have watchers of their own
    assert watcher in threading.enumerate() and watcher.name == "version-watcher"  # named in thread dumps
    assert watcher.daemon  # never keeps the process alive at exit
    manager.stop()
    assert f"could not scan {base}: {base} vanished" in caplog.messages
    manager._thread.join(HANG)
    assert not manager._thread.is_alive()


def test_wanted_versions_load_newest_first_and_each_is_served_as_soon_as_it_is_loaded(tmp_path, export, clock,
                                                                                      monkeypatch):
    """The newest is what a request naming no version gets, so it is loaded (and served) before the older ones."""
    base = tmp_path / NAME
    for version in (1, 2, 3):
        publish(base, version, export)
    config = write_model_config(tmp_path / "models.config", base, [1, 2, 3], {})
    manager = ModelManager(NAME, base, poll_seconds=60, model_config_file=config)
    seen, real = [], versions.ServedModel

    def load(version: int, path: Path) -> ServedModel:
        seen.append((version, manager.loaded_versions, manager.current and manager.current.version))
        return real(version, path)
    monkeypatch.setattr(versions, "ServedModel", load)
    manager.refresh()
    assert seen == [(3, [], None), (2, [3], 3), (1, [2, 3], 3)]
    assert manager.loaded_versions == [1, 2, 3]


def test_old_versions_stay_until_every_wanted_version_is_loaded_or_given_up(tmp_path, export, clock):
    base = tmp_path / NAME
    publish(base, 1, export)
    config = write_model_config(tmp_path / "models.config", base, [1], {})
    manager = ModelManager(NAME, base, poll_seconds=60, retries=LoadRetries(1, 10.0), model_config_file=config)
    manager.refresh()
    publish(base, 2, export)
    publish_broken(base, 3)  # being copied in: fails, to be tried again in 10 s
    write_model_config(config, base, [2, 3], {})
    manager.refresh()
    assert manager.loaded_versions == [1, 2]  # 3 is still to come: 1 is kept
    clock.now += 10
    manager.refresh()  # 3 given up: the wanted versions are all in, 1 goes
    assert manager.loaded_versions == [2] and list(manager.failed) == [3]


def test_a_policy_naming_no_version_on_disk_keeps_serving_what_is_loaded(tmp_path, export, clock):
    base = tmp_path / NAME
    publish(base, 1, export)
    config = write_model_config(tmp_path / "models.config", base, [1], {})
    manager = ModelManager(NAME, base, poll_seconds=60, model_config_file=config)
    manager.refresh()
    write_model_config(config, base, [9], {})  # a typo, or a version not pushed yet
    manager.refresh()
    assert manager.loaded_versions == [1] and manager.get(NAME).version == 1
