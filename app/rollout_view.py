"""The app's rollout section, without Streamlit: each labelled version's answer and load, and promote.

The labels come from the model config file (deploy.rollout reads and writes it); each version is asked
by label over gRPC (model_spec.version_label), and its load comes from the server's per-version metrics.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from common.config import ServingConfig
from deploy import rollout
from reporting import server_load
from serving.client import ModelClient


@dataclasses.dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame  # one row per label: label, version, predicted label, P(Post), requests/s, p50 ms
    snapshots: dict[int, server_load.Snapshot]  # keep for the next comparison's rates


def labels(serving: ServingConfig) -> dict[str, int]:
    """The version labels in force, stable first, then canary, then the others."""
    found = rollout.current_labels(serving)
    order = [serving.versions.stable_label, serving.versions.canary_label]
    return dict(sorted(found.items(), key=lambda item: (order.index(item[0]) if item[0] in order else 2, item[0])))


def client_for(serving: ServingConfig, label: str | None = None) -> ModelClient:
    return ModelClient(serving.host, serving.model_name, serving.grpc_port, serving.rest_port,
                       timeout=serving.request_timeout_seconds, retries=1, label=label)


def compare(serving: ServingConfig, question: str, by_label: dict[str, int],
            previous: dict[int, server_load.Snapshot] | None = None) -> Comparison:
    """Ask every labelled version the same question; each version's rate and p50 since ``previous``."""
    rows = []
    for label in by_label:
        with client_for(serving, label) as client:
            prediction = client.predict([question])[0]
        rows.append({"label": label, "version": prediction.model_version, "prediction": prediction.label,
                     "P(Post)": round(prediction.probability_post, 4)})
    with client_for(serving) as client:
        snapshots = server_load.parse_versions(client.metrics_text(), client.model_name)
    for row in rows:
        after = snapshots.get(row["version"])
        load = server_load.load_between(after, (previous or {}).get(row["version"])) if after else None
        row["requests/s"] = round(load.per_second, 2) if load and load.per_second is not None else None
        row["p50 ms"] = round(load.p50_ms, 2) if load and load.p50_ms is not None else None
        row["requests"] = int(after.requests) if after else 0
    return Comparison(pd.DataFrame(rows), snapshots)


def promote(serving: ServingConfig) -> dict[str, int]:
    """./run.sh promote: canary becomes stable, checked against the versions the server has loaded."""
    with client_for(serving) as client:
        return rollout.promote(serving, rollout.loaded_versions(client.status()))
