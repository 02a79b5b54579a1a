"""A local server that speaks TensorFlow Serving's protocol, for machines without Docker.

It is a stand-in for the ``tensorflow/serving`` container (see docker-compose.yml),
not a replacement: the same client and app work unchanged against either.

- gRPC ``tensorflow.serving.PredictionService`` (Predict, GetModelMetadata) and
  ``tensorflow.serving.ModelService`` (GetModelStatus), through the generated
  stubs in tensorflow-serving-api.
- REST ``POST /v1/models/<name>[/versions/<v>]:predict``, ``GET /v1/models/<name>``
  and ``GET /v1/models/<name>/metadata``, with TensorFlow Serving's JSON.
- Like TensorFlow Serving it serves the highest version under the base path,
  loads a newer version without a restart, keeps the old one if the new one
  fails to load, and drains requests on SIGTERM/SIGINT.
- Binds to 127.0.0.1 unless told otherwise; requests over MAX_REQUEST_BYTES are refused.

Run: ``./run.sh serve`` (ports and paths from config.json).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
from concurrent import futures
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2, json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

import signatures
from serving import model_versions

LOG = logging.getLogger("model-server")
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the default gRPC message limit; REST uses the same
MAX_BATCH = 10_000  # questions in one request
GRPC_WORKERS = 16


class ServingError(Exception):
    """A request error with the gRPC code to answer with (mapped to HTTP for REST)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST, grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
               grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
               grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
               grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
               grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR}


class ServedModel:
    """One loaded version: its SavedModel, signature functions and SignatureDefs."""

    def __init__(self, version: int, path: Path):
        self.version = version
        self.loaded = model_versions.LoadedModel.load(path.parent, version)
        meta_graph = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes()).meta_graphs[0]
        self.signature_defs = {k: v for k, v in meta_graph.signature_def.items() if k != "__saved_model_init_op"}
        self.lock = threading.Lock()  # one TF call at a time per model keeps latency flat on 2 cores
        self.loaded.predict(["warm up"])  # trace and initialise tables before taking traffic

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        name = signature_name or signatures.SERVING_DEFAULT
        if name not in self.signature_defs:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"Serving signature name: \"{name}\" not found in signature def "
                               f"(available: {sorted(self.signature_defs)})")
        function = self.loaded.saved_model.signatures[name]
        expected = function.structured_input_signature[1]
        missing, unknown = sorted(set(expected) - set(inputs)), sorted(set(inputs) - set(expected))
        if missing or unknown:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"signature {name!r} takes inputs {sorted(expected)}; missing {missing}, unexpected {unknown}")
        tensors = {}
        for key, value in inputs.items():
            spec = expected[key]
            if spec.dtype == tf.string and value.dtype.kind not in "OSU":
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {key!r} must be DT_STRING, got {value.dtype}")
            if spec.dtype != tf.string and value.dtype.kind in "OSU":
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {key!r} must be {spec.dtype.name}, got strings")
            if not spec.shape.is_compatible_with(value.shape):
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"input {key!r} must have shape {spec.shape}, got {list(value.shape)}")
            if value.ndim and value.shape[0] > MAX_BATCH:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"batch of {value.shape[0]} is over the limit of {MAX_BATCH}")
            tensors[key] = tf.constant(value, dtype=spec.dtype)
        if any(v.ndim and v.shape[0] == 0 for v in inputs.values()):
            return self._empty_outputs(name)
        try:
            with self.lock:
                outputs = function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"the model rejected the input: {exc}") from exc
        return {k: v.numpy() for k, v in outputs.items()}


    def _empty_outputs(self, signature_name: str) -> dict[str, np.ndarray]:
        """An empty batch gets empty outputs (as TensorFlow Serving answers), without calling the model."""
        outputs = self.signature_defs[signature_name].outputs
        return {k: np.zeros((0,), dtype=object if v.dtype == tf.string.as_datatype_enum else tf.as_dtype(v.dtype).as_numpy_dtype)
                for k, v in outputs.items()}


