"""Server-side batching: each caller gets its own rows, big requests are split and re-joined, a full queue
answers UNAVAILABLE at once, a lone request runs at once, and closing drains what is queued.

The Batcher is driven with a stand-in signature (numpy, no model) so that batch boundaries can be
observed and held; the end-to-end tests with the real model are in test_serving.py.
"""

import dataclasses
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf

from serving import batching
from serving.batching import QUEUE_FULL, Batcher, Unbatched
from serving.errors import ServingError
from serving.versions import Signature
from tests.helpers import HANG, wait_for


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
        return self.outputs(values)

    @staticmethod
    def outputs(values: np.ndarray) -> dict[str, tf.Tensor]:
        return {"length": tf.constant([len(v) for v in values], dtype=tf.int64),
                "upper": tf.constant([v.upper() for v in values])}

    def signature(self) -> Signature:
        return Signature("serving_default", self, {"question": tf.TensorSpec([None], tf.string)},
                         {"length": np.int64, "upper": object})


class HoldsMarked(Model):
    """Holds only the batches holding the row b"hold"; records every batch's rows as it reaches the model."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[list[bytes]] = []

    def __call__(self, question: tf.Tensor) -> dict[str, tf.Tensor]:
        values = question.numpy()
        self.arrived.append(values.tolist())
        return super().__call__(question) if b"hold" in values.tolist() else self.outputs(values)


class Observer:
    """Records the batcher's metrics calls (serving.metrics in the server)."""

    def __init__(self) -> None:
        self.queued_calls: list[int] = []
        self.batches: list[tuple[int, int, float]] = []

    def queued(self, queued_rows: int) -> None:
        self.queued_calls.append(queued_rows)

    def batch_done(self, rows: int, queued_rows: int, waited_seconds: float) -> None:
        self.batches.append((rows, queued_rows, waited_seconds))


class Gated(Model):
    """A batch holding a row named in ``gates`` waits for that row's gate; records every batch's rows on arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[list[bytes]] = []
        self.gates: dict[bytes, threading.Event] = {}

    def __call__(self, question: tf.Tensor) -> dict[str, tf.Tensor]:
        values = question.numpy()
        self.arrived.append(values.tolist())
        for value in values.tolist():
            if value in self.gates:
                assert self.gates[value].wait(HANG), "the test never opened the gate"
        return self.outputs(values)


class FrozenClock:
    """serving.batching's time: perf_counter (request ages) as the test sets it; monotonic (batch timeouts) stopped,
    so that a batch timeout never ends."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    @staticmethod
    def monotonic() -> float:
        return 0.0


def sleeping_for_more_rows(batcher: Batcher) -> bool:
    """A leader is asleep in the batch timeout, and every queued row has been taken into its batch."""
    return batcher._waiting_leaders == 1 and not batcher._queue


def questions(caller: int, count: int) -> np.ndarray:
    return np.array([f"caller {caller} question {i} {'x' * caller}".encode() for i in range(count)], dtype=object)


