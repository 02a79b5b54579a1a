"""The serving client against scripted servers: a gRPC server built on tensorflow-serving-api's servicers and a
plain HTTP server, so that retries, backoff and every error kind can be counted without a model.

Each scripted server answers call N with ``script[N]`` (the last entry repeats) and records the calls it got.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import features
import signatures
from reporting import server_load
from serving import client as client_module
from serving.client import ModelClient, Prediction, ServingClientError, floats, validate_questions
from tests.helpers import HANG, free_port, recording_sleep

MODEL = "prepost"
VERSION = 7


class Script:
    """What the fake server answers, call after call, and what it was asked."""

    def __init__(self, *steps):
        self.steps, self.calls, self.times = list(steps), [], []
        self.lock = threading.Lock()

    def next(self, request) -> object:
        with self.lock:
            self.calls.append(request)
            self.times.append(time.monotonic())
            return self.steps[min(len(self.calls), len(self.steps)) - 1]


def play(script: Script, request, context) -> object:
    """The script's next step for a gRPC call: a status code aborts the call, a float is a delay first, an
    Event holds the answer until the test sets it (so a client that returns meanwhile gave up by itself)."""
    step = script.next(request)
    if isinstance(step, grpc.StatusCode):
        context.abort(step, f"scripted {step.name}")
    if isinstance(step, float):
        time.sleep(step)
    if isinstance(step, threading.Event):
        step.wait(HANG)
        step = 0.0
    return step


def float_tensor(values, packed: bool) -> tensor_pb2.TensorProto:
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(values))])
    if packed:
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape,
                                      tensor_content=np.asarray(values, np.float32).tobytes())
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=values)


def probability_of(question: str) -> float:
    """The fake model: a probability derived from the question, so answers can be told apart."""
    return round((len(question) % 10) / 10 + 0.05, 2)


class FakePrediction(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, script: Script, packed: bool = True):
        self.script, self.packed = script, packed

    def Predict(self, request, context):  # noqa: N802
        step = play(self.script, request, context)
        questions = [q.decode() for q in request.inputs[signatures.QUESTION_INPUT].string_val]
        probabilities = [probability_of(q) for q in questions]
        if step == "one row short":
            probabilities = probabilities[:-1]
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = VERSION
        response.outputs[signatures.PROBABILITY_OUTPUT].CopyFrom(float_tensor(probabilities, self.packed))
        response.outputs[signatures.LABEL_OUTPUT].string_val.extend(
            [(features.POST if p >= 0.5 else features.PRE).encode() for p in probabilities])
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        play(self.script, request, context)
        if list(request.metadata_field) != ["signature_def"]:  # TensorFlow Serving knows only this one
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {list(request.metadata_field)} is not "
                                                            "supported")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        signature = signature_map.signature_def[signatures.SERVING_DEFAULT]
        signature.inputs[signatures.QUESTION_INPUT].name = "q:0"
        signature.outputs[signatures.PROBABILITY_OUTPUT].name = "p:0"
        signature.outputs[signatures.LABEL_OUTPUT].name = "l:0"
        signature_map.signature_def["other"].inputs["x"].name = "x:0"
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = VERSION
        response.metadata["signature_def"].Pack(signature_map)
        return response


class FakeModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, script: Script):
        self.script = script

    def GetModelStatus(self, request, context):  # noqa: N802
        step = play(self.script, request, context)
        if isinstance(step, float):
            step = []
        response = get_model_status_pb2.GetModelStatusResponse()
        for version, state, message in step:
            entry = response.model_version_status.add()
            entry.version = version
            entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state)
            entry.status.error_code = 0 if not message else 2
            entry.status.error_message = message
        return response


def start_grpc(script: Script, port: int = 0, packed: bool = True) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(FakePrediction(script, packed), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(FakeModelService(script), server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port


@pytest.fixture
def grpc_server():
    started = []

    def start(*steps, packed: bool = True) -> tuple[Script, int]:
        script = Script(*steps)
        server, port = start_grpc(script, packed=packed)
        started.append(server)
        return script, port
    yield start
    for server in started:
        server.stop(0)


def grpc_client(port: int, **kw) -> ModelClient:
    return ModelClient("127.0.0.1", MODEL, grpc_port=port, rest_port=1, transport="grpc",
                       **{"timeout": 2, "retries": 3, "backoff": 0.1, **kw})


# ---------------------------------------------------------------- gRPC

@pytest.mark.parametrize("packed", [True, False])
def test_grpc_predictions_carry_question_label_probability_and_version(grpc_server, packed):
    script, port = grpc_server("ok", packed=packed)
    questions = ["  is it blue?  ", "mine broke, now what?"]
    with grpc_client(port) as client:
        predictions = client.predict(questions)
    request = script.calls[0]
    assert request.model_spec.name == MODEL and request.model_spec.signature_name == signatures.SERVING_DEFAULT
    tensor = request.inputs[signatures.QUESTION_INPUT]
    assert tensor.dtype == types_pb2.DT_STRING and [d.size for d in tensor.tensor_shape.dim] == [2]
    assert [p.question for p in predictions] == ["is it blue?", "mine broke, now what?"]
    assert [p.probability_post for p in predictions] == pytest.approx([probability_of(q) for q in
                                                                       ["is it blue?", "mine broke, now what?"]])
    assert [p.label for p in predictions] == ["Post" if probability_of(q) >= 0.5 else "Pre"
                                              for q in ["is it blue?", "mine broke, now what?"]]
    assert {p.model_version for p in predictions} == {VERSION}


def test_unavailable_is_retried_with_exponential_backoff_until_it_answers(grpc_server):
    script, port = grpc_server(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, "ok")
    with grpc_client(port, retries=3, backoff=0.3) as client:
        try:
            outcome = client.predict(["is it red?"])[0].model_version
        except Exception as exc:  # noqa: BLE001 - whatever the client ends with, the calls are checked first
            outcome = exc
    assert len(script.calls) == 3, f"{len(script.calls)} call(s) reached the server, then: {outcome!r}"
    assert outcome == VERSION
    gaps = np.diff(script.times)
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps  # backoff * 2 ** attempt


def test_backoff_doubles_from_the_given_base(grpc_server, monkeypatch):
    """The waits themselves (recorded, then slept), so the factor is checked exactly, not as a lower bound."""
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", recording_sleep(slept))
    _, port = grpc_server(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, "ok")
    with grpc_client(port, retries=3, backoff=0.05) as client:
        client.predict(["is it red?"])
    assert slept == pytest.approx([0.05, 0.1, 0.2])


def test_defaults_are_tf_servings_ports_and_three_retries_from_0_2_s_with_10_s_timeouts():
    with ModelClient("localhost", MODEL) as client:
        assert (client.grpc_address, client.rest_url) == ("localhost:8500", f"http://localhost:8501/v1/models/{MODEL}")
        assert (client.transport, client.timeout, client.retries, client.backoff) == ("grpc", 10.0, 3, 0.2)


def test_unavailable_gives_up_after_retries_plus_one_attempts(grpc_server):
    script, port = grpc_server(grpc.StatusCode.UNAVAILABLE)
    started = time.monotonic()
    with grpc_client(port, retries=2, backoff=0.2) as client, pytest.raises(ServingClientError) as info:
        client.predict(["hello?"])
    assert len(script.calls) == 3 and time.monotonic() - started >= 0.2 + 0.4
    assert info.value.kind == "unavailable" and "3 tries" in str(info.value) and "127.0.0.1" in str(info.value)


def test_a_server_that_comes_up_late_is_reached_by_a_retry():
    port = free_port()
    script = Script("ok")
    started: list[grpc.Server] = []
    timer = threading.Timer(0.8, lambda: started.append(start_grpc(script, port)[0]))
    timer.start()
    try:
        begin = time.monotonic()
        with grpc_client(port, retries=6, backoff=0.2, timeout=1) as client:
            prediction = client.predict(["does it ship today?"])[0]
        elapsed = time.monotonic() - begin
    finally:
        timer.join()
        for server in started:
            server.stop(0)
    assert prediction.model_version == VERSION and len(script.calls) == 1
    assert elapsed >= 0.8


@pytest.mark.parametrize("code, kind", [
    (grpc.StatusCode.NOT_FOUND, "not_found"),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "too_large"),
    (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"),
    (grpc.StatusCode.FAILED_PRECONDITION, "invalid_argument"),
    (grpc.StatusCode.INTERNAL, "server_error"),
])
def test_grpc_errors_map_to_kinds_and_are_not_retried(grpc_server, code, kind):
    script, port = grpc_server(code, "ok")
    with grpc_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["is it loud?"])
    assert info.value.kind == kind and len(script.calls) == 1
    assert code.name in str(info.value) and f"scripted {code.name}" in str(info.value)


def test_a_slow_answer_is_a_timeout_and_not_retried(grpc_server):
    """The server holds its answer until the client has given up: only the client's own timeout ends the call."""
    gate = threading.Event()
    script, port = grpc_server(gate, "ok")
    try:
        with grpc_client(port, timeout=0.3) as client, pytest.raises(ServingClientError) as info:
            client.predict(["slow?"])
    finally:
        gate.set()
    assert info.value.kind == "timeout" and len(script.calls) == 1