class ModelManager:
    """Serves the highest loadable version under the base path and watches for newer ones."""

    def __init__(self, model_name: str, base_path: Path, poll_seconds: float):
        self.model_name = model_name
        self.base_path = base_path
        self.poll_seconds = poll_seconds
        self.current: ServedModel | None = None
        self.failed: dict[int, str] = {}  # version -> load error; retried only when its saved_model.pb changes
        self._failed_stamp: dict[int, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="version-watcher", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _stamp(self, version: int) -> tuple[int, int]:
        stat = (self.base_path / str(version) / "saved_model.pb").stat()
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Load the newest version not yet tried; on failure keep what is served.

        A version that failed is tried again once its saved_model.pb changes (e.g. a copy that was
        caught half-way has completed), as TensorFlow Serving retries failed loads.
        """
        versions = model_versions.list_versions(self.base_path)
        for version in [v for v in self.failed if v in versions and self._stamp(v) != self._failed_stamp.get(v)]:
            del self.failed[version]
        candidates = [v for v in versions if v not in self.failed]
        newest = candidates[-1] if candidates else None
        if newest is None or (self.current and newest <= self.current.version):
            return
        LOG.info("loading %s version %d", self.model_name, newest)
        try:
            served = ServedModel(newest, self.base_path / str(newest))
        except Exception as exc:  # noqa: BLE001 - any load failure must leave the old version serving
            self.failed[newest] = f"{type(exc).__name__}: {exc}"
            self._failed_stamp[newest] = self._stamp(newest)
            LOG.error("version %d failed to load, still serving %s: %s", newest,
                      self.current.version if self.current else "nothing", exc)
            return
        self.current = served
        LOG.info("serving %s version %d", self.model_name, newest)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except OSError as exc:  # the folder vanished or changed mid-scan; keep serving, look again next time
                LOG.warning("could not scan %s: %s", self.base_path, exc)

    def get(self, name: str, version: int | None = None) -> ServedModel:
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})")
        current = self.current
        if current is None:  # TensorFlow Serving's answer too; the message adds why
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name}): no version "
                                                          f"is loaded (base path {self.base_path}; run the pipeline)")
        if version is not None and version != current.version:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({name}, {version})")
        return current

    def status(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """TensorFlow Serving's model_version_status entries."""
        if name != self.model_name:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}")
        entries, current = [], self.current
        if current and version in (None, current.version):
            entries.append({"version": current.version, "state": "AVAILABLE", "error_code": "OK", "error_message": ""})
        for failed_version, error in sorted(self.failed.items()):
            if version in (None, failed_version):
                entries.append({"version": failed_version, "state": "END", "error_code": "UNKNOWN", "error_message": error})
        if not entries:
            which = f"version {version}" if version is not None else "any version"
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find {which} of model {name}")
        return entries


def _abort(context: grpc.ServicerContext, error: ServingError):
    context.abort(error.code, str(error))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager: ModelManager):
        self.manager = manager

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> predict_pb2.PredictResponse:  # noqa: N802
        try:
            spec = request.model_spec
            model = self.manager.get(spec.name, spec.version.value if spec.HasField("version") else None)
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as exc:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"malformed input tensor: {exc}") from exc
            outputs = model.run(spec.signature_name, inputs)
        except ServingError as error:
            _abort(context, error)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = model.version
        response.model_spec.signature_name = spec.signature_name or signatures.SERVING_DEFAULT
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "metadata_field must be ['signature_def']")
            spec = request.model_spec
            model = self.manager.get(spec.name, spec.version.value if spec.HasField("version") else None)
        except ServingError as error:
            _abort(context, error)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = model.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in model.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response.metadata["signature_def"].CopyFrom(packed)
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager: ModelManager):
        self.manager = manager

    def GetModelStatus(self, request, context):  # noqa: N802
        spec = request.model_spec
        try:
            entries = self.manager.status(spec.name, spec.version.value if spec.HasField("version") else None)
        except ServingError as error:
            _abort(context, error)
        response = get_model_status_pb2.GetModelStatusResponse()
        for entry in entries:
            status = response.model_version_status.add()
            status.version = entry["version"]
            status.state = get_model_status_pb2.ModelVersionStatus.State.Value(entry["state"])
            status.status.CopyFrom(status_pb2.StatusProto(
                error_code=0 if entry["error_code"] == "OK" else 2, error_message=entry["error_message"]))
        return response


