"""A pipeline step that stops the run when ExampleValidator found anomalies.

ExampleValidator only records anomalies; nothing downstream looks at them. This
gate reads them and raises with one readable line per anomaly, and Transform
waits for it, so bad data never reaches training.
"""

import os

from tensorflow_data_validation.utils import anomalies_util
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
    """ExampleValidator found anomalies in at least one split."""


def describe_anomalies(anomalies_uri: str, split_names: list[str]) -> list[str]:
    """One line per anomaly: split, feature and TFDV's description."""
    lines = []
    for split in split_names:
        anomalies = anomalies_util.load_anomalies_binary(os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE))
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"split {split!r}, feature {feature!r}: {info.short_description} - {info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"split {split!r}, dataset: {info.short_description} - {info.description}")
    return lines


@component
def AnomaliesGate(anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]) -> None:  # noqa: N802 (TFX component naming)
    """Raise DataAnomaliesError when any split has an anomaly."""
    problems = describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
    if problems:
        raise DataAnomaliesError("ExampleValidator found data anomalies; fix the data or the schema:\n  "
                                 + "\n  ".join(problems))
