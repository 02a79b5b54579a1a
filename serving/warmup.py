"""SavedModel warm-up: ``assets.extra/tf_serving_warmup_requests``, written by the pipeline, replayed by the server.

TensorFlow Serving replays these PredictionLog records (a TFRecord file) before it marks a version
AVAILABLE, so the first user request does not pay for graph optimisation and table initialisation;
a record that fails fails the load. The project's server does the same (serving.versions); the serving
check (components.serving_check) writes the file, with questions from the training split, into the model
it blesses, as TFX's InfraValidator does with ``request_spec.make_warmup``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

import signatures

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_RECORDS = 1000  # TensorFlow Serving's limit on warm-up records


class WarmupError(RuntimeError):
    """A warm-up record could not be read or was refused by the model; the version must not be served."""


def predict_request(model_name: str, questions: list[str]) -> predict_pb2.PredictRequest:
    """One serving_default request over ``questions`` (what a client of this model sends)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signatures.SERVING_DEFAULT
    request.inputs[signatures.QUESTION_INPUT].CopyFrom(
        tf.make_tensor_proto([q.encode("utf-8") for q in questions], dtype=tf.string))
    return request


def write(saved_model_dir: str | Path, requests: list[predict_pb2.PredictRequest]) -> str:
    """Write the requests as PredictionLog records into the SavedModel's assets.extra; return the file.

    Through tf.io.gfile, so the SavedModel may be on cloud storage (the serving check on Kubeflow)."""
    if not 0 < len(requests) <= MAX_RECORDS:
        raise ValueError(f"warm-up needs 1 to {MAX_RECORDS} requests, got {len(requests)}")
    path = os.path.join(str(saved_model_dir), str(WARMUP_FILE))
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read(saved_model_dir: Path) -> list[predict_pb2.PredictRequest]:
    """The PredictRequests of a SavedModel's warm-up file ([] when it has none)."""
    path = Path(saved_model_dir) / WARMUP_FILE
    if not path.is_file():
        return []
    requests = []
    try:
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            if log.WhichOneof("log_type") != "predict_log":
                raise WarmupError(f"{path}: only predict_log records are supported, got {log.WhichOneof('log_type')}")
            requests.append(log.predict_log.request)
    except (tf.errors.OpError, ValueError) as exc:  # DataLossError on a corrupt file, DecodeError on a bad record
        raise WarmupError(f"{path} is not a TFRecord of PredictionLog: {exc}") from exc
    if len(requests) > MAX_RECORDS:
        raise WarmupError(f"{path} has {len(requests)} records; the limit is {MAX_RECORDS}")
    return requests


def request_inputs(request: predict_pb2.PredictRequest) -> dict[str, np.ndarray]:
    return {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
