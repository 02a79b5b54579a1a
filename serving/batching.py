"""Server-side batching with TensorFlow Serving's parameters, run by the request threads themselves.

Concurrent requests for the same signature are queued and merged into one call of the signature,
up to ``max_batch_size`` rows; each caller gets exactly its own rows back. A request larger than
``max_batch_size`` is split into chunks that are queued together and re-joined. When the queue
holds ``max_enqueued_batches`` full batches, a new request is refused with UNAVAILABLE (HTTP 503)
and TensorFlow Serving's message, never left to hang.

Who runs a batch: the request threads (leader/follower), not a thread pool of their own. A request
that arrives while fewer than ``num_batch_threads`` batches are running runs the queue's head
batch itself at once, so a lone request costs no hand-off between threads. Later arrivals wait;
when a leader finishes, it hands the lead to the oldest waiting request, which takes everything
queued by then (up to ``max_batch_size``) as the next batch. ``batch_timeout_micros`` is how long
a leader may wait for more rows while another batch is still running on the model (with nothing
running, waiting would only add latency).
"""

from __future__ import annotations

import collections
import enum
import threading
import time
from typing import Protocol

import grpc
import numpy as np

from serving.errors import ServingError, invalid
from serving.versions import Signature

QUEUE_FULL = "The batch scheduling queue to which this task was submitted is full"  # TensorFlow Serving's words


class BatchingParameters(Protocol):
    """TensorFlow Serving's batching parameters (pipeline.configs.BatchingConfig)."""
    max_batch_size: int
    batch_timeout_micros: int
    max_enqueued_batches: int
    num_batch_threads: int


class BatchObserver(Protocol):
    def batch_done(self, rows: int, queued_rows: int, waited_seconds: float) -> None: ...

    def queued(self, queued_rows: int) -> None: ...


