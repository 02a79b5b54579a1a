"""The one client of the model server (TensorFlow Serving or the local stand-in).

gRPC by default (TensorFlow Serving's PredictionService stub), REST as an
option. Timeouts on every call; retries with exponential backoff while the
server is UNAVAILABLE; every failure surfaces as a ServingClientError whose
``kind`` a caller can show ("unavailable", "not_found", "invalid_argument", ...).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import numpy as np
import requests
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import signatures
from features import MAX_QUESTION_CHARS, POST, PRE, QUESTION
from serving import metric_names
from signatures import LABEL_OUTPUT, PROBABILITY_OUTPUT

# The model's vocabulary as the client's callers (the app) see it; defined once, in features.py.
__all__ = ["LABEL_OUTPUT", "MAX_QUESTION_CHARS", "POST", "PRE", "PROBABILITY_OUTPUT", "QUESTION", "ModelClient", "Prediction",
           "ServingClientError"]
T = TypeVar("T")


class ServingClientError(RuntimeError):
    """A call failed; ``kind`` names why in words a UI can show."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class Prediction:
    question: str
    label: str
    probability_post: float
    model_version: int | None  # None over REST: TensorFlow Serving's JSON answer does not carry it

    @property
    def confidence(self) -> float:
        """Probability of the predicted label."""
        return self.probability_post if self.label == POST else 1.0 - self.probability_post


# CANCELLED from the server: gRPC cancels calls it had queued but not started when a server shuts down.
# Predict, metadata and status have no side effects, so such a call is retried like UNAVAILABLE.
_GRPC_KINDS = {grpc.StatusCode.UNAVAILABLE: "unavailable", grpc.StatusCode.CANCELLED: "unavailable",
               grpc.StatusCode.DEADLINE_EXCEEDED: "timeout",
               grpc.StatusCode.NOT_FOUND: "not_found", grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
               grpc.StatusCode.RESOURCE_EXHAUSTED: "too_large", grpc.StatusCode.FAILED_PRECONDITION: "invalid_argument"}
_HTTP_KINDS = {400: "invalid_argument", 404: "not_found", 413: "too_large", 429: "too_large", 503: "unavailable"}


def string_tensor(values: list[str]) -> tensor_pb2.TensorProto:
    """A DT_STRING TensorProto built directly (no TensorFlow import on the client's hot path)."""
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(values))]),
        string_val=[v.encode("utf-8") for v in values],
    )


def floats(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """DT_FLOAT values, whether sent packed (tensor_content) or as float_val (servers do both)."""
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=np.float32)
    return np.array(proto.float_val, dtype=np.float32)


def validate_questions(questions: list[str]) -> list[str]:
    """Refuse what the model cannot usefully answer, before a network call."""
    if not questions:
        raise ServingClientError("invalid_argument", "no question given")
    cleaned = [q.strip() if isinstance(q, str) else q for q in questions]
    for index, question in enumerate(cleaned):
        if not isinstance(question, str) or not question:
            raise ServingClientError("invalid_argument", f"question {index + 1} is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ServingClientError("invalid_argument",
                                     f"question {index + 1} has {len(question)} characters; the limit is "
                                     f"{MAX_QUESTION_CHARS}")
    return cleaned


