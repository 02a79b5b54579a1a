"""The DataPreparation step and SplitsExampleGen, run through TFX's executor interface on a small CSV (no pipeline).

What the pipeline run shows end to end (tests/test_pipeline_e2e.py), here on its own and in seconds: the step's
settings parameter rebuilds the data config, the step writes dataprep.splits' layout into its artifact and records
the manifest as properties (with people's corrections counted), and SplitsExampleGen reads that artifact's folder
with CsvExampleGen's executor, one split per prepared split.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from pathlib import Path

from google.protobuf import json_format
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.proto import example_gen_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs

from common import config as configs
from components import data_preparation as dp_component
from components.data_preparation import PreparedSplits
from dataprep import splits
from monitoring import feedback
from tests.test_data_preparation import balanced_rows, data_config, write_csv


def prepared_artifact(uri: Path) -> PreparedSplits:
    artifact = PreparedSplits()
    artifact.uri = str(uri)
    return artifact


def run_step(source: Path, config: configs.DataConfig, output: Path, feedback_file: str = "") -> PreparedSplits:
    """The step as TFX's launcher runs it: its executor's Do with the output artifact and the exec properties."""
    prepared = prepared_artifact(output)
    executor = dp_component.DataPreparation.EXECUTOR_SPEC.executor_class()
    executor.Do({}, {dp_component.PREPARED_KEY: [prepared]},
                {"source": str(source), "settings": dp_component.settings_parameter(config),
                 "source_version": "size 1, mtime 2", "feedback_file": feedback_file})
    return prepared


def test_the_settings_parameter_is_every_data_setting_but_the_paths_and_rebuilds_the_config(tmp_path):
    config = data_config(tmp_path, tmp_path / "raw.csv", total_sample_size=123, random_seed=77)
    text = dp_component.settings_parameter(config)
    settings = json.loads(text)
    assert set(settings) == {f.name for f in dataclasses.fields(config)} - {"source", "prepared_dir"}
    assert settings["total_sample_size"] == 123 and settings["random_seed"] == 77
    assert list(settings) == sorted(settings)  # a stable text, so that TFX's cache key does not change by itself
    assert configs.DataConfig(source=config.source, prepared_dir=config.prepared_dir, **settings) == config


def test_the_step_writes_the_splits_into_its_artifact_and_the_manifest_as_properties(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    source = write_csv(tmp_path / "raw.csv", balanced_rows(120, 80) + [{"asin": "X", "question": "", "label": "Pre"}])
    config = data_config(tmp_path, source, total_sample_size=100)
    prepared = run_step(source, config, tmp_path / "artifact" / "prepared")
    folder = Path(prepared.uri)
    manifest = splits.read_manifest(folder)
    assert manifest is not None and manifest["rows_sampled"] == 100
    for split in splits.SPLITS:
        frame = splits.read_split(folder, split)
        assert frame["label"].value_counts().to_dict() == manifest["splits"][split]["labels"]
    assert list((tmp_path / "tmp").iterdir()) == []  # the local preparation folder is gone
    assert prepared.get_string_custom_property("source") == str(source)
    assert prepared.get_string_custom_property("source_sha256") == manifest["source_sha256"]
    assert prepared.get_int_custom_property("rows_read") == 201
    assert prepared.get_int_custom_property("rows_sampled") == 100
    assert prepared.get_int_custom_property("rows_train_Pre") == manifest["splits"]["train"]["labels"]["Pre"] == 42
    assert prepared.get_int_custom_property("rows_test_Post") == manifest["splits"]["test"]["labels"]["Post"] == 6
    assert {k: prepared.get_int_custom_property(f"dropped_{k}") for k in manifest["rows_dropped"]} == \
        manifest["rows_dropped"] and sum(manifest["rows_dropped"].values()) == 1
    assert prepared.get_int_custom_property("rows_feedback") == 0  # no feedback file given
    assert prepared.get_json_value_custom_property("manifest") == manifest


def test_the_step_adds_peoples_corrections_to_train_and_counts_them(tmp_path):
    source = write_csv(tmp_path / "raw.csv", balanced_rows(120, 80))
    config = data_config(tmp_path, source, total_sample_size=100)
    path = feedback.feedback_path(tmp_path / "results")
    feedback.record(path, "the lid cracked on day two", "Post", 1)
    feedback.record(path, "does it come in blue", "Pre", 1)
    prepared = run_step(source, config, tmp_path / "with", feedback_file=str(path))
    assert prepared.get_int_custom_property("rows_feedback") == 2
    train = splits.read_split(Path(prepared.uri), "train")
    assert "the lid cracked on day two" in set(train["question"]) and len(train) == 70 + 2
    missing = run_step(source, config, tmp_path / "missing", feedback_file=str(tmp_path / "no-feedback.csv"))
    assert missing.get_int_custom_property("rows_feedback") == 0  # no corrections yet: the file does not exist


def test_record_manifest_counts_a_manifest_without_feedback_as_none_added():
    manifest = {"source": "gs://b/raw.csv", "source_sha256": "ab" * 32, "rows_read": 10, "rows_sampled": 8,
                "splits": {"train": {"labels": {"Pre": 3, "Post": 2}}, "eval": {"labels": {"Pre": 2}},
                           "test": {"labels": {"Post": 1}}},
                "rows_dropped": {"empty_question": 1, "duplicate": 1}}
    prepared = prepared_artifact(Path("/unused"))
    dp_component.record_manifest(prepared, manifest)
    assert {key: getattr(value, value.WhichOneof("value")) for key, value in prepared.mlmd_artifact.custom_properties.items()
            if key != "manifest"} == {
        "source": "gs://b/raw.csv", "source_sha256": "ab" * 32, "rows_read": 10, "rows_sampled": 8,
        "rows_train_Pre": 3, "rows_train_Post": 2, "rows_eval_Pre": 2, "rows_test_Post": 1,
        "dropped_empty_question": 1, "dropped_duplicate": 1, "rows_feedback": 0}
    assert prepared.has_custom_property("rows_feedback")
    dp_component.record_manifest(prepared, {**manifest, "feedback": {"rows_added": 4}})
    assert prepared.get_int_custom_property("rows_feedback") == 4


def test_the_artifact_type_keeps_its_recorded_name():
    """ML Metadata stores the type by name: another name would orphan every earlier run's splits (and KFP v2
    wants ``<namespace>.<Name>``)."""
    assert PreparedSplits.TYPE_NAME == "ppq.PreparedSplits"
    assert (dp_component.PREPARED_KEY, dp_component.FEEDBACK_ROWS_PROPERTY) == ("prepared", "rows_feedback")


def test_splits_example_gen_reads_one_split_per_prepared_split_from_the_artifacts_folder():
    component = dp_component.SplitsExampleGen(channel.Channel(type=PreparedSplits))
    properties = component.exec_properties
    input_config = json_format.Parse(properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input())
    assert [s.name for s in input_config.splits] == list(splits.SPLITS)
    for split in input_config.splits:  # each pattern finds its split's file in dataprep.splits' layout, no other
        files = [str(splits.split_path(Path(), s)) for s in splits.SPLITS]
        assert fnmatch.filter(files, split.pattern) == [str(splits.split_path(Path(), split.name))]
    assert json_format.Parse(properties[standard_component_specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output()) == \
        example_gen_pb2.Output()
    assert properties[standard_component_specs.OUTPUT_DATA_FORMAT_KEY] == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert properties[standard_component_specs.OUTPUT_FILE_FORMAT_KEY] == example_gen_pb2.FORMAT_TFRECORDS_GZIP
    assert component.inputs[dp_component.PREPARED_KEY].type is PreparedSplits
    assert component.outputs[standard_component_specs.EXAMPLES_KEY].type is standard_artifacts.Examples


def test_splits_example_gen_hands_csv_example_gen_the_artifacts_folder_as_input_base(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(csv_executor.Executor, "Do",
                        lambda self, inputs, outputs, properties: seen.update(inputs=inputs, outputs=outputs,
                                                                              properties=properties))
    prepared = prepared_artifact(tmp_path / "prepared")
    examples = standard_artifacts.Examples()
    properties = {standard_component_specs.OUTPUT_DATA_FORMAT_KEY: 6, standard_component_specs.INPUT_BASE_KEY: "x"}
    dp_component.SplitsExampleGenExecutor().Do({dp_component.PREPARED_KEY: [prepared]}, {"examples": [examples]},
                                               properties)
    assert seen["properties"] == {standard_component_specs.OUTPUT_DATA_FORMAT_KEY: 6,
                                  standard_component_specs.INPUT_BASE_KEY: str(tmp_path / "prepared")}
    assert seen["inputs"] == {dp_component.PREPARED_KEY: [prepared]} and seen["outputs"] == {"examples": [examples]}
    assert properties[standard_component_specs.INPUT_BASE_KEY] == "x"  # the caller's dict is left as it was
