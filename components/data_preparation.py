"""Data preparation as the pipeline's first step, and the ExampleGen that reads its output.

``DataPreparation`` runs dataprep.preparation (the same code as ``./run.sh prepare``) on the raw
CSV named by ``source`` (a path, an http(s) URL, or a ``gs://`` object read through TensorFlow's
file systems) and writes the stratified splits, in dataprep.splits' layout, into its
``PreparedSplits`` artifact. The manifest (rows per split and label, drops, checksum) becomes the
artifact's properties, so ML Metadata's lineage runs from the raw source to the pushed model.

``SplitsExampleGen`` is CsvExampleGen's own executor with ``input_base`` taken from that artifact:
a stock CsvExampleGen only accepts a fixed folder, never an upstream artifact.
"""

# No "from __future__ import annotations" here: TFX's component decorator reads the annotations as types.
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact, artifact_utils, channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from common.config import DataConfig
from dataprep import preparation, splits

PREPARED_KEY = "prepared"
FEEDBACK_ROWS_PROPERTY = "rows_feedback"  # corrections added to the train split


class PreparedSplits(artifact.Artifact):
    """A folder in dataprep.splits' layout (``<split>/data.csv`` and ``manifest.json``).

    The manifest lives in custom properties: KFP v2 compiles a custom type to its generic artifact
    schema, which declares no typed properties.
    """

    TYPE_NAME = "ppq.PreparedSplits"  # <namespace>.<Name>: the form KFP v2 wants for a custom type


def settings_parameter(config: DataConfig) -> str:
    """The data section's preparation settings as the step's JSON parameter (everything but the paths)."""
    settings = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    return json.dumps({key: value for key, value in settings.items() if key not in ("source", "prepared_dir")},
                      sort_keys=True)


def record_manifest(prepared: artifact.Artifact, manifest: dict[str, Any]) -> None:
    """The manifest as properties: source and checksum, row counts per split and label, and drops per rule."""
    prepared.set_string_custom_property("source", manifest["source"])
    prepared.set_string_custom_property("source_sha256", manifest["source_sha256"])
    prepared.set_int_custom_property("rows_read", manifest["rows_read"])
    prepared.set_int_custom_property("rows_sampled", manifest["rows_sampled"])
    for split, info in manifest["splits"].items():
        for label, rows in info["labels"].items():
            prepared.set_int_custom_property(f"rows_{split}_{label}", rows)
    for rule, rows in manifest["rows_dropped"].items():
        prepared.set_int_custom_property(f"dropped_{rule}", rows)
    prepared.set_int_custom_property(FEEDBACK_ROWS_PROPERTY, manifest.get("feedback", {}).get("rows_added", 0))
    prepared.set_json_value_custom_property("manifest", manifest)


@component
def DataPreparation(  # noqa: N802 (TFX component naming)
    source: Parameter[str],
    settings: Parameter[str],
    source_version: Parameter[str],
    prepared: OutputArtifact[PreparedSplits],
    feedback_file: Parameter[str] = "",
) -> None:
    """Raw CSV -> stratified splits in the output artifact, plus people's corrections in the train split.

    ``source_version`` only keys the cache: the local runner sets it from the source file's (and the feedback
    file's) size and modification time, so a changed file at the same path is prepared again instead of taken
    from cache. ``feedback_file``: monitoring.feedback's CSV ('' or a missing file: no corrections).
    """
    del source_version
    with tempfile.TemporaryDirectory(prefix="ppq-prepare-") as tmp:
        config = DataConfig(source=source, prepared_dir=Path(tmp) / "prepared", **json.loads(settings))
        manifest = preparation.prepare(config, force=True, feedback_file=Path(feedback_file) if feedback_file else None)
        splits.upload(config.prepared_dir, prepared.uri)
    record_manifest(prepared, manifest)


class SplitsExampleGenExecutor(csv_executor.Executor):
    """CsvExampleGen's executor reading the split files from the PreparedSplits artifact."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX executor API)
        prepared = artifact_utils.get_single_instance(input_dict[PREPARED_KEY])
        super().Do(input_dict, output_dict,
                   {**exec_properties, standard_component_specs.INPUT_BASE_KEY: prepared.uri})


class SplitsExampleGenSpec(ComponentSpec):
    PARAMETERS = {
        standard_component_specs.INPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Input),
        standard_component_specs.OUTPUT_CONFIG_KEY: ExecutionParameter(type=example_gen_pb2.Output),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: ExecutionParameter(type=int),
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {PREPARED_KEY: ChannelParameter(type=PreparedSplits)}
    OUTPUTS = {standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class SplitsExampleGen(base_beam_component.BaseBeamComponent):
    """tf.Examples, one split per prepared split, from a PreparedSplits artifact by CsvExampleGen's code."""

    SPEC_CLASS = SplitsExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(SplitsExampleGenExecutor)

    def __init__(self, prepared_splits: channel.BaseChannel):
        super().__init__(spec=SplitsExampleGenSpec(
            prepared=prepared_splits,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name=split, pattern=splits.example_gen_pattern(split))
                for split in splits.SPLITS]),
            output_config=example_gen_pb2.Output(),
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=channel.Channel(type=standard_artifacts.Examples),
        ))


