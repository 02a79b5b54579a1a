"""What the app's Monitoring tab shows, read from the files monitoring writes (no TFDV, no model in the app).

The latest check's verdict and distances (``history.jsonl``), training vs serving shares (``distributions.csv``),
the distances against their thresholds over the checks, and the request log itself: how many questions it
holds and the latest ones. Logged and dropped counts come from the model server's Prometheus text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from monitoring import records
from monitoring.outputs import DISTRIBUTIONS_FILE, read_history


def counted(count: float, noun: str) -> str:
    """``1 question``, ``3 questions``: the tab names counts that are often exactly one (a single test question)."""
    return f"{count:.0f} {noun}" if round(count) == 1 else f"{count:.0f} {noun}s"


def latest_check(folder: Path) -> dict | None:
    history = read_history(folder)
    return history[-1] if history else None


def distances_over_checks(folder: Path) -> pd.DataFrame:
    """One row per distance per check, with its ratio to the threshold (1 is the alert line)."""
    rows = [{"check": i + 1, "checked_at": line["checked_at"], **d, "ratio": d["value"] / d["threshold"]}
            for i, line in enumerate(read_history(folder)) for d in line["distances"]]
    return pd.DataFrame(rows, columns=["check", "checked_at", "kind", "feature", "measure", "value", "threshold",
                                       "ratio"])


def distributions(folder: Path) -> pd.DataFrame | None:
    path = Path(folder) / DISTRIBUTIONS_FILE
    return pd.read_csv(path, keep_default_na=False) if path.is_file() else None


def logged_requests(filename_prefix: Path, latest: int = 10, files: int = 3) -> tuple[int, pd.DataFrame]:
    """Questions in the newest ``files`` complete log files, and the latest ``latest`` of them (newest first)."""
    from serving import request_log
    logged = records.read_log(request_log.log_files(filename_prefix)[-files:])
    frame = pd.DataFrame([{"time": pd.Timestamp(r.timestamp, unit="s", tz="UTC"), "question": r.question,
                           "predicted": r.predicted_label, "P(Post)": round(r.probability_post, 3),
                           "version": r.model_version} for r in logged[-latest:][::-1]])
    return len(logged), frame


def log_counts(metrics_text: str, model_name: str) -> dict[str, float]:
    """Records logged and dropped, from the server's ppq_request_log_records counter."""
    from serving.request_log import RECORDS_METRIC
    counts = {"logged": 0.0, "dropped": 0.0}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == f"{RECORDS_METRIC}_total" and sample.labels.get("model_name") == model_name:
                counts[sample.labels["outcome"]] = counts.get(sample.labels["outcome"], 0.0) + sample.value
    return counts