def test_an_answer_with_a_row_missing_is_a_server_error(grpc_server):
    _, port = grpc_server("one row short")
    with grpc_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["is it red?", "is it blue?"])
    assert info.value.kind == "server_error" and "unexpected answer from" in str(info.value)


@pytest.mark.parametrize("call", ["status", "metadata"])
def test_slow_status_and_metadata_calls_time_out_too(grpc_server, http_server, call):
    gate = threading.Event()
    try:
        for transport, (script, port) in (("grpc", grpc_server(gate)), ("rest", http_server(gate))):
            client = (grpc_client if transport == "grpc" else rest_client)(port, timeout=0.3)
            with client, pytest.raises(ServingClientError) as info:
                getattr(client, call)()  # the server answers only once the gate opens, after this
            assert info.value.kind == "timeout" and len(script.calls) == 1, (transport, info.value)
    finally:
        gate.set()


def test_floats_are_float32_whether_packed_or_listed():
    for packed in (True, False):
        values = floats(float_tensor([0.15, 0.5], packed))
        assert values.dtype == np.float32 and values.tolist() == pytest.approx([0.15, 0.5]), packed


def test_grpc_status_and_metadata_are_read_from_the_protos(grpc_server):
    script, port = grpc_server([(3, "AVAILABLE", ""), (4, "END", "broken file")])
    with grpc_client(port) as client:
        assert client.status() == [
            {"version": "3", "state": "AVAILABLE", "status": {"error_code": 0, "error_message": ""}},
            {"version": "4", "state": "END", "status": {"error_code": 2, "error_message": "broken file"}}]
        assert client.is_up() is True
    assert script.calls[0].model_spec.name == MODEL
    _, port = grpc_server("metadata")
    with grpc_client(port) as client:
        assert client.metadata() == {"version": VERSION, "inputs": [signatures.QUESTION_INPUT],
                                     "outputs": sorted([signatures.LABEL_OUTPUT, signatures.PROBABILITY_OUTPUT])}