# ---------------------------------------------------------------- REST (TensorFlow Serving's JSON API)

def _rest_inputs(body: dict[str, Any], input_names: list[str]) -> dict[str, np.ndarray]:
    """Row ('instances') or columnar ('inputs') JSON -> arrays, as TensorFlow Serving reads them."""
    if ("instances" in body) == ("inputs" in body):
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, 'the request must have exactly one of "instances" or "inputs"')
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list):
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, '"instances" must be a list')
        if rows and all(isinstance(r, dict) for r in rows):
            return {k: _array([r.get(k) for r in rows], k) for k in rows[0]}
        if len(input_names) != 1:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"name each input in the instances: {input_names}")
        return {input_names[0]: _array(rows, input_names[0])}
    columns = body["inputs"]
    if isinstance(columns, dict):
        return {k: _array(v, k) for k, v in columns.items()}
    if len(input_names) != 1:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"name each input: {input_names}")
    return {input_names[0]: _array(columns, input_names[0])}


def _array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        try:
            return np.array([v.encode("utf-8") for v in values], dtype=object)
        except UnicodeEncodeError as exc:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} is not valid Unicode: {exc}") from exc
    try:
        array = np.array(values)
    except ValueError as exc:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} is not a rectangular array") from exc
    if array.dtype == object:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} mixes types or has nulls")
    return array.astype(object) if array.size == 0 else array


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype == object or value.dtype.kind == "S":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value.tolist()]
    return value.tolist()


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


