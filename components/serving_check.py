"""The serving check: the candidate model in a real model server, before the Pusher may push it.

TFX's InfraValidator does this with TensorFlow Serving in local Docker or Kubernetes only; this step runs
the project's own model server (serving.main, TensorFlow Serving's protocol) as a subprocess on a free
loopback port, so it runs wherever the pipeline does, Kubeflow included. Like InfraValidator with
``request_spec.make_warmup``, it writes the candidate with a warm-up file (serving.warmup: PredictRequests
of real training-split questions) into its ``InfraBlessing`` artifact, checks that copy, and the standard
Pusher takes it with ``infra_blessing=`` and pushes that copy, so every pushed version carries its warm-up.

Blessed only when the server loads it (warm-up replayed) within ``max_load_seconds``, and every warm-up
request, sent over gRPC with tensorflow-serving-api's stubs, is answered with one probability in [0, 1]
and one known label per question, equal to the in-process ``serving_default`` answer. The verdict is
InfraValidator's (``blessed`` 0/1, INFRA_BLESSED / INFRA_NOT_BLESSED) plus a one-line ``reason``.
"""

# No "from __future__ import annotations" here: TFX's component decorator reads the annotations as types.
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

import features
import signatures

BLESSED_KEY, MODEL_FLAG_KEY, REASON_KEY = "blessed", "has_model", "reason"  # InfraValidator's keys, and the why
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"
TOLERANCE = 1e-5  # server and in-process answers are the same computation; only float formatting may differ


@dataclasses.dataclass(frozen=True)
class CheckResult:
    passed: bool
    reason: str  # one line
    load_seconds: float | None = None


def training_questions(examples: standard_artifacts.Examples, count: int, split: str = "train") -> list[str]:
    """The first ``count`` questions of a split of the ExampleGen's tf.Examples."""
    import tensorflow as tf
    files = sorted(tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count).map(
        lambda record: tf.io.parse_single_example(record, {features.QUESTION: tf.io.FixedLenFeature([], tf.string)}))
    questions = [row[features.QUESTION].numpy().decode("utf-8") for row in dataset]
    if not questions:
        raise ValueError(f"the examples artifact has no questions in its {split!r} split")
    return questions


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _wait_until_loaded(process: subprocess.Popen, channel: grpc.Channel, model_name: str,
                       max_load_seconds: float) -> str | None:
    """None once the version is AVAILABLE; else why it is not (failed, exited, too slow)."""
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model_name
    started = time.monotonic()
    while time.monotonic() - started < max_load_seconds:
        if process.poll() is not None:
            return f"the model server exited with code {process.returncode} before the model loaded"
        try:
            statuses = stub.GetModelStatus(request, timeout=2).model_version_status
        except grpc.RpcError:
            statuses = []  # not listening yet, or no version reported yet
        for status in statuses:
            if status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE:
                return None
            if status.state == get_model_status_pb2.ModelVersionStatus.END:
                return f"the model server could not load it: {status.status.error_message}"
        time.sleep(0.2)
    return f"the model server did not load it within {max_load_seconds:g} s (serving.check_max_load_seconds)"


def _compare(response, expected: dict[str, np.ndarray]) -> str | None:
    """None when the answer has the right shape and range and equals the in-process one; else what is wrong."""
    import tensorflow as tf
    rows = len(expected[signatures.PROBABILITY_OUTPUT])
    for key in (signatures.PROBABILITY_OUTPUT, signatures.LABEL_OUTPUT):
        if key not in response.outputs:
            return f"the answer has no {key!r} output (outputs: {sorted(response.outputs)})"
        shape = [d.size for d in response.outputs[key].tensor_shape.dim]
        if shape != [rows]:
            return f"output {key!r} has shape {shape} for {rows} question(s); expected [{rows}]"
    probabilities = tf.make_ndarray(response.outputs[signatures.PROBABILITY_OUTPUT]).astype(np.float64)
    labels = [label.decode("utf-8") for label in response.outputs[signatures.LABEL_OUTPUT].string_val]
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        return f"probabilities outside [0, 1]: {probabilities.tolist()}"
    if set(labels) - {features.PRE, features.POST}:
        return f"unknown labels {sorted(set(labels) - {features.PRE, features.POST})}"
    if not np.allclose(probabilities, expected[signatures.PROBABILITY_OUTPUT], atol=TOLERANCE, rtol=0):
        return (f"the server's probabilities {probabilities.tolist()} differ from the in-process serving_default's "
                f"{expected[signatures.PROBABILITY_OUTPUT].tolist()}")
    if labels != [label.decode("utf-8") for label in expected[signatures.LABEL_OUTPUT]]:
        return "the server's labels differ from the in-process serving_default's"
    return None


