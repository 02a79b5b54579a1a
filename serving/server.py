"""A local server that speaks TensorFlow Serving's protocol, for machines without Docker: start and stop.

It is a stand-in for the ``tensorflow/serving`` container (see docker-compose.yml),
not a replacement: the same client and app work unchanged against either. Its rooms:

- versions.py: the served versions, their signatures and labels, hot reload with warm-up and load retries
  (a failed load is never served); model_config.py: TensorFlow Serving's model config file;
- batching.py: server-side batching with TensorFlow Serving's parameters (config.json serving.batching);
- grpc_api.py: PredictionService and ModelService through tensorflow-serving-api's generated stubs;
- rest_api.py: TensorFlow Serving's JSON API and ``/monitoring/prometheus/metrics``;
- metrics.py: the Prometheus metrics; errors.py: request limits and error statuses;
- request_log.py: the sampled request log (PredictionLog records in TFRecord files, config.json serving.logging);
- this module: the process's ports, start, and a graceful stop on SIGTERM/SIGINT.

Binds to 127.0.0.1 unless told otherwise. Run: ``./run.sh serve`` (ports and paths from config.json).
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc

from common import config as configs
from serving import grpc_api
from serving.batching import Batcher, BatchingParameters, Unbatched
from serving.errors import MAX_REQUEST_BYTES
from serving.metrics import ServerMetrics
from serving.request_log import RequestLogger
from serving.rest_api import RestApi, RestServer
from serving.versions import TF_SERVING_RETRIES, LoadRetries, ModelManager

LOG = logging.getLogger("model-server")
GRPC_WORKERS = 64  # request threads wait for their batch, so there must be more of them than concurrent callers


class ModelServer:
    """gRPC and REST front ends over one ModelManager, with batching unless ``batching`` is None."""

    def __init__(self, model_name: str, base_path: Path, host: str = "127.0.0.1", grpc_port: int = 8500,
                 rest_port: int = 8501, poll_seconds: float = 2.0, batching: BatchingParameters | None = None,
                 retries: LoadRetries = TF_SERVING_RETRIES, model_config_file: Path | None = None,
                 request_log: configs.RequestLogConfig | None = None):
        self.metrics = ServerMetrics(model_name)
        self.manager = ModelManager(model_name, base_path, poll_seconds, retries, model_config_file,
                                    self.metrics.config_error)
        self.runner = Batcher(batching, self.metrics) if batching else Unbatched()
        self.request_log = RequestLogger(request_log, model_name, self.metrics.registry) if request_log else None
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS, thread_name_prefix="grpc"),
                                options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
        grpc_api.add_services(self.grpc, self.manager, self.runner, self.metrics, self.request_log)
        self.grpc_port = self.grpc.add_insecure_port(f"{host}:{grpc_port}")
        if self.grpc_port == 0:
            raise OSError(f"cannot bind gRPC to {host}:{grpc_port} (port in use?)")
        self.rest = RestServer((host, rest_port), RestApi(self.manager, self.runner, self.metrics, self.request_log))
        self.rest_port = self.rest.server_address[1]
        self.host = host

    @classmethod
    def from_config(cls, serving: configs.ServingConfig) -> ModelServer:
        return cls(serving.model_name, serving.model_base_path, serving.host, serving.grpc_port, serving.rest_port,
                   serving.poll_seconds, serving.batching if serving.enable_batching else None,
                   LoadRetries(serving.max_num_load_retries, serving.load_retry_interval_micros / 1e6),
                   serving.model_config_path,
                   serving.logging if serving.logging.sampling_rate > 0 and not serving.logging.client_side else None)

    def start(self) -> None:
        self.manager.start()
        self.grpc.start()
        threading.Thread(target=self.rest.serve_forever, name="rest", daemon=True).start()
        LOG.info("gRPC on %s:%d, REST on http://%s:%d", self.host, self.grpc_port, self.host, self.rest_port)

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new requests; let queued and running ones finish (up to ``grace`` seconds)."""
        self.manager.stop()
        self.rest.shutdown()  # no new REST connections
        self.runner.close(grace)  # new predictions are refused as UNAVAILABLE; queued and running batches finish
        grpc_stopped = self.grpc.stop(grace)  # in-flight gRPC calls get `grace` seconds to be answered
        self.rest.in_flight.wait_idle(grace)
        grpc_stopped.wait()
        self.rest.server_close()
        if self.request_log is not None:  # after the last answer: flush and close the open log file
            self.request_log.close()


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