def make_rest_handler(manager: ModelManager, in_flight: InFlight) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ppq-model-server"
        timeout = 30  # seconds a connection may stall mid-request before it is dropped

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as separate writes; without this, Nagle + delayed ACK add ~40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
            LOG.debug("rest %s", format % args)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> tuple[str, int | None, str]:
            path = self.path.split("?")[0]
            if not path.startswith("/v1/models/"):
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {path}")
            rest, _, verb = path[len("/v1/models/"):].partition(":")
            parts = rest.strip("/").split("/")
            name, version, suffix = parts[0], None, ""
            if len(parts) >= 3 and parts[1] == "versions":
                if not parts[2].isdigit():
                    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"version must be a number, got {parts[2]!r}")
                version, parts = int(parts[2]), parts[:1] + parts[3:]
            if len(parts) == 2:
                suffix = parts[1]
            elif len(parts) > 2:
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {path}")
            return name, version, verb or suffix

        def do_GET(self) -> None:  # noqa: N802
            try:
                name, version, action = self._route()
                if action == "":
                    entries = manager.status(name, version)
                    self._send(200, {"model_version_status": [
                        {"version": str(e["version"]), "state": e["state"],
                         "status": {"error_code": e["error_code"], "error_message": e["error_message"]}} for e in entries]})
                elif action == "metadata":
                    model = manager.get(name, version)
                    sigs = {k: json_format.MessageToDict(v) for k, v in model.signature_defs.items()}
                    self._send(200, {"model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
                                     "metadata": {"signature_def": {"signature_def": sigs}}})
                else:
                    raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown path {self.path}")
            except ServingError as error:
                self._send(HTTP_STATUS.get(error.code, 500), {"error": str(error)})
            except Exception as exc:  # noqa: BLE001 - answer, log, and keep serving
                LOG.exception("REST request failed")
                self._send(500, {"error": f"internal error: {type(exc).__name__}"})

        def do_POST(self) -> None:  # noqa: N802
            with in_flight:
                self._answer_post()

        def _answer_post(self) -> None:
            try:
                self._post()
            except ServingError as error:
                self._send(HTTP_STATUS.get(error.code, 500), {"error": str(error)})
            except Exception as exc:  # noqa: BLE001 - answer, log, and keep serving
                LOG.exception("REST request failed")
                self.close_connection = True
                self._send(500, {"error": f"internal error: {type(exc).__name__}"})

        def _post(self) -> None:
            """Read, check and answer one :predict request (errors are raised, do_POST answers them)."""
            length_header = self.headers.get("Content-Length")
            if length_header is None or not length_header.isdigit():
                self.close_connection = True
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   "a Content-Length header with the body size in bytes is required")
            length = int(length_header)
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"request of {length} bytes is over the limit of {MAX_REQUEST_BYTES} bytes")
            raw = self.rfile.read(length)
            name, version, action = self._route()
            if action != "predict":
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"unknown method {action!r} (only :predict)")
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"JSON Parse error: {exc}") from exc
            if not isinstance(body, dict):
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "the request body must be a JSON object")
            model = manager.get(name, version)
            signature_name = body.get("signature_name") or signatures.SERVING_DEFAULT
            if not isinstance(signature_name, str):
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, '"signature_name" must be a string')
            if signature_name not in model.signature_defs:
                model.run(signature_name, {})  # raises the same INVALID_ARGUMENT as gRPC
            input_names = sorted(model.signature_defs[signature_name].inputs)
            outputs = model.run(signature_name, _rest_inputs(body, input_names))
            if "instances" in body:
                columns = {k: _jsonable(v) for k, v in outputs.items()}
                rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
                predictions = [next(iter(r.values())) for r in rows] if len(columns) == 1 else rows
                self._send(200, {"predictions": predictions})
            else:
                self._send(200, {"outputs": {k: _jsonable(v) for k, v in outputs.items()}})

    return Handler


class ModelServer:
    """gRPC and REST front ends over one ModelManager."""

    def __init__(self, model_name: str, base_path: Path, host: str = "127.0.0.1", grpc_port: int = 8500,
                 rest_port: int = 8501, poll_seconds: float = 2.0):
        self.manager = ModelManager(model_name, base_path, poll_seconds)
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(self.manager), self.grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(self.manager), self.grpc)
        self.grpc_port = self.grpc.add_insecure_port(f"{host}:{grpc_port}")
        if self.grpc_port == 0:
            raise OSError(f"cannot bind gRPC to {host}:{grpc_port} (port in use?)")
        self.in_flight = InFlight()
        self.rest = ThreadingHTTPServer((host, rest_port), make_rest_handler(self.manager, self.in_flight))
        self.rest.daemon_threads = True
        self.rest_port = self.rest.server_address[1]
        self.host = host

    def start(self) -> None:
        self.manager.start()
        self.grpc.start()
        threading.Thread(target=self.rest.serve_forever, name="rest", daemon=True).start()
        LOG.info("gRPC on %s:%d, REST on http://%s:%d", self.host, self.grpc_port, self.host, self.rest_port)

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking new requests and let in-flight ones finish (up to ``grace`` seconds)."""
        self.manager.stop()
        self.rest.shutdown()  # no new REST requests
        grpc_stopped = self.grpc.stop(grace)  # no new gRPC requests; in-flight ones get `grace` seconds
        self.in_flight.wait_idle(grace)
        self.rest.server_close()
        grpc_stopped.wait()


def serve_forever(server: ModelServer) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    current = server.manager.current
    print(f"model server: {server.manager.model_name} version {current.version if current else '(none yet)'}; "
          f"gRPC {server.host}:{server.grpc_port}, REST http://{server.host}:{server.rest_port}/v1/models/"
          f"{server.manager.model_name}", flush=True)
    while not stop.wait(1.0):
        pass
    print("model server: shutting down", flush=True)
    server.stop()
