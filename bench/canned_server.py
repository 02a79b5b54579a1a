"""The floor of a Python model server: gRPC and REST that answer Predict with a canned response, no model.

The serving benchmark measures this process with the same clients as the real server; the floor
of a server that calls the model is this latency plus the in-process model call.
gRPC runs on grpc.aio (the leanest Python gRPC server measured here) or, with --grpc-stack threads,
on the thread-pool server; REST runs on the same stdlib HTTP server as the real one.

Run: python -m bench.canned_server --grpc-port 8600 --rest-port 8601 [--grpc-stack aio|threads]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import signatures


def canned_response(model_name: str) -> predict_pb2.PredictResponse:
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)])
    response = predict_pb2.PredictResponse()
    response.model_spec.name = model_name
    response.model_spec.version.value = 1
    response.model_spec.signature_name = signatures.SERVING_DEFAULT
    response.outputs[signatures.PROBABILITY_OUTPUT].CopyFrom(
        tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[0.5]))
    response.outputs[signatures.LABEL_OUTPUT].CopyFrom(
        tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=[b"Pre"]))
    return response


def canned_status() -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    response.model_version_status.add(version=1, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    return response


class CannedPredictions(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model_name: str):
        self.response = canned_response(model_name)

    def Predict(self, request, context):  # noqa: N802
        return self.response


class AsyncCannedPredictions(CannedPredictions):
    async def Predict(self, request, context):  # noqa: N802
        return self.response


class CannedStatus(model_service_pb2_grpc.ModelServiceServicer):
    def GetModelStatus(self, request, context):  # noqa: N802
        return canned_status()


class AsyncCannedStatus(model_service_pb2_grpc.ModelServiceServicer):
    async def GetModelStatus(self, request, context):  # noqa: N802
        return canned_status()


def rest_handler(model_name: str) -> type[BaseHTTPRequestHandler]:
    predictions = json.dumps({"predictions": [{signatures.PROBABILITY_OUTPUT: 0.5, signatures.LABEL_OUTPUT: "Pre"}]})
    status = json.dumps({"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                   "status": {"error_code": "OK", "error_message": ""}}]})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:
            pass

        def _send(self, body: str, status: int = 200) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/v1/models/"):
                self._send(status)
            else:
                self._send(json.dumps({"error": "no metrics here"}), 404)

        def do_POST(self) -> None:  # noqa: N802
            json.loads(self.rfile.read(int(self.headers["Content-Length"])))  # any server parses the request
            self._send(predictions)

    return Handler


async def serve_aio(model_name: str, host: str, port: int) -> None:
    server = grpc.aio.server()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(AsyncCannedPredictions(model_name), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(AsyncCannedStatus(), server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await server.wait_for_termination()


def serve_threads(model_name: str, host: str, port: int, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(CannedPredictions(model_name), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(CannedStatus(), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", default="prepost")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--grpc-stack", choices=["aio", "threads"], default="aio")
    parser.add_argument("--grpc-workers", type=int, default=64)
    args = parser.parse_args()
    ThreadingHTTPServer.request_queue_size = 128  # as the model server's REST listener
    rest = ThreadingHTTPServer((args.host, args.rest_port), rest_handler(args.model_name))
    rest.daemon_threads = True
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    if args.grpc_stack == "aio":
        asyncio.run(serve_aio(args.model_name, args.host, args.grpc_port))
    else:
        serve_threads(args.model_name, args.host, args.grpc_port, args.grpc_workers)


if __name__ == "__main__":
    main()
