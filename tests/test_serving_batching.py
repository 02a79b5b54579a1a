"""Server-side batching: each caller gets its own rows, big requests are split and re-joined, a full queue
answers UNAVAILABLE at once, a lone request runs at once, and closing drains what is queued.

The Batcher is driven with a stand-in signature (numpy, no model) so that batch boundaries can be
observed and held; the end-to-end tests with the real model are in test_serving.py.
"""

import dataclasses
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf

from serving.batching import QUEUE_FULL, Batcher, Unbatched
from serving.errors import ServingError
from serving.versions import Signature

HANG = 60  # seconds: bounds a hang only; every wait below ends on an event long before on a working batcher


def wait_until(condition, what: str) -> None:
    """Wait for the batcher's own state to change (each check is immediate; the deadline only bounds a hang)."""
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@dataclasses.dataclass(frozen=True)
class Params:
    max_batch_size: int = 4
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 100
    num_batch_threads: int = 1


class Model:
    """A signature whose output is a function of each row alone; records batch sizes and can be held."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.threads: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.held_rows = 0  # rows of the batch now on the "model"

    def __call__(self, question: tf.Tensor) -> dict[str, tf.Tensor]:
        self.held_rows = len(question.numpy())
        self.entered.set()
        assert self.hold.wait(HANG), "the test never released the model"
        values = question.numpy()
        self.batches.append(len(values))
        self.threads.append(threading.current_thread().name)
        return {"length": tf.constant([len(v) for v in values], dtype=tf.int64),
                "upper": tf.constant([v.upper() for v in values])}

    def signature(self) -> Signature:
        return Signature("serving_default", self, {"question": tf.TensorSpec([None], tf.string)},
                         {"length": np.int64, "upper": object})


def questions(caller: int, count: int) -> np.ndarray:
    return np.array([f"caller {caller} question {i} {'x' * caller}".encode() for i in range(count)], dtype=object)


def test_concurrent_callers_each_get_exactly_their_own_rows_including_split_requests():
    model = Model()
    batcher, signature = Batcher(Params(), None), model.signature()
    sizes = [1, 3, 9, 1, 2, 4, 7, 1] * 4  # 9 and 7 rows are split over max_batch_size=4
    results: dict[int, dict[str, np.ndarray]] = {}
    start = threading.Barrier(len(sizes))

    def caller(index: int) -> None:
        start.wait()
        results[index] = batcher.run(signature, {"question": questions(index, sizes[index])})
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(sizes))]
    model.hold.clear()  # the first batch waits on the "model" until every caller has queued
    for thread in threads:
        thread.start()
    wait_until(lambda: model.entered.is_set() and batcher.queued_rows + model.held_rows == sum(sizes),
               "every caller to queue behind the held first batch")
    model.hold.set()
    for thread in threads:
        thread.join(HANG)
    for index, size in enumerate(sizes):
        sent = questions(index, size)
        assert list(results[index]["upper"]) == [q.upper() for q in sent]
        assert list(results[index]["length"]) == [len(q) for q in sent]
    assert max(model.batches) <= 4 and sum(model.batches) == sum(sizes)
    chunks = sum(-(-size // 4) for size in sizes)
    assert len(model.batches) < chunks and model.batches.count(4) > 5  # concurrent requests were merged


def test_a_lone_request_runs_at_once_in_the_callers_thread():
    """With a 10-minute batch timeout, a lone request must not wait for it: it is answered long before."""
    model = Model()
    batcher = Batcher(Params(batch_timeout_micros=600_000_000), None)
    outputs, names = {}, []

    def caller() -> None:
        names.append(threading.current_thread().name)
        outputs.update(batcher.run(model.signature(), {"question": questions(0, 2)}))
    thread = threading.Thread(target=caller, name="lone caller", daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), "the lone request waited for the batch timeout"
    assert list(outputs["upper"]) == [q.upper() for q in questions(0, 2)]
    assert model.threads == names == ["lone caller"]


def test_a_full_queue_answers_unavailable_at_once_and_the_queued_requests_still_finish():
    model = Model()
    batcher, signature = Batcher(Params(max_batch_size=2, max_enqueued_batches=1), None), model.signature()
    model.hold.clear()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", batcher.run(signature, {"question": questions(1, 1)})))
    first.start()
    assert model.entered.wait(HANG)  # the first request's batch is on the "model", held
    second = threading.Thread(target=lambda: results.setdefault("second", batcher.run(signature, {"question": questions(2, 2)})))
    second.start()
    wait_until(lambda: batcher.queued_rows == 2, "the second request to fill the queue")
    with pytest.raises(ServingError) as info:
        batcher.run(signature, {"question": questions(3, 1)})  # answered while the model is still held
    assert info.value.code == grpc.StatusCode.UNAVAILABLE and str(info.value) == QUEUE_FULL
    assert info.value.http_status == 503
    assert model.batches == [] and not model.hold.is_set()  # refused at once: nothing had finished meanwhile
    model.hold.set()
    first.join(HANG)
    second.join(HANG)
    assert list(results["first"]["upper"]) == [q.upper() for q in questions(1, 1)]
    assert list(results["second"]["upper"]) == [q.upper() for q in questions(2, 2)]


def test_a_request_larger_than_the_whole_queue_is_refused_with_a_reason():
    batcher = Batcher(Params(max_batch_size=2, max_enqueued_batches=3), None)
    with pytest.raises(ServingError) as info:
        batcher.run(Model().signature(), {"question": questions(0, 7)})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "capacity of 6" in str(info.value)


def test_one_callers_failing_rows_do_not_fail_the_others_in_its_batch():
    class Picky(Model):
        def __call__(self, question):
            if any(b"poison" in v for v in question.numpy()):
                raise tf.errors.InvalidArgumentError(None, None, "poisoned row")
            return super().__call__(question)
    model = Picky()
    model.hold.clear()
    batcher, signature = Batcher(Params(max_batch_size=8), None), model.signature()
    outcomes = {}

    def caller(name: str, values: list[bytes]) -> None:
        try:
            outcomes[name] = batcher.run(signature, {"question": np.array(values, dtype=object)})["upper"].tolist()
        except ServingError as error:
            outcomes[name] = error.code
    holder = threading.Thread(target=caller, args=("holder", [b"a"]))
    holder.start()
    assert model.entered.wait(HANG)
    others = [threading.Thread(target=caller, args=(name, values))
              for name, values in (("good", [b"b", b"c"]), ("bad", [b"poison"]), ("good2", [b"d"]))]
    for thread in others:
        thread.start()
    wait_until(lambda: batcher.queued_rows == 4, "the three other callers to queue")
    model.hold.set()
    for thread in [holder, *others]:
        thread.join(HANG)
    assert outcomes == {"holder": [b"A"], "good": [b"B", b"C"], "bad": grpc.StatusCode.INVALID_ARGUMENT,
                        "good2": [b"D"]}


def test_close_drains_queued_requests_then_refuses_new_ones():
    model = Model()
    model.hold.clear()
    batcher, signature = Batcher(Params(max_batch_size=1), None), model.signature()
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(batcher.run(signature, {"question": questions(i, 1)})))
               for i in range(3)]
    for thread in threads:
        thread.start()
    assert model.entered.wait(HANG)
    assert batcher.close(0.01) is False  # the model is held, so nothing can drain: close says it did not finish
    with pytest.raises(ServingError) as info:
        batcher.run(signature, {"question": questions(9, 1)})  # closing has begun: refused
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    closer = threading.Thread(target=lambda: results.append(batcher.close(HANG)))
    closer.start()
    model.hold.set()
    for thread in [*threads, closer]:
        thread.join(HANG)
    assert results.count(True) == 1 and len(results) == 4 and sum(model.batches) == 3


def test_empty_and_misshapen_inputs():
    batcher, signature = Batcher(Params(), None), Model().signature()
    assert batcher.run(signature, {"question": np.array([], dtype=object)})["length"].shape == (0,)
    with pytest.raises(ServingError) as info:
        batcher.run(signature, {"question": np.array([[b"a", b"b"]], dtype=object)})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("threads", [1, 2])
def test_many_callers_in_a_loop_all_finish_with_their_own_rows(threads):
    """Hand-offs of the lead between many callers, repeated: nobody hangs, nobody gets another's rows."""
    model = Model()
    batcher, signature = Batcher(Params(max_batch_size=2, num_batch_threads=threads), None), model.signature()
    wrong, done = [], []

    def caller(index: int) -> None:
        for round_index in range(5):
            sent = questions(index * 10 + round_index, 1 + (index + round_index) % 4)
            got = batcher.run(signature, {"question": sent})["upper"]
            if list(got) != [q.upper() for q in sent]:
                wrong.append(index)
        done.append(index)
    callers = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(48)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(HANG)
    assert sorted(done) == list(range(48)) and not wrong


def test_unbatched_calls_the_signature_once_per_request_and_closes_at_once():
    model = Model()
    unbatched, signature = Unbatched(), model.signature()
    outputs = unbatched.run(signature, {"question": questions(0, 3)})
    assert list(outputs["upper"]) == [q.upper() for q in questions(0, 3)] and model.batches == [3]
    empty = unbatched.run(signature, {"question": np.array([], dtype=object)})
    assert empty["length"].shape == (0,) and empty["length"].dtype == np.int64
    assert model.batches == [3]  # an empty request never reaches the model
    with pytest.raises(ServingError) as info:
        unbatched.run(signature, {"question": np.array([[b"a"]], dtype=object)})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert unbatched.close(0.0) is True  # nothing is ever queued
