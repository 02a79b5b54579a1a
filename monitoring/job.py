"""``./run.sh monitor``: the latest window of the request log against the served version's training split.

Reads the complete request-log files, takes the window (config.json ``monitoring``), derives the monitoring
features (monitoring.records) for the window, the previous window and the training split of the version that
answered (its questions scored by that version, cached per version), validates skew and drift with TFDV
(monitoring.skew_drift), and writes into ``monitoring.output_dir``: the anomalies (text protos), one line per
check in ``history.jsonl``, the HTML report and the latest distances as Prometheus gauges (``metrics.prom``, the
node-exporter textfile format). Prints a screenful; the verdict decides the exit status with ``--fail-on-alert``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import features
from common.config import Config, MonitoringConfig
from common.files import write_atomically
from dataprep import splits
from monitoring import records, skew_drift
from monitoring.outputs import DISTRIBUTIONS_FILE, HISTORY_FILE, METRICS_FILE, REPORT_FILE, read_history

DISTANCE_GAUGE = "ppq_monitoring_distance"
THRESHOLD_GAUGE = "ppq_monitoring_threshold"
ALERT_GAUGE = "ppq_monitoring_alert"
SCORING_BATCH = 1024


class MonitorError(RuntimeError):
    """Monitoring cannot run; the message says what to do first."""


@dataclasses.dataclass(frozen=True)
class Window:
    """One check's inputs and what it found."""
    checked_at: str
    model_version: int
    rows: int
    previous_rows: int
    training_rows: int
    result: skew_drift.Check
    training: pd.DataFrame
    serving: pd.DataFrame


def score_training_split(train: pd.DataFrame, model) -> pd.DataFrame:
    """The monitoring features of a train split, scored by the served model (a models.pushed_models.LoadedModel)."""
    questions = train[features.QUESTION].tolist()
    probabilities, labels = model.predict_in_batches(questions, SCORING_BATCH)
    return records.derive(questions, labels, probabilities).assign(**{features.LABEL: train[features.LABEL].tolist()})


def training_features(config: Config, version: int) -> pd.DataFrame:
    """The monitoring features of the train split that ``version`` was trained on, cached per version."""
    cache = config.monitoring.output_dir / f"training_features_v{version}.csv"
    if cache.is_file():
        return pd.read_csv(cache, keep_default_na=False, dtype={features.QUESTION: str, records.FIRST_WORD: str})
    from models.pushed_models import LoadedModel
    frame = score_training_split(splits.read_split(_prepared_dir(config, version), "train"),
                                 LoadedModel.load(config.serving.model_base_path, version))
    write_atomically(cache, frame.to_csv(index=False))
    return frame


def _prepared_dir(config: Config, version: int) -> Path:
    """The prepared splits of the pipeline run that pushed ``version`` (the latest run if none says so)."""
    from reporting.run_artifacts import PREPARED_SPLITS, MetadataError, open_store, pipeline_runs
    try:
        runs = pipeline_runs(open_store(config.pipeline.metadata_path))
    except MetadataError as exc:
        raise MonitorError(f"{exc} (monitoring compares with the training split of the served version)") from exc
    pushed = [run for run in runs if run.pushed_version == str(version) and run.uri(PREPARED_SPLITS)]
    chosen = pushed[-1] if pushed else next((run for run in reversed(runs) if run.uri(PREPARED_SPLITS)), None)
    if chosen is None:
        raise MonitorError("no pipeline run prepared data yet: run ./run.sh pipeline first")
    prepared = Path(chosen.uri(PREPARED_SPLITS))
    if not splits.split_path(prepared, "train").is_file():
        raise MonitorError(f"the train split of model version {version} is gone ({splits.split_path(prepared, 'train')}"
                           "): run ./run.sh pipeline again")
    return prepared