def test_concurrent_callers_each_get_exactly_their_own_rows_including_split_requests():
    model, observer = Model(), Observer()
    batcher, signature = Batcher(Params(), observer), model.signature()
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
    wait_for(lambda: model.entered.is_set() and batcher.queued_rows + model.held_rows == sum(sizes),
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
    assert [rows for rows, _, _ in observer.batches] == model.batches  # each batch's real rows, in order
    assert batcher.queued_rows == 0 and len(observer.queued_calls) == len(sizes)


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
    wait_for(lambda: batcher.queued_rows == 2, "the second request to fill the queue")
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


@pytest.mark.parametrize("others", [
    (("good", [b"b", b"c"]), ("bad", [b"poison"]), ("good2", [b"d"])),
    (("good", [b"b", b"c"]), ("bad", [b"poison"])),  # a batch of two chunks
])
def test_one_callers_failing_rows_do_not_fail_the_others_in_its_batch(others):
    class Picky(Model):
        def __call__(self, question):
            if any(b"poison" in v for v in question.numpy()):
                raise tf.errors.InvalidArgumentError(None, None, "poisoned row")
            return super().__call__(question)
    model, observer = Picky(), Observer()
    model.hold.clear()
    batcher, signature = Batcher(Params(max_batch_size=8), observer), model.signature()
    outcomes = {}

    def caller(name: str, values: list[bytes]) -> None:
        try:
            outcomes[name] = batcher.run(signature, {"question": np.array(values, dtype=object)})["upper"].tolist()
        except ServingError as error:
            outcomes[name] = error.code
    holder = threading.Thread(target=caller, args=("holder", [b"a"]))
    holder.start()
    assert model.entered.wait(HANG)
    threads = [threading.Thread(target=caller, args=(name, values)) for name, values in others]
    for thread in threads:
        thread.start()
    rows = sum(len(values) for _, values in others)
    wait_for(lambda: batcher.queued_rows == rows, "the other callers to queue")
    model.hold.set()
    for thread in [holder, *threads]:
        thread.join(HANG)
    expected = {"holder": [b"A"], "good": [b"B", b"C"], "bad": grpc.StatusCode.INVALID_ARGUMENT, "good2": [b"D"]}
    assert outcomes == {name: expected[name] for name in ["holder", *dict(others)]}
    # the holder's batch, then each good caller's rows alone once the merged batch failed
    assert [(rows, queued) for rows, queued, _ in observer.batches] == [(1, 0), (2, 0), (1, 0)][:len(others)]


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
    assert (info.value.code, str(info.value)) == (grpc.StatusCode.UNAVAILABLE, "the model server is shutting down")
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


def test_while_a_batch_runs_a_second_leader_waits_for_more_rows_until_the_batch_is_full(monkeypatch):
    """num_batch_threads=2: with one batch on the model, the next leader gathers rows for up to batch_timeout_micros
    (0.5 s, on a clock frozen by the test, so it can only end by the batch filling) and runs exactly
    max_batch_size of them as one batch, without waiting for the first batch to end."""
    clock = FrozenClock()
    monkeypatch.setattr(batching, "time", clock)
    model, observer = HoldsMarked(), Observer()
    model.hold.clear()
    batcher = Batcher(Params(max_batch_size=4, num_batch_threads=2, batch_timeout_micros=500_000), observer)
    signature, results = model.signature(), {}

    def call(name: str, values: list[bytes]) -> threading.Thread:
        thread = threading.Thread(target=lambda: results.setdefault(
            name, batcher.run(signature, {"question": np.array(values, dtype=object)})["upper"].tolist()), daemon=True)
        thread.start()
        return thread
    held = call("held", [b"hold"])
    assert model.entered.wait(HANG)
    clock.now = 100.0
    threads = [call("b", [b"b"])]
    wait_for(lambda: sleeping_for_more_rows(batcher), "the second leader to wait for more rows")
    clock.now = 200.0
    threads.append(call("c", [b"c1", b"c2"]))
    wait_for(lambda: batcher.queued_rows == 3, "c to queue")
    wait_for(lambda: sleeping_for_more_rows(batcher), "the leader to take c's rows and wait again")
    clock.now = 300.0
    threads.append(call("d", [b"d"]))  # the fourth row fills the batch: it runs at once
    for thread in threads:
        thread.join(HANG)
    assert held.is_alive() and model.arrived == [[b"hold"], [b"b", b"c1", b"c2", b"d"]]
    assert results == {"b": [b"B"], "c": [b"C1", b"C2"], "d": [b"D"]}
    assert observer.queued_calls[:3] == [1, 1, 3]
    assert observer.batches == [(4, 0, 200.0)]  # its age is that of b, the batch's oldest request
    clock.now = 400.0
    model.hold.set()
    held.join(HANG)
    assert results["held"] == [b"HOLD"] and observer.batches == [(4, 0, 200.0), (1, 0, 400.0)]
    assert batcher.queued_rows == 0


def a_second_leader_beside_a_held_batch(params: Params, rows: int) -> tuple[HoldsMarked, threading.Thread, dict]:
    """A batch held inside the model, then a leader with ``rows`` questions and nobody after it: the held batch's
    thread, and the second leader's results once it has returned (or HANG has passed)."""
    model = HoldsMarked()
    model.hold.clear()
    batcher, signature, results = Batcher(params, None), model.signature(), {}
    held = threading.Thread(target=lambda: batcher.run(signature, {"question": np.array([b"hold"], dtype=object)}),
                            daemon=True)
    held.start()
    assert model.entered.wait(HANG)
    alone = threading.Thread(target=lambda: results.update(batcher.run(signature, {"question": questions(1, rows)})),
                             daemon=True)
    alone.start()
    alone.join(HANG)
    assert not alone.is_alive() and held.is_alive()
    return model, held, results


def test_a_leader_waiting_for_more_rows_runs_what_it_has_once_the_batch_timeout_ends():
    # Nobody else comes: after 50 ms it runs its two rows, while the first batch is still held.
    model, held, results = a_second_leader_beside_a_held_batch(
        Params(max_batch_size=4, num_batch_threads=2, batch_timeout_micros=50_000), 2)
    assert list(results["upper"]) == [q.upper() for q in questions(1, 2)] and model.arrived[1:] == [
        list(questions(1, 2))]
    model.hold.set()
    held.join(HANG)


def test_rows_of_different_signatures_or_shapes_never_share_a_batch():
    gate, entered, calls = threading.Event(), threading.Event(), []

    def total(x: tf.Tensor) -> dict[str, tf.Tensor]:
        calls.append(x.shape.as_list())
        entered.set()
        assert gate.wait(HANG)
        return {"sum": tf.reduce_sum(x, axis=1)}
    wide = Signature("sum", total, {"x": tf.TensorSpec([None, None], tf.int64)}, {"sum": np.int64})
    first, second = Model(), Model()
    batcher, results = Batcher(Params(max_batch_size=8), None), {}

    def call(name, signature, inputs) -> threading.Thread:
        thread = threading.Thread(target=lambda: results.setdefault(name, batcher.run(signature, inputs)), daemon=True)
        thread.start()
        return thread
    threads = [call("held", wide, {"x": np.ones((1, 2), np.int64)})]
    assert entered.wait(HANG)
    queued = [("w2", wide, {"x": np.ones((2, 2), np.int64)}), ("w3", wide, {"x": np.ones((1, 3), np.int64)}),
              ("m1", first.signature(), {"question": questions(1, 1)}),
              ("m2", second.signature(), {"question": questions(2, 2)}),
              ("m1b", first.signature(), {"question": questions(3, 1)})]
    for (name, signature, inputs), expected in zip(queued, [2, 3, 4, 6, 7], strict=True):
        threads.append(call(name, signature, inputs))
        wait_for(lambda rows=expected: batcher.queued_rows == rows, f"{name} to queue")  # queued in this order
    gate.set()
    for thread in threads:
        thread.join(HANG)
    assert calls == [[1, 2], [2, 2], [1, 3]]
    assert (first.batches, second.batches) == ([1, 1], [2])  # m1 and m1b are split by m2 in the queue
    assert results["w2"]["sum"].tolist() == [2, 2] and results["w3"]["sum"].tolist() == [3]
    assert list(results["m2"]["upper"]) == [q.upper() for q in questions(2, 2)]


def test_a_model_that_crashes_is_answered_as_internal_with_the_reason():
    def crash(question: tf.Tensor) -> dict[str, tf.Tensor]:
        raise RuntimeError("out of memory")
    signature = Signature("serving_default", crash, {"question": tf.TensorSpec([None], tf.string)}, {"p": np.float32})
    with pytest.raises(ServingError) as info:
        Batcher(Params(), None).run(signature, {"question": questions(0, 1)})
    assert (info.value.code, str(info.value)) == (grpc.StatusCode.INTERNAL, "the model failed: RuntimeError: out of memory")


def test_close_waits_for_a_running_batch_even_with_nothing_queued():
    model = Model()
    model.hold.clear()
    batcher, result = Batcher(Params(), None), {}
    caller = threading.Thread(target=lambda: result.update(batcher.run(model.signature(), {"question": questions(0, 1)})),
                              daemon=True)
    caller.start()
    assert model.entered.wait(HANG)
    assert batcher.queued_rows == 0 and batcher.close(0.01) is False  # the batch on the model is not done
    closed = []
    closer = threading.Thread(target=lambda: closed.append(batcher.close(HANG)), daemon=True)
    closer.start()
    wait_for(lambda: len(batcher._idle._waiters) == 1, "close to wait for the batch")  # CPython's Condition
    model.hold.set()
    closer.join(HANG / 2)  # woken when the batch ends, long before its own timeout
    assert closed == [True]
    caller.join(HANG)
    assert list(result["upper"]) == [q.upper() for q in questions(0, 1)]


def test_no_more_than_num_batch_threads_batches_run_at_once():
    first, second = Gated(), Gated()  # two signatures: their rows never share a batch
    for model, row in ((first, b"a1"), (second, b"a2"), (first, b"x"), (second, b"y")):
        model.gates[row] = threading.Event()
    batcher, results = Batcher(Params(max_batch_size=4, num_batch_threads=2), None), {}

    def call(model: Gated, row: bytes) -> threading.Thread:
        thread = threading.Thread(target=lambda: results.setdefault(row, batcher.run(
            model.signature(), {"question": np.array([row], dtype=object)})["upper"].tolist()), daemon=True)
        thread.start()
        return thread
    threads = [call(first, b"a1")]
    wait_for(lambda: [b"a1"] in first.arrived, "a1 on the model")
    threads.append(call(second, b"a2"))
    wait_for(lambda: [b"a2"] in second.arrived, "a2 on the model")
    threads.append(call(first, b"x"))
    wait_for(lambda: batcher.queued_rows == 1, "x to queue")
    threads.append(call(second, b"y"))
    wait_for(lambda: batcher.queued_rows == 2, "y to queue")
    assert batcher._running == 2  # both slots busy: x and y wait
    first.gates[b"a1"].set()
    wait_for(lambda: [b"x"] in first.arrived, "x to take the freed slot")
    assert batcher._running == 2 and batcher.queued_rows == 1  # y still waits for a slot
    for gate in [*first.gates.values(), *second.gates.values()]:
        gate.set()
    for thread in threads:
        thread.join(HANG)
    assert results == {b"a1": [b"A1"], b"a2": [b"A2"], b"x": [b"X"], b"y": [b"Y"]}
    assert batcher._running == 0 and batcher.queued_rows == 0


def test_with_a_zero_batch_timeout_a_leader_never_waits_for_more_rows(monkeypatch):
    """batch_timeout_micros=0 on a stopped clock: the second leader runs its rows at once, though a batch runs."""
    monkeypatch.setattr(batching, "time", FrozenClock())
    model, held, results = a_second_leader_beside_a_held_batch(Params(max_batch_size=4, num_batch_threads=2), 1)
    assert list(results["upper"]) == [q.upper() for q in questions(1, 1)]
    model.hold.set()
    held.join(HANG)


def test_a_split_request_whose_chunks_run_in_other_leaders_batches_gets_every_row():
    """Its leader runs the first chunk; two later callers each lead a batch of one of its other chunks. It then
    waits with two chunks still on the model, and must get its answer only once both are done."""
    model = Gated()
    for gate in (b"g1", b"g2", b"g3"):
        model.gates[gate] = threading.Event()
    batcher, signature, results = Batcher(Params(max_batch_size=4, num_batch_threads=4), None), model.signature(), {}
    split = [b"g1", b"r1", b"r2", b"r3", b"g2", b"r4", b"r5", b"r6", b"g3", b"r7", b"r8", b"r9"]

    def call(name: str, values: list[bytes]) -> threading.Thread:
        def run() -> None:
            try:
                results[name] = batcher.run(signature, {"question": np.array(values, dtype=object)})["upper"].tolist()
            except Exception as error:  # noqa: BLE001 - recorded for the assertion below
                results[name] = repr(error)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread
    threads = [call("split", split)]
    wait_for(lambda: split[:4] in model.arrived, "the first chunk on the model")
    threads.append(call("y", [b"y"]))
    wait_for(lambda: split[4:8] in model.arrived, "the second chunk on y's batch")
    threads.append(call("w", [b"w"]))
    wait_for(lambda: split[8:] in model.arrived, "the third chunk on w's batch")
    model.gates[b"g1"].set()  # the split request's leader runs y and w's rows, then waits for its own two chunks
    wait_for(lambda: [b"y", b"w"] in model.arrived and batcher._running == 2, "the split request to wait")
    model.gates[b"g2"].set()
    threads[1].join(HANG)
    assert results["y"] == [b"Y"] and "split" not in results  # one of its chunks is still on the model
    model.gates[b"g3"].set()
    for thread in threads:
        thread.join(HANG)
    assert results == {"split": [v.upper() for v in split], "y": [b"Y"], "w": [b"W"]}