def test_is_up_needs_an_available_version(grpc_server):
    _, port = grpc_server([(4, "END", "broken file")])
    with grpc_client(port) as client:
        assert client.is_up() is False
    with grpc_client(free_port(), retries=0) as client:
        assert client.is_up() is False


# ---------------------------------------------------------------- REST

class HttpScript(Script):
    """Steps: (status, body) with body a dict (JSON), bytes (sent as is), or a float (stall that long)."""


def make_handler(script: HttpScript):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, body: bytes) -> None:
            step = script.next((self.command, self.path, body))
            if isinstance(step, threading.Event):
                step.wait(HANG)
                step = 0.0
            if isinstance(step, float):
                time.sleep(step)
                step = (200, {"predictions": []})
            status, payload = step
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            self.answer(self.rfile.read(int(self.headers["Content-Length"])))

        def do_GET(self) -> None:  # noqa: N802
            self.answer(b"")
    return Handler


class ScriptedHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up on purpose (its timeout) leaves a broken pipe; any other error is printed."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@pytest.fixture
def http_server():
    started = []

    def start(*steps) -> tuple[HttpScript, int]:
        script = HttpScript(*steps)
        server = ScriptedHttpServer(("127.0.0.1", 0), make_handler(script))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return script, server.server_address[1]
    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def rest_client(port: int, **kw) -> ModelClient:
    return ModelClient("127.0.0.1", MODEL, grpc_port=1, rest_port=port, transport="rest",
                       **{"timeout": 2, "retries": 3, "backoff": 0.1, **kw})


PREDICTED = (200, {"predictions": [{signatures.PROBABILITY_OUTPUT: 0.75, signatures.LABEL_OUTPUT: "Post"},
                                   {signatures.PROBABILITY_OUTPUT: 0.25, signatures.LABEL_OUTPUT: "Pre"}]})


