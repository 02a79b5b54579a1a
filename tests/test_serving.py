"""Client against the local TensorFlow-Serving-protocol server, over gRPC and REST, with a real model."""

import dataclasses
import http.client
import json
import re
import threading

import grpc
import numpy as np
import pytest
import requests
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

import signatures
from models.pushed_models import LoadedModel
from reporting import server_load
from serving.client import ModelClient, ServingClientError
from serving.server import ModelServer
from tests.helpers import wait_for

QUESTIONS = ["Does this blender come with a travel cup?", "my drill battery died after 3 weeks, any fix?",
             "Is the strap replaceable if I buy it?", "é 😀 日本語 mixed scripts", "mine squeaks and wobbles now"]


def client_for(server, transport="grpc", **kw) -> ModelClient:
    return ModelClient("127.0.0.1", server.manager.model_name, server.grpc_port, server.rest_port,
                       transport=transport, timeout=5, **kw)


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_predictions_equal_the_in_process_saved_model(model_server, transport):
    expected_p, expected_labels = LoadedModel.load(model_server.manager.base_path).predict(QUESTIONS)
    with client_for(model_server, transport) as client:
        predictions = client.predict(QUESTIONS)
    np.testing.assert_allclose([p.probability_post for p in predictions], expected_p, atol=1e-6)
    assert [p.label for p in predictions] == expected_labels


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_metadata_and_status_answer(model_server, transport):
    version = model_server.manager.current.version
    with client_for(model_server, transport) as client:
        assert client.status() == [{"version": str(version), "state": "AVAILABLE",
                                    "status": {"error_code": 0 if transport == "grpc" else "OK", "error_message": ""}}]
        metadata = client.metadata()
    assert metadata == {"version": version, "inputs": [signatures.QUESTION_INPUT],
                        "outputs": sorted([signatures.LABEL_OUTPUT, signatures.PROBABILITY_OUTPUT])}


def raw_predict(server, inputs: dict, name: str | None = None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name or server.manager.model_name
    for key, proto in inputs.items():
        request.inputs[key].CopyFrom(proto)
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=5)


def tensor(dtype, **values) -> tensor_pb2.TensorProto:
    size = len(next(iter(values.values())))
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size)])
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape, **values)


