"""One pipeline run's artifacts, found through ML Metadata's pipeline-run context.

TFX's orchestrators record every run as a ``pipeline_run`` context; each
component execution of that run (cached ones included) is attributed to it,
with OUTPUT events naming the artifacts it produced or reused. Reading a run's
artifacts from there, and not "the latest artifact of each type", keeps a
report from mixing runs when one stops midway.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.batch_scoring import SCORED_PROPERTY
from components.data_preparation import PREPARED_KEY
from components.pretrained_embeddings import describe as describe_pretrained
from dataprep import splits

PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_FINISHED = ("COMPLETE", "CACHED")

# Outputs a report reads, as "<node id>/<output key>" (the pipeline's component ids and TFX's output names).
PREPARED_SPLITS = f"DataPreparation/{PREPARED_KEY}"
EXAMPLES = "CsvExampleGen/examples"
STATISTICS = "StatisticsGen/statistics"
SCHEMA = "SchemaGen/schema"
ANOMALIES = "ExampleValidator/anomalies"
TRANSFORM_GRAPH = "Transform/transform_graph"
POST_TRANSFORM_STATS = "Transform/post_transform_stats"
PRETRAINED_EMBEDDINGS = "PretrainedEmbeddings/embeddings"
MODEL = "Trainer/model"
EVALUATION = "Evaluator/evaluation"
BLESSING = "Evaluator/blessing"
SERVING_CHECK = "ServingCheck/blessing"
PUSHED_MODEL = "Pusher/pushed_model"
PREDICTIONS = "BatchScoring/predictions"


class MetadataError(RuntimeError):
    """The ML Metadata store is missing or holds no run of the pipeline."""


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """One run: its id, start time, each component's final state and each output's artifact."""
    run_id: str
    started: datetime.datetime
    states: dict[str, str]  # node id -> COMPLETE / CACHED / FAILED / RUNNING ...
    artifacts: dict[str, metadata_store_pb2.Artifact]  # "<node id>/<output key>" -> artifact

    def uri(self, output: str) -> str | None:
        artifact = self.artifacts.get(output)
        return artifact.uri if artifact is not None else None

    @property
    def finished(self) -> bool:
        """Every component that ran finished (completed or reused from the cache)."""
        return bool(self.states) and all(state in _FINISHED for state in self.states.values())

    @property
    def blessed(self) -> bool | None:
        """The Evaluator's verdict; None when this run did not get that far."""
        blessing = self.artifacts.get(BLESSING)
        return None if blessing is None else blessing.custom_properties["blessed"].int_value == 1

    @property
    def serving_check(self) -> str | None:
        """The serving check's one-line verdict (components.serving_check); None when this run did not get that far."""
        blessing = self.artifacts.get(SERVING_CHECK)
        if blessing is None:
            return None
        passed = blessing.custom_properties["blessed"].int_value == 1
        return f"{'passed' if passed else 'NOT passed'}: {blessing.custom_properties['reason'].string_value}"

    @property
    def scored(self) -> bool:
        """Whether this run's batch-scoring step scored the test split (it does only with a pushed model)."""
        predictions = self.artifacts.get(PREDICTIONS)
        return predictions is not None and predictions.custom_properties[SCORED_PROPERTY].int_value == 1

    @property
    def pushed_version(self) -> str | None:
        """The serving version this run's Pusher wrote, if it pushed."""
        pushed = self.artifacts.get(PUSHED_MODEL)
        if pushed is None or pushed.custom_properties["pushed"].int_value != 1:
            return None
        return pushed.custom_properties["pushed_version"].string_value or None

    @property
    def pushed_model_dir(self) -> str | None:
        pushed = self.artifacts.get(PUSHED_MODEL)
        if pushed is None or pushed.custom_properties["pushed"].int_value != 1:
            return None
        return pushed.custom_properties["pushed_destination"].string_value

    @property
    def pretrained_weights(self) -> str | None:
        """Which pretrained weights the run's model was built from (the PretrainedEmbeddings step's properties)."""
        embeddings = self.artifacts.get(PRETRAINED_EMBEDDINGS)
        if embeddings is None:
            return None
        properties = embeddings.custom_properties
        return describe_pretrained({name: value.string_value or value.int_value for name, value in properties.items()})

    @property
    def status(self) -> str:
        """One word for a history table."""
        if self.finished:
            return "finished"
        return "failed" if "FAILED" in self.states.values() else "incomplete"


def open_store(metadata_path: Path) -> metadata_store.MetadataStore:
    """The pipeline's SQLite store, read-only (a report never writes to it)."""
    if not Path(metadata_path).is_file():
        raise MetadataError(f"no ML Metadata store at {metadata_path}: run the pipeline first")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def node_id(store: metadata_store.MetadataStore, execution_id: int) -> str:
    """The component id of an execution, from its node context (named ``<pipeline>.<node id>``)."""
    node_type = store.get_context_type(NODE_CONTEXT).id
    for context in store.get_contexts_by_execution(execution_id):
        if context.type_id == node_type:
            return context.name.split(".", 1)[-1]
    return f"execution-{execution_id}"


def _read_run(store: metadata_store.MetadataStore, context: metadata_store_pb2.Context) -> PipelineRun:
    executions = store.get_executions_by_context(context.id)
    nodes = {e.id: node_id(store, e.id) for e in executions}
    states = {nodes[e.id]: metadata_store_pb2.Execution.State.Name(e.last_known_state) for e in executions}
    outputs: dict[int, str] = {}
    for event in store.get_events_by_execution_ids(list(nodes)):
        if event.type in _OUTPUT_EVENTS and event.path.steps:
            outputs[event.artifact_id] = f"{nodes[event.execution_id]}/{event.path.steps[0].key}"
    artifacts = {outputs[a.id]: a for a in store.get_artifacts_by_id(list(outputs))}
    started = datetime.datetime.fromtimestamp(context.create_time_since_epoch / 1000, tz=datetime.timezone.utc)
    return PipelineRun(run_id=context.name, started=started, states=states, artifacts=artifacts)


def pipeline_runs(store: metadata_store.MetadataStore) -> list[PipelineRun]:
    """Every run the store remembers, oldest first."""
    contexts = sorted(store.get_contexts_by_type(PIPELINE_RUN_CONTEXT), key=lambda c: (c.create_time_since_epoch, c.id))
    return [_read_run(store, context) for context in contexts]


def latest_run(store: metadata_store.MetadataStore) -> PipelineRun:
    contexts = store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
    if not contexts:
        raise MetadataError("the ML Metadata store holds no pipeline run yet: run the pipeline first")
    return _read_run(store, max(contexts, key=lambda c: (c.create_time_since_epoch, c.id)))


def latest_prepared_splits(metadata_path: Path) -> tuple[Path, dict]:
    """The folder and manifest of the splits the latest run prepared (or reused from the cache).

    Taken from that run's DataPreparation output, not the newest split artifact of any run, so a report
    describes the data of the run it reports on.
    """
    run = latest_run(open_store(metadata_path))
    uri = run.uri(PREPARED_SPLITS)
    if uri is None:
        raise MetadataError(f"the latest pipeline run ({run.run_id}) stopped before preparing data: run it again")
    manifest = splits.read_manifest(Path(uri))
    if manifest is None:
        raise MetadataError(f"the prepared splits recorded in ML Metadata are gone: {uri}")
    return Path(uri), manifest
