"""The request log: a sampled share of predictions (gRPC and REST) as TensorFlow Serving's ``PredictionLog`` records.

TensorFlow Serving defines the record (``tensorflow.serving.PredictionLog``: a ``PredictLog`` with the request
and the response, and ``LogMetadata`` with the model spec that answered, the sampling config and the time) and
the settings (``sampling_config { sampling_rate }``, a ``filename_prefix``), but its open-source binary ships no
log collector (tensorflow/serving#408), so this module is the collector, used by the local server and, for the
official image, by the client (``serving.logging.client_side``).

Logging never slows or fails a request: ``log`` only draws the sample and appends the pair to a bounded queue under
a short lock (a full queue drops the record and counts it), and wakes no one. One writer thread takes the whole
queue every ``DRAIN_SECONDS`` (sooner when it is half full, or on ``flush`` and ``close``), builds the records and
appends them to TFRecord files, one file write per batch. A file being written is named ``*.tfrecord.tmp`` and
renamed to ``*.tfrecord`` once closed (on rotation at ``max_file_bytes`` or after ``max_file_seconds``, and on
``close``, which the server calls on SIGTERM), so a reader never takes a half-written file for a complete one.
Closed files beyond ``max_total_bytes`` are deleted, oldest first.
"""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import os
import random
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import google_crc32c
import tensorflow as tf
from prometheus_client import CollectorRegistry, Counter
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from common.config import RequestLogConfig

LOG = logging.getLogger("model-server")
SUFFIX = ".tfrecord"
WRITING_SUFFIX = ".tfrecord.tmp"
RECORDS_METRIC = "ppq_request_log_records"  # exposed as ppq_request_log_records_total{model_name,outcome}
DRAIN_SECONDS = 0.1  # the writer takes the queue this often: no wake-up per record on the request path
_FILE_NUMBERS = itertools.count(1)  # process-wide: two loggers in one process never pick the same name


def log_files(filename_prefix: Path) -> list[Path]:
    """The complete log files under a prefix, oldest first (names sort by time)."""
    folder = filename_prefix.parent
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{filename_prefix.name}-*{SUFFIX}") if p.is_file())


def prediction_log(request: predict_pb2.PredictRequest, response: predict_pb2.PredictResponse,
                   timestamp: float, sampling_rate: float) -> bytes:
    """One serialized record as TensorFlow Serving writes it; the model spec is the response's (the version that
    answered). Protobuf's wire format writes a message field as its tag, its length and the message's bytes, so
    the record is put together from the request's and the response's own serializations instead of copying
    both messages into a ``PredictionLog`` first (the copies cost more than the serialization)."""
    predict_log = _field(_REQUEST_TAG, request.SerializeToString()) + _field(_RESPONSE_TAG, response.SerializeToString())
    return (_log_metadata(response.model_spec.SerializeToString(), int(timestamp), sampling_rate)
            + _field(_PREDICT_LOG_TAG, predict_log))


@functools.lru_cache(maxsize=64)
def _log_metadata(model_spec: bytes, timestamp_secs: int, sampling_rate: float) -> bytes:
    """A ``PredictionLog`` holding only its ``log_metadata``, serialized (the same for every record of a second)."""
    record = prediction_log_pb2.PredictionLog()
    record.log_metadata.model_spec.ParseFromString(model_spec)
    record.log_metadata.sampling_config.sampling_rate = sampling_rate
    record.log_metadata.timestamp_secs = timestamp_secs
    return record.SerializeToString()


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited protobuf field: its tag, the payload's length, the payload."""
    return tag + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int) -> bytes:
    """A length-delimited field's tag: the field number and wire type 2."""
    return _varint(number << 3 | 2)


_REQUEST_TAG = _tag(prediction_log_pb2.PredictLog.REQUEST_FIELD_NUMBER)
_RESPONSE_TAG = _tag(prediction_log_pb2.PredictLog.RESPONSE_FIELD_NUMBER)
_PREDICT_LOG_TAG = _tag(prediction_log_pb2.PredictionLog.PREDICT_LOG_FIELD_NUMBER)


def tfrecord(data: bytes) -> bytes:
    """``data`` framed as one TFRecord, byte for byte as ``tf.io.TFRecordWriter`` writes it: the length, its masked
    CRC-32C, the data, the data's masked CRC-32C. Framed here so that a batch is one file write, where the
    writer's ``write`` would release and retake the GIL for every record."""
    length = struct.pack("<Q", len(data))
    return b"".join((length, struct.pack("<I", _masked_crc32c(length)), data, struct.pack("<I", _masked_crc32c(data))))


def _masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C rotated right by 15 bits plus a constant (tensorflow/core/lib/hash/crc32c.h)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: Path) -> Iterator[prediction_log_pb2.PredictionLog]:
    """The records of one file; a truncated or corrupt file raises ``tf.errors.DataLossError`` where it breaks."""
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        yield prediction_log_pb2.PredictionLog.FromString(raw)