def check_logged(logged: list[records.LoggedRequest], monitoring: MonitoringConfig,
                 training_for: Callable[[int], pd.DataFrame]) -> Window | None:
    """Check the latest window of ``logged`` against ``training_for(served version)``; None for an empty window."""
    previous, current = records.windows(logged, monitoring.window_records, monitoring.window_minutes)
    if not current:
        return None
    version = collections.Counter(r.model_version for r in current).most_common(1)[0][0]
    training = training_for(version)
    serving, before = records.as_frame(current), records.as_frame(previous) if previous else None
    result = skew_drift.check(training, serving, before, monitoring)
    return Window(datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), version, len(serving),
                  len(previous), len(training), result, training, serving)


def check_window(config: Config, log_prefix: Path | None = None) -> Window | None:
    """Check the latest window of this machine's request log; None when the window is empty."""
    from serving import request_log
    logged = records.read_log(request_log.log_files(log_prefix or config.serving.logging.filename_prefix))
    return check_logged(logged, config.monitoring, lambda version: training_features(config, version))


def write_outputs(folder: Path, window: Window) -> Path:
    """Anomalies, the history line, the Prometheus textfile and the HTML report in ``folder``; the report's path."""
    import tensorflow_data_validation as tfdv

    from monitoring import report
    stamp = window.checked_at.replace(":", "-")
    (folder / "anomalies").mkdir(parents=True, exist_ok=True)
    tfdv.write_anomalies_text(window.result.skew_anomalies, str(folder / "anomalies" / f"{stamp}-skew.pbtxt"))
    if window.result.drift_anomalies is not None:
        tfdv.write_anomalies_text(window.result.drift_anomalies, str(folder / "anomalies" / f"{stamp}-drift.pbtxt"))
    line = {"checked_at": window.checked_at, "model_version": window.model_version, "rows": window.rows,
            "previous_rows": window.previous_rows, "alert": window.result.alert,
            "distances": [dataclasses.asdict(d) for d in window.result.distances]}
    with open(folder / HISTORY_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    write_atomically(folder / METRICS_FILE, gauges(window.result))
    write_atomically(folder / DISTRIBUTIONS_FILE, report.all_shares(window.training, window.serving).to_csv(index=False))
    path = folder / REPORT_FILE
    write_atomically(path, report.render(window, read_history(folder)))
    return path


def gauges(result: skew_drift.Check) -> str:
    """The latest distances, their thresholds and the verdict in Prometheus' text format."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest
    registry = CollectorRegistry()
    labels = ["kind", "feature", "measure"]
    distance = Gauge(DISTANCE_GAUGE, "Latest skew/drift distance of a monitoring feature.", labels, registry=registry)
    threshold = Gauge(THRESHOLD_GAUGE, "Its threshold (config.json monitoring).", labels, registry=registry)
    for item in result.distances:
        distance.labels(item.kind, item.feature, item.measure).set(item.value)
        threshold.labels(item.kind, item.feature, item.measure).set(item.threshold)
    Gauge(ALERT_GAUGE, "1 when the latest window is over a threshold.", registry=registry).set(int(result.alert))
    return generate_latest(registry).decode()


def screenful(window: Window, report_path: Path) -> str:
    result = window.result
    lines = [f"monitor: model version {window.model_version}; window {window.rows} questions, previous window "
             f"{window.previous_rows or 'none (no drift check)'}; training split {window.training_rows}",
             f"{'check':6} {'feature':16} {'measure':26} {'distance':>9} {'threshold':>9}"]
    for d in result.distances:
        lines.append(f"{d.kind:6} {d.feature:16} {d.measure:26} {d.value:9.4f} {d.threshold:9.4f}"
                     f"{'  ALERT' if d.alert else ''}")
    lines.append("verdict: ALERT (skew or drift over a threshold)" if result.alert else "verdict: ok")
    lines.append(f"report: {report_path}")
    return "\n".join(lines)


def run(config: Config, log_prefix: Path | None = None) -> Window | None:
    """One monitoring check, printed; None (and a line saying so) when the window is empty."""
    window = check_window(config, log_prefix)
    if window is None:
        prefix = log_prefix or config.serving.logging.filename_prefix
        print(f"monitor: the window is empty: no complete request-log files with requests under {prefix}* "
              "(start ./run.sh serve, ask some questions, and wait for the file to close)")
        return None
    print(screenful(window, write_outputs(config.monitoring.output_dir, window)))
    return window