class Runner(Protocol):
    def run(self, signature: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class Unbatched:
    """Each request is its own call of the signature, in the request's thread (batching turned off)."""

    def run(self, signature: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return signature(inputs) if signature.check(inputs) else signature.empty_outputs()

    def close(self, timeout: float) -> bool:
        return True


class _State(enum.Enum):
    WAITING = "waiting"  # the request's thread sleeps on its signal
    LEADING = "leading"  # the request's thread runs batches
    DONE = "done"


class _Request:
    """One caller's request, split into chunks that may land in different batches."""

    def __init__(self, signature: Signature, inputs: dict[str, np.ndarray], rows: int, chunk_rows: int):
        self.signature = signature
        self.enqueued = time.perf_counter()
        starts = range(0, rows, chunk_rows)
        self.chunks = [_Chunk(self, i, {k: v[s:s + chunk_rows] for k, v in inputs.items()}, min(chunk_rows, rows - s))
                       for i, s in enumerate(starts)]
        self.outputs: list[dict[str, np.ndarray] | None] = [None] * len(self.chunks)
        self.error: ServingError | None = None
        self.pending = len(self.chunks)
        self.state = _State.WAITING
        self.signal = threading.Lock()
        self.signal.acquire()  # released once per wake-up: to lead, or when done

    def wake(self) -> None:
        """Wake the request's thread (the batcher's lock held). A wake-up it has not yet taken stands: its
        thread may have seen the new state without sleeping, and then finds the signal open once, harmlessly."""
        if self.signal.locked():
            self.signal.release()

    def result(self) -> dict[str, np.ndarray]:
        if self.error is not None:
            raise self.error
        if len(self.outputs) == 1:
            return self.outputs[0]
        return {key: np.concatenate([part[key] for part in self.outputs]) for key in self.outputs[0]}


class _Chunk:
    def __init__(self, request: _Request, index: int, inputs: dict[str, np.ndarray], rows: int):
        self.request, self.index, self.inputs, self.rows = request, index, inputs, rows
        self.key = (id(request.signature), tuple(sorted((k, v.shape[1:], v.dtype.kind) for k, v in inputs.items())))


class Batcher:
    """Merges concurrent calls of the same signature into batched calls."""

    def __init__(self, parameters: BatchingParameters, observer: BatchObserver | None = None):
        self.max_batch_size = parameters.max_batch_size
        self.timeout = parameters.batch_timeout_micros / 1e6
        self.capacity = parameters.max_batch_size * parameters.max_enqueued_batches
        self.slots = parameters.num_batch_threads
        self._observer = observer
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)  # a leader waiting for more rows sleeps here
        self._queue: collections.deque[_Chunk] = collections.deque()
        self._queued_rows = 0
        self._running = 0  # batches on the model now
        self._waiting_leaders = 0
        self._closed = False
        self._idle = threading.Condition(self._lock)

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def run(self, signature: Signature, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check, queue, and return this caller's rows of the batched call's outputs."""
        rows = signature.check(inputs)
        if rows == 0:
            return signature.empty_outputs()
        if rows > self.capacity:
            raise invalid(f"a request of {rows} rows is over the batching queue's capacity of {self.capacity} "
                          f"(max_batch_size x max_enqueued_batches)")
        request = _Request(signature, inputs, rows, self.max_batch_size)
        with self._lock:
            if self._closed:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, "the model server is shutting down")
            if self._queued_rows + rows > self.capacity:
                raise ServingError(grpc.StatusCode.UNAVAILABLE, QUEUE_FULL)
            self._queue.extend(request.chunks)
            self._queued_rows += rows
            if self._running < self.slots:
                self._running += 1
                request.state = _State.LEADING
            elif self._waiting_leaders:
                self._more.notify_all()
        if self._observer:
            self._observer.queued(self._queued_rows)
        while request.state is not _State.DONE:
            if request.state is _State.LEADING:
                self._lead(request)
            else:
                request.signal.acquire()
        return request.result()

    def close(self, timeout: float) -> bool:
        """Refuse new requests; wait (up to ``timeout`` s) until queued and running batches are done."""
        with self._lock:
            self._closed = True
            return self._idle.wait_for(lambda: not self._queue and self._running == 0, timeout)

    # ------------------------------------------------------------------ leader's work

    def _lead(self, request: _Request) -> None:
        """Run batches from the queue's head until this request's rows are all answered."""
        while True:
            with self._lock:
                if request.pending == 0 or not self._queue:
                    self._running -= 1
                    request.state = _State.DONE if request.pending == 0 else _State.WAITING
                    self._hand_off()
                    return
                batch = self._take_batch()
                queued_rows = self._queued_rows
            self._execute(batch, queued_rows)

    def _take_batch(self) -> list[_Chunk]:
        """The head of the queue and what follows it for the same signature, up to max_batch_size rows."""
        batch = [self._queue.popleft()]
        rows, key = batch[0].rows, batch[0].key
        deadline = time.monotonic() + self.timeout
        while rows < self.max_batch_size:
            if self._queue:
                head = self._queue[0]
                if head.key != key or rows + head.rows > self.max_batch_size:
                    break
                batch.append(self._queue.popleft())
                rows += head.rows
                continue
            remaining = deadline - time.monotonic()
            if self._running <= 1 or remaining <= 0:
                break
            self._waiting_leaders += 1
            self._more.wait(remaining)
            self._waiting_leaders -= 1
        self._queued_rows -= rows
        return batch

    def _execute(self, batch: list[_Chunk], queued_rows: int) -> None:
        signature = batch[0].request.signature
        rows = sum(chunk.rows for chunk in batch)
        if len(batch) == 1:
            inputs = batch[0].inputs
        else:
            inputs = {key: np.concatenate([chunk.inputs[key] for chunk in batch]) for key in batch[0].inputs}
        try:
            outputs = signature(inputs)
        except ServingError as error:
            failure = error
        except Exception as exc:  # noqa: BLE001 - answered as INTERNAL, never a hang
            failure = ServingError(grpc.StatusCode.INTERNAL, f"the model failed: {type(exc).__name__}: {exc}")
        else:
            self._complete(batch, outputs, None)
            if self._observer:
                self._observer.batch_done(rows, queued_rows, time.perf_counter() - batch[0].request.enqueued)
            return
        if len(batch) > 1:  # one caller's rows must not fail the others: answer each chunk alone
            for chunk in batch:
                self._execute([chunk], queued_rows)
            return
        self._complete(batch, None, failure)

    def _complete(self, batch: list[_Chunk], outputs: dict[str, np.ndarray] | None, error: ServingError | None) -> None:
        """Give each chunk its own rows of the outputs; wake the callers whose requests are now whole."""
        start = 0
        with self._lock:
            for chunk in batch:
                request = chunk.request
                if outputs is not None:
                    request.outputs[chunk.index] = {k: v[start:start + chunk.rows] for k, v in outputs.items()}
                else:
                    request.error = error
                start += chunk.rows
                request.pending -= 1
                if request.pending == 0 and request.state is _State.WAITING:
                    request.state = _State.DONE
                    request.wake()

    def _hand_off(self) -> None:
        """With a slot free and rows queued, wake the oldest waiting request to lead (lock held)."""
        if not self._queue and self._running == 0:
            self._idle.notify_all()
        for chunk in self._queue:
            if self._running >= self.slots:
                return
            request = chunk.request
            if request.state is _State.WAITING:
                self._running += 1
                request.state = _State.LEADING
                request.wake()