class RequestLogger:
    """Sample, queue and write PredictionLog records; ``close`` flushes and renames the open file."""

    def __init__(self, config: RequestLogConfig, model_name: str, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time, draw: Callable[[], float] = random.random):
        self.config, self._clock, self._draw = config, clock, draw
        counter = Counter(RECORDS_METRIC, "PredictionLog records by outcome: logged, or dropped on a full queue.",
                          ["model_name", "outcome"], registry=registry)
        self._logged, self._dropped = counter.labels(model_name, "logged"), counter.labels(model_name, "dropped")
        self.logged = self.dropped = 0
        self._pending: collections.deque = collections.deque()
        self._flushes: list[threading.Event] = []
        self._lock, self._wake = threading.Lock(), threading.Event()
        self._closed = False
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._bytes, self._opened = 0, 0.0
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def log(self, request: predict_pb2.PredictRequest, response: predict_pb2.PredictResponse) -> None:
        """On the request path: draw the sample and enqueue; never blocks, never raises for a full queue."""
        self._enqueue((request, response))

    def log_built(self, build: Callable[[], tuple[predict_pb2.PredictRequest, predict_pb2.PredictResponse]]) -> None:
        """As ``log``, for a caller whose request and response are built later, on the writer thread (REST)."""
        self._enqueue(build)

    def _enqueue(self, item: tuple | Callable) -> None:
        """Append to the queue under a short lock; the writer is woken only when the queue is half full."""
        rate = self.config.sampling_rate
        if rate <= 0 or (rate < 1 and self._draw() >= rate):
            return
        entry = (self._clock(), item)
        with self._lock:
            if self._closed:
                return
            if len(self._pending) < self.config.queue_size:
                self._pending.append(entry)
                if len(self._pending) == self.config.queue_size // 2 + 1:
                    self._wake.set()
                return
            self.dropped += 1
        self._dropped.inc()

    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is queued and close the open file now, so readers see it; False if that took too long."""
        done = threading.Event()
        with self._lock:
            if self._closed:
                return False
            self._flushes.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then close and rename the open file (the server's stop on SIGTERM calls this)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        """Every DRAIN_SECONDS (or when woken), take the whole queue and write it as one batch."""
        while True:
            self._wake.wait(DRAIN_SECONDS)
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, collections.deque()
                flushes, self._flushes, closed = self._flushes, [], self._closed
            if batch:
                self._write_batch(batch)
            del batch  # the batch's messages are freed here, not under the lock at the next swap
            if flushes or closed or (self._file is not None
                                     and time.monotonic() - self._opened >= self.config.max_file_seconds):
                self._finish_file()
            for done in flushes:
                done.set()
            if closed:
                return

    def _write_batch(self, batch: collections.deque) -> None:
        """Build the records and write them; one that cannot be built is logged and counted as dropped."""
        records, failed = [], 0
        for timestamp, item in batch:
            try:
                request, response = item() if callable(item) else item
                records.append(tfrecord(prediction_log(request, response, timestamp, self.config.sampling_rate)))
            except Exception:  # noqa: BLE001 - a bad record must not stop the writer; it is counted lost
                LOG.exception("request log: could not build a record")
                failed += 1
        self._count(0, failed)
        self._write(records)

    def _write(self, records: list[bytes]) -> None:
        """Append framed records to the open file, one write per file; those a bad disk refuses count as dropped."""
        written = 0
        try:
            for chunk in self._per_file(records):
                self._file.write(b"".join(chunk))
                self._file.flush()
                written += len(chunk)
        except Exception:  # noqa: BLE001 - a bad disk must not stop the writer; the records are counted lost
            LOG.exception("request log: could not write %d records", len(records) - written)
        self._count(written, len(records) - written)

    def _per_file(self, records: list[bytes]) -> Iterator[list[bytes]]:
        """The records cut where the open file reaches ``max_file_bytes`` or ``max_file_seconds``; each run of
        records is yielded while its file is open, and the file is closed and the next opened after it."""
        chunk: list[bytes] = []
        for record in records:
            if self._file is not None and (self._bytes + len(record) > self.config.max_file_bytes
                                           or time.monotonic() - self._opened >= self.config.max_file_seconds):
                yield chunk
                chunk = []
                self._finish_file()
            if self._file is None:
                self._open_file()
            chunk.append(record)
            self._bytes += len(record)
        yield chunk

    def _count(self, logged: int, dropped: int) -> None:
        self.logged += logged
        self._logged.inc(logged)
        if dropped:
            with self._lock:
                self.dropped += dropped
            self._dropped.inc(dropped)

    def _open_file(self) -> None:
        prefix = self.config.filename_prefix
        prefix.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._clock()))
        self._path = prefix.with_name(f"{prefix.name}-{stamp}-{os.getpid()}-{next(_FILE_NUMBERS):06d}{WRITING_SUFFIX}")
        self._file = self._path.open("wb")
        self._bytes, self._opened = 0, time.monotonic()

    def _finish_file(self) -> None:
        """Flush, close and rename the open file to its complete name, then keep the folder under its cap."""
        if self._file is None:
            return
        self._file.close()
        os.replace(self._path, self._path.with_name(self._path.name[:-len(WRITING_SUFFIX)] + SUFFIX))
        self._file, self._path = None, None
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        files = log_files(self.config.filename_prefix)
        sizes = {path: path.stat().st_size for path in files}
        total = sum(sizes.values())
        for path in files:
            if total <= self.config.max_total_bytes:
                break
            path.unlink(missing_ok=True)
            total -= sizes[path]
            LOG.info("request log: deleted %s to stay under %d bytes", path.name, self.config.max_total_bytes)
