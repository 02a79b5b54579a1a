from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from components.anomalies_gate import ANOMALIES_FILE, AnomaliesGate, DataAnomaliesError, describe_anomalies


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
    with pytest.raises(tf.errors.NotFoundError, match="SchemaDiff.pb"):
        describe_anomalies(str(tmp_path), ["train"])


# ---------------------------------------------------------------- the component in a real TFX run

def write_statistics(folder, frames: dict) -> None:
    import tensorflow_data_validation as tfdv
    for split, frame in frames.items():
        (folder / f"Split-{split}").mkdir(parents=True)
        stats = tfdv.generate_statistics_from_dataframe(frame)
        (folder / f"Split-{split}" / "FeatureStats.pb").write_bytes(stats.SerializeToString())


@component
def RecordThatItRan(marker: Parameter[str]) -> None:  # noqa: N802 (TFX component naming)
    """Stands for Transform: a step that must not run when the gate stops the run."""
    with open(marker, "w") as out:
        out.write("ran")


def run_validation_pipeline(tmp_path, eval_labels: list[str]) -> Path:
    """StatisticsGen-style statistics -> real ExampleValidator -> AnomaliesGate -> a downstream step."""
    import pandas as pd
    import tensorflow_data_validation as tfdv
    clean = pd.DataFrame({"question": [f"does it fit {i}?" for i in range(40)], "label": ["Pre", "Post"] * 20})
    evaluation = pd.DataFrame({"question": [f"is it red {i}?" for i in range(len(eval_labels))], "label": eval_labels})
    write_statistics(tmp_path / "statistics", {"train": clean, "eval": evaluation})
    schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(clean))
    tfdv.get_feature(schema, "question").ClearField("domain")  # free text, as SchemaGen leaves it on real data
    (tmp_path / "schema").mkdir()
    tfdv.write_schema_text(schema, str(tmp_path / "schema" / "schema.pbtxt"))
    statistics = tfx.dsl.Importer(source_uri=str(tmp_path / "statistics"),
                                  artifact_type=standard_artifacts.ExampleStatistics,
                                  properties={"split_names": '["train", "eval"]'}).with_id("statistics")
    schema_in = tfx.dsl.Importer(source_uri=str(tmp_path / "schema"),
                                 artifact_type=standard_artifacts.Schema).with_id("schema")
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["result"],
                                                schema=schema_in.outputs["result"])
    gate = AnomaliesGate(anomalies=validator.outputs["anomalies"])
    marker = tmp_path / "downstream_ran"
    downstream = RecordThatItRan(marker=str(marker))
    downstream.add_upstream_node(gate)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="gate-test", pipeline_root=str(tmp_path / "root"),
        components=[statistics, schema_in, validator, gate, downstream],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.db")),
        enable_cache=False))
    return marker


def test_gate_component_stops_the_run_on_anomalous_statistics(tmp_path):
    with pytest.raises(DataAnomaliesError) as info:
        run_validation_pipeline(tmp_path, ["Pre", "Post", "Maybe", "Maybe"])
    message = str(info.value)
    assert message.startswith("ExampleValidator found data anomalies; fix the data or the schema:")
    assert "split 'eval', feature 'label'" in message and "Maybe" in message and "split 'train'" not in message
    assert not (tmp_path / "downstream_ran").exists(), "the step after the gate ran"


def test_gate_component_lets_clean_statistics_through(tmp_path):
    marker = run_validation_pipeline(tmp_path, ["Pre", "Post", "Post", "Pre"])
    assert marker.read_text() == "ran"
