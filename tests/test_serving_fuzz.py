"""Property-based fuzz of the model server's REST and gRPC APIs (hypothesis), over the session's model server.

Whatever arrives (any JSON, any bytes, any tensor proto, sizes around every limit), the answer is a 200 or a
4xx with a JSON error message over REST, and OK or a gRPC error with a message (never INTERNAL or UNKNOWN, the
gRPC form of a 500) over gRPC; the connection is never dropped, and a normal request is answered after each.
"""

from __future__ import annotations

import json

import grpc
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

import signatures
from serving.client import ModelClient
from serving.errors import MAX_BATCH, MAX_REQUEST_BYTES

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=25)
input_names = st.sampled_from([signatures.QUESTION_INPUT, "questions", "", "inputs"])
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": json_values}),
    st.fixed_dictionaries({"inputs": json_values}),
    st.fixed_dictionaries({"instances": st.lists(st.text(max_size=40), max_size=8)},
                          optional={"signature_name": json_values}),
    st.fixed_dictionaries({"inputs": st.dictionaries(input_names, json_values, max_size=2)}),
    st.fixed_dictionaries({"instances": st.lists(st.dictionaries(input_names, json_values, max_size=2), max_size=4)}),
)


def rest_answer(server, body: bytes, suffix: str = ":predict") -> tuple[int, object]:
    """Status and JSON answer; a dropped connection or a non-JSON answer fails the test."""
    url = f"http://127.0.0.1:{server.rest_port}/v1/models/{server.manager.model_name}{suffix}"
    response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    return response.status_code, response.json()


def assert_answered(server, status: int, answer: object) -> None:
    assert status == 200 or (400 <= status < 500 and isinstance(answer, dict) and answer.get("error")), (status, answer)
    still_answers(server)


def still_answers(server) -> None:
    with ModelClient("127.0.0.1", server.manager.model_name, server.grpc_port, server.rest_port, timeout=30,
                     retries=0) as client:
        assert client.predict(["still there?"])[0].label in ("Pre", "Post")


@FUZZ
@given(body=bodies)
@example(body={"instances": ["x"] * MAX_BATCH})
@example(body={"instances": ["x"] * (MAX_BATCH + 1)})
@example(body={"instances": [[["a"]]]})
@example(body={"inputs": {signatures.QUESTION_INPUT: [["a", "b"], ["c"]]}})
def test_rest_any_json_gets_200_or_a_4xx_with_a_message(model_server, body):
    assert_answered(model_server, *rest_answer(model_server, json.dumps(body).encode()))


@FUZZ
@given(raw=st.binary(max_size=300), suffix=st.sampled_from([":predict", ":classify", "/versions/1:predict",
                                                             "/versions/x:predict", "/metadata"]))
@example(raw=b"[" * 100_000, suffix=":predict")
@example(raw=b'{"instances": "' + b"x" * (MAX_REQUEST_BYTES - 20) + b'"}', suffix=":predict")
@example(raw=b"x" * (MAX_REQUEST_BYTES + 1), suffix=":predict")
@example(raw=b'{"instances": ["\xff\xfe"]}', suffix=":predict")
def test_rest_any_bytes_get_200_or_a_4xx_with_a_message(model_server, raw, suffix):
    assert_answered(model_server, *rest_answer(model_server, raw, suffix))


dtypes = st.sampled_from([types_pb2.DT_STRING, types_pb2.DT_FLOAT, types_pb2.DT_INT64, types_pb2.DT_INT32,
                          types_pb2.DT_BOOL, types_pb2.DT_INVALID, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT])
tensors = st.builds(
    lambda dtype, dims, unknown, strings, floats, ints, content: tensor_pb2.TensorProto(
        dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims], unknown_rank=unknown),
        string_val=strings, float_val=floats, int64_val=ints, tensor_content=content),
    dtypes, st.lists(st.integers(-2, 2**40), max_size=3), st.booleans(), st.lists(st.binary(max_size=30), max_size=6),
    st.lists(st.floats(width=32), max_size=4), st.lists(st.integers(-2**63, 2**63 - 1), max_size=4),
    st.binary(max_size=40))


def grpc_answer(server, request: bytes):
    """The status of a Predict call made of these bytes (the raw method, so that any bytes can be sent)."""
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}",
                               options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]) as channel:
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                      request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            predict(request, timeout=60)
        except grpc.RpcError as error:
            return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def assert_grpc_answered(server, code: grpc.StatusCode, details: str, parsed: bool) -> None:
    assert code == grpc.StatusCode.OK or details, code
    if parsed:  # a request gRPC could read: any failure is the server's refusal, never its fault
        assert code not in SERVER_FAULTS, (code, details)
    still_answers(server)


@FUZZ
@given(inputs=st.dictionaries(input_names, tensors, max_size=2), signature=st.sampled_from(
    ["", signatures.SERVING_DEFAULT, signatures.SERVING_EXAMPLES, "nope"]), version=st.integers(-1, 3))
def test_grpc_any_tensor_protos_get_an_answer_or_a_refusal_with_a_message(model_server, inputs, signature, version):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_server.manager.model_name
    request.model_spec.signature_name = signature
    if version >= 0:
        request.model_spec.version.value = version or model_server.manager.current.version
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    assert_grpc_answered(model_server, *grpc_answer(model_server, request.SerializeToString()), parsed=True)


@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw=b"\xff\xff\xff\xff not a protobuf")
def test_grpc_any_bytes_get_an_answer_or_a_refusal_with_a_message(model_server, raw):
    try:
        predict_pb2.PredictRequest.FromString(raw)
        parsed = True
    except Exception:  # noqa: BLE001 - protobuf's DecodeError (its class differs between implementations)
        parsed = False
    assert_grpc_answered(model_server, *grpc_answer(model_server, raw), parsed=parsed)


@pytest.mark.parametrize("rows, size", [(MAX_BATCH, 1), (1, MAX_REQUEST_BYTES - 100), (1, MAX_REQUEST_BYTES + 10)])
def test_grpc_sizes_around_the_limits(model_server, rows, size):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_server.manager.model_name
    request.inputs[signatures.QUESTION_INPUT].CopyFrom(tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=rows)]), string_val=[b"x" * size] * rows))
    code, details = grpc_answer(model_server, request.SerializeToString())
    assert_grpc_answered(model_server, code, details, parsed=True)
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT)