def _answers_match(channel: grpc.Channel, model_dir: Path, requests: list) -> str | None:
    """Send each request over gRPC and compare with the SavedModel called here; None when all match."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from serving import warmup
    serving_fn = tf.saved_model.load(str(model_dir)).signatures[signatures.SERVING_DEFAULT]
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    for index, request in enumerate(requests, start=1):
        try:
            response = stub.Predict(request, timeout=30)
        except grpc.RpcError as exc:
            return f"request {index} failed: {exc.code().name}: {exc.details()}"
        inputs = {key: tf.constant(value) for key, value in warmup.request_inputs(request).items()}
        expected = {key: value.numpy() for key, value in serving_fn(**inputs).items()}
        problem = _compare(response, expected)
        if problem:
            return f"request {index}: {problem}"
    return None


def check_candidate(model_dir: str, model_name: str, requests: list, max_load_seconds: float) -> CheckResult:
    """Serve ``model_dir`` alone in a model server subprocess, send ``requests``, compare; always stop the server."""
    from common.config import PROJECT_ROOT
    from common.ports import free_port
    work = Path(tempfile.mkdtemp(prefix="serving-check-"))
    process, log = None, open(work / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    try:
        base = work / model_name
        io_utils.copy_dir(model_dir, str(base / "1"))  # tf.io.gfile: the candidate may be on cloud storage
        grpc_port, rest_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.main", f"--port={grpc_port}", f"--rest_api_port={rest_port}",
             f"--model_name={model_name}", f"--model_base_path={base}", "--max_num_load_retries=0",
             "--file_system_poll_wait_seconds=0.5"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            problem = _wait_until_loaded(process, channel, model_name, max_load_seconds)
            load_seconds = time.monotonic() - started
            if problem:
                return CheckResult(False, _one_line(problem), load_seconds)
            problem = _answers_match(channel, base / "1", requests)
        if problem:
            return CheckResult(False, _one_line(problem), load_seconds)
        return CheckResult(True, f"served and answered {len(requests)} warm-up requests like the in-process model "
                                 f"(loaded in {load_seconds:.1f} s)", load_seconds)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _mark(blessing: standard_artifacts.InfraBlessing, result: CheckResult, has_model: bool) -> None:
    io_utils.write_string_file(os.path.join(blessing.uri, BLESSED_FILE if result.passed else NOT_BLESSED_FILE), "")
    blessing.set_int_custom_property(BLESSED_KEY, int(result.passed))
    blessing.set_int_custom_property(MODEL_FLAG_KEY, int(has_model))
    blessing.set_string_custom_property(REASON_KEY, result.reason)
    print(f"serving check: {'passed' if result.passed else 'NOT passed'}: {result.reason}", flush=True)


@component
def ServingCheck(  # noqa: N802 - a TFX component is named like a class
    model: InputArtifact[standard_artifacts.Model],
    model_blessing: InputArtifact[standard_artifacts.ModelBlessing],
    examples: InputArtifact[standard_artifacts.Examples],
    blessing: OutputArtifact[standard_artifacts.InfraBlessing],
    model_name: Parameter[str] = "prepost",
    warmup_requests: Parameter[int] = 8,
    max_load_seconds: Parameter[float] = 120.0,
) -> None:
    """Bless (for the Pusher) the Evaluator-blessed model with a warm-up file, if a model server serves it right."""
    from serving import warmup
    if model_blessing.get_int_custom_property("blessed") != 1:
        _mark(blessing, CheckResult(False, "not checked: the Evaluator did not bless the model"), has_model=False)
        return
    candidate = path_utils.stamped_model_path(blessing.uri)
    io_utils.copy_dir(path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model)), candidate)
    requests = [warmup.predict_request(model_name, [question])
                for question in training_questions(examples, warmup_requests)]
    warmup.write(candidate, requests)
    result = check_candidate(candidate, model_name, requests, max_load_seconds)
    if not result.passed:
        io_utils.delete_dir(candidate)  # a model that cannot be served is never pushed, so it is not kept
    _mark(blessing, result, has_model=result.passed)
