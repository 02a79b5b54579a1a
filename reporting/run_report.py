"""The report step of a pipeline command: ML Metadata read once, the TF-IDF baseline fitted once, every output written.

Writes, in ``pipeline.output_dir`` (names in common/outputs.py): the test split's predictions, the run document,
the run's HTML evaluation report and the tables the app's Evaluation tab reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from common.files import write_atomically
from common.outputs import PREDICTIONS_FILE, SUMMARY_FILE
from dataprep import splits
from reporting import data_stats, html_report, run_artifacts, summary
from reporting.baseline import Baseline
from reporting.run_document import RunDocument

SPLITS = ("train", "eval", "test")


def latest_finished_run(metadata_path: Path) -> tuple[run_artifacts.PipelineRun, list[run_artifacts.PipelineRun]]:
    """The latest run and every run (the report's history), from one read of the store."""
    runs = run_artifacts.pipeline_runs(run_artifacts.open_store(metadata_path))
    if not runs:
        raise run_artifacts.MetadataError("the ML Metadata store holds no pipeline run yet: run the pipeline first")
    return runs[-1], runs


def data_manifest(run: run_artifacts.PipelineRun) -> dict[str, Any] | None:
    """The manifest of the splits this run prepared (or reused from the cache)."""
    uri = run.uri(run_artifacts.PREPARED_SPLITS)
    return None if uri is None else splits.read_manifest(Path(uri))


def report(metadata_path: Path, output_dir: Path, seed: int, pipeline_seconds: float | None = None) -> RunDocument:
    """Every output of the latest run's report; returns its document."""
    run, runs = latest_finished_run(metadata_path)
    html_report.require_outputs(run)
    examples = {split: data_stats.read_examples(run.uri(run_artifacts.EXAMPLES), split) for split in SPLITS}
    baseline = Baseline.fit(examples["train"], seed)
    document, predictions = summary.document(run, baseline, examples["test"])
    if predictions is not None:
        write_atomically(output_dir / PREDICTIONS_FILE, predictions.to_csv(index=False))
    data = html_report.collect_run(run, runs, baseline, examples["eval"], document.test_split)
    page = html_report.write(data, output_dir)
    html_report.export(data, output_dir, page)
    document = dataclasses.replace(document, report=str(page), pipeline_seconds=pipeline_seconds,
                                   data_manifest=data_manifest(run))
    document.write(output_dir / SUMMARY_FILE)
    return document