def test_rest_predict_posts_tf_serving_json_and_reads_rows(http_server):
    script, port = http_server(PREDICTED)
    with rest_client(port) as client:
        predictions = client.predict(["does it fit?", " broke "])
    method, path, body = script.calls[0]
    assert (method, path) == ("POST", f"/v1/models/{MODEL}:predict")
    assert json.loads(body) == {"signature_name": signatures.SERVING_DEFAULT, "instances": ["does it fit?", "broke"]}
    assert predictions == [Prediction("does it fit?", "Post", 0.75, None), Prediction("broke", "Pre", 0.25, None)]


def test_rest_503_is_unavailable_and_retried_with_backoff(http_server):
    script, port = http_server((503, {"error": "loading"}), (503, {"error": "loading"}), PREDICTED)
    with rest_client(port, backoff=0.3) as client:
        assert len(client.predict(["a?", "b?"])) == 2
    gaps = np.diff(script.times)
    assert len(script.calls) == 3 and gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps


def test_rest_503_for_good_is_unavailable_after_all_tries(http_server):
    script, port = http_server((503, {"error": "no version"}))
    with rest_client(port, retries=1) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert info.value.kind == "unavailable" and len(script.calls) == 2
    assert "2 tries" in str(info.value) and "HTTP 503: no version" in str(info.value)


@pytest.mark.parametrize("status, kind", [(400, "invalid_argument"), (404, "not_found"), (413, "too_large"),
                                          (429, "too_large"), (500, "server_error"), (502, "server_error")])
def test_rest_statuses_map_to_kinds_and_are_not_retried(http_server, status, kind):
    script, port = http_server((status, {"error": f"scripted {status}"}), PREDICTED)
    with rest_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert info.value.kind == kind and len(script.calls) == 1
    assert str(info.value) == f"HTTP {status}: scripted {status}"


def test_rest_error_without_json_keeps_the_text(http_server):
    _, port = http_server((500, b"<html>proxy error</html>"))
    with rest_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert info.value.kind == "server_error" and str(info.value) == "HTTP 500: <html>proxy error</html>"


def test_rest_error_json_without_an_error_field_keeps_the_text(http_server):
    _, port = http_server((500, {"detail": "disk full"}))
    with rest_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert str(info.value) == 'HTTP 500: {"detail": "disk full"}'


@pytest.mark.parametrize("payload, reason", [(b"not json", "JSONDecodeError: "), ({"outputs": {}}, "KeyError: 'predictions'"),
                                             ({"predictions": [{"wrong": 1}]},
                                              f"KeyError: '{signatures.PROBABILITY_OUTPUT}'")])
def test_rest_unexpected_answers_are_server_errors(http_server, payload, reason):
    script, port = http_server((200, payload))
    with rest_client(port) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert info.value.kind == "server_error"
    assert str(info.value).startswith(f"unexpected answer from http://127.0.0.1:{port}/v1/models/{MODEL}: {reason}")
    assert len(script.calls) == 1


def test_rest_stall_is_a_timeout(http_server):
    gate = threading.Event()
    script, port = http_server(gate)
    try:
        with rest_client(port, timeout=0.3) as client, pytest.raises(ServingClientError) as info:
            client.predict(["a?"])
    finally:
        gate.set()
    assert info.value.kind == "timeout" and len(script.calls) == 1


def test_rest_nobody_listening_is_unavailable_after_retries():
    started = time.monotonic()
    with rest_client(free_port(), retries=2, backoff=0.2) as client, pytest.raises(ServingClientError) as info:
        client.predict(["a?"])
    assert info.value.kind == "unavailable" and "3 tries" in str(info.value)
    assert str(info.value).endswith(f"cannot reach {client.rest_url}: ConnectionError")
    assert time.monotonic() - started >= 0.2 + 0.4