@pytest.mark.parametrize("inputs, name, code", [
    ({"question": tensor(types_pb2.DT_STRING, string_val=[b"hi"])}, "no_such_model", grpc.StatusCode.NOT_FOUND),
    ({"text": tensor(types_pb2.DT_STRING, string_val=[b"hi"])}, None, grpc.StatusCode.INVALID_ARGUMENT),
    ({"question": tensor(types_pb2.DT_FLOAT, float_val=[1.0])}, None, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_grpc_requests_get_a_status_not_a_crash(model_server, inputs, name, code):
    with pytest.raises(grpc.RpcError) as info:
        raw_predict(model_server, inputs, name)
    assert info.value.code() == code and info.value.details()
    with client_for(model_server) as client:
        assert client.predict(["still answering?"])[0].label in ("Pre", "Post")


@pytest.mark.parametrize("path, body, status", [
    ("/v1/models/no_such_model:predict", {"instances": ["x"]}, 404),
    ("/v1/models/{name}:predict", {"instances": [{"text": "x"}]}, 400),
    ("/v1/models/{name}:predict", {"instances": [1.5, 2.5]}, 400),
    ("/v1/models/{name}:predict", b"{not json", 400),
    ("/v1/models/{name}:predict", {"signature_name": "nope", "instances": ["x"]}, 400),
])
def test_bad_rest_requests_get_tf_serving_statuses(model_server, path, body, status):
    url = f"http://127.0.0.1:{model_server.rest_port}" + path.format(name=model_server.manager.model_name)
    response = requests.post(url, **({"data": body} if isinstance(body, bytes) else {"json": body}), timeout=5)
    assert response.status_code == status and response.json()["error"]


@pytest.mark.parametrize("body, length", [
    (b'{"instances": ["\\ud800"]}', None),  # a lone surrogate: not valid Unicode
    (b'{"signature_name": ["x"], "instances": ["x"]}', None),
    (b'{"instances": ["x"]}', "-1"),
    (b'{"instances": ["x"]}', "many"),
])
def test_odd_rest_requests_get_400_and_the_server_keeps_answering(model_server, body, length):
    path = f"/v1/models/{model_server.manager.model_name}:predict"
    connection = http.client.HTTPConnection("127.0.0.1", model_server.rest_port, timeout=10)
    connection.putrequest("POST", path)
    connection.putheader("Content-Length", length or str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    assert response.status == 400 and json.loads(response.read())["error"]
    connection.close()
    url = f"http://127.0.0.1:{model_server.rest_port}{path}"
    assert requests.post(url, json={"instances": ["ok?"]}, timeout=10).status_code == 200


def test_rest_columnar_format_and_empty_batch(model_server):
    url = f"http://127.0.0.1:{model_server.rest_port}/v1/models/{model_server.manager.model_name}:predict"
    outputs = requests.post(url, json={"inputs": {"question": QUESTIONS[:2]}}, timeout=5).json()["outputs"]
    assert len(outputs[signatures.PROBABILITY_OUTPUT]) == 2 and len(outputs[signatures.LABEL_OUTPUT]) == 2
    assert requests.post(url, json={"instances": []}, timeout=5).json() == {"predictions": []}


def test_client_refuses_empty_and_overlong_questions_before_calling(model_server):
    with client_for(model_server) as client:
        for bad in ([""], ["   "], ["x" * 2001], []):
            with pytest.raises(ServingClientError) as info:
                client.predict(bad)
            assert info.value.kind == "invalid_argument"


def test_concurrent_callers_get_their_own_answers_including_a_request_split_across_batches(model_server):
    """Many gRPC and REST callers at once, each with different questions: every answer matches its own question."""
    max_batch = model_server.runner.max_batch_size
    asks = {i: [f"caller {i}: does model {i * 7} fit a size {i % 5} case?"] for i in range(24)}
    asks[24] = [f"long request row {j}: will it arrive before the weekend?" for j in range(max_batch * 2 + 5)]
    asks[25] = [f"rest request row {j}: is the colour as pictured?" for j in range(max_batch + 3)]
    expected_p, expected_labels = LoadedModel.load(model_server.manager.base_path).predict(
        [q for i in sorted(asks) for q in asks[i]])
    answers, start = {}, threading.Barrier(len(asks))

    def caller(index: int) -> None:
        with client_for(model_server, "rest" if index % 4 == 1 or index == 25 else "grpc") as client:
            start.wait()
            answers[index] = client.predict(asks[index])
    threads = [threading.Thread(target=caller, args=(i,)) for i in asks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    got = [p for i in sorted(asks) for p in answers[i]]
    assert [p.question for p in got] == [q for i in sorted(asks) for q in asks[i]]
    np.testing.assert_allclose([p.probability_post for p in got], expected_p, atol=1e-5)
    assert [p.label for p in got] == expected_labels


def test_prometheus_endpoint_counts_requests_by_status_with_latency_and_batch_sizes(model_server):
    with client_for(model_server) as client:
        before = server_load.parse(client.metrics_text(), client.model_name)
        client.predict(["is the metrics endpoint counting?"])
        with pytest.raises(grpc.RpcError):
            raw_predict(model_server, {"text": tensor(types_pb2.DT_STRING, string_val=[b"hi"])})
        after = server_load.parse(client.metrics_text(), client.model_name)
    assert after.requests - before.requests == 2 and after.batches > before.batches
    url = f"http://127.0.0.1:{model_server.rest_port}/monitoring/prometheus/metrics"
    text = requests.get(url, timeout=5).text
    name = model_server.manager.model_name
    assert f':tensorflow:serving:request_count{{model_name="{name}",status="INVALID_ARGUMENT"}}' in text
    assert re.search(rf':tensorflow:serving:request_count\{{model_name="{name}",status="OK"\}} [1-9]', text)
    assert ':tensorflow:serving:request_latency_bucket{API="predict",entrypoint="GRPC"' in text
    assert ":tensorflow:serving:batching:processed_batch_size_bucket" in text and "ppq_model_server_batch_queue_rows" in text


def test_a_full_batching_queue_answers_unavailable_and_503_then_recovers(pipeline_run):
    """With the model held busy and the queue full, a new request is refused at once, over gRPC and REST."""
    serving = pipeline_run["config"].serving
    tiny = dataclasses.replace(serving.batching, max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    server = ModelServer(serving.model_name, serving.model_base_path, "127.0.0.1", 0, 0, batching=tiny)
    server.start()
    model = server.manager.current
    real, entered, hold = model.signatures[signatures.SERVING_DEFAULT], threading.Event(), threading.Event()

    def held(**tensors):
        entered.set()
        hold.wait(30)
        return real.function(**tensors)
    model.signatures[signatures.SERVING_DEFAULT] = dataclasses.replace(real, function=held)
    results = []
    workers = [threading.Thread(target=lambda: results.append(client_for(server).predict(["held?"])[0].label))
               for _ in range(2)]
    try:
        workers[0].start()
        assert entered.wait(30)
        workers[1].start()
        wait_for(lambda: server.runner.queued_rows >= 1, "the second request to queue")
        with pytest.raises(ServingClientError) as info:
            client_for(server, retries=0).predict(["no room?"])
        assert info.value.kind == "unavailable" and "queue to which this task was submitted is full" in str(info.value)
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/{serving.model_name}:predict"
        response = requests.post(url, json={"instances": ["no room?"]}, timeout=5)
        assert response.status_code == 503 and "is full" in response.json()["error"]
    finally:
        hold.set()
        for worker in workers:
            worker.join(30)
        server.stop(grace=1)
    assert len(results) == 2 and set(results) <= {"Pre", "Post"}
