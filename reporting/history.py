"""Every pipeline run ML Metadata remembers: when, how much data (corrections too), how good, blessed, pushed."""

from __future__ import annotations

import pandas as pd

from components.data_preparation import FEEDBACK_ROWS_PROPERTY
from reporting import data_stats, evaluation
from reporting.run_artifacts import EVALUATION, PREPARED_SPLITS, STATISTICS, PipelineRun

HISTORY_COLUMNS = ["run", "started", "status", "rows", "feedback_rows", "eval_auc", "eval_accuracy", "blessed",
                   "pushed_version"]


def history_row(run: PipelineRun) -> dict:
    statistics = run.artifacts.get(STATISTICS)
    rows = sum(s.num_examples for s in data_stats.split_statistics(statistics).values()) if statistics else None
    figures = evaluation.overall_figures(run.uri(EVALUATION)) if run.uri(EVALUATION) else {}
    prepared = run.artifacts.get(PREPARED_SPLITS)
    feedback = prepared.custom_properties[FEEDBACK_ROWS_PROPERTY].int_value if prepared is not None else None
    return {"run": run.run_id, "started": run.started, "status": run.status, "rows": rows, "feedback_rows": feedback,
            "eval_auc": figures.get("auc"), "eval_accuracy": figures.get("binary_accuracy"),
            "blessed": run.blessed, "pushed_version": run.pushed_version}


def run_history(runs: list[PipelineRun]) -> pd.DataFrame:
    """One row per run, oldest first; a run that stopped early has empty cells for what it never produced."""
    return pd.DataFrame([history_row(run) for run in runs], columns=HISTORY_COLUMNS)
