"""Bad requests, a server killed and restarted, and a short soak: the server answers and stays up."""

import signal
import threading
import time
from concurrent import futures
from types import SimpleNamespace

import grpc
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import signatures
from common import config as configs
from serving.client import ModelClient, ServingClientError
from serving.errors import MAX_BATCH, MAX_REQUEST_BYTES
from serving.metrics import QUEUE_ROWS
from tests.helpers import HANG, ROOT, scrape, standalone_server_config, start_server, stop_server, wait_for


def server_at(serving) -> SimpleNamespace:
    """What predict() needs of a server, for a server process started from a config."""
    return SimpleNamespace(grpc_port=serving.grpc_port, manager=SimpleNamespace(model_name=serving.model_name))


def strings(values: list[bytes], shape: list[int] | None = None) -> tensor_pb2.TensorProto:
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in (shape or [len(values)])]
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
                                  string_val=values)


def predict(server, proto: tensor_pb2.TensorProto):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = server.manager.model_name
    request.inputs[signatures.QUESTION_INPUT].CopyFrom(proto)
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=options) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=60)


def still_answers(server) -> bool:
    with ModelClient("127.0.0.1", server.manager.model_name, server.grpc_port, timeout=10) as client:
        return client.predict(["still there?"])[0].label in ("Pre", "Post")


def test_largest_allowed_batch_and_a_1mb_string_are_answered(model_server):
    assert len(predict(model_server, strings([b"is it loud?"] * MAX_BATCH)).outputs[signatures.LABEL_OUTPUT].string_val) \
        == MAX_BATCH
    big = ("word " * 200_000).encode()[: 1024 * 1024]
    assert len(predict(model_server, strings([big])).outputs[signatures.PROBABILITY_OUTPUT].float_val) == 1
    assert still_answers(model_server)


@pytest.mark.parametrize("proto, code", [
    (strings([b"x"] * (MAX_BATCH + 1)), grpc.StatusCode.INVALID_ARGUMENT),
    (strings([b"a", b"b", b"c", b"d"], shape=[2, 2]), grpc.StatusCode.INVALID_ARGUMENT),
    (strings([b"x" * (MAX_REQUEST_BYTES + 10)]), grpc.StatusCode.RESOURCE_EXHAUSTED),
])
def test_oversized_and_misshapen_requests_are_refused(model_server, proto, code):
    with pytest.raises(grpc.RpcError) as info:
        predict(model_server, proto)
    assert info.value.code() == code and info.value.details()
    assert still_answers(model_server)


def test_malformed_protobuf_gets_a_status_and_the_server_stays_up(model_server):
    with grpc.insecure_channel(f"127.0.0.1:{model_server.grpc_port}") as channel:
        raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                  request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\xff\xff\xff\xff not a protobuf", timeout=5)
    assert info.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    assert still_answers(model_server)


def test_rest_oversized_body_gets_413(model_server):
    url = f"http://127.0.0.1:{model_server.rest_port}/v1/models/{model_server.manager.model_name}:predict"
    response = requests.post(url, data=b"x" * (MAX_REQUEST_BYTES + 1), timeout=30)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert still_answers(model_server)


def test_server_killed_and_restarted_clients_and_app_recover(pipeline_run, tmp_path, monkeypatch):
    """kill -9 the server under a client loop and the app: both say 'unavailable', then recover by themselves."""
    from streamlit.testing.v1 import AppTest

    path = standalone_server_config(tmp_path, pipeline_run)
    serving = configs.load(path, environ={}).serving
    monkeypatch.setenv("PPQ_CONFIG", str(path))
    client = ModelClient("127.0.0.1", serving.model_name, serving.grpc_port, timeout=2, retries=0)
    settings = {configs.CONFIG_PATH_ENV: str(path)}
    server = start_server(settings, client)
    outcomes, stop = [], threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                client.predict(["does it fit?"])
                outcomes.append("ok")
            except ServingClientError as error:
                outcomes.append(error.kind)
            time.sleep(0.05)
    worker = threading.Thread(target=loop)
    try:
        worker.start()
        wait_for(lambda: outcomes.count("ok") >= 3, "answers before the kill")
        server.send_signal(signal.SIGKILL)
        server.wait()
        killed_at = len(outcomes)
        wait_for(lambda: "unavailable" in outcomes[killed_at:], "the client loop to see the server gone")
        app = AppTest.from_file(str(ROOT / "app" / "app.py"), default_timeout=60).run()
        assert "not answering" in app.sidebar.error[0].value
        server = start_server(settings, client)
        restarted_at = len(outcomes)
        wait_for(lambda: "ok" in outcomes[restarted_at:], "the client loop to be answered again")
        app.run()  # the same session, rerun (as the Retry button does)
        assert "answering: version" in app.sidebar.success[0].value
    finally:
        stop.set()
        stop_server(server)
    worker.join()
    assert outcomes[0] == "ok" and outcomes[-1] == "ok" and "unavailable" in outcomes
    assert set(outcomes) <= {"ok", "unavailable", "timeout"}


def queued_rows(rest_port: int, model_name: str) -> float:
    """The server's batching-queue depth, from its Prometheus page."""
    text = requests.get(f"http://127.0.0.1:{rest_port}/monitoring/prometheus/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == QUEUE_ROWS and sample.labels.get("model_name") == model_name:
                return sample.value
    raise AssertionError(f"no {QUEUE_ROWS} in the metrics")


def rows_or_status(call: futures.Future) -> int | str:
    """The rows a Predict call got back, or its gRPC status and details when it failed."""
    try:
        return len(call.result().outputs[signatures.LABEL_OUTPUT].string_val)
    except grpc.RpcError as error:
        return f"{error.code().name}: {error.details()}"


def test_sigterm_under_load_drains_queued_and_running_batches_and_exits_cleanly(pipeline_run, tmp_path):
    """Requests the server has taken when SIGTERM comes are all answered in full; later ones are refused."""
    path = standalone_server_config(tmp_path, pipeline_run)
    serving = configs.load(path, environ={}).serving
    callers, rows = 16, 300
    with ModelClient("127.0.0.1", serving.model_name, serving.grpc_port, serving.rest_port, timeout=10,
                     retries=0) as watcher:
        server = start_server({configs.CONFIG_PATH_ENV: str(path)}, watcher)
        try:
            before = scrape(watcher)

            def ask(index: int):
                questions = [f"caller {index} asks: does part {i} fit?".encode() for i in range(rows)]
                return predict(server_at(serving), strings(questions))
            with futures.ThreadPoolExecutor(callers) as pool:
                calls = [pool.submit(ask, i) for i in range(callers)]
                # SIGTERM once three requests at least are waiting in the server's batching queue: its
                # queue-depth gauge (never above the true depth) holds more than two requests' rows, and a
                # row is queued only while its request is unanswered.
                wait_for(lambda: queued_rows(serving.rest_port, serving.model_name) > 2 * rows,
                         "three requests to wait in the batching queue")
                answered = scrape(watcher).requests - before.requests
                server.send_signal(signal.SIGTERM)
                answers = [rows_or_status(call) for call in calls]
            exit_code = server.wait(timeout=HANG)
            with pytest.raises(ServingClientError) as info:
                watcher.predict(["anyone there?"])
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert answered <= callers - 3, f"only {callers - answered} requests were in the server at SIGTERM"
    assert answers == [rows] * callers  # a request cut off by the stop shows as its gRPC status instead
    assert exit_code == 0 and info.value.kind == "unavailable"
