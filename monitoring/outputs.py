"""The files a monitoring check writes into ``monitoring.output_dir``: the one home of their names.

The app's Monitoring tab reads them (monitoring/dashboard.py) without importing the job, TFDV or a model.
"""

from __future__ import annotations

import json
from pathlib import Path

HISTORY_FILE = "history.jsonl"  # one line per check: verdict, distances and thresholds
METRICS_FILE = "metrics.prom"  # the latest distances as Prometheus gauges (node-exporter textfile format)
REPORT_FILE = "report.html"
DISTRIBUTIONS_FILE = "distributions.csv"  # the latest window's shares beside the training split's


def read_history(folder: Path) -> list[dict]:
    path = Path(folder) / HISTORY_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
