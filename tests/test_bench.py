"""Smoke test of the scale benchmark at a tiny size: it runs end to end and writes its report and plots."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT


def test_bench_suite_writes_report_and_plots(tmp_path):
    # 500 pretrained words: encoding all of them would cost about 2 CPU minutes; the harness is what is tested here.
    env = {**os.environ, "PPQ_EVALUATOR__MIN_AUC": "0", "PPQ_EVALUATOR__MIN_BINARY_ACCURACY": "0",
           "PPQ_MODEL__PRETRAINED_WORDS": "500"}
    command = [sys.executable, "-m", "bench.run_bench", "--sizes", "300", "--seed-epochs", "1", "--pipeline-epochs", "1",
               "--score-rows", "1000", "--serving-seconds", "0.2", "--serving-clients", "1", "2",
               "--out", str(tmp_path / "report"), "--work", str(tmp_path / "work")]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bench: pipeline on 300 rows" in result.stdout  # progress lines
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    [size] = report["sizes"]
    run, seed = size["pipeline"], size["seed_style"]
    assert size["rows"] == 300 and run["beam_mode"] == "in_memory"
    # Each figure against the others it is made from: a timing taken from the wrong clock or the wrong step shows.
    assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "BatchScoring"} <= set(run["components"])
    assert min(run["components"].values()) >= 0 and run["components"]["Trainer"] > 0
    assert sum(run["components"].values()) <= run["end_to_end_seconds"]  # the components run one after another
    assert run["processes"]["main"]["peak_rss_mb"] > 100
    raw = pd.read_csv(next((tmp_path / "work" / "raw").glob("*.csv.gz")))
    prepare = run["prepare"]
    assert prepare["rows_read"] == len(raw)
    assert prepare["rows_per_second"] == pytest.approx(prepare["rows_read"] / prepare["seconds"])
    assert seed["train_seconds"] + seed["predict_seconds"] <= seed["script_seconds_after_imports"]
    assert seed["script_seconds_after_imports"] <= seed["end_to_end_seconds"]
    assert 0 <= seed["test_auc"] <= 1
    assert size["pipeline_vs_seed"] == pytest.approx(run["end_to_end_seconds"] / seed["end_to_end_seconds"])
    scoring = report["batch_scoring"]
    assert scoring["rows"] == 1000
    assert sum(scoring["steps_seconds"].values()) <= scoring["pipeline_seconds"]
    rates = scoring["in_process"]
    assert set(rates) == {"model_load_seconds", "batch_256_per_second", f"batch_{scoring['batch_size']}_per_second"}
    fastest = max(rate for key, rate in rates.items() if key.endswith("_per_second"))
    step_rate = scoring["rows"] / scoring["steps_seconds"]["BatchScoring"]
    assert scoring["step_per_second"]["BatchScoring"] == pytest.approx(step_rate)
    assert scoring["step_vs_in_process"]["BatchScoring"] == pytest.approx(step_rate / fastest)
    assert {r["way"] for r in report["serving"]} == {"in-process", "gRPC", "REST"}
    for plot in ("component_times.png", "scaling.png"):
        assert (tmp_path / "report" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Batch scoring (1000 questions" in text and "pipeline / seed-style" in text
