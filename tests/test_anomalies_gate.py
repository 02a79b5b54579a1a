import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.anomalies_gate import ANOMALIES_FILE, describe_anomalies


def write_anomalies(base, split: str, anomalies: anomalies_pb2.Anomalies) -> None:
    folder = base / f"Split-{split}"
    folder.mkdir(parents=True)
    (folder / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())


def test_clean_splits_give_no_problems(tmp_path):
    write_anomalies(tmp_path, "train", anomalies_pb2.Anomalies())
    assert describe_anomalies(str(tmp_path), ["train"]) == []


def test_each_anomaly_is_named_with_split_and_feature(tmp_path):
    bad = anomalies_pb2.Anomalies()
    bad.anomaly_info["label"].short_description = "Unexpected string values"
    bad.anomaly_info["label"].description = "Examples contain values missing from the schema: Maybe (~3%)."
    write_anomalies(tmp_path, "train", anomalies_pb2.Anomalies())
    write_anomalies(tmp_path, "eval", bad)
    lines = describe_anomalies(str(tmp_path), ["train", "eval"])
    assert lines == ["split 'eval', feature 'label': Unexpected string values - "
                     "Examples contain values missing from the schema: Maybe (~3%)."]


def test_missing_anomalies_file_is_an_error(tmp_path):
    with pytest.raises(Exception, match="SchemaDiff.pb"):
        describe_anomalies(str(tmp_path), ["train"])
