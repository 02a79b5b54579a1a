"""The request log's semantics: sampling, rotation, the disk cap, drops on a full queue, and the records' format."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from common.config import RequestLogConfig
from serving import request_log
from serving.client import string_tensor
from serving.request_log import RequestLogger


def config(tmp_path: Path, **overrides) -> RequestLogConfig:
    values = {"sampling_rate": 1.0, "filename_prefix": tmp_path / "log" / "prediction_log",
              "max_file_bytes": 1 << 20, "max_file_seconds": 3600.0, "max_total_bytes": 1 << 30, "queue_size": 1000,
              "client_side": False}
    return RequestLogConfig(**{**values, **overrides})


def pair(question: str, version: int = 7) -> tuple[predict_pb2.PredictRequest, predict_pb2.PredictResponse]:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "prepost"
    request.inputs["question"].CopyFrom(string_tensor([question]))
    response = predict_pb2.PredictResponse()
    response.model_spec.name = "prepost"
    response.model_spec.version.value = version
    response.outputs["probability_post"].float_val.append(0.25)
    return request, response


def all_records(prefix: Path) -> list:
    return [record for path in request_log.log_files(prefix) for record in request_log.read_records(path)]


def test_records_read_back_as_prediction_logs_with_the_answering_version_and_time(tmp_path):
    logger = RequestLogger(config(tmp_path), "prepost", clock=lambda: 1_800_000_000.5)
    for i in range(3):
        logger.log(*pair(f"question {i}"))
    logger.close()
    records = all_records(tmp_path / "log" / "prediction_log")
    assert [r.predict_log.request.inputs["question"].string_val[0] for r in records] == [
        b"question 0", b"question 1", b"question 2"]
    first = records[0]
    assert first.log_metadata.model_spec.version.value == 7
    assert first.log_metadata.timestamp_secs == 1_800_000_000
    assert first.log_metadata.sampling_config.sampling_rate == 1.0
    assert list(first.predict_log.response.outputs["probability_post"].float_val) == [0.25]
    assert not list((tmp_path / "log").glob(f"*{request_log.WRITING_SUFFIX}"))


def test_the_sampling_rate_is_kept_within_tolerance(tmp_path):
    rng = random.Random(0)
    logger = RequestLogger(config(tmp_path, sampling_rate=0.3), "prepost", draw=rng.random)
    for i in range(4000):
        logger.log(*pair(f"q{i}"))
    logger.close()
    logged = len(all_records(tmp_path / "log" / "prediction_log"))
    assert logged == logger.logged
    assert 0.3 * 4000 * 0.9 < logged < 0.3 * 4000 * 1.1  # binomial sd is about 29 records; 10% is 120


def test_sampling_rate_zero_logs_nothing(tmp_path):
    logger = RequestLogger(config(tmp_path, sampling_rate=0.0), "prepost")
    logger.log(*pair("q"))
    logger.close()
    assert request_log.log_files(tmp_path / "log" / "prediction_log") == []


def test_files_rotate_by_size_and_the_oldest_are_deleted_over_the_cap(tmp_path):
    now = 1_800_000_000.0
    record_bytes = len(request_log.tfrecord(request_log.prediction_log(*pair("x" * 200), now, 1.0)))
    logger = RequestLogger(config(tmp_path, max_file_bytes=record_bytes * 5, max_total_bytes=record_bytes * 12),
                           "prepost", clock=lambda: now)
    for i in range(40):
        logger.log(*pair(f"{i:03d}" + "x" * 197))
    logger.close()
    files = request_log.log_files(tmp_path / "log" / "prediction_log")
    assert all(path.stat().st_size <= record_bytes * 5 for path in files)
    assert sum(path.stat().st_size for path in files) <= record_bytes * 12
    kept = [r.predict_log.request.inputs["question"].string_val[0][:3] for r in all_records(
        tmp_path / "log" / "prediction_log")]
    assert kept == [f"{i:03d}".encode() for i in range(30, 40)]  # 8 files of 5; the last two remain, newest records


def test_a_record_is_the_prediction_log_built_from_the_messages_themselves():
    request, response = pair("is it loud at night", version=12)
    request.inputs["extra"].CopyFrom(string_tensor(["z" * 200]))  # lengths past one varint byte
    expected = prediction_log_pb2.PredictionLog()
    expected.log_metadata.model_spec.CopyFrom(response.model_spec)
    expected.log_metadata.sampling_config.sampling_rate = 0.25
    expected.log_metadata.timestamp_secs = 1_800_000_000
    expected.predict_log.request.CopyFrom(request)
    expected.predict_log.response.CopyFrom(response)
    assert prediction_log_pb2.PredictionLog.FromString(
        request_log.prediction_log(request, response, 1_800_000_000.9, 0.25)) == expected


def test_records_are_framed_byte_for_byte_as_tensorflows_tfrecord_writer_frames_them(tmp_path):
    import tensorflow as tf
    payloads = [b"", b"x", request_log.prediction_log(*pair("y" * 300), 1_800_000_000.0, 1.0)]
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
        for payload in payloads:
            writer.write(payload)
    assert b"".join(request_log.tfrecord(p) for p in payloads) == (tmp_path / "tf.tfrecord").read_bytes()


def test_a_full_queue_drops_and_counts_without_blocking_the_caller(tmp_path, monkeypatch):
    gate = threading.Event()
    real_write = RequestLogger._write

    def slow_write(self, records):  # the writer is stuck (a slow disk) until the test lets it go
        gate.wait(10)
        real_write(self, records)
    monkeypatch.setattr(RequestLogger, "_write", slow_write)
    registry = CollectorRegistry()
    logger = RequestLogger(config(tmp_path, queue_size=5), "prepost", registry)
    for i in range(50):
        logger.log(*pair(f"q{i}"))  # returns at once even though nothing is being written
    dropped = logger.dropped
    gate.set()
    logger.close()
    assert dropped >= 50 - 2 * 5  # the queue holds 5; the writer may have taken one batch (at most 5) before it stuck
    assert logger.logged + logger.dropped == 50
    assert registry.get_sample_value(f"{request_log.RECORDS_METRIC}_total",
                                     {"model_name": "prepost", "outcome": "dropped"}) == logger.dropped
    assert registry.get_sample_value(f"{request_log.RECORDS_METRIC}_total",
                                     {"model_name": "prepost", "outcome": "logged"}) == logger.logged
    assert len(all_records(tmp_path / "log" / "prediction_log")) == logger.logged


def test_a_file_still_being_written_is_not_listed_as_complete(tmp_path):
    logger = RequestLogger(config(tmp_path), "prepost")
    logger.log(*pair("q"))
    try:
        for _ in range(200):
            if list((tmp_path / "log").glob(f"*{request_log.WRITING_SUFFIX}")):
                break
            threading.Event().wait(0.01)
        assert list((tmp_path / "log").glob(f"*{request_log.WRITING_SUFFIX}"))
        assert request_log.log_files(tmp_path / "log" / "prediction_log") == []
    finally:
        logger.close()
    assert len(request_log.log_files(tmp_path / "log" / "prediction_log")) == 1


def test_an_old_open_file_is_closed_after_max_file_seconds(tmp_path):
    logger = RequestLogger(config(tmp_path, max_file_seconds=0.2), "prepost")
    logger.log(*pair("q"))
    try:
        for _ in range(300):
            if request_log.log_files(tmp_path / "log" / "prediction_log"):
                break
            threading.Event().wait(0.01)
        assert len(request_log.log_files(tmp_path / "log" / "prediction_log")) == 1
    finally:
        logger.close()


def test_the_server_logs_grpc_predictions_and_flushes_on_stop(pipeline_run, tmp_path):
    from serving.client import ModelClient
    from serving.server import ModelServer
    serving = pipeline_run["config"].serving
    log_config = dataclasses.replace(config(tmp_path), max_file_seconds=3600.0)
    server = ModelServer(serving.model_name, serving.model_base_path, "127.0.0.1", 0, 0, poll_seconds=5,
                         batching=serving.batching, request_log=log_config)
    server.start()
    try:
        with ModelClient("127.0.0.1", serving.model_name, grpc_port=server.grpc_port,
                         rest_port=server.rest_port) as client:
            answers = [client.predict([f"does it fit model {i}"])[0] for i in range(5)]
            text = client._session.get(f"http://127.0.0.1:{server.rest_port}/monitoring/prometheus/metrics").text
        with ModelClient("127.0.0.1", serving.model_name, grpc_port=server.grpc_port, rest_port=server.rest_port,
                         transport="rest") as client:
            over_rest = client.predict(["is it loud over rest"])[0]
    finally:
        server.stop(grace=1)  # what SIGTERM runs
    records = all_records(tmp_path / "log" / "prediction_log")
    assert [r.predict_log.request.inputs["question"].string_val[0].decode() for r in records] == [
        a.question for a in answers] + [over_rest.question]
    assert {r.log_metadata.model_spec.version.value for r in records} == {answers[0].model_version}
    rest = records[-1].predict_log.response  # the REST call, as the gRPC response it stands for
    assert rest.outputs["predicted_label"].string_val == [over_rest.label.encode()]
    assert rest.outputs["probability_post"].float_val[0] == pytest.approx(over_rest.probability_post)
    assert f"{request_log.RECORDS_METRIC}_total" in text


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_sampling_rate_outside_0_to_1_is_refused_naming_the_key(rate):
    from common import config as configs
    from tests.helpers import ROOT
    raw = json.loads((ROOT / "config.json").read_text())
    raw["serving"]["logging"]["sampling_rate"] = rate
    with pytest.raises(configs.ConfigError, match="serving.logging.sampling_rate"):
        configs.from_dict(raw, environ={})


def test_the_client_writes_the_same_records_where_the_server_cannot(model_server, tmp_path):
    from serving.client import ModelClient
    logger = RequestLogger(config(tmp_path), model_server.manager.model_name)
    with ModelClient("127.0.0.1", model_server.manager.model_name, grpc_port=model_server.grpc_port,
                     rest_port=model_server.rest_port, request_log=logger) as client:
        answer = client.predict(["is the strap adjustable"])[0]
    logger.close()
    (record,) = all_records(tmp_path / "log" / "prediction_log")
    assert record.predict_log.request.inputs["question"].string_val == [b"is the strap adjustable"]
    assert record.log_metadata.model_spec.version.value == answer.model_version
    assert record.predict_log.response.outputs["predicted_label"].string_val == [answer.label.encode()]


def test_a_rest_call_is_logged_as_the_grpc_request_and_response_it_stands_for():
    import numpy as np

    from serving.rest_api import as_protos
    request, response = as_protos("prepost", 3, "serving_default", {"question": np.array([b"is it loud"], dtype=object)},
                                  {"probability_post": np.array([0.25], np.float32),
                                   "predicted_label": np.array([b"Pre"], dtype=object)})
    assert request.inputs["question"].string_val == [b"is it loud"]
    assert request.model_spec.signature_name == response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value == 3
    assert list(response.outputs["probability_post"].float_val) == [0.25]
    assert response.outputs["predicted_label"].string_val == [b"Pre"]