def test_rest_status_and_metadata(http_server):
    status = {"model_version_status": [{"version": "3", "state": "AVAILABLE",
                                        "status": {"error_code": "OK", "error_message": ""}}]}
    sigs = {signatures.SERVING_DEFAULT: {"inputs": {signatures.QUESTION_INPUT: {}},
                                         "outputs": {signatures.PROBABILITY_OUTPUT: {}, signatures.LABEL_OUTPUT: {}}}}
    metadata = {"model_spec": {"name": MODEL, "version": "3"}, "metadata": {"signature_def": {"signature_def": sigs}}}
    script, port = http_server((200, status), (200, metadata))
    with rest_client(port) as client:
        assert client.status() == status["model_version_status"]
        assert client.metadata() == {"version": 3, "inputs": [signatures.QUESTION_INPUT],
                                     "outputs": sorted([signatures.LABEL_OUTPUT, signatures.PROBABILITY_OUTPUT])}
        assert client.address == f"http://127.0.0.1:{port}/v1/models/{MODEL}"
    assert [c[:2] for c in script.calls] == [("GET", f"/v1/models/{MODEL}"), ("GET", f"/v1/models/{MODEL}/metadata")]


# ---------------------------------------------------------------- before any call

@pytest.mark.parametrize("questions, message", [
    ([], "no question given"), ([""], "question 1 is empty"), (["ok", "   "], "question 2 is empty"),
    (["ok", None], "question 2 is empty"),
    (["x" * (features.MAX_QUESTION_CHARS + 1)], "question 1 has 2001 characters; the limit is 2000"),
    (["ok", "y" * 2500], "question 2 has 2500 characters; the limit is 2000"),
])
def test_questions_are_refused_before_any_call(questions, message):
    with pytest.raises(ServingClientError) as info:
        validate_questions(questions)
    assert info.value.kind == "invalid_argument" and str(info.value) == message


def test_questions_are_stripped_and_the_limit_is_inclusive():
    longest = "y" * features.MAX_QUESTION_CHARS
    assert validate_questions([" a ", longest + "  "]) == ["a", longest]


def test_confidence_is_the_probability_of_the_predicted_label():
    assert Prediction("q", features.POST, 0.8, 1).confidence == pytest.approx(0.8)
    assert Prediction("q", features.PRE, 0.2, 1).confidence == pytest.approx(0.8)


def test_transport_is_checked_and_names_the_address():
    with pytest.raises(ValueError, match="'soap'"):
        ModelClient("127.0.0.1", MODEL, transport="soap")
    with ModelClient("localhost", MODEL, grpc_port=9, rest_port=10) as client:
        assert client.address == "localhost:9" and client.rest_url == f"http://localhost:10/v1/models/{MODEL}"


# ---------------------------------------------------------------- server metrics (Prometheus text on the REST port)

PROMETHEUS_TEXT = (
    "# TYPE :tensorflow:serving:request_count untyped\n"
    f':tensorflow:serving:request_count{{model_name="{MODEL}",status="OK"}} 5\n'
    f':tensorflow:serving:request_count{{model_name="{MODEL}",status="INVALID_ARGUMENT"}} 2\n'
    ':tensorflow:serving:request_count{model_name="other",status="OK"} 100\n'
).encode()


def test_server_metrics_are_scraped_from_the_rest_port_and_summed_for_this_model(http_server):
    script, port = http_server((503, b"starting"), (200, PROMETHEUS_TEXT))
    with rest_client(port, backoff=0.2) as client:
        snapshot = server_load.parse(client.metrics_text(), client.model_name)
    assert snapshot.requests == 7
    assert [c[:2] for c in script.calls] == [("GET", "/monitoring/prometheus/metrics")] * 2
    assert script.times[1] - script.times[0] >= 0.2  # 503 is retried after the backoff


@pytest.mark.parametrize("status, kind", [(404, "not_found"), (500, "server_error")])
def test_server_metrics_errors_name_the_status_and_the_url(http_server, status, kind):
    script, port = http_server((status, b"nope"), (200, PROMETHEUS_TEXT))
    with rest_client(port) as client, pytest.raises(ServingClientError) as info:
        server_load.parse(client.metrics_text(), client.model_name)
    assert info.value.kind == kind and len(script.calls) == 1
    assert str(info.value) == f"HTTP {status} from http://127.0.0.1:{port}/monitoring/prometheus/metrics"


def test_a_slow_metrics_scrape_times_out(http_server):
    gate = threading.Event()
    script, port = http_server(gate)
    try:
        with rest_client(port, timeout=0.3) as client, pytest.raises(ServingClientError) as info:
            client.metrics_text()
    finally:
        gate.set()
    assert info.value.kind == "timeout" and len(script.calls) == 1