class ModelClient:
    """Predict, metadata and status calls against one model on one server."""

    def __init__(self, host: str, model_name: str, grpc_port: int = 8500, rest_port: int = 8501,
                 transport: str = "grpc", timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 label: str | None = None, version: int | None = None, request_log: Any = None):
        """``label`` or ``version``: ask for that version (model_spec.version_label / version, REST's
        /labels/<label> or /versions/<n>) instead of the newest the server has loaded. ``request_log``: a
        serving.request_log.RequestLogger, where the server cannot log (serving.logging.client_side)."""
        if transport not in ("grpc", "rest"):
            raise ValueError(f"transport must be 'grpc' or 'rest', got {transport!r}")
        if label and version is not None:
            raise ValueError("ask for a label or a version, not both")
        self.label, self.version = label or None, version
        self.host, self.model_name, self.transport = host, model_name, transport
        self.grpc_address = f"{host}:{grpc_port}"
        self.rest_port = rest_port
        self.rest_url = f"http://{host}:{rest_port}/v1/models/{model_name}"
        self.rest_predict_url = self.rest_url + (f"/labels/{label}" if label else
                                                 f"/versions/{version}" if version is not None else "") + ":predict"
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.request_log = request_log
        self._channel = grpc.insecure_channel(self.grpc_address)
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self._session = requests.Session()

    def close(self) -> None:
        self._channel.close()
        self._session.close()

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        return self.grpc_address if self.transport == "grpc" else self.rest_url

    # ------------------------------------------------------------------ calls

    def predict(self, questions: list[str]) -> list[Prediction]:
        questions = validate_questions(questions)
        transport = self._grpc_predict if self.transport == "grpc" else self._rest_predict

        def call() -> list[Prediction]:  # an answer with too few or too many rows is a server_error (zip raises)
            probabilities, labels, version = transport(questions)
            return [Prediction(q, lab, float(p), version)
                    for q, p, lab in zip(questions, probabilities, labels, strict=True)]
        return self._with_retries(call)

    def status(self) -> list[dict[str, Any]]:
        """The model's versions and states, as TensorFlow Serving reports them."""
        if self.transport == "rest":
            return self._with_retries(lambda: self._rest_get(""))["model_version_status"]

        def call() -> list[dict[str, Any]]:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = self.model_name
            response = self._model_stub.GetModelStatus(request, timeout=self.timeout)
            return [{"version": str(s.version), "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
                     "status": {"error_code": s.status.error_code, "error_message": s.status.error_message}}
                    for s in response.model_version_status]
        return self._with_retries(call)

    def metadata(self) -> dict[str, Any]:
        """Served version and the serving_default signature's inputs and outputs."""
        if self.transport == "rest":
            raw = self._with_retries(lambda: self._rest_get("/metadata"))
            signature = raw["metadata"]["signature_def"]["signature_def"][signatures.SERVING_DEFAULT]
            return {"version": int(raw["model_spec"]["version"]), "inputs": sorted(signature["inputs"]),
                    "outputs": sorted(signature["outputs"])}

        def call() -> dict[str, Any]:
            request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
            request.model_spec.name = self.model_name
            response = self._predict_stub.GetModelMetadata(request, timeout=self.timeout)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(signature_map)
            signature = signature_map.signature_def[signatures.SERVING_DEFAULT]
            return {"version": response.model_spec.version.value, "inputs": sorted(signature.inputs),
                    "outputs": sorted(signature.outputs)}
        return self._with_retries(call)

    def metrics_text(self) -> str:
        """The server's Prometheus metrics text (TensorFlow Serving's endpoint on the REST port), as scraped."""
        url = f"http://{self.host}:{self.rest_port}{metric_names.PATH}"

        def call() -> str:
            response = self._session.get(url, timeout=self.timeout)
            if response.status_code != 200:
                raise ServingClientError(_HTTP_KINDS.get(response.status_code, "server_error"),
                                         f"HTTP {response.status_code} from {url}")
            return response.text
        return self._with_retries(call)

    def is_up(self) -> bool:
        try:
            return any(s["state"] == "AVAILABLE" for s in self.status())
        except ServingClientError:
            return False

    # ------------------------------------------------------------------ transports

    def _grpc_predict(self, questions: list[str]) -> tuple[np.ndarray, list[str], int]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signatures.SERVING_DEFAULT
        if self.label:
            request.model_spec.version_label = self.label
        elif self.version is not None:
            request.model_spec.version.value = self.version
        request.inputs[signatures.QUESTION_INPUT].CopyFrom(string_tensor(questions))
        response = self._predict_stub.Predict(request, timeout=self.timeout)
        if self.request_log is not None:
            self.request_log.log(request, response)
        probabilities = floats(response.outputs[PROBABILITY_OUTPUT])
        labels = [v.decode("utf-8") for v in response.outputs[LABEL_OUTPUT].string_val]
        return probabilities, labels, response.model_spec.version.value

    def _rest_predict(self, questions: list[str]) -> tuple[np.ndarray, list[str], None]:
        body = {"signature_name": signatures.SERVING_DEFAULT, "instances": questions}
        response = self._session.post(self.rest_predict_url, json=body, timeout=self.timeout)
        rows = self._rest_json(response)["predictions"]
        probabilities = np.array([r[PROBABILITY_OUTPUT] for r in rows])
        return probabilities, [r[LABEL_OUTPUT] for r in rows], None  # REST answers carry no version

    def _rest_get(self, suffix: str) -> dict[str, Any]:
        return self._rest_json(self._session.get(self.rest_url + suffix, timeout=self.timeout))

    @staticmethod
    def _rest_json(response: requests.Response) -> dict[str, Any]:
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ServingClientError(_HTTP_KINDS.get(response.status_code, "server_error"),
                                     f"HTTP {response.status_code}: {message}")
        return response.json()

    def _with_retries(self, call: Callable[[], T]) -> T:
        """Retry UNAVAILABLE (server down or restarting) with exponential backoff; map errors to kinds."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except grpc.RpcError as exc:
                error = ServingClientError(_GRPC_KINDS.get(exc.code(), "server_error"),
                                           f"{exc.code().name}: {exc.details()} ({self.grpc_address})")
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timeout" if isinstance(exc, requests.Timeout) else "unavailable"
                error = ServingClientError(kind, f"cannot reach {self.rest_url}: {type(exc).__name__}")
            except ServingClientError as exc:  # an HTTP error status; 503 is retried like gRPC's UNAVAILABLE
                error = exc
            except (requests.RequestException, ValueError, KeyError, IndexError) as exc:
                error = ServingClientError("server_error", f"unexpected answer from {self.address}: "
                                                           f"{type(exc).__name__}: {exc}")
            if error.kind != "unavailable" or attempt == self.retries:
                if error.kind == "unavailable":
                    error = ServingClientError("unavailable", f"model server at {self.address} is not answering "
                                                              f"({self.retries + 1} tries): {error}")
                raise error
            time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")
