"""What TFDV saw in one run's data: per-split statistics, the schema and the anomalies verdict.

Read with TFDV's own loaders from the run's artifacts: StatisticsGen's
``FeatureStats.pb`` per split (``tfdv.load_stats_binary``), SchemaGen's
``schema.pbtxt`` (``tfdv.load_schema_text``), ExampleValidator's anomalies
(through the anomalies gate's reader). StatisticsGen describes each question
as one string (its length in characters, how often it repeats); the word-level
views come from Transform's statistics of its own outputs (the question-length
bucket it makes for slicing) and from its vocabulary (most frequent words first).
"""

from __future__ import annotations

import os

import pandas as pd
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx.types import artifact_utils

import features
import preprocessing
from components.anomalies_gate import describe_anomalies

STATS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
TRANSFORMED = "train + eval"  # the splits Transform transforms (pipeline.py's splits_config)


def split_names(artifact: metadata_store_pb2.Artifact) -> list[str]:
    return artifact_utils.decode_split_names(artifact.properties["split_names"].string_value)


def split_statistics(artifact: metadata_store_pb2.Artifact) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Each split's statistics, as StatisticsGen wrote them under ``Split-<name>/``.

    Transform's post-transform statistics have no splits: one file over every split it transformed.
    """
    if not artifact.properties["split_names"].string_value:
        return {TRANSFORMED: tfdv.load_stats_binary(os.path.join(artifact.uri, STATS_FILE)).datasets[0]}
    return {split: tfdv.load_stats_binary(os.path.join(artifact.uri, f"Split-{split}", STATS_FILE)).datasets[0]
            for split in split_names(artifact)}


def _feature(stats: statistics_pb2.DatasetFeatureStatistics, name: str) -> statistics_pb2.FeatureNameStatistics | None:
    return next((f for f in stats.features if f.path.step and f.path.step[-1] == name), None)


def _top_values(feature: statistics_pb2.FeatureNameStatistics | None) -> dict[str, float]:
    if feature is None:
        return {}
    return {v.value: v.frequency for v in feature.string_stats.top_values}


def split_table(statistics: dict[str, statistics_pb2.DatasetFeatureStatistics]) -> pd.DataFrame:
    """Rows, label mix and question length (characters) of each split."""
    rows = []
    for split, stats in statistics.items():
        labels = _top_values(_feature(stats, features.LABEL))
        question = _feature(stats, features.QUESTION)
        rows.append({
            "split": split, "rows": int(stats.num_examples),
            **{f"{label} share": labels.get(label, 0.0) / stats.num_examples if stats.num_examples else 0.0
               for label in features.LABEL_VALUES},
            "mean characters": question.string_stats.avg_length if question else None,
            "distinct questions": int(question.string_stats.unique) if question else None,
        })
    return pd.DataFrame(rows)


def length_distribution(statistics: dict[str, statistics_pb2.DatasetFeatureStatistics]) -> pd.DataFrame:
    """Questions per word-count bucket, from Transform's statistics of the bucket feature it makes."""
    rows = []
    for split, stats in statistics.items():
        counts = _top_values(_feature(stats, features.QUESTION_LENGTH_BUCKET))
        total = sum(counts.values())
        for bucket in preprocessing.LENGTH_BUCKET_NAMES:
            rows.append({"split": split, "length": bucket, "questions": counts.get(bucket, 0.0),
                         "share": counts.get(bucket, 0.0) / total if total else 0.0})
    return pd.DataFrame(rows, columns=["split", "length", "questions", "share"])


def top_tokens(transform_graph_uri: str, count: int = 20) -> list[str]:
    """The most frequent words of the train split: the head of Transform's vocabulary (sorted by frequency)."""
    vocabulary = tft.TFTransformOutput(transform_graph_uri).vocabulary_by_name(preprocessing.VOCABULARY_NAME)
    return [token.decode("utf-8", "replace") for token in vocabulary[:count]]


def schema_table(schema_uri: str) -> pd.DataFrame:
    """The inferred schema: each feature's type, presence and domain."""
    schema = tfdv.load_schema_text(os.path.join(schema_uri, SCHEMA_FILE))
    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for feature in schema.feature:
        domain = feature.domain or ""
        rows.append({
            "feature": feature.name,
            "type": schema_pb2.FeatureType.Name(feature.type),
            "required": feature.presence.min_fraction >= 1.0,
            "shape": f"[{', '.join(str(d.size) for d in feature.shape.dim)}]" if feature.HasField("shape") else "any",
            "domain": f"{domain}: {', '.join(domains.get(domain, []))}" if domain else "-",
        })
    return pd.DataFrame(rows)


def anomalies(anomalies_artifact: metadata_store_pb2.Artifact) -> list[str]:
    """ExampleValidator's findings, one line each; empty when the data matched the schema."""
    return describe_anomalies(anomalies_artifact.uri, split_names(anomalies_artifact))


def read_examples(examples_uri: str, split: str) -> pd.DataFrame:
    """Question and label of every example ExampleGen wrote for ``split`` (what that run trained and evaluated on).

    Parsed by TensorFlow in blocks (one ``parse_example`` call per block, not a proto per record in Python).
    """
    import tensorflow as tf
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz"))
    if not files:
        raise FileNotFoundError(f"no {split} examples under {examples_uri}")
    spec = {name: tf.io.FixedLenFeature([], tf.string, default_value="") for name in (features.QUESTION, features.LABEL)}
    blocks = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096).map(lambda b: tf.io.parse_example(b, spec))
    columns: dict[str, list[str]] = {features.QUESTION: [], features.LABEL: []}
    for block in blocks.as_numpy_iterator():
        for name, values in block.items():
            columns[name] += [value.decode("utf-8") for value in values]
    return pd.DataFrame(columns, columns=[features.QUESTION, features.LABEL])
