"""REST: TensorFlow Serving's JSON API, and its Prometheus endpoint.

``POST /v1/models/<name>[/versions/<v> | /labels/<label>]:predict`` (row "instances" or columnar "inputs"),
``GET /v1/models/<name>[/versions/<v>]`` (status), ``GET /v1/models/<name>/metadata``,
``GET /monitoring/prometheus/metrics``. RestApi turns a request into (HTTP status, JSON); the
handler class only reads and writes HTTP.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format
from tensorflow_serving.apis import predict_pb2

from serving import metric_names, metrics
from serving.batching import Runner
from serving.errors import MAX_REQUEST_BYTES, ServingError, invalid
from serving.grpc_api import fill_tensor
from serving.request_log import RequestLogger
from serving.versions import ModelManager

LOG = logging.getLogger("model-server")
Route = tuple[str, int | None, str | None, str]  # model name, version, label, action ("" status, "metadata", "predict")


def route(path: str) -> Route:
    """Model name, version and action of a /v1/models/... path."""
    if not path.startswith("/v1/models/"):
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {path}")
    rest, _, verb = path[len("/v1/models/"):].partition(":")
    parts = rest.strip("/").split("/")
    name, version, label, suffix = parts[0], None, None, ""
    if len(parts) >= 3 and parts[1] == "versions":
        if not parts[2].isdigit():
            raise invalid(f"version must be a number, got {parts[2]!r}")
        version, parts = int(parts[2]), parts[:1] + parts[3:]
    elif len(parts) >= 3 and parts[1] == "labels":
        label, parts = parts[2], parts[:1] + parts[3:]
    if len(parts) == 2:
        suffix = parts[1]
    elif len(parts) > 2:
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {path}")
    return name, version, label, verb or suffix


def request_inputs(body: dict[str, Any], input_names: list[str]) -> dict[str, np.ndarray]:
    """Row ('instances') or columnar ('inputs') JSON -> arrays, as TensorFlow Serving reads them."""
    if ("instances" in body) == ("inputs" in body):
        raise invalid('the request must have exactly one of "instances" or "inputs"')
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list):
            raise invalid('"instances" must be a list')
        if rows and all(isinstance(r, dict) for r in rows):
            return {k: _array([r.get(k) for r in rows], k) for k in rows[0]}
        if len(input_names) != 1:
            raise invalid(f"name each input in the instances: {input_names}")
        return {input_names[0]: _array(rows, input_names[0])}
    columns = body["inputs"]
    if isinstance(columns, dict):
        return {k: _array(v, k) for k, v in columns.items()}
    if len(input_names) != 1:
        raise invalid(f"name each input: {input_names}")
    return {input_names[0]: _array(columns, input_names[0])}


def _array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        try:
            return np.array([v.encode("utf-8") for v in values], dtype=object)
        except UnicodeEncodeError as exc:
            raise invalid(f"input {name!r} is not valid Unicode: {exc}") from exc
    try:
        array = np.array(values)
    except ValueError as exc:
        raise invalid(f"input {name!r} is not a rectangular array") from exc
    if array.dtype == object:
        raise invalid(f"input {name!r} mixes types or has nulls")
    return array.astype(object) if array.size == 0 else array


def _jsonable(value: np.ndarray) -> list:
    if value.dtype == object or value.dtype.kind == "S":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value.tolist()]
    return value.tolist()


def as_protos(name: str, version: int, signature_name: str, inputs: dict[str, np.ndarray],
              outputs: dict[str, np.ndarray]) -> tuple[predict_pb2.PredictRequest, predict_pb2.PredictResponse]:
    """A REST call as the gRPC request and response it stands for (for the request log)."""
    request, response = predict_pb2.PredictRequest(), predict_pb2.PredictResponse()
    request.model_spec.name = response.model_spec.name = name
    request.model_spec.signature_name = response.model_spec.signature_name = signature_name
    response.model_spec.version.value = version
    for key, value in inputs.items():
        fill_tensor(request.inputs[key], np.char.encode(value, "utf-8").astype(object) if value.dtype.kind == "U"
                    else value)
    for key, value in outputs.items():
        fill_tensor(response.outputs[key], value)
    return request, response


class RestApi:
    """TensorFlow Serving's REST answers over one ModelManager; HTTP-free, so each answer is one call."""

    def __init__(self, manager: ModelManager, runner: Runner, server_metrics: metrics.ServerMetrics,
                 request_log: RequestLogger | None = None):
        self.manager, self.runner, self.metrics, self.request_log = manager, runner, server_metrics, request_log

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        name, version, label, action = route(path)
        if action == "":
            if label:
                version = self.manager.get(name, label=label).version
            return 200, {"model_version_status": [
                {"version": str(e.version), "state": e.state.name,
                 "status": {"error_code": e.error_code.name, "error_message": e.error_message}}
                for e in self.manager.status(name, version)]}
        if action == "metadata":
            model = self.manager.get(name, version, label)
            sigs = {k: json_format.MessageToDict(v) for k, v in model.signature_defs.items()}
            return 200, {"model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
                         "metadata": {"signature_def": {"signature_def": sigs}}}
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {path}")

    def predict(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        started, status, served = time.perf_counter(), "OK", []
        try:
            return 200, self._predict(path, raw, served)
        except ServingError as error:
            status = error.code.name
            raise
        except Exception:
            status = "INTERNAL"
            raise
        finally:
            self.metrics.request_done("predict", "REST", status, time.perf_counter() - started,
                                      served[0] if served else None)

    def _predict(self, path: str, raw: bytes, served: list[int]) -> dict[str, Any]:
        """The answer; ``served`` gets the version that answered (for the per-version metrics)."""
        name, version, label, action = route(path)
        if action != "predict":
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown method {action!r} (only :predict)")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise invalid(f"JSON Parse error: {exc}") from exc
        except RecursionError as exc:  # a body nested deeper than the parser's stack
            raise invalid("JSON Parse error: the body is nested too deeply") from exc
        if not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        model = self.manager.get(name, version, label)
        signature_name = body.get("signature_name") or ""
        if not isinstance(signature_name, str):
            raise invalid('"signature_name" must be a string')
        signature = model.signature(signature_name)
        inputs = request_inputs(body, sorted(signature.input_specs))
        outputs = self.runner.run(signature, inputs)
        served.append(model.version)
        if self.request_log is not None:  # logged as the PredictRequest/Response TensorFlow Serving would see
            self.request_log.log_built(lambda: as_protos(name, model.version, signature.name, inputs, outputs))
        columns = {k: _jsonable(v) for k, v in outputs.items()}
        if "inputs" in body:
            return {"outputs": columns}
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        return {"predictions": [next(iter(r.values())) for r in rows] if len(columns) == 1 else rows}


class InFlight:
    """Counts REST requests being answered, so that shutdown can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class RestServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog; socketserver's 5 drops connections when many clients connect at once

    def __init__(self, address: tuple[str, int], api: RestApi):
        super().__init__(address, RestHandler)
        self.api = api
        self.in_flight = InFlight()


class RestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ppq-model-server"
    timeout = 30  # seconds a connection may stall mid-request before it is dropped
    server: RestServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle + delayed ACK add ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        LOG.debug("rest %s", format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, call) -> None:
        try:
            status, payload = call()
        except ServingError as error:
            status, payload = error.http_status, {"error": str(error)}
        except Exception as exc:  # noqa: BLE001 - answer, log, and keep serving
            LOG.exception("REST request failed")
            self.close_connection = True
            status, payload = 500, {"error": f"internal error: {type(exc).__name__}"}
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == metric_names.PATH:
            self._send(200, self.server.api.metrics.exposition(), metrics.CONTENT_TYPE)
            return
        self._answer(lambda: self.server.api.get(path))

    def do_POST(self) -> None:  # noqa: N802
        with self.server.in_flight:
            self._answer(self._post)

    def _post(self) -> tuple[int, dict[str, Any]]:
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self.close_connection = True
            raise invalid("a Content-Length header with the body size in bytes is required")
        length = int(length_header)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"request of {length} bytes is over the limit of {MAX_REQUEST_BYTES} bytes")
        raw = self.rfile.read(length)
        return self.server.api.predict(self.path.split("?")[0], raw)
