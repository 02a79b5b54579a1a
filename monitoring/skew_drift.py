"""Training-serving skew and drift with TFDV: statistics, a schema with environments, comparators, distances.

The schema is inferred from the training features; the label is in the TRAINING environment only (serving
requests have none). Categorical monitoring features get L-infinity comparators, the numeric one Jensen-Shannon
divergence, with config.json's ``monitoring`` thresholds. Skew: the training statistics against this window's
(``serving_statistics``); drift: this window against the previous one (``previous_statistics``). The distances
come from ``anomalies.drift_skew_info``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

import features
from common.config import MonitoringConfig
from monitoring import records

TRAINING, SERVING = "TRAINING", "SERVING"
UNBOUNDED_STRINGS = (features.QUESTION, records.FIRST_WORD)  # any value may come: no domain to violate


@dataclasses.dataclass(frozen=True)
class Distance:
    """One comparison of one feature: skew or drift, its measure, value and threshold."""
    kind: str  # "skew" or "drift"
    feature: str
    measure: str  # "L_INFTY" or "JENSEN_SHANNON_DIVERGENCE"
    value: float
    threshold: float

    @property
    def alert(self) -> bool:
        return self.value > self.threshold


@dataclasses.dataclass(frozen=True)
class Check:
    """What one window's validation found."""
    distances: list[Distance]
    skew_anomalies: anomalies_pb2.Anomalies
    drift_anomalies: anomalies_pb2.Anomalies | None

    @property
    def alert(self) -> bool:
        return any(d.alert for d in self.distances)


def statistics(frame: pd.DataFrame) -> statistics_pb2.DatasetFeatureStatisticsList:
    return tfdv.generate_statistics_from_dataframe(frame)


def schema_for(training_stats: statistics_pb2.DatasetFeatureStatisticsList, config: MonitoringConfig
               ) -> schema_pb2.Schema:
    """The training data's schema with environments and the skew and drift comparators."""
    schema = tfdv.infer_schema(training_stats)
    schema.default_environment.extend([TRAINING, SERVING])
    tfdv.get_feature(schema, features.LABEL).not_in_environment.append(SERVING)
    for name in UNBOUNDED_STRINGS:
        feature = tfdv.get_feature(schema, name)
        feature.ClearField("domain")
        feature.ClearField("string_domain")
        feature.ClearField("distribution_constraints")
    for name in records.CATEGORICAL:
        feature = tfdv.get_feature(schema, name)
        feature.skew_comparator.infinity_norm.threshold = config.skew_linf
        feature.drift_comparator.infinity_norm.threshold = config.drift_linf
    for name in records.NUMERIC:
        feature = tfdv.get_feature(schema, name)
        feature.skew_comparator.jensen_shannon_divergence.threshold = config.skew_js
        feature.drift_comparator.jensen_shannon_divergence.threshold = config.drift_js
    return schema


def check(training: pd.DataFrame, window: pd.DataFrame, previous: pd.DataFrame | None,
          config: MonitoringConfig) -> Check:
    """Skew of ``window`` against ``training`` and, when there is a previous window, drift against it."""
    training_stats = statistics(training)
    schema = schema_for(training_stats, config)
    window_stats = statistics(window)
    skew = tfdv.validate_statistics(training_stats, schema, environment=TRAINING, serving_statistics=window_stats)
    distances = _distances(skew, "skew")
    drift = None
    if previous is not None and len(previous):
        drift = tfdv.validate_statistics(window_stats, schema, environment=SERVING,
                                         previous_statistics=statistics(previous))
        distances += _distances(drift, "drift")
    return Check(distances, skew, drift)


def _distances(anomalies: anomalies_pb2.Anomalies, kind: str) -> list[Distance]:
    found = []
    for info in anomalies.drift_skew_info:
        measurements = info.skew_measurements if kind == "skew" else info.drift_measurements
        for measurement in measurements:
            found.append(Distance(kind, ".".join(info.path.step), measurement.Type.Name(measurement.type),
                                  measurement.value, measurement.threshold))
    return sorted(found, key=lambda d: (d.kind, d.feature))
