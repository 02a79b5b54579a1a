"""The model server's Prometheus metrics, with TensorFlow Serving's names where it has one.

Read back by reporting/server_load.py; the names are in serving/metric_names.py.

Served at ``GET /monitoring/prometheus/metrics`` on the REST port (TensorFlow Serving's path):

- ``:tensorflow:serving:request_count{model_name,status}``: requests by outcome (status is the gRPC code's
  name, as TensorFlow Serving writes it). Exposed untyped: prometheus_client would rename a counter to
  ``..._total``, and dashboards written for TensorFlow Serving look for this exact name.
- ``:tensorflow:serving:request_latency{model_name,API,entrypoint}``: histogram of request wall time in
  microseconds, TensorFlow Serving's buckets (10 x 1.8^i).
- ``:tensorflow:serving:batching:processed_batch_size{model_name}``: histogram of rows per model call.
- ``:tensorflow:serving:batching:queuing_latency{model_name}``: histogram of microseconds a batch's oldest
  request waited before its batch ran.
- ``ppq_model_server_batch_queue_rows{model_name}``: rows waiting in the batching queue (TensorFlow Serving
  has no such gauge).
- ``ppq_model_server_version_request_latency{model_name,version}``: histogram of answered predictions'
  microseconds by the version that answered (its ``_count`` is the version's request count), for canaries.
- ``ppq_model_server_model_config_errors_total{model_name}``: model config files that could not be applied.
"""

from __future__ import annotations

import collections
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import Metric

from serving.metric_names import (
    BATCH_SIZE,
    CONFIG_ERRORS,
    QUEUE_ROWS,
    QUEUING_LATENCY,
    REQUEST_COUNT,
    REQUEST_LATENCY,
    VERSION_LATENCY,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_US = tuple(10 * 1.8 ** i for i in range(33))  # TensorFlow Serving's request_latency buckets
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
disable_created_metrics()  # TensorFlow Serving exports no *_created series


class _RequestCounts:
    """A collector for request_count under its exact TensorFlow Serving name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, model_name: str, status: str) -> None:
        with self._lock:
            self._counts[model_name, status] += 1

    def collect(self):
        metric = Metric(REQUEST_COUNT, "The total number of requests.", "unknown")
        with self._lock:
            for (model_name, status), count in sorted(self._counts.items()):
                metric.add_sample(REQUEST_COUNT, {"model_name": model_name, "status": status}, count)
        yield metric


class ServerMetrics:
    """One server's metrics, in a registry of its own (several servers may share a process in tests)."""

    def __init__(self, model_name: str):
        self.model_name = model_name
        self.registry = CollectorRegistry()
        self._counts = _RequestCounts()
        self.registry.register(self._counts)
        self._latency = Histogram(REQUEST_LATENCY, "Distribution of wall time (in microseconds) for TensorFlow "
                                  "Serving request.", ["model_name", "API", "entrypoint"],
                                  buckets=LATENCY_BUCKETS_US, registry=self.registry)
        self._batch_size = Histogram(BATCH_SIZE, "Rows in each batched call of the model.", ["model_name"],
                                     buckets=BATCH_BUCKETS, registry=self.registry).labels(model_name)
        self._queuing = Histogram(QUEUING_LATENCY, "Microseconds a batch's oldest request waited in the queue.",
                                  ["model_name"], buckets=LATENCY_BUCKETS_US, registry=self.registry).labels(model_name)
        self._queue_rows = Gauge(QUEUE_ROWS, "Rows waiting in the batching queue.", ["model_name"],
                                 registry=self.registry).labels(model_name)
        self._latency_cells: dict[tuple[str, str], object] = {}
        self._version_latency = Histogram(VERSION_LATENCY, "Microseconds of answered predictions, by version.",
                                          ["model_name", "version"], buckets=LATENCY_BUCKETS_US, registry=self.registry)
        self._config_errors = Counter(CONFIG_ERRORS, "Model config files that could not be applied.", ["model_name"],
                                      registry=self.registry).labels(model_name)

    def config_error(self, message: str) -> None:
        self._config_errors.inc()

    def request_done(self, api: str, entrypoint: str, status: str, seconds: float, version: int | None = None) -> None:
        """One request's outcome; ``version``: the version that answered it (None when it was refused)."""
        if version is not None:
            self._version_latency.labels(self.model_name, str(version)).observe(seconds * 1e6)
        self._counts.add(self.model_name, status)
        cell = self._latency_cells.get((api, entrypoint))
        if cell is None:
            cell = self._latency_cells[api, entrypoint] = self._latency.labels(self.model_name, api, entrypoint)
        cell.observe(seconds * 1e6)

    def batch_done(self, rows: int, queued_rows: int, waited_seconds: float) -> None:
        self._batch_size.observe(rows)
        self._queuing.observe(waited_seconds * 1e6)
        self._queue_rows.set(queued_rows)

    def queued(self, queued_rows: int) -> None:
        self._queue_rows.set(queued_rows)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
